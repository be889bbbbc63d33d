"""Every fault kind, driven at run time, replays exactly from its seed (real SDK, real HTTP)."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from reference_stack.providers.faults import FaultPlan
from reference_stack.providers.testing import CLOUD_KEY, MANAGED_KEY, cloud_standin, managed_standin
from servelab_base.paths import DATASETS

MESSAGES = [{"role": "user", "content": "Tell me about failover."}]
REQUESTS = 12  # per run: enough for rate-0.5 rules to both fire and not fire
# Injected pauses. Only lower bounds measured from the send are asserted: a busy client may read
# chunks late (so gaps between chunks can look shorter), but nothing can arrive early.
PAUSE_S = 0.2


@pytest.fixture(scope="module")
def standin():
    with managed_standin(seed=11) as (url, _):
        yield url


def outcome(client: openai.OpenAI) -> tuple:
    """One streamed request, summarised: what happened and, for timing faults, when."""
    sent = time.monotonic()
    arrivals = []
    try:
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        for c in stream:
            if c.choices and c.choices[0].delta.content:
                arrivals.append(time.monotonic())
    except openai.APIStatusError as e:
        return ("status", e.status_code, e.response.headers.get("retry-after")), []
    except openai.APIConnectionError:
        return ("disconnect", len(arrivals)), []
    return ("ok", len(arrivals)), [sent] + arrivals


def run(url: str, plan: dict) -> tuple[list, list, list]:
    httpx.post(url + "/admin/faults", json=plan).raise_for_status()
    client = openai.OpenAI(base_url=url + "/v1", api_key=MANAGED_KEY, max_retries=0)
    results = [outcome(client) for _ in range(REQUESTS)]
    log = httpx.get(url + "/admin/faults/log").json()["log"]
    return [r[0] for r in results], [r[1] for r in results], log


KINDS = {
    "outage": {"kind": "outage", "requests": [3, 7]},
    "error": {"kind": "error", "status": 500, "rate": 0.5},
    "rate_limit_storm": {"kind": "rate_limit_storm", "rate": 0.5, "retry_after_s": 2},
    "slow_first_token": {"kind": "slow_first_token", "rate": 0.5, "extra_ms": PAUSE_S * 1000},
    "stall": {"kind": "stall", "rate": 0.5, "after_tokens": 3, "stall_ms": PAUSE_S * 1000},
    "disconnect": {"kind": "disconnect", "rate": 0.5, "after_tokens": 4},
}


@pytest.mark.parametrize("kind", KINDS)
def test_each_fault_kind_replays_exactly_from_its_seed(standin, kind):
    plan = {"seed": 42, "rules": [KINDS[kind]]}
    first, times, log = run(standin, plan)
    again, _, log_again = run(standin, plan)
    assert first == again and log == log_again  # same seed, same requests: same faults
    hit = {e["index"] for e in log}
    assert hit and all(e["kinds"] == [kind] for e in log)
    if kind != "outage":
        assert len(hit) < REQUESTS  # rate 0.5: some requests spared
        other, _, other_log = run(standin, {"seed": 43, "rules": [KINDS[kind]]})
        assert {e["index"] for e in other_log} != hit  # another seed, another pattern
    for i, (result, stamps) in enumerate(zip(first, times, strict=True)):
        if i not in hit:
            assert result[0] == "ok"
        elif kind == "outage":
            assert result[:2] == ("status", 503) and 3 <= i < 7
        elif kind == "error":
            assert result[:2] == ("status", 500)
        elif kind == "rate_limit_storm":
            assert result == ("status", 429, "2")
        elif kind == "slow_first_token":
            assert stamps[1] - stamps[0] >= PAUSE_S
        elif kind == "stall":
            assert stamps[4] - stamps[0] >= PAUSE_S  # token 4 comes after the pause
        elif kind == "disconnect":
            assert result == ("disconnect", 4)


def test_plan_from_a_scenario_file_and_region_match():
    plan = FaultPlan.from_yaml(DATASETS / "providers" / "faults" / "regional-outage.yaml")
    with cloud_standin("swedencentral", seed=1, plan=plan) as (url, _):
        client = openai.AzureOpenAI(
            azure_endpoint=url, api_key=CLOUD_KEY, api_version="2024-10-21", max_retries=0
        )
        with pytest.raises(openai.InternalServerError) as e:
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert e.value.status_code == 503 and e.value.type == "server_error"
        assert "Please include the request ID" in e.value.message
        # the outage covers serverless capacity only: the provisioned deployment still answers
        assert client.chat.completions.create(model="gpt-4o-ptu", messages=MESSAGES).choices


def test_bad_plans_are_refused(standin):
    r = httpx.post(standin + "/admin/faults", json={"rules": [{"kind": "earthquake"}]})
    assert r.status_code == 400 and "rules.0.kind" in r.json()["error"]["message"]
    r = httpx.post(standin + "/admin/faults", json={"rules": [{"kind": "error", "rate": 2}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "rules.0.rate"
    httpx.delete(standin + "/admin/faults").raise_for_status()
    assert httpx.get(standin + "/admin/faults").json()["plan"]["rules"] == []


def test_every_shipped_scenario_is_a_valid_plan():
    files = sorted((DATASETS / "providers" / "faults").glob("*.yaml"))
    assert files
    for path in files:
        plan = FaultPlan.from_yaml(path)
        assert plan.rules, path.name
