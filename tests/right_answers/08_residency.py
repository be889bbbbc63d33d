"""Lab 08: other correct answers, each of which must keep full marks."""

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

RIGHT = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "one boolean expression, pd.notna": """
def may_process(policy, upstreams, data_class, upstream):
    if data_class not in policy or upstream not in upstreams.index:
        return False
    rule = policy[data_class]
    days = upstreams.at[upstream, "retention_days"]
    limit = rule["max_retention_days"]
    return bool(
        upstreams.at[upstream, "jurisdiction"] in rule["jurisdictions"]
        and (limit is None or (pd.notna(days) and days <= limit))
    )
""",
            "a filtered table: the allowed upstreams of the class": """
def may_process(policy, upstreams, data_class, upstream):
    try:
        rule = policy[data_class]
    except KeyError:
        return False
    ok = upstreams[upstreams["jurisdiction"].isin(rule["jurisdictions"])]
    if rule.get("max_retention_days") is not None:
        days = ok["retention_days"]
        ok = ok[days.notna() & (days <= rule["max_retention_days"])]
    return upstream in set(ok.index)
""",
        },
    },
    "ex2_solution": {
        "tests": "ex2_tests",
        "answers": {
            "screen the chain first, then the first one up": _MAY
            + """
def route(case, policy, upstreams):
    compliant = [u for u in case["chain"] if may_process(policy, upstreams, case["data_class"], u)]
    healthy = [u for u in compliant if u not in set(case["down"])]
    return healthy[0] if healthy else None
""",
            "next() over a generator": _MAY
            + """
def route(case, policy, upstreams):
    down = set(case["down"])
    return next(
        (u for u in case["chain"]
         if u not in down and may_process(policy, upstreams, case["data_class"], u)),
        None,
    )
""",
        },
    },
    "ex3_solution": {
        "tests": "ex3_tests",
        "answers": {
            "one pass down the chain": _MAY
            + _ROUTE
            + """
def audit_record(case, policy, upstreams):
    chosen, excluded, failed = None, [], []
    for upstream in case["chain"]:
        if not may_process(policy, upstreams, case["data_class"], upstream):
            excluded.append(upstream)
        elif chosen is None:
            if upstream in case["down"]:
                failed.append(upstream)
            else:
                chosen = upstream
    if chosen is None:
        decision = "denied"
    elif chosen == case["chain"][0]:
        decision = "served"
    else:
        decision = "rerouted"
    return {"route": chosen, "decision": decision, "excluded": excluded, "failed_over": failed}
""",
            "built from route() and index positions": _MAY
            + _ROUTE
            + """
def audit_record(case, policy, upstreams):
    chain = case["chain"]
    ok = {u: may_process(policy, upstreams, case["data_class"], u) for u in chain}
    chosen = route(case, policy, upstreams)
    stop = len(chain) if chosen is None else chain.index(chosen)
    return {
        "route": chosen,
        "decision": "denied" if chosen is None else ("served" if stop == 0 else "rerouted"),
        "excluded": [u for u in chain if not ok[u]],
        "failed_over": [u for u in chain[:stop] if ok[u] and u in case["down"]],
    }
""",
        },
    },
}
