"""Lab 08's checks: the instructor's only copy (never released; labs/ gets the visible part).

One residency policy decides every expected answer: the gateway's own code
(``reference_stack.gateway.residency.ResidencyPolicy.verdict``), through the answer key of
``scripts/record_lab08.py`` (``allowed`` and ``outcome``). The recorded cases of
``datasets/lab08/cases.jsonl`` carry the answers it wrote; fresh cases (seeds no learner has seen)
are answered here, in the grader, by the same code. Nothing on the learner's import path answers a
case. Constructed cases carry their answer beside them, with the reason.

The learner's functions get the grader's own copies of the policy and the upstream table as
arguments, never the notebook's.
"""

from __future__ import annotations

import pandas as pd

from servelab.grading.checks import Checks
from servelab.labs import lab08_residency as rc

checks = Checks()
EU_SE, EU_FR = "azure-openai/swedencentral", "azure-openai/francecentral"
US, US_AZ = "openai/global", "azure-openai/eastus2"
BEDROCK_EU, VERTEX_US = "aws-bedrock/eu-central-1", "google-vertex/us-central1"
VLLM, BATCH = "onprem-vllm", "onprem-batch"


def data() -> tuple[dict, pd.DataFrame]:
    """The course policy and upstream table, as the grader reads them."""
    return rc.load_policy(), rc.load_upstreams()


def case(data_class: str, chain: list[str], down: list[str] = ()) -> dict:
    return {"id": "c", "data_class": data_class, "chain": list(chain), "down": list(down)}


# BEGIN HIDDEN CHECKS
_ANSWER_KEY: dict = {}


def recorder():
    """scripts/record_lab08.py: the answer key, through the gateway's residency code."""
    import importlib.util

    from servelab_base.paths import ROOT

    if not _ANSWER_KEY:
        path = ROOT / "scripts" / "record_lab08.py"
        spec = importlib.util.spec_from_file_location("record_lab08", path)
        _ANSWER_KEY["module"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_ANSWER_KEY["module"])
    return _ANSWER_KEY["module"]


def answered(cases: list[dict]) -> list[dict]:
    """Cases with the gateway policy's answer as ``expected`` (the recorder's ``outcome``)."""
    key = recorder()
    gateway, table = key.gateway_policy(), rc.load_upstreams()
    return [{**c, "expected": key.outcome(c, gateway, table)} for c in cases]


# END HIDDEN CHECKS


def describe(wrong: list[dict], of: int) -> str:
    """What a visible check says about wrong cases: the first case and its expected answer, and
    of the learner's answer only what the grader can name (an upstream of the case, None, or
    which keys of the record differ), never text the notebook made up."""
    if not wrong:
        return ""
    first = wrong[0]
    question = {k: first[k] for k in ("id", "data_class", "chain", "down")}
    want, got = first["expected"], first["got"]
    if type(got) is str and got.startswith(("LearnerRaised: ", "AnswerProblem: ")):
        said = "your code raised an exception or gave no plain-data answer"  # rc.check's words
    elif type(want) is dict:
        keys = sorted(want)
        if type(got) is dict and set(got) == set(want):
            differ = [k for k in keys if got[k] != want[k]]
            said = f"your record differs in {', '.join(differ)}"
        else:
            said = f"your answer is not a record with exactly the keys {', '.join(keys)}"
    elif got is None or got in first["chain"]:
        said = f"you answered {got!r}"
    else:
        said = "you answered something that is not an upstream of the chain, nor None"
    return f"{len(wrong)} of {of} cases wrong; first: {question}: expected {want!r}; {said}"


# Exercise 1: may this upstream process this data class? ------------------------------------


@checks.visible("ex1_tests")
def jurisdiction_decides(learner):
    "the class's jurisdictions decide where it may go"
    policy, upstreams = data()

    def may(data_class, upstream):
        return learner.may_process(policy, upstreams, data_class, upstream)

    assert may("public", US) is True, "public data may go to the US"
    assert may("personal-eu", US) is False, "personal-eu: the US is not the EU"
    assert may("personal-eu", EU_SE) is True, "personal-eu: Sweden Central (EU, 30 days)"
    assert may("restricted", VLLM) is True, "restricted: our own machines"


@checks.visible("ex1_tests")
def unknown_class_fails_closed(learner):
    "an unknown data class may go nowhere (and raises nothing)"
    policy, upstreams = data()
    got = learner.may_process(policy, upstreams, "no-such-class", VLLM)
    said = repr(got) if got is None or type(got) is bool else f"a {type(got).__name__}"
    assert got is False, f"may_process(..., 'no-such-class', 'onprem-vllm') gave {said}"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex1_tests")
def retention_limit_applies(learner):
    "a retention above the class's limit is not allowed; one at the limit is"
    policy, upstreams = data()
    # special-category-eu allows 0 days; Sweden Central keeps 30, our own machines 0
    assert learner.may_process(policy, upstreams, "special-category-eu", EU_SE) is False
    assert learner.may_process(policy, upstreams, "special-category-eu", BATCH) is True


@checks.hidden("ex1_tests")
def unknown_retention(learner):
    "retention terms nobody catalogued: not enough where a limit applies"
    policy, upstreams = data()
    # Bedrock eu-central-1: EU, retention not catalogued
    assert learner.may_process(policy, upstreams, "personal-eu", BEDROCK_EU) is False  # limit 30
    assert learner.may_process(policy, upstreams, "internal", BEDROCK_EU) is True  # no limit


@checks.hidden("ex1_tests")
def unknown_upstream_fails_closed(learner):
    "an upstream nobody catalogued is not trusted"
    policy, upstreams = data()
    assert learner.may_process(policy, upstreams, "public", rc.UNKNOWN_UPSTREAM) is False


@checks.hidden("ex1_tests")
def the_arguments_decide(learner):
    "the policy and table passed in decide, whatever they hold"
    policy = {
        "x": {"jurisdictions": ["EU"], "max_retention_days": 7, "description": "toy"},
        "y": {"jurisdictions": ["US", "UK"], "max_retention_days": None, "description": "toy"},
    }
    toy = pd.DataFrame(
        {
            "jurisdiction": ["US", "EU", "EU", "EU", "UK"],
            "retention_days": pd.array([0, 8, None, 7, None], dtype="Int64"),
        },
        index=pd.Index(["d", "b", "c", "a", "e"], name="upstream"),
    )
    x = [u for u in toy.index if learner.may_process(policy, toy, "x", u)]
    assert x == ["a"]  # d: US; b: 8 > 7 days; c: unknown retention; a: 7 days, at the limit
    y = [u for u in toy.index if learner.may_process(policy, toy, "y", u)]
    assert y == ["d", "e"]  # US and UK, no retention limit (unknown retention is fine then)
    assert learner.may_process(policy, toy, "public", "a") is False  # not a class of this policy


@checks.hidden("ex1_tests", weight=2)
def allow_matrix_of_the_course(learner):
    "every data class on every catalogued upstream, as the gateway decides"
    policy, upstreams = data()
    key, gateway = recorder(), recorder().gateway_policy()
    wrong = []
    for data_class in [*policy, rc.UNKNOWN_CLASS]:
        for name in [*upstreams.index, rc.UNKNOWN_UPSTREAM]:
            want = key.allowed(gateway, upstreams, data_class, name)
            if learner.may_process(policy, upstreams, data_class, name) is not want:
                wrong.append((data_class, name))
    assert not wrong, wrong


# END HIDDEN CHECKS

# Exercise 2: route without ever crossing the boundary ---------------------------------------


def learner_route(learner):
    policy, upstreams = data()
    return lambda question: learner.route(question, policy, upstreams)


@checks.visible("ex2_tests", weight=2)
def route_the_first_recorded_cases(learner):
    "the first 40 recorded cases (datasets/lab08/cases.jsonl)"
    wrong = rc.check(learner_route(learner), rc.load_cases()[:40])
    assert not wrong, describe(wrong, 40)


@checks.visible("ex2_tests")
def healthy_but_in_the_wrong_jurisdiction(learner):
    "only upstreams in the wrong jurisdiction are up: refuse"
    example = case("personal-eu", [US, EU_SE, US_AZ], down=[EU_SE])
    got = learner_route(learner)(example)
    said = repr(got) if got in example["chain"] else f"a {type(got).__name__}"
    assert got is None, f"the only healthy upstreams are in the US: refuse (you gave {said})"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex2_tests", weight=2)
def route_the_other_recorded_cases(learner):
    "the other 80 recorded cases"
    assert not rc.check(learner_route(learner), rc.load_cases()[40:])


@checks.hidden("ex2_tests", weight=3)
def route_fresh_cases(learner):
    "fresh cases, answered by the gateway's policy"
    cases = answered(rc.generate_cases(20200716, 100))
    assert not rc.check(learner_route(learner), cases)


@checks.hidden("ex2_tests")
def screen_then_fail_over(learner):
    "the first compliant upstream that is up, in chain order"
    route = learner_route(learner)
    # internal may use both; the chain's order decides, not the table's (Sweden is listed first)
    assert route(case("internal", [BATCH, EU_SE])) == BATCH
    # the US is skipped (policy), Sweden is down, France is next
    assert route(case("personal-eu", [US, EU_SE, EU_FR, VLLM], down=[EU_SE])) == EU_FR


@checks.hidden("ex2_tests")
def unknown_upstream_in_the_chain_is_skipped(learner):
    "an uncatalogued upstream in the chain is passed over"
    route = learner_route(learner)
    assert route(case("public", [rc.UNKNOWN_UPSTREAM, US])) == US


@checks.hidden("ex2_tests")
def unknown_class_is_refused(learner):
    "an unknown data class is refused, however healthy the chain"
    assert learner_route(learner)(case(rc.UNKNOWN_CLASS, [VLLM, US])) is None


@checks.hidden("ex2_tests")
def everything_compliant_is_down(learner):
    "every compliant upstream down: refuse"
    route = learner_route(learner)
    assert route(case("restricted", [VLLM, US, BATCH], down=[BATCH, VLLM])) is None


@checks.hidden("ex2_tests")
def route_uses_the_arguments(learner):
    "the policy and table passed in decide, whatever they hold"
    policy = {"x": {"jurisdictions": ["UK"], "max_retention_days": None, "description": "toy"}}
    toy = pd.DataFrame(
        {"jurisdiction": ["EU", "UK", "UK"], "retention_days": pd.array([0, 30, 1], "Int64")},
        index=pd.Index(["p", "q", "r"], name="upstream"),
    )
    question = {"id": "toy", "data_class": "x", "chain": ["p", "r", "q"], "down": ["r"]}
    assert learner.route(question, policy, toy) == "q"  # p is not UK, r is down


# END HIDDEN CHECKS

# Exercise 3: the audit record ----------------------------------------------------------------


def learner_audit(learner):
    policy, upstreams = data()
    return lambda question: learner.audit_record(question, policy, upstreams)


@checks.visible("ex3_tests", weight=2)
def audit_the_first_recorded_cases(learner):
    "the audit records of the first 40 recorded cases"
    wrong = rc.check(learner_audit(learner), rc.load_cases()[:40], key=None)
    assert not wrong, describe(wrong, 40)


# BEGIN HIDDEN CHECKS
@checks.hidden("ex3_tests", weight=2)
def audit_the_other_recorded_cases(learner):
    "the other 80 recorded cases"
    assert not rc.check(learner_audit(learner), rc.load_cases()[40:], key=None)


@checks.hidden("ex3_tests", weight=3)
def audit_fresh_cases(learner):
    "fresh cases, answered by the gateway's policy"
    cases = answered(rc.generate_cases(20200717, 100))
    assert {c["expected"]["decision"] for c in cases} == {"served", "rerouted", "denied"}
    assert not rc.check(learner_audit(learner), cases, key=None)


@checks.hidden("ex3_tests")
def record_has_exactly_four_keys(learner):
    "exactly the four keys"
    record = learner_audit(learner)(case("public", [US]))
    assert record == {"route": US, "decision": "served", "excluded": [], "failed_over": []}


@checks.hidden("ex3_tests")
def rerouted_by_the_policy_alone(learner):
    "rerouted when the policy removed the first upstream, nothing down"
    record = learner_audit(learner)(case("personal-eu", [US, EU_FR, EU_SE]))
    assert record == {"route": EU_FR, "decision": "rerouted", "excluded": [US], "failed_over": []}


@checks.hidden("ex3_tests")
def failed_over_lists_compliant_upstreams_before_the_route(learner):
    "failed_over: compliant, down, and before the one that served, in chain order"
    chain = [EU_SE, US_AZ, EU_FR, VLLM, BATCH]
    record = learner_audit(learner)(case("personal-eu", chain, down=[BATCH, EU_FR, US_AZ, EU_SE]))
    # East US 2 is down but excluded; the batch engine is down but comes after the route
    assert record == {
        "route": VLLM,
        "decision": "rerouted",
        "excluded": [US_AZ],
        "failed_over": [EU_SE, EU_FR],
    }


@checks.hidden("ex3_tests")
def denied_lists_every_compliant_upstream_down(learner):
    "denied: every compliant upstream that was down, in chain order"
    record = learner_audit(learner)(case("personal-eu", [EU_FR, US, EU_SE], down=[EU_SE, EU_FR]))
    assert record == {
        "route": None,
        "decision": "denied",
        "excluded": [US],
        "failed_over": [EU_FR, EU_SE],
    }


@checks.hidden("ex3_tests")
def excluded_in_chain_order(learner):
    "excluded: every upstream the policy forbids, in chain order, after the route too"
    chain = [VERTEX_US, BATCH, US, rc.UNKNOWN_UPSTREAM, EU_SE]
    record = learner_audit(learner)(case("restricted", chain))
    assert record == {
        "route": BATCH,
        "decision": "rerouted",
        "excluded": [VERTEX_US, US, rc.UNKNOWN_UPSTREAM, EU_SE],
        "failed_over": [],
    }


@checks.hidden("ex3_tests")
def served_by_the_first_despite_later_outages(learner):
    "served: the first upstream served it, whatever is down behind it"
    record = learner_audit(learner)(case("internal", [EU_SE, BATCH, US], down=[BATCH, US]))
    assert record == {"route": EU_SE, "decision": "served", "excluded": [US], "failed_over": []}


@checks.hidden("ex3_tests")
def unknown_class_excludes_everything(learner):
    "an unknown data class: every upstream excluded, denied"
    record = learner_audit(learner)(case(rc.UNKNOWN_CLASS, [VLLM, US], down=[US]))
    assert record == {
        "route": None,
        "decision": "denied",
        "excluded": [VLLM, US],
        "failed_over": [],
    }


# END HIDDEN CHECKS
