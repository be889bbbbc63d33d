"""Hostile and broken upstreams: everything an upstream controls is bounded, "first token"
means content, keys are scrubbed from every relayed byte, SSE is read per the spec.

The upstream is ``HostileUpstream`` (tests/gateway_support.py): real loopback HTTP, raw bytes,
one misbehaviour per routing entry. Each chain ends in a well-behaved entry ("good") where a
failure must fail over, so the tests can tell a transparent failover from a leak.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import openai
import pytest
from gateway_support import (
    HOSTILE_KEY,
    HOSTILE_KEY_ENV,
    HOSTILE_WORDS,
    LEARNER_KEY,
    HostileUpstream,
    hostile_entry,
    parse_sse,
    read_jsonl,
    write_keys,
    write_table,
)

from reference_stack.gateway.process import GatewayProcess

MESSAGES = [{"role": "user", "content": "be hostile"}]
GOOD_TEXT = "".join(HOSTILE_WORDS)
#: Retry-After in every form an upstream controls, unparseable or absurd
RETRY_AFTER_FORMS = {
    "inf": "retry-after=inf",
    "1e999": "retry-after=1e999",
    "nan": "retry-after=nan",
    "ms-1e400": "retry-after-ms=1e400",
    "ms-inf": "retry-after-ms=inf",
    "digits-400": "retry-after=" + "9" * 400,
    "three-years": "retry-after=100000000",
    "far-date": "retry-after=Fri, 31 Dec 9999 23:59:59 GMT",
}
#: the cap on a cooldown an upstream may ask for (settings.max_retry_after_cooldown_s)
COOLDOWN_CAP_S = 60
FIRST_TOKEN_TIMEOUT_S = 0.8
SLOW_FIRST_TOKEN_MS = 2500


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gw-hostile")
    with HostileUpstream() as hostile:
        ups = {"good": hostile_entry(hostile, "ok")}
        models = {}
        for form, header in RETRY_AFTER_FORMS.items():
            ups[f"ra-{form}"] = hostile_entry(hostile, f"429:{header}")
            models[f"ra-{form}"] = [f"ra-{form}"]  # alone: nothing to fail over to
        for behaviour in (
            "role-then-die",
            "filter-then-die",
            f"role-then-slow:{SLOW_FIRST_TOKEN_MS}",
            "echo-key",
            "wire-variants",
            "linger-after-done:5",
            "bad-usage",
            "garbage-choices",
            "endless-event",
        ):
            name = behaviour.split(":")[0]
            ups[name] = hostile_entry(hostile, behaviour)
            models[name] = [name, "good"]
        routing = write_table(tmp / "routing.yaml", ups, models)
        audit = tmp / "audit.jsonl"
        with GatewayProcess(
            routing=routing,
            keys=write_keys(tmp / "keys.yaml"),
            audit=audit,
            env={HOSTILE_KEY_ENV: HOSTILE_KEY},
            connect_timeout_s=1.0,
            first_token_timeout_s=FIRST_TOKEN_TIMEOUT_S,
            total_timeout_s=10.0,
            max_attempts=2,
            breaker_failure_threshold=3,
            breaker_cooldown_s=30.0,
            max_retry_after_wait_s=0.2,
            backoff_base_s=0.01,
            backoff_max_s=0.02,
            max_sse_event_bytes=65536,
        ) as gw:
            yield {"gw": gw, "hostile": hostile, "audit": audit}
            log = gw.read_log()
            assert "Traceback" not in log, log[-3000:]  # no upstream crashed a request handler
            assert HOSTILE_KEY not in log


def call(env, alias: str, stream: bool, request_id: str | None = None) -> httpx.Response:
    return httpx.post(
        env["gw"].base_url + "/v1/chat/completions",
        json={"model": alias, "messages": MESSAGES, "stream": stream},
        headers={
            "authorization": f"Bearer {LEARNER_KEY}",
            "x-request-id": request_id or uuid.uuid4().hex,
        },
        timeout=30,
    )


def audit_of(env, request_id: str) -> dict:
    return next(r for r in read_jsonl(env["audit"]) if r["request_id"] == request_id)


def text_of(reply: httpx.Response) -> str:
    pieces = []
    for data in parse_sse(reply.text):
        if data != "[DONE]":
            chunk = json.loads(data)
            pieces += [c["delta"].get("content") or "" for c in chunk.get("choices", [])]
    return "".join(pieces)


# --- values the upstream controls ---------------------------------------------------------------
@pytest.mark.parametrize("form", RETRY_AFTER_FORMS)
def test_a_retry_after_in_any_form_is_read_strictly_and_capped(env, form):
    """Neither an unparseable Retry-After (read as absent) nor an absurd one (capped) can take
    the upstream out for long, or turn its alias's later requests into 5xx."""
    replies = []
    for _ in range(3):  # the breaker opens on the way (failures, or the capped cooldown)
        request_id = uuid.uuid4().hex
        replies.append((request_id, call(env, f"ra-{form}", False, request_id)))
    assert [r.status_code for _, r in replies if r.status_code == 500] == []  # no crash
    # the upstreams' quota said as such (429), or, once the upstream's own (capped) cooldown
    # holds, every upstream cooling down (503)
    expected = {429: "upstream_rate_limited", 503: "upstream_unavailable"}
    for request_id, reply in replies:
        assert reply.status_code in expected, reply.text
        assert reply.json()["error"]["code"] == expected[reply.status_code]
        assert 1 <= int(reply.headers["retry-after"]) <= COOLDOWN_CAP_S
        record = audit_of(env, request_id)  # every one accounted for
        assert record["error"] == expected[reply.status_code]
    health = httpx.get(env["gw"].base_url + "/health").json()["upstreams"]
    assert health[f"ra-{form}"] in ("open", "closed")
    for attempt in record["attempts"]:
        if attempt["outcome"] == "skipped_breaker_open":
            seconds = float(attempt["detail"].split("for ")[1].split(" s")[0])
            assert seconds <= COOLDOWN_CAP_S


# --- the first token ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["role-then-die", "filter-then-die"])
def test_content_free_events_do_not_commit_a_stream(env, name):
    """A role-only delta, or Azure's opening prompt_filter_results chunk, is not a first token:
    an upstream that dies right after it is failed over, invisibly."""
    request_id = uuid.uuid4().hex
    reply = call(env, name, True, request_id)
    assert reply.status_code == 200
    assert reply.headers["x-servelab-upstream"] == "good"
    assert reply.headers["x-servelab-attempts"] == "2"
    assert text_of(reply) == GOOD_TEXT
    data = parse_sse(reply.text)
    assert data[-1] == "[DONE]" and data.count("[DONE]") == 1
    assert sum('"role"' in d for d in data) == 0  # the dead upstream's role chunk never left
    outcomes = [a["outcome"] for a in audit_of(env, request_id)["attempts"]]
    assert outcomes == ["broken_stream", "ok"]


def test_the_first_token_timeout_times_the_first_token(env):
    """A role-only delta at once and the first real token 2.5 s later: the 0.8 s first-token
    timeout fires (and the request fails over) at 0.8 s, not never."""
    request_id = uuid.uuid4().hex
    started = time.monotonic()
    reply = call(env, "role-then-slow", True, request_id)
    elapsed = time.monotonic() - started
    assert reply.status_code == 200 and reply.headers["x-servelab-upstream"] == "good"
    assert elapsed < SLOW_FIRST_TOKEN_MS / 1000
    outcomes = [a["outcome"] for a in audit_of(env, request_id)["attempts"]]
    assert outcomes == ["first_token_timeout", "ok"]
    assert text_of(reply) == GOOD_TEXT


# --- secrets ----------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_an_echoed_upstream_key_is_scrubbed_from_every_byte(env, stream):
    """The upstream quotes the gateway's key for it: mid-stream in an error event after the
    first token, or inside a whole answer. The client sees [redacted]."""
    reply = call(env, "echo-key", stream)
    assert reply.status_code == 200
    assert HOSTILE_KEY not in reply.text and "[redacted]" in reply.text
    assert any(key == HOSTILE_KEY for _, _, key in env["hostile"].requests)  # it had the key
    if stream:
        errors = [d for d in parse_sse(reply.text) if d.startswith('{"error"')]
        assert len(errors) == 1 and "[redacted]" in errors[0]


# --- SSE per the spec ---------------------------------------------------------------------------
def test_every_sse_framing_the_spec_allows_is_relayed_whole(env):
    """No space after "data:", CRLF and lone-CR line ends (a CRLF split across reads), comments,
    a data field over two lines, "data:[DONE]": a whole answer, not "truncated"."""
    sdk = openai.OpenAI(base_url=env["gw"].base_url + "/v1", api_key=LEARNER_KEY, max_retries=0)
    chunks = list(
        sdk.chat.completions.create(model="wire-variants", messages=MESSAGES, stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == GOOD_TEXT + " epsilon zeta"
    metrics = httpx.get(env["gw"].base_url + "/metrics").text
    assert 'servelab_gateway_requests_total{model="wire-variants",outcome="ok"} 1.0' in metrics
    assert 'model="wire-variants",outcome="truncated"' not in metrics


def test_the_clients_response_ends_at_done(env):
    """The upstream keeps its body open 5 s after [DONE]; the client's answer ends at [DONE]."""
    started = time.monotonic()
    with httpx.stream(
        "POST",
        env["gw"].base_url + "/v1/chat/completions",
        json={"model": "linger-after-done", "messages": MESSAGES, "stream": True},
        headers={"authorization": f"Bearer {LEARNER_KEY}"},
        timeout=30,
    ) as reply:
        body = b"".join(reply.iter_bytes())
    elapsed = time.monotonic() - started
    assert body.endswith(b"data: [DONE]\n\n")
    assert elapsed < 3.0  # not the upstream's 5 s


# --- broken bodies ------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
@pytest.mark.parametrize("name", ["bad-usage", "garbage-choices"])
def test_broken_answers_are_no_5xx(env, name, stream):
    reply = call(env, name, stream)
    assert reply.status_code == 200, reply.text
    assert reply.headers["x-servelab-upstream"] == name


def test_an_event_without_end_fails_over(env):
    """An upstream sending bytes without ever ending an event is cut at the event-size cap
    (before the first token: failed over), not buffered without bound."""
    request_id = uuid.uuid4().hex
    reply = call(env, "endless-event", True, request_id)
    assert reply.status_code == 200 and reply.headers["x-servelab-upstream"] == "good"
    outcomes = [a["outcome"] for a in audit_of(env, request_id)["attempts"]]
    assert outcomes == ["broken_stream", "ok"]
