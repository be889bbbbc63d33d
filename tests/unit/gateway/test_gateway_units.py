"""Gateway building blocks on their own: routing-table validation, residency screening,
breaker, failover table and loop, quotas, SSE byte handling, key file and settings checks."""

from __future__ import annotations

import asyncio
import random

import pytest
import yaml
from gateway_support import DATA_CLASSES, learner_key, upstream, write_keys, write_table

from reference_stack.gateway.auth import KeyStore, hash_key
from reference_stack.gateway.breaker import Breaker, State
from reference_stack.gateway.errors import Forbidden, RateLimited, ResidencyDenied
from reference_stack.gateway.failover import (
    RULES,
    AttemptFailed,
    FailoverLoop,
    Reason,
    reason_for_status,
)
from reference_stack.gateway.quotas import Quotas
from reference_stack.gateway.relay import sse
from reference_stack.gateway.residency import ResidencyPolicy
from reference_stack.gateway.routing import Router, RoutingTable
from reference_stack.gateway.settings import HERE, LOCAL_LEARNER_KEY, Settings


def _table(tmp_path, **models):
    ups = {
        "us": upstream("http://127.0.0.1:1", "US"),
        "eu": upstream("http://127.0.0.1:2", "EU"),
        "local": upstream("http://127.0.0.1:3", "on-prem"),
        "eu-keeps": upstream("http://127.0.0.1:4", "EU", retention_days=30),
        "local-keeps": upstream("http://127.0.0.1:5", "on-prem", retention_days=30),
    }
    models = models or {"m": ["us", "eu", "eu-keeps", "local", "local-keeps", "cache"]}
    return RoutingTable.load(write_table(tmp_path / "r.yaml", ups, models))


# --- routing table ------------------------------------------------------------------------------
def test_bundled_files_are_valid():
    table = RoutingTable.load(HERE / "routing.yaml")
    keys = KeyStore.load(HERE / "keys.yaml", "local", set(table.data_classes))
    assert keys.authenticate(f"Bearer {LOCAL_LEARNER_KEY}").name == "learner-local"
    assert {"smollm2-135m-instruct", "gpt-4o-mini"} <= set(table.models)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda t: t["upstreams"]["us"].update(jurisdiction="Mars"), "jurisdiction 'Mars'"),
        (
            lambda t: t["models"]["m"]["chain"].append({"upstream": "nowhere"}),
            "unknown upstream 'nowhere'",
        ),
        (lambda t: t["upstreams"]["us"].update(kind="grpc"), "kind"),
        (lambda t: t["upstreams"]["us"].pop("price"), "price"),
        (
            lambda t: t["upstreams"]["us"].update(headers={"Authorization": "Bearer x"}),
            "must not carry credentials",
        ),
        (
            lambda t: t["data_classes"]["public"].update(jurisdictions=["EU", "Atlantis"]),
            "unknown jurisdictions",
        ),
        (lambda t: t["upstreams"]["us"].update(surprise=1), "surprise"),
    ],
)
def test_bad_routing_table_is_refused_with_a_clear_error(tmp_path, mutate, message):
    path = write_table(
        tmp_path / "r.yaml", {"us": upstream("http://127.0.0.1:1", "US")}, {"m": ["us"]}
    )
    table = yaml.safe_load(path.read_text())
    mutate(table)
    path.write_text(yaml.safe_dump(table))
    with pytest.raises(ValueError) as err:
        RoutingTable.load(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_env_references_are_expanded(tmp_path, monkeypatch):
    path = write_table(
        tmp_path / "r.yaml", {"us": upstream("http://127.0.0.1:1", "US")}, {"m": ["us"]}
    )
    path.write_text(
        path.read_text().replace("http://127.0.0.1:1/v1", "${TEST_GW_URL:-http://127.0.0.1:9/v1}")
    )
    assert RoutingTable.load(path).upstreams["us"].base_url == "http://127.0.0.1:9/v1"
    monkeypatch.setenv("TEST_GW_URL", "http://127.0.0.1:7/v1")
    assert RoutingTable.load(path).upstreams["us"].base_url == "http://127.0.0.1:7/v1"


def test_weighted_order_follows_weights(tmp_path):
    path = write_table(
        tmp_path / "r.yaml",
        {
            "a": upstream("http://127.0.0.1:1", "EU"),
            "b": upstream("http://127.0.0.1:2", "EU"),
            "c": upstream("http://127.0.0.1:3", "on-prem"),
        },
        {
            "m": [
                {"upstream": "a", "priority": 0, "weight": 3},
                {"upstream": "b", "priority": 0, "weight": 1},
                {"upstream": "c", "priority": 1},
            ]
        },
    )
    router = Router(RoutingTable.load(path), random.Random(7))
    firsts = [router.order(router.chain("m"))[0].name for _ in range(4000)]
    assert 0.70 < firsts.count("a") / len(firsts) < 0.80  # 3:1 -> 75 %
    assert all(router.order(router.chain("m"))[-1].name == "c" for _ in range(50))


# --- residency -------------------------------------------------------------------------------
def test_residency_screens_jurisdiction_and_retention(tmp_path):
    table = _table(tmp_path)
    policy, chain = ResidencyPolicy(table), Router(table).chain("m")
    allowed = {
        dc: [c.name for c in policy.compliant(dc, "m", policy.screen(dc, chain))]
        for dc in DATA_CLASSES
    }
    assert allowed == {
        "public": ["us", "eu", "eu-keeps", "local", "local-keeps"],
        "personal-eu": ["eu", "eu-keeps", "local", "local-keeps"],
        "restricted": ["local"],
    }
    verdicts = {s.candidate.name: s.reason for s in policy.screen("restricted", chain)}
    assert "jurisdiction EU not allowed" in verdicts["eu"]
    assert "retains data 30 days" in verdicts["local-keeps"]  # right place, kept too long


def test_residency_fails_closed(tmp_path):
    table = _table(tmp_path, m=["us"])
    policy, chain = ResidencyPolicy(table), Router(table).chain("m")
    with pytest.raises(ResidencyDenied) as err:
        policy.compliant("personal-eu", "m", policy.screen("personal-eu", chain))
    body = err.value.body()["error"]
    assert err.value.status == 403 and body["policy"]["allowed_jurisdictions"] == ["EU", "on-prem"]
    assert body["candidates"][0] == {**body["candidates"][0], "upstream": "us", "allowed": False}
    # an unknown data class allows nothing at all
    assert not any(s.allowed for s in policy.screen("no-such-class", chain))


# --- breaker -----------------------------------------------------------------------------------
def test_breaker_opens_probes_and_closes():
    breaker = Breaker(threshold=2, cooldown_s=0.05)
    breaker.record_failure()
    assert breaker.state() is State.CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state() is State.OPEN and not breaker.allow()
    asyncio.run(asyncio.sleep(0.06))
    assert breaker.state() is State.HALF_OPEN
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    breaker.record_failure()  # the probe failed: open again
    assert breaker.state() is State.OPEN
    asyncio.run(asyncio.sleep(0.06))
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state() is State.CLOSED and breaker.failures == 0


def test_retry_after_opens_the_breaker_for_exactly_that_long():
    breaker = Breaker(threshold=5, cooldown_s=30)
    breaker.record_failure(retry_after_s=0.5)
    assert breaker.state() is State.OPEN and 0.4 < breaker.retry_in() <= 0.5


# --- failover table and loop -------------------------------------------------------------------
@pytest.mark.parametrize(
    "status, reason, fails_over",
    [
        (400, Reason.CLIENT_ERROR, False),
        (404, Reason.CLIENT_ERROR, False),
        (413, Reason.CLIENT_ERROR, False),
        (422, Reason.CLIENT_ERROR, False),
        (401, Reason.UPSTREAM_AUTH, True),
        (403, Reason.UPSTREAM_AUTH, True),
        (408, Reason.REQUEST_TIMEOUT, True),
        (429, Reason.TOO_MANY_REQUESTS, True),
        (500, Reason.SERVER_ERROR, True),
        (502, Reason.SERVER_ERROR, True),
        (503, Reason.SERVER_ERROR, True),
        (504, Reason.SERVER_ERROR, True),
    ],
)
def test_failover_table(status, reason, fails_over):
    assert reason_for_status(status) is reason
    assert RULES[reason].fails_over is fails_over


def test_every_reason_has_a_rule():
    assert set(RULES) == set(Reason)


def _loop(names, **kw):
    breakers = {n: Breaker(kw.pop("threshold", 3), kw.pop("cooldown", 30)) for n in names}
    options = dict(
        max_attempts=4,
        backoff_base_s=0.001,
        backoff_max_s=0.002,
        max_retry_after_wait_s=0.5,
        rng=random.Random(1),
    )
    options.update(kw)
    return FailoverLoop(breakers, **options), breakers


def _candidates(tmp_path, names):
    ups = {n: upstream(f"http://127.0.0.1:{i + 1}", "EU") for i, n in enumerate(names)}
    table = RoutingTable.load(write_table(tmp_path / "r.yaml", ups, {"m": list(names)}))
    return Router(table).chain("m")


def test_loop_fails_over_in_order_and_stops_at_client_errors(tmp_path):
    plan = _candidates(tmp_path, ["a", "b", "c"])
    loop, _ = _loop(["a", "b", "c"])
    script = {
        "a": AttemptFailed(Reason.SERVER_ERROR, "boom", status=500),
        "b": AttemptFailed(Reason.CLIENT_ERROR, "bad request", status=400),
    }
    called = []

    async def attempt(candidate, forced):
        called.append(candidate.name)
        if candidate.name in script:
            raise script[candidate.name]
        return candidate.name

    outcome = asyncio.run(loop.run(plan, attempt))
    assert called == ["a", "b"] and outcome.result is None
    assert outcome.fatal is script["b"]  # a 4xx is not failed over: c never sees it


def test_loop_skips_open_breakers_and_waits_for_retry_after(tmp_path):
    plan = _candidates(tmp_path, ["a"])
    loop, breakers = _loop(["a"])
    calls = []

    async def attempt(candidate, forced):
        calls.append(asyncio.get_running_loop().time())
        if len(calls) == 1:
            raise AttemptFailed(Reason.TOO_MANY_REQUESTS, "slow down", status=429, retry_after=0.2)
        return "ok"

    outcome = asyncio.run(loop.run(plan, attempt))
    assert outcome.result == "ok" and outcome.tried == 2
    assert calls[1] - calls[0] >= 0.2  # the upstream's Retry-After was honoured

    breakers["a"].record_failure(retry_after_s=5)  # longer than the loop's patience
    outcome = asyncio.run(loop.run(plan, attempt))
    assert outcome.tried == 0 and outcome.attempts[0].outcome == "skipped_breaker_open"
    assert outcome.retry_in > 4


def test_loop_respects_the_attempt_budget(tmp_path):
    plan = _candidates(tmp_path, ["a", "b"])
    loop, _ = _loop(["a", "b"], threshold=100, max_attempts=3)

    async def attempt(candidate, forced):
        raise AttemptFailed(Reason.CONNECT_ERROR, "refused")

    outcome = asyncio.run(loop.run(plan, attempt))
    assert outcome.tried == 3 and [a.upstream for a in outcome.attempts] == ["a", "b", "a"]


def test_forced_failure_does_not_trip_the_breaker(tmp_path):
    plan = _candidates(tmp_path, ["a", "b"])
    loop, breakers = _loop(["a", "b"], threshold=1)

    async def attempt(candidate, forced):
        if forced:
            raise AttemptFailed(Reason.FORCED, "forced")
        return candidate.name

    outcome = asyncio.run(loop.run(plan, attempt, force_first=True))
    assert outcome.result == "b" and breakers["a"].state() is State.CLOSED


# --- quotas --------------------------------------------------------------------------------------
def test_request_and_token_limits():
    from reference_stack.gateway.auth import ApiKey

    key = ApiKey(
        name="k",
        owner="o",
        kind="team",
        sha256="0" * 64,
        data_classes=["public"],
        requests_per_minute=2,
        tokens_per_minute=100,
    )
    quotas = Quotas()
    quotas.admit(key)
    quotas.admit(key)
    with pytest.raises(RateLimited) as err:
        quotas.admit(key)
    assert err.value.status == 429 and int(err.value.headers["retry-after"]) >= 1
    other = ApiKey(
        name="k2",
        owner="o",
        kind="team",
        sha256="1" * 64,
        data_classes=["public"],
        requests_per_minute=100,
        tokens_per_minute=100,
    )
    quotas.admit(other)
    quotas.charge_tokens(other, 160)  # 60 tokens of debt: ~36 s to pay back at 100/min
    with pytest.raises(RateLimited) as err:
        quotas.admit(other)
    assert err.value.code == "tokens_per_minute_exceeded"
    assert 30 <= int(err.value.headers["retry-after"]) <= 37


# --- keys ----------------------------------------------------------------------------------------
def test_key_file_checks(tmp_path):
    path = write_keys(
        tmp_path / "k.yaml",
        [
            learner_key(),
            learner_key(
                key="sk-other", name="eu", data_classes=["personal-eu"], may_set_data_class=False
            ),
        ],
    )
    store = KeyStore.load(path, "production", set(DATA_CLASSES))
    eu = store.authenticate("Bearer sk-other")
    assert eu.data_class_for(None) == "personal-eu"
    with pytest.raises(Forbidden):
        eu.data_class_for("public")  # may not choose a laxer class
    assert "sk-other" not in path.read_text() and hash_key("sk-other") in path.read_text()

    bad = write_keys(tmp_path / "bad.yaml", [learner_key(data_classes=["secret-sauce"])])
    with pytest.raises(ValueError, match="secret-sauce"):
        KeyStore.load(bad, "local", set(DATA_CLASSES))


def test_local_placeholder_keys_refused_outside_local_mode(tmp_path):
    table = RoutingTable.load(HERE / "routing.yaml")
    with pytest.raises(ValueError, match="local-only placeholder"):
        KeyStore.load(HERE / "keys.yaml", "production", set(table.data_classes))
    sneaky = write_keys(tmp_path / "k.yaml", [learner_key(key=LOCAL_LEARNER_KEY)])
    with pytest.raises(ValueError, match="local-only placeholder"):
        KeyStore.load(sneaky, "production", set(table.data_classes))


def test_settings_refuse_inconsistent_values(tmp_path):
    with pytest.raises(ValueError, match="first_token_timeout_s"):
        Settings(first_token_timeout_s=10, total_timeout_s=1)
    with pytest.raises(ValueError, match="no such file"):
        Settings(routing_file=tmp_path / "missing.yaml")


# --- SSE bytes -------------------------------------------------------------------------------
def test_event_splitter_reassembles_partial_events():
    splitter = sse.EventSplitter()
    assert splitter.feed(b'data: {"a"') == b""
    whole = b'data: {"a":1}\n\ndata: {"b":2}\n\n'
    whole = b'data: {"a":1}\n\ndata: {"b":2}\n\n'
    assert splitter.feed(b':1}\n\ndata: {"b":2}\n\ndata: {') == whole
    assert splitter.feed(b'"c":3}\r\n\r\n') == b'data: {"c":3}\n\n'


def test_usage_event_is_read_and_dropped_unless_asked():
    block = (
        b'data: {"choices":[{"delta":{"content":"x"}}],"usage":null}\n\n'
        b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,'
        b'"total_tokens":8}}\n\n' + sse.DONE
    )
    kept, usage = sse.take_usage(block, keep_usage_event=False)
    assert usage["total_tokens"] == 8 and b'"choices":[]' not in kept and kept.endswith(sse.DONE)
    kept, _ = sse.take_usage(block, keep_usage_event=True)
    assert kept == block
    plain = b'data: {"choices":[{"delta":{"content":"usage"}}]}\n\n'
    assert sse.take_usage(plain, False) == (plain, None)


def test_opening_errors():
    assert sse.opening(b'data: {"error":{"message":"boom"}}\n\n') == (False, "boom")
    assert sse.opening(sse.DONE)[1] is not None
    assert sse.opening(b"data: not json\n\n")[1] is not None
    assert sse.opening(b"data: [1, 2]\n\n")[1] is not None


def test_opening_skips_keep_alive_comments_and_blank_lines():
    assert sse.opening(b": keep-alive\n\n") == (False, None)
    assert sse.opening(b"\n\n") == (False, None)
    assert "boom" in sse.opening(b': ping\n\ndata: {"error":{"message":"boom"}}\n\n')[1]
