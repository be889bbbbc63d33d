"""servelab.labs.lab08_residency and datasets/lab08: the cases, the checker and the live gateway."""

from __future__ import annotations

import json
import socket

import httpx
import matplotlib
import pandas as pd
import pytest
import yaml

from reference_stack.gateway.audit import read_audit
from servelab.labs import lab08_residency as rc

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def policy():
    return rc.load_policy()


@pytest.fixture(scope="module")
def upstreams():
    return rc.load_upstreams()


def test_recorded_upstreams_match_the_catalog(upstreams):
    fresh = rc.build_upstreams()
    pd.testing.assert_frame_equal(upstreams, fresh, check_dtype=False)
    assert upstreams.loc["onprem-vllm", "jurisdiction"] == "on-prem"
    assert pd.isna(upstreams.loc["aws-bedrock/eu-central-1", "retention_days"])  # not catalogued


def test_recorded_cases_are_the_seeded_generator_output():
    lines = (rc.LAB08 / "cases.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == rc.generate_cases(rc.RECORDED_SEED,
                                                                     rc.RECORDED_N)


def test_generator_is_deterministic_and_covers_every_outcome():
    a, b = rc.generate_cases(1, 200), rc.generate_cases(1, 200)
    assert a == b and a != rc.generate_cases(2, 200)
    decisions = {c["expected"]["decision"] for c in a}
    assert decisions == {"served", "rerouted", "denied"}
    assert any(c["data_class"] == rc.UNKNOWN_CLASS for c in a)
    assert any(rc.UNKNOWN_UPSTREAM in c["chain"] for c in a)


def _case(data_class, chain, down=()):
    return {"id": "t", "data_class": data_class, "chain": list(chain), "down": list(down)}


def test_rules_fail_closed(policy, upstreams):
    e = rc.expected(_case("biometric-us", ["onprem-vllm"]), policy, upstreams)
    assert e == {"route": None, "decision": "denied", "excluded": ["onprem-vllm"],
                 "failed_over": []}
    e = rc.expected(_case("public", ["partner-endpoint", "openai/global"]), policy, upstreams)
    assert e["route"] == "openai/global" and e["excluded"] == ["partner-endpoint"]
    assert e["decision"] == "rerouted"
    # unknown retention where a limit applies: not compliant
    e = rc.expected(_case("personal-eu", ["aws-bedrock/eu-central-1"]), policy, upstreams)
    assert e["route"] is None
    # failover never crosses the boundary: the compliant EU region is down, the US one is up
    e = rc.expected(_case("personal-eu", ["azure-openai/swedencentral", "azure-openai/eastus2"],
                          down=["azure-openai/swedencentral"]), policy, upstreams)
    assert e == {"route": None, "decision": "denied", "excluded": ["azure-openai/eastus2"],
                 "failed_over": ["azure-openai/swedencentral"]}


def test_no_generated_route_leaves_its_jurisdiction(policy, upstreams):
    for case in rc.generate_cases(99, 500, policy, upstreams):
        chosen = case["expected"]["route"]
        if chosen is None:
            continue
        rule = policy[case["data_class"]]
        assert upstreams.loc[chosen, "jurisdiction"] in rule["jurisdictions"]
        assert chosen not in case["down"]
        assert chosen not in case["expected"]["excluded"]


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


def test_lab_gateway_table_agrees_with_the_lab_policy(policy):
    table = yaml.safe_load(rc.GATEWAY_ROUTING.read_text())
    for name, rule in table["data_classes"].items():
        assert rule["jurisdictions"] == policy[name]["jurisdictions"], name


def test_plots_draw(policy, upstreams):
    matrix = pd.DataFrame({u: {dc: rc.expected(_case(dc, [u]), policy, upstreams)["route"]
                               is not None for dc in policy} for u in upstreams.index})
    ax = rc.plot_allowed(matrix)
    assert len(ax.get_yticklabels()) == len(policy)
    ax = rc.plot_outcomes(rc.load_cases())
    assert ax.patches


def _port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, int(port))) == 0


def test_gateway_denies_and_audits_without_sending_anything():
    with rc.lab_gateway() as gw:
        assert gw["url"], gw["error"]
        reply = rc.gateway_request(gw["url"], rc.LEARNER_KEY, "us-only", "personal-eu")
        assert reply.status_code == 403
        error = reply.json()["error"]
        assert error["code"] == "residency_denied"
        assert error["policy"]["allowed_jurisdictions"] == ["EU", "on-prem"]
        records = read_audit(gw["audit"])
        assert len(records) == 1 and records[0]["decision"] == "denied"
        assert records[0]["attempts"] == []  # nothing was sent anywhere
        assert {c["jurisdiction"] for c in records[0]["candidates"]} == {"US"}
        url = gw["url"]
    assert not _port_open(url), "the lab's gateway must stop when the block ends"
    with pytest.raises(httpx.HTTPError):
        httpx.get(url + "/health", timeout=1)
