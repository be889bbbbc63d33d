"""servelab.labs.lab08_residency and datasets/lab08: the cases, the checker and the live gateway.

The answers of lab 08 come from the gateway's residency code (reference_stack/gateway/
residency.py), through the recorder scripts/record_lab08.py; the learner's helper module holds
no answer key.
"""

from __future__ import annotations

import importlib.util
import json
import socket

import httpx
import matplotlib
import pandas as pd
import pytest
import yaml

from reference_stack.gateway.audit import read_audit
from reference_stack.gateway.residency import ResidencyPolicy
from reference_stack.gateway.routing import RoutingTable
from servelab.labs import lab08_residency as rc
from servelab_base.paths import ROOT

matplotlib.use("Agg")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


record = _script("record_lab08")
REGENERATE = f"stale: regenerate with `{record.COMMAND}`"


@pytest.fixture(scope="module")
def policy():
    return rc.load_policy()


@pytest.fixture(scope="module")
def gateway_policy():
    return record.gateway_policy()


@pytest.fixture(scope="module")
def upstreams():
    return rc.load_upstreams()


def _case(data_class, chain, down=()):
    return {"id": "t", "data_class": data_class, "chain": list(chain), "down": list(down)}


# -- the recorded data is what the recorder writes now -----------------------------------------
def test_recorded_upstreams_match_the_catalog(upstreams):
    fresh = rc.build_upstreams()
    try:
        pd.testing.assert_frame_equal(upstreams, fresh, check_dtype=False)
    except AssertionError as exc:
        raise AssertionError(f"datasets/lab08/upstreams.csv {REGENERATE}\n{exc}") from None
    assert upstreams.loc["onprem-vllm", "jurisdiction"] == "on-prem"
    assert pd.isna(upstreams.loc["aws-bedrock/eu-central-1", "retention_days"])  # not catalogued


def test_recorded_cases_are_answered_by_the_gateway_policy():
    lines = (rc.LAB08 / "cases.jsonl").read_text().splitlines()
    recorded = [json.loads(line) for line in lines]
    assert recorded == record.recorded_cases(), f"datasets/lab08/cases.jsonl {REGENERATE}"
    assert [{k: v for k, v in c.items() if k != "expected"} for c in recorded] == (
        rc.generate_cases(rc.RECORDED_SEED, rc.RECORDED_N)
    )


def test_lab_gateway_table_is_generated_from_the_embedded_one():
    text = rc.GATEWAY_ROUTING.read_text()
    assert text == record.gateway_text(), f"datasets/lab08/gateway_routing.yaml {REGENERATE}"
    table = RoutingTable.load(rc.GATEWAY_ROUTING)
    embedded = yaml.safe_load(record.EMBEDDED_ROUTING.read_text())["upstreams"]
    raw = yaml.safe_load(text)["upstreams"]
    assert raw == {name: embedded[name] for name in record.LAB_UPSTREAMS}
    assert [s.upstream for s in table.models["us-only"].steps] == [
        "managed-openai",
        "azure-eastus2",
    ]
    assert {table.upstreams[s.upstream].jurisdiction for s in table.models["us-only"].steps} == {
        "US"
    }


def test_recorder_check_mode_agrees(capsys):
    assert record.main(["--check"]) == 0, capsys.readouterr().out


# -- one policy ---------------------------------------------------------------------------------
def test_the_lab_policy_is_the_gateway_policy(policy):
    """datasets/lab08/policy.yaml, the embedded gateway's routing.yaml and the lab's gateway
    table carry the same rule per data class (one policy, applied by one implementation)."""

    def rules(classes: dict) -> dict:
        return {
            name: (list(c["jurisdictions"]), c.get("max_retention_days"))
            for name, c in classes.items()
        }

    course = rules(policy)
    for path in (record.EMBEDDED_ROUTING, rc.GATEWAY_ROUTING):
        table = rules(yaml.safe_load(path.read_text())["data_classes"])
        assert table == course, (
            f"{path.relative_to(ROOT)} and datasets/lab08/policy.yaml disagree: the course has one "
            f"residency policy; change both, then run `{record.COMMAND}`"
        )
    assert course["personal-eu"] == (["EU", "on-prem"], 30)  # the rule both sides now agree on


def test_allow_matrix_through_the_gateway_policy(gateway_policy, upstreams):
    """The gateway's verdict on the lab's upstreams, pinned (a catalog change shows up here)."""
    got = {
        dc: [u for u in upstreams.index if record.allowed(gateway_policy, upstreams, dc, u)]
        for dc in gateway_policy.data_classes
    }
    eu_and_uk = ["azure-openai/swedencentral", "azure-openai/francecentral", "azure-openai/uksouth"]
    assert got == {
        "public": list(upstreams.index),
        "internal": [*eu_and_uk, "aws-bedrock/eu-central-1", "google-vertex/europe-west4"]
        + ["onprem-vllm", "onprem-batch"],
        # Bedrock and Vertex EU are out: their retention is not catalogued, the limit is 30 days
        "personal-eu": eu_and_uk[:2] + ["onprem-vllm", "onprem-batch"],
        "special-category-eu": ["onprem-vllm", "onprem-batch"],
        "restricted": ["onprem-vllm", "onprem-batch"],
    }


def test_rules_fail_closed(gateway_policy, upstreams):
    def outcome(case):
        return record.outcome(case, gateway_policy, upstreams)

    e = outcome(_case("biometric-us", ["onprem-vllm"]))
    assert e == {
        "route": None,
        "decision": "denied",
        "excluded": ["onprem-vllm"],
        "failed_over": [],
    }
    e = outcome(_case("public", ["partner-endpoint", "openai/global"]))
    assert e["route"] == "openai/global" and e["excluded"] == ["partner-endpoint"]
    assert e["decision"] == "rerouted"
    # unknown retention where a limit applies: not compliant
    assert outcome(_case("personal-eu", ["aws-bedrock/eu-central-1"]))["route"] is None
    # ... and the gateway's verdict says why
    reason = gateway_policy.verdict("personal-eu", "EU", None).reason
    assert "retention terms unknown" in reason
    # failover never crosses the boundary: the compliant EU region is down, the US one is up
    e = outcome(
        _case(
            "personal-eu",
            ["azure-openai/swedencentral", "azure-openai/eastus2"],
            down=["azure-openai/swedencentral"],
        )
    )
    assert e == {
        "route": None,
        "decision": "denied",
        "excluded": ["azure-openai/eastus2"],
        "failed_over": ["azure-openai/swedencentral"],
    }


def test_no_generated_route_leaves_its_jurisdiction(policy, gateway_policy, upstreams):
    decisions = set()
    for case in rc.generate_cases(99, 500, policy, upstreams):
        answer = record.outcome(case, gateway_policy, upstreams)
        decisions.add(answer["decision"])
        chosen = answer["route"]
        if chosen is None:
            continue
        rule = policy[case["data_class"]]
        assert upstreams.loc[chosen, "jurisdiction"] in rule["jurisdictions"]
        assert chosen not in case["down"] and chosen not in answer["excluded"]
    assert decisions == {"served", "rerouted", "denied"}


# -- the learner's helper -----------------------------------------------------------------------
def test_generator_is_deterministic_and_asks_questions_only():
    a, b = rc.generate_cases(1, 200), rc.generate_cases(1, 200)
    assert a == b and a != rc.generate_cases(2, 200)
    assert all(set(c) == {"id", "data_class", "chain", "down"} for c in a)  # no answers
    assert any(c["data_class"] == rc.UNKNOWN_CLASS for c in a)
    assert any(rc.UNKNOWN_UPSTREAM in c["chain"] for c in a)


def test_the_learner_helper_holds_no_answer_key():
    """What exercise 3 asks for (and exercises 1-2) must not be one import away."""
    for name in ("expected", "_allowed", "write_cases", "outcome", "allowed"):
        assert not hasattr(rc, name), f"servelab.labs.lab08_residency.{name} is an answer key"
    assert (
        "reference_stack.gateway.residency"
        not in (ROOT / "servelab/labs/lab08_residency.py").read_text()
    )


def test_check_reports_disagreements_and_exceptions():
    cases = rc.load_cases()[:20]
    answers = {c["id"]: c["expected"]["route"] for c in cases}
    assert rc.check(lambda c: answers[c["id"]], cases) == []
    wrong = rc.check(lambda c: c["chain"][0], cases)
    assert wrong and all(w["got"] != w["expected"] for w in wrong)

    def boom(case):
        raise KeyError("oops")

    wrong = rc.check(boom, cases[:3])
    assert len(wrong) == 3 and wrong[0]["got"].startswith("KeyError")


def test_plots_draw(policy, gateway_policy, upstreams):
    matrix = pd.DataFrame(
        {
            u: {dc: record.allowed(gateway_policy, upstreams, dc, u) for dc in policy}
            for u in upstreams.index
        }
    )
    ax = rc.plot_allowed(matrix)
    assert len(ax.get_yticklabels()) == len(policy)
    ax = rc.plot_outcomes(rc.load_cases())
    assert ax.patches


# -- live ---------------------------------------------------------------------------------------
def _port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, int(port))) == 0


def test_gateway_denies_and_audits_without_sending_anything():
    with rc.lab_gateway() as gw:
        assert gw["url"], gw["error"]
        reply = rc.gateway_request(gw["url"], rc.LOCAL_LEARNER_KEY, "us-only", "personal-eu")
        assert reply.status_code == 403
        error = reply.json()["error"]
        assert error["code"] == "residency_denied"
        assert error["policy"] == {
            "data_class": "personal-eu",
            "allowed_jurisdictions": ["EU", "on-prem"],
            "max_retention_days": 30,
        }
        records = read_audit(gw["audit"])
        assert len(records) == 1 and records[0]["decision"] == "denied"
        assert records[0]["attempts"] == []  # nothing was sent anywhere
        assert {c["jurisdiction"] for c in records[0]["candidates"]} == {"US"}
        url = gw["url"]
    assert not _port_open(url), "the lab's gateway must stop when the block ends"
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/health", timeout=1)


def test_policy_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "policy.yaml"
    bad.write_text("data_classes:\n  x: {jurisdictions: []}\n")
    with pytest.raises(ValueError, match="policy.yaml"):
        ResidencyPolicy.from_file(bad)


# -- grading ------------------------------------------------------------------------------------
def _instructor_checks():
    path = ROOT / "solutions" / "08_residency" / "instructor_checks.py"
    spec = importlib.util.spec_from_file_location("lab08_instructor_checks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_checks_answer_fresh_cases_through_the_gateway_policy():
    """The grader's answer key for fresh cases is the recorder's, i.e. the gateway's verdict:
    fed the recorded questions, it gives back exactly the recorded answers."""
    recorded = rc.load_cases()
    questions = [{k: v for k, v in c.items() if k != "expected"} for c in recorded]
    assert _instructor_checks().answered(questions) == recorded


def test_the_upstream_table_reaches_the_learners_function_with_its_index(upstreams):
    """Graded, may_process gets the table as data: indexed by upstream, unknown retention NA."""
    from servelab.grading.checks import LocalLearner

    def peek(table):
        days = table.loc["aws-bedrock/eu-central-1", "retention_days"]
        return [list(table.index), table.index.name, bool(pd.isna(days))]

    got = LocalLearner({"peek": peek}).peek(upstreams)
    assert got == [list(upstreams.index), "upstream", True]
