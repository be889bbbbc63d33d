"""Every failover rule, the streaming-failure rule, breaker, Retry-After, forced failover and
the cache step, with exact faults from the scripted upstream.

How faults are made exact: each upstream ENTRY of the test routing table carries fixed
``x-scripted-*`` headers (see gateway_support.py), e.g. ``status: 503`` or ``ttft_ms: 3000``,
and a distinct ``seed``. The scripted upstream records every request it received with the
gateway's ``x-request-id`` and the script (seed) it followed, so a test can tell exactly which
entries a request reached. Connection errors use a closed port; connect timeouts a listening
socket whose accept queue is full.
"""

from __future__ import annotations

import socket
import time
import uuid

import httpx
import openai
import pytest
from gateway_support import LEARNER_KEY, parse_sse, read_jsonl, upstream, write_keys, write_table

from reference_stack.gateway.process import GatewayProcess
from reference_stack.scripted import ScriptedUpstream

MESSAGES = [{"role": "user", "content": "Tell me about failover"}]
OK_SEED = 1
CHUNKS = 6

#: (entry name, scripted faults, failure reason the gateway must record)
FAILING_OVER = [
    ("s429", {"status": 429}, "http_429"),
    ("s500", {"status": 500}, "http_5xx"),
    ("s502", {"status": 502}, "http_5xx"),
    ("s503", {"status": 503}, "http_5xx"),
    ("s504", {"status": 504}, "http_5xx"),
    ("s401", {"status": 401}, "http_401_403"),
    ("s403", {"status": 403}, "http_401_403"),
    ("s408", {"status": 408}, "http_408"),
    # a non-streamed answer has no first token to wait for: only the total timeout applies
    ("slow-ttft", {"ttft_ms": 6000}, "first_token_timeout|total_timeout"),
    ("refused", None, "connect_error"),
    ("blackhole", None, "connect_timeout"),
]
#: A stream that breaks, or carries an in-band error, before any content (the scripted
#: upstream's fail_after applies to streams only).
STREAM_ONLY = [
    ("abort0", {"fail_after": 0}, "broken_stream"),
    ("error0", {"fail_after": 0, "fail_mode": "error"}, "http_5xx"),
]
NOT_FAILING_OVER = [("s400", 400), ("s404", 404), ("s422", 422)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gw-failover")
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    filler = socket.create_connection(blackhole.getsockname())  # the accept queue is now full
    dead_url = f"http://127.0.0.1:{_free_port()}"
    with (
        ScriptedUpstream(ttft_ms=10, itl_ms=2, chunks=CHUNKS) as up,
        ScriptedUpstream(ttft_ms=10, itl_ms=2, chunks=CHUNKS) as victim,
    ):
        ups = {"ok": upstream(up.base_url, seed=OK_SEED)}
        models = {}
        seed = 100
        for stream in (False, True):
            suffix = "-stream" if stream else "-plain"
            for name, faults, _ in FAILING_OVER + STREAM_ONLY:
                seed += 1
                entry = name + suffix
                url = {
                    "refused": dead_url,
                    "blackhole": f"http://127.0.0.1:{blackhole.getsockname()[1]}",
                }.get(name, up.base_url)
                ups[entry] = upstream(url, seed=seed, **(faults or {}))
                models["rule-" + entry] = [entry, "ok"]
            for name, status in NOT_FAILING_OVER:
                seed += 1
                ups[name + suffix] = upstream(up.base_url, seed=seed, status=status)
                models["rule-" + name + suffix] = [name + suffix, "ok"]
        ups.update(
            {
                "abort3": upstream(up.base_url, seed=201, fail_after=3),
                "error3": upstream(up.base_url, seed=202, fail_after=3, fail_mode="error"),
                "slow-total": upstream(up.base_url, seed=203, chunks=100, itl_ms=60),
                "flaky": upstream(up.base_url, seed=204, status=500),
                "only429": upstream(up.base_url, seed=205, status=429),
                "dead": upstream(dead_url),
                "a": upstream(up.base_url, seed=11),
                "b": upstream(up.base_url, seed=12),
                "victim": upstream(victim.base_url, seed=13),
                "fail-a": upstream(up.base_url, seed=206, status=500),
                "fail-b": upstream(up.base_url, seed=207, ttft_ms=6000),
            }
        )
        models.update(
            {
                "mid-abort": ["abort3", "ok"],
                "mid-error": ["error3", "ok"],
                "mid-timeout": ["slow-total", "ok"],
                "total-timeout": ["slow-total", "ok"],
                "breaker": ["flaky", "ok"],
                "retry-after": ["only429"],
                "dead-chain": ["dead"],
                "forced": ["a", "b"],
                "cached": ["victim", "cache"],
                "all-fail": ["fail-a"],
                "all-timeout": ["fail-b"],
            }
        )
        routing = write_table(tmp / "routing.yaml", ups, models)
        keys = write_keys(tmp / "keys.yaml")
        audit = tmp / "audit.jsonl"
        # timeouts well above what a healthy loopback upstream needs on a loaded 2-core CI box
        with GatewayProcess(
            routing=routing,
            keys=keys,
            audit=audit,
            connect_timeout_s=1.0,
            first_token_timeout_s=1.5,
            total_timeout_s=4.0,
            max_attempts=4,
            breaker_failure_threshold=3,
            breaker_cooldown_s=3.0,
            max_retry_after_wait_s=1.5,
            backoff_base_s=0.01,
            backoff_max_s=0.05,
        ) as gw:
            yield {"gw": gw, "up": up, "victim": victim, "audit": audit}
            assert "Traceback" not in gw.read_log()  # no fault crashed a request handler
    filler.close()
    blackhole.close()


def call(env, alias, stream, request_id=None, headers=None, **body) -> httpx.Response:
    request_id = request_id or uuid.uuid4().hex
    return httpx.post(
        env["gw"].base_url + "/v1/chat/completions",
        json={"model": alias, "messages": MESSAGES, "stream": stream, **body},
        headers={
            "authorization": f"Bearer {LEARNER_KEY}",
            "x-request-id": request_id,
            **(headers or {}),
        },
        timeout=15,
    )


def seeds_reached(env, request_id: str, process: str = "up") -> list[int]:
    """Seeds (= upstream entries) that the request reached, in order of arrival."""
    records = [r for r in env[process].records() if r["client_request_id"] == request_id]
    return [r["script"]["seed"] for r in sorted(records, key=lambda r: r["received_perf"])]


def audit_of(env, request_id: str) -> dict:
    return next(r for r in read_jsonl(env["audit"]) if r["request_id"] == request_id)


def ok_text(env) -> str:
    direct = openai.OpenAI(base_url=env["up"].base_url + "/v1", api_key="x", max_retries=0)
    reply = direct.chat.completions.create(
        model="m", messages=MESSAGES, extra_headers={"x-scripted-seed": str(OK_SEED)}
    )
    return reply.choices[0].message.content


def streamed_text(reply: httpx.Response) -> tuple[str, list[str]]:
    import json

    data = parse_sse(reply.text)
    pieces = [
        c["choices"][0]["delta"].get("content") or ""
        for c in (json.loads(d) for d in data if d != "[DONE]")
        if c.get("choices")
    ]
    return "".join(pieces), data


RULE_CASES = [
    (*rule, stream)
    for stream in (False, True)
    for rule in FAILING_OVER + (STREAM_ONLY if stream else [])
]


@pytest.mark.parametrize(
    "name, faults, reason, stream",
    RULE_CASES,
    ids=[f"{c[0]}-{'stream' if c[3] else 'plain'}" for c in RULE_CASES],
)
def test_failures_that_fail_over(env, name, faults, reason, stream):
    entry = name + ("-stream" if stream else "-plain")
    request_id = uuid.uuid4().hex
    reply = call(env, "rule-" + entry, stream, request_id)
    assert reply.status_code == 200, reply.text
    assert reply.headers["x-servelab-upstream"] == "ok"
    assert reply.headers["x-servelab-attempts"] == "2"
    assert "failover;dur=" in reply.headers["server-timing"]
    if stream:  # the failure happened before the first byte: invisible, nothing duplicated
        text, data = streamed_text(reply)
        assert data[-1] == "[DONE]" and data.count("[DONE]") == 1
        assert sum(1 for d in data if '"content"' in d) == CHUNKS
    else:
        text = reply.json()["choices"][0]["message"]["content"]
    assert text == ok_text(env)
    assert seeds_reached(env, request_id)[-1] == OK_SEED
    record = audit_of(env, request_id)
    assert record["decision"] == "rerouted" and record["chosen"] == "ok"
    reason = reason.split("|")[0 if stream else -1]
    assert [a["outcome"] for a in record["attempts"]] == [reason, "ok"]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("name, status", NOT_FAILING_OVER, ids=[r[0] for r in NOT_FAILING_OVER])
def test_client_errors_do_not_fail_over(env, name, status, stream):
    request_id = uuid.uuid4().hex
    reply = call(env, f"rule-{name}-{'stream' if stream else 'plain'}", stream, request_id)
    assert reply.status_code == status
    assert reply.json()["error"]["message"]
    assert OK_SEED not in seeds_reached(env, request_id)  # never sent to the next upstream
    assert len(seeds_reached(env, request_id)) == 1


def test_failure_after_first_byte_ends_with_an_error_event(env):
    request_id = uuid.uuid4().hex
    reply = call(env, "mid-abort", True, request_id)
    assert reply.status_code == 200 and reply.headers["x-servelab-attempts"] == "1"
    text, data = streamed_text(reply)
    assert "[DONE]" not in data  # not presented as a complete answer
    assert '"upstream_stream_broken"' in data[-1]
    record = next(r for r in env["up"].records() if r["client_request_id"] == request_id)
    sent = [c["text"] for c in record["chunks"] if c["kind"] == "content"]
    assert text == "".join(sent) and len(sent) == 3  # exactly what was sent: no more, no less
    assert seeds_reached(env, request_id) == [201]  # no second upstream, no duplicated answer

    sdk = openai.OpenAI(base_url=env["gw"].base_url + "/v1", api_key=LEARNER_KEY, max_retries=0)
    got = []
    with pytest.raises(openai.APIError, match="lost mid-stream"):
        for chunk in sdk.chat.completions.create(model="mid-abort", messages=MESSAGES, stream=True):
            got.append(chunk.choices[0].delta.content)
    assert len(got) == 3


def test_upstream_error_event_mid_stream_is_passed_on(env):
    reply = call(env, "mid-error", True)
    _, data = streamed_text(reply)
    errors = [d for d in data if d.startswith('{"error"')]
    assert len(errors) == 1 and sum(1 for d in data if '"content"' in d) == 3


def test_total_timeout_mid_stream(env):
    started = time.monotonic()
    reply = call(env, "mid-timeout", True)
    assert 3.9 < time.monotonic() - started < 15
    text, data = streamed_text(reply)
    assert '"upstream_timeout"' in data[-1] and "[DONE]" not in data and text


def test_total_timeout_before_the_answer_fails_over(env):
    request_id = uuid.uuid4().hex
    reply = call(env, "total-timeout", False, request_id)
    assert reply.status_code == 200 and reply.headers["x-servelab-upstream"] == "ok"
    assert [a["outcome"] for a in audit_of(env, request_id)["attempts"]] == ["total_timeout", "ok"]


def test_breaker_opens_skips_and_probes(env):
    for _ in range(3):
        assert call(env, "breaker", False).headers["x-servelab-attempts"] == "2"
    health = httpx.get(env["gw"].base_url + "/health").json()
    assert health["upstreams"]["flaky"] == "open"
    assert (
        'servelab_gateway_breaker_state{upstream="flaky"} 2.0'
        in httpx.get(env["gw"].base_url + "/metrics").text
    )
    request_id = uuid.uuid4().hex
    reply = call(env, "breaker", False, request_id)
    assert reply.headers["x-servelab-attempts"] == "1"  # flaky skipped, no request paid
    assert seeds_reached(env, request_id) == [OK_SEED]
    assert audit_of(env, request_id)["attempts"][0]["outcome"] == "skipped_breaker_open"
    time.sleep(3.1)  # the cooldown
    assert httpx.get(env["gw"].base_url + "/health").json()["upstreams"]["flaky"] == "half_open"
    request_id = uuid.uuid4().hex
    assert call(env, "breaker", False, request_id).headers["x-servelab-attempts"] == "2"
    assert seeds_reached(env, request_id) == [204, OK_SEED]  # one probe, failed
    assert httpx.get(env["gw"].base_url + "/health").json()["upstreams"]["flaky"] == "open"


def test_retry_after_is_honoured(env):
    request_id = uuid.uuid4().hex
    reply = call(env, "retry-after", False, request_id)
    # every attempt answered 429: the upstreams' quota, said as such (not an outage)
    assert reply.status_code == 429, reply.text
    assert reply.json()["error"]["code"] == "upstream_rate_limited"
    assert int(reply.headers["retry-after"]) >= 1
    records = sorted(
        (r for r in env["up"].records() if r["client_request_id"] == request_id),
        key=lambda r: r["received_perf"],
    )
    assert len(records) >= 2
    gaps = [
        b["received_perf"] - a["received_perf"] for a, b in zip(records, records[1:], strict=False)
    ]
    assert all(gap >= 1.0 for gap in gaps)  # never back before the upstream's Retry-After: 1


def test_all_failed_is_502_and_all_timed_out_is_504(env):
    reply = call(env, "all-fail", False)
    error = reply.json()["error"]
    assert reply.status_code == 502 and error["code"] == "upstream_failed"
    assert error["policy"]["data_class"] == "public" and len(error["attempts"]) >= 2
    reply = call(env, "all-timeout", True)
    assert reply.status_code == 504 and reply.json()["error"]["code"] == "upstream_timeout"


def test_the_last_upstream_is_never_cooled_down_by_failures(env):
    """Panic routing: the chain's only upstream failed until its breaker opened; later requests
    are still sent to it (a breaker protects an upstream while others carry its load; with none
    left it would only turn failures into refusals)."""
    first = call(env, "dead-chain", False)
    assert first.status_code == 502  # three connection errors: the breaker opens
    assert httpx.get(env["gw"].base_url + "/health").json()["upstreams"]["dead"] == "open"
    request_id = uuid.uuid4().hex
    reply = call(env, "dead-chain", False, request_id)
    assert reply.status_code == 502  # tried again, not refused with 503
    error = reply.json()["error"]
    assert error["code"] == "upstream_failed" and "public" in error["message"]
    attempts = [a["outcome"] for a in audit_of(env, request_id)["attempts"]]
    assert attempts == ["skipped_breaker_open", "connect_error"]
    metrics = httpx.get(env["gw"].base_url + "/metrics").text
    assert 'servelab_gateway_panic_routed_total{model="dead-chain"}' in metrics
    denials = [line for line in metrics.splitlines() if line.startswith("servelab_gateway_resid")]
    assert not [line for line in denials if 'model="dead-chain"' in line]  # an outage, no denial


def test_force_failover_switch(env):
    request_id = uuid.uuid4().hex
    reply = call(env, "forced", False, request_id, {"x-servelab-force-failover": "1"})
    assert reply.headers["x-servelab-upstream"] == "b"
    assert reply.headers["x-servelab-attempts"] == "2"
    assert seeds_reached(env, request_id) == [12]  # a was never asked: the failure was forced
    assert audit_of(env, request_id)["attempts"][0]["outcome"] == "forced"
    assert call(env, "forced", False).headers["x-servelab-upstream"] == "a"  # a is not blamed


def test_cache_is_the_last_resort(env):
    fresh = call(env, "cached", True, messages=[{"role": "user", "content": "cache me"}])
    text, _ = streamed_text(fresh)
    assert fresh.headers["x-servelab-upstream"] == "victim" and text
    env["victim"].stop()
    request_id = uuid.uuid4().hex
    reply = call(
        env, "cached", False, request_id, messages=[{"role": "user", "content": "cache me"}]
    )
    assert reply.status_code == 200 and reply.headers["x-servelab-upstream"] == "cache"
    assert reply.json()["choices"][0]["message"]["content"] == text
    assert audit_of(env, request_id)["chosen"] == "cache"
    streamed = call(env, "cached", True, messages=[{"role": "user", "content": "cache me"}])
    assert streamed_text(streamed)[0] == text and parse_sse(streamed.text)[-1] == "[DONE]"
    miss = call(env, "cached", False, messages=[{"role": "user", "content": "never asked"}])
    assert miss.status_code in (502, 503)
