"""Plausible wrong answers to lab 08; each must lose the marks of its test cell."""

_MAY = """
def may_process(policy, upstreams, data_class, upstream):
    rule = policy.get(data_class)
    if rule is None or upstream not in upstreams.index:
        return False
    row = upstreams.loc[upstream]
    if row["jurisdiction"] not in rule["jurisdictions"]:
        return False
    limit = rule.get("max_retention_days")
    if limit is None:
        return True
    return bool(not pd.isna(row["retention_days"]) and row["retention_days"] <= limit)
"""

_ROUTE = """
def route(case, policy, upstreams):
    for upstream in case["chain"]:
        if (may_process(policy, upstreams, case["data_class"], upstream)
                and upstream not in case["down"]):
            return upstream
    return None
"""

_AUDIT = """
def audit_record(case, policy, upstreams):
    chain, down = case["chain"], case["down"]
    allowed = [u for u in chain if may_process(policy, upstreams, case["data_class"], u)]
    chosen = route(case, policy, upstreams)
    if chosen is None:
        decision, failed = "denied", [u for u in allowed if u in down]
    else:
        decision = "served" if chosen == chain[0] else "rerouted"
        failed = [u for u in allowed[: allowed.index(chosen)] if u in down]
    return {
        "route": chosen,
        "decision": decision,
        "excluded": [u for u in chain if u not in allowed],
        "failed_over": failed,
    }
"""

WRONG = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "retention limit ignored (jurisdiction only)": """
def may_process(policy, upstreams, data_class, upstream):
    rule = policy.get(data_class)
    if rule is None or upstream not in upstreams.index:
        return False
    return upstreams.loc[upstream, "jurisdiction"] in rule["jurisdictions"]
""",
            "unknown retention treated as compliant (fails open)": """
def may_process(policy, upstreams, data_class, upstream):
    rule = policy.get(data_class)
    if rule is None or upstream not in upstreams.index:
        return False
    row = upstreams.loc[upstream]
    if row["jurisdiction"] not in rule["jurisdictions"]:
        return False
    limit = rule.get("max_retention_days")
    if limit is None or pd.isna(row["retention_days"]):
        return True
    return bool(row["retention_days"] <= limit)
""",
            "unknown data class raises instead of failing closed": """
def may_process(policy, upstreams, data_class, upstream):
    rule = policy[data_class]
    if upstream not in upstreams.index:
        return False
    row = upstreams.loc[upstream]
    if row["jurisdiction"] not in rule["jurisdictions"]:
        return False
    limit = rule.get("max_retention_days")
    if limit is None:
        return True
    return bool(not pd.isna(row["retention_days"]) and row["retention_days"] <= limit)
""",
            "a retention at the limit is refused (< instead of <=)": _MAY.replace(
                '["retention_days"] <= limit', '["retention_days"] < limit'
            ),
            "reads the course files instead of its arguments": _MAY.replace(
                "    rule = policy.get(data_class)\n",
                "    policy, upstreams = rc.load_policy(), rc.load_upstreams()\n"
                "    rule = policy.get(data_class)\n",
            ),
            "an uncatalogued upstream raises KeyError": _MAY.replace(
                "    if rule is None or upstream not in upstreams.index:",
                "    if rule is None:",
            ),
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "fails open: any healthy upstream when no compliant one is up": _MAY
            + """
def route(case, policy, upstreams):
    for upstream in case["chain"]:
        if (may_process(policy, upstreams, case["data_class"], upstream)
                and upstream not in case["down"]):
            return upstream
    healthy = [u for u in case["chain"] if u not in case["down"]]
    return healthy[0] if healthy else None
""",
            "health ignored: first compliant upstream even when down": _MAY
            + """
def route(case, policy, upstreams):
    for upstream in case["chain"]:
        if may_process(policy, upstreams, case["data_class"], upstream):
            return upstream
    return None
""",
            "policy checked on the primary only, failover unscreened": _MAY
            + """
def route(case, policy, upstreams):
    chain = case["chain"]
    if not may_process(policy, upstreams, case["data_class"], chain[0]):
        return None
    for upstream in chain:
        if upstream not in case["down"]:
            return upstream
    return None
""",
            "the table's order instead of the chain's": _MAY
            + """
def route(case, policy, upstreams):
    for upstream in upstreams.index:
        if (upstream in case["chain"] and upstream not in case["down"]
                and may_process(policy, upstreams, case["data_class"], upstream)):
            return upstream
    return None
""",
            "no failover: refused whenever the first compliant upstream is down": _MAY
            + """
def route(case, policy, upstreams):
    allowed = [u for u in case["chain"] if may_process(policy, upstreams, case["data_class"], u)]
    if allowed and allowed[0] not in case["down"]:
        return allowed[0]
    return None
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "'served' whenever something served it": _MAY
            + _ROUTE
            + """
def audit_record(case, policy, upstreams):
    chain, down = case["chain"], case["down"]
    allowed = [u for u in chain if may_process(policy, upstreams, case["data_class"], u)]
    chosen = route(case, policy, upstreams)
    if chosen is None:
        decision, failed = "denied", [u for u in allowed if u in down]
    else:
        decision = "served"
        failed = [u for u in allowed[:allowed.index(chosen)] if u in down]
    return {"route": chosen, "decision": decision,
            "excluded": [u for u in chain if u not in allowed], "failed_over": failed}
""",
            "failed_over lists every down upstream, compliant or not": _MAY
            + _ROUTE
            + """
def audit_record(case, policy, upstreams):
    chain, down = case["chain"], case["down"]
    allowed = [u for u in chain if may_process(policy, upstreams, case["data_class"], u)]
    chosen = route(case, policy, upstreams)
    if chosen is None:
        decision, failed = "denied", [u for u in chain if u in down]
    else:
        decision = "served" if chosen == chain[0] else "rerouted"
        failed = [u for u in chain[:chain.index(chosen)] if u in down]
    return {"route": chosen, "decision": decision,
            "excluded": [u for u in chain if u not in allowed], "failed_over": failed}
""",
            "excluded lists only the upstreams before the chosen one": _MAY
            + _ROUTE
            + """
def audit_record(case, policy, upstreams):
    chain, down = case["chain"], case["down"]
    allowed = [u for u in chain if may_process(policy, upstreams, case["data_class"], u)]
    chosen = route(case, policy, upstreams)
    stop = len(chain) if chosen is None else chain.index(chosen)
    if chosen is None:
        decision, failed = "denied", [u for u in allowed if u in down]
    else:
        decision = "served" if chosen == chain[0] else "rerouted"
        failed = [u for u in allowed[:allowed.index(chosen)] if u in down]
    return {"route": chosen, "decision": decision,
            "excluded": [u for u in chain[:stop] if u not in allowed], "failed_over": failed}
""",
            "'served' when the first compliant upstream served it": _MAY
            + _ROUTE
            + _AUDIT.replace(
                'decision = "served" if chosen == chain[0] else "rerouted"',
                'decision = "served" if chosen == allowed[0] else "rerouted"',
            ),
            "failed_over lists compliant upstreams down after the route too": _MAY
            + _ROUTE
            + _AUDIT.replace(
                "failed = [u for u in allowed[: allowed.index(chosen)] if u in down]",
                "failed = [u for u in allowed if u in down]",
            ),
            "excluded counts the upstreams that were down too": _MAY
            + _ROUTE
            + _AUDIT.replace(
                '"excluded": [u for u in chain if u not in allowed]',
                '"excluded": [u for u in chain if u not in allowed or u in down]',
            ),
        },
    },
}
