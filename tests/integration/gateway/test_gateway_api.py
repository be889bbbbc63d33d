"""The gateway's surface through the real openai SDK and raw HTTP, against real upstream
processes (the scripted upstream, the managed and cloud stand-ins): OpenAI compatibility,
auth and quotas, bad input, residency refusals, secrecy of upstream keys, measurement,
client disconnects, refusing to start on a bad routing table."""

from __future__ import annotations

import json
import socket
import time
import uuid

import httpx
import openai
import psutil
import pytest
from gateway_support import (
    LEARNER_KEY,
    StandinProcess,
    learner_key,
    parse_sse,
    read_jsonl,
    upstream,
    write_keys,
    write_table,
)

from reference_stack.gateway.process import GatewayProcess
from reference_stack.scripted import ScriptedUpstream

MESSAGES = [{"role": "user", "content": "Say something about gateways"}]
MANAGED_SECRET = "sk-upstream-managed-SECRET-7f3a9c"
AZURE_SECRET = "azure-upstream-SECRET-5be21d"
EU_KEY, TEAM_KEY, TOKENS_KEY = "sk-test-eu-app", "sk-test-team", "sk-test-tokens"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gw-api")
    with (
        ScriptedUpstream(ttft_ms=20, itl_ms=2, chunks=8) as up,
        ScriptedUpstream(ttft_ms=4000, itl_ms=2, chunks=8) as slow,
        StandinProcess(
            "reference_stack.providers.managed",
            "--port",
            "0",
            "--api-key",
            MANAGED_SECRET,
            "--latency-scale",
            "0",
        ) as managed,
        StandinProcess(
            "reference_stack.providers.cloud",
            "--base-port",
            "0",
            "--region",
            "swedencentral",
            "--api-key",
            AZURE_SECRET,
            "--latency-scale",
            "0",
        ) as cloud,
    ):
        routing = write_table(
            tmp / "routing.yaml",
            {
                "local": upstream(up.base_url, "on-prem"),
                "slow": upstream(slow.base_url, "on-prem"),
                "us": upstream(up.base_url, "US"),
                "managed": {
                    **upstream(managed.url("managed"), "US"),
                    "api_key_env": "TEST_MANAGED_KEY",
                },
                "sweden": {
                    **upstream(cloud.url("swedencentral"), "EU", kind="azure"),
                    "api_key_env": "TEST_AZURE_KEY",
                },
                "managed-wrong-key": {
                    **upstream(managed.url("managed"), "US"),
                    "api_key_env": "TEST_WRONG_KEY",
                },
                # like the real OpenAI on a laptop: left out while its key variable is unset
                "needs-a-key": {
                    **upstream(managed.url("managed"), "US"),
                    "api_key_env": "TEST_NEVER_SET_KEY",
                    "optional": True,
                },
            },
            {
                "m": ["local"],
                "slow": ["slow"],
                "us-only": ["us"],
                "standin": [{"upstream": "managed", "model": "gpt-4o-mini"}],
                "azure": [{"upstream": "sweden", "model": "gpt-4o-mini"}],
                "wrong-key": [{"upstream": "managed-wrong-key", "model": "gpt-4o-mini"}, "local"],
                "unconfigured": [{"upstream": "needs-a-key", "model": "gpt-4o-mini"}],
            },
        )
        keys = write_keys(
            tmp / "keys.yaml",
            [
                learner_key(),
                learner_key(
                    key=EU_KEY,
                    name="eu-app",
                    kind="application",
                    models=["m", "us-only"],
                    data_classes=["personal-eu"],
                    may_set_data_class=False,
                ),
                learner_key(
                    key=TEAM_KEY,
                    name="team",
                    kind="team",
                    models=["m"],
                    data_classes=["public"],
                    requests_per_minute=3,
                ),
                learner_key(
                    key=TOKENS_KEY,
                    name="tokens",
                    kind="team",
                    models=["m"],
                    data_classes=["public"],
                    tokens_per_minute=10,
                ),
            ],
        )
        audit = tmp / "audit.jsonl"
        env = {
            "TEST_MANAGED_KEY": MANAGED_SECRET,
            "TEST_AZURE_KEY": AZURE_SECRET,
            "TEST_WRONG_KEY": "sk-not-the-right-one",
        }
        gateway = GatewayProcess(routing=routing, keys=keys, audit=audit, env=env).start()
        try:
            yield {"gw": gateway, "up": up, "slow": slow, "audit": audit, "seen": []}
        finally:
            gateway.stop()


def client(stack, key=LEARNER_KEY, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack["gw"].base_url + "/v1", api_key=key, max_retries=0, **kw)


def post(stack, body, key=LEARNER_KEY, headers=None, **kw) -> httpx.Response:
    hdrs = {"authorization": f"Bearer {key}"} if key else {}
    reply = httpx.post(
        stack["gw"].base_url + "/v1/chat/completions",
        json=body,
        headers={**hdrs, **(headers or {})},
        timeout=10,
        **kw,
    )
    stack["seen"].append(reply.text + str(reply.headers))
    return reply


def direct_text(stack, **kw) -> str:
    """What the scripted upstream answers to MESSAGES when asked directly."""
    direct = openai.OpenAI(base_url=stack["up"].base_url + "/v1", api_key="x", max_retries=0)
    reply = direct.chat.completions.create(model="m", messages=MESSAGES, **kw)
    return reply.choices[0].message.content


# --- OpenAI compatibility ---------------------------------------------------------------------
def test_non_streamed_completion_through_the_sdk(stack):
    raw = client(stack).chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    completion = raw.parse()
    assert completion.choices[0].message.content == direct_text(stack)
    assert completion.usage.completion_tokens == 8
    assert raw.headers["x-servelab-upstream"] == "local"
    assert raw.headers["x-servelab-attempts"] == "1"
    timing = raw.headers["server-timing"]
    for stage in ("auth", "route", "policy", "upstream_connect", "upstream_first_token"):
        assert f"{stage};dur=" in timing
    first_token_ms = float(timing.split("upstream_first_token;dur=")[1].split(",")[0])
    assert first_token_ms >= 20 + 7 * 2  # the whole answer: ttft + 7 gaps, never less


def test_streamed_completion_with_and_without_usage(stack):
    sdk = client(stack)
    with_usage = list(
        sdk.chat.completions.create(
            model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert with_usage[-1].choices == [] and with_usage[-1].usage.completion_tokens == 8
    text = "".join(c.choices[0].delta.content or "" for c in with_usage if c.choices)
    assert text == direct_text(stack)

    without = list(sdk.chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert all(c.choices for c in without) and all(c.usage is None for c in without)
    assert "".join(c.choices[0].delta.content or "" for c in without) == text

    raw = post(stack, {"model": "m", "messages": MESSAGES, "stream": True})
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert "upstream_first_token;dur=" in raw.headers["server-timing"]
    assert parse_sse(raw.text)[-1] == "[DONE]"
    assert ": server-timing auth;dur=" in raw.text  # the timings, again, before [DONE]


def test_models_health_metrics_and_docs(stack):
    assert sorted(m.id for m in client(stack).models.list()) == sorted(
        ["m", "slow", "us-only", "standin", "azure", "wrong-key"]
    )
    assert [m.id for m in client(stack, EU_KEY).models.list()] == ["m", "us-only"]
    base = stack["gw"].base_url
    health = httpx.get(base + "/health").json()
    assert health["status"] == "ok" and health["upstreams"]["local"] == "closed"
    assert httpx.get(base + "/docs").status_code == 200
    spec = httpx.get(base + "/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/models", "/health", "/metrics"} <= set(spec["paths"])

    client(stack).chat.completions.create(model="m", messages=MESSAGES, stream=True)
    list(client(stack).chat.completions.create(model="m", messages=MESSAGES, stream=True))
    metrics = httpx.get(base + "/metrics").text
    for name in (
        'servelab_gateway_upstream_ttft_seconds_count{upstream="local"}',
        'servelab_gateway_upstream_inter_token_seconds_count{upstream="local"}',
        'servelab_gateway_stage_seconds_count{stage="auth"}',
        'servelab_gateway_breaker_state{upstream="local"} 0.0',
        'servelab_gateway_requests_total{model="m",outcome="ok"}',
    ):
        assert name in metrics
    count = float(
        metrics.split('servelab_gateway_upstream_inter_token_seconds_count{upstream="local"} ')[
            1
        ].split()[0]
    )
    assert count >= 7  # 8 chunks: at least 7 gaps per finished stream


# --- authentication, scope, quotas -------------------------------------------------------------
def test_missing_wrong_and_malformed_keys_are_401(stack):
    with pytest.raises(openai.AuthenticationError):
        client(stack, "sk-wrong").chat.completions.create(model="m", messages=MESSAGES)
    for headers in ({}, {"authorization": "Basic abc"}, {"authorization": "Bearer"}):
        reply = httpx.post(
            stack["gw"].base_url + "/v1/chat/completions",
            headers=headers,
            json={"model": "m", "messages": MESSAGES},
            timeout=10,
        )
        assert reply.status_code == 401 and reply.json()["error"]["type"] == "authentication_error"
    assert httpx.get(stack["gw"].base_url + "/v1/models").status_code == 401


def test_key_scope_models_and_data_classes(stack):
    reply = post(stack, {"model": "standin", "messages": MESSAGES}, key=EU_KEY)
    assert reply.status_code == 403 and reply.json()["error"]["code"] == "model_not_allowed"
    reply = post(
        stack,
        {"model": "m", "messages": MESSAGES},
        key=EU_KEY,
        headers={"x-servelab-data-class": "public"},
    )
    assert reply.status_code == 403 and reply.json()["error"]["code"] == "data_class_not_allowed"
    reply = post(
        stack, {"model": "m", "messages": MESSAGES}, headers={"x-servelab-data-class": "top-secret"}
    )
    assert reply.status_code == 403 and "top-secret" in reply.json()["error"]["message"]
    reply = post(
        stack, {"model": "m", "messages": MESSAGES}, headers={"x-servelab-data-class": "restricted"}
    )
    assert reply.status_code == 200 and reply.headers["x-servelab-data-class"] == "restricted"


def test_request_rate_limit_answers_429_with_retry_after(stack):
    codes = [post(stack, {"model": "m", "messages": MESSAGES}, key=TEAM_KEY) for _ in range(4)]
    assert [r.status_code for r in codes] == [200, 200, 200, 429]
    refused = codes[-1]
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "requests_per_minute_exceeded"
    with pytest.raises(openai.RateLimitError):
        client(stack, TEAM_KEY).chat.completions.create(model="m", messages=MESSAGES)


def test_token_rate_limit_charges_real_usage(stack):
    first = post(stack, {"model": "m", "messages": MESSAGES, "stream": True}, key=TOKENS_KEY)
    assert first.status_code == 200  # 8 completion + 4 prompt tokens: over the 10 per minute
    refused = post(stack, {"model": "m", "messages": MESSAGES}, key=TOKENS_KEY)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "tokens_per_minute_exceeded"
    assert int(refused.headers["retry-after"]) >= 1


# --- bad input ---------------------------------------------------------------------------------
BAD_BODIES = [
    (b"{", 400),
    (b"[]", 400),
    (b'"text"', 400),
    (b"{}", 400),
    (b'{"model": "m"}', 400),
    (b'{"model": "m", "messages": []}', 400),
    (b'{"model": "m", "messages": "hello"}', 400),
    (b'{"model": "m", "messages": [{"role": "wizard", "content": "x"}]}', 400),
    (b'{"model": 7, "messages": [{"role": "user", "content": "x"}]}', 400),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": "12"}', 400),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}', 400),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1e30}', 400),
    (
        b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 99999999}',
        400,
    ),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 9000}', 400),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 7}', 400),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}', 400),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}', 400),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream_options": 1}', 400),
    (b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}', 404),
    (b'{"model": "m", "messages": [{"role": "user", "content": "x"}]' + b"]" * 5, 400),
    (b'{"a":' * 50_000, 400),  # absurdly deep nesting
]


@pytest.mark.parametrize("body, status", BAD_BODIES)
def test_bad_input_is_a_clear_4xx(stack, body, status):
    started = time.monotonic()
    reply = httpx.post(
        stack["gw"].base_url + "/v1/chat/completions",
        content=body,
        timeout=10,
        headers={"authorization": f"Bearer {LEARNER_KEY}", "content-type": "application/json"},
    )
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["message"] and error["type"]
    assert time.monotonic() - started < 5


def test_oversized_bodies_are_413(stack):
    url = stack["gw"].base_url + "/v1/chat/completions"
    headers = {"authorization": f"Bearer {LEARNER_KEY}", "content-type": "application/json"}
    big = b'{"model": "m", "messages": [{"role": "user", "content": "' + b"x" * 2_000_000 + b'"}]}'
    reply = httpx.post(url, content=big, headers=headers, timeout=10)
    assert reply.status_code == 413 and reply.json()["error"]["code"] == "payload_too_large"

    def chunked():  # no Content-Length: the limit is enforced while reading
        for _ in range(40):
            yield b"x" * 65536

    reply = httpx.post(url, content=chunked(), headers=headers, timeout=10)
    assert reply.status_code == 413


def test_wrong_method_path_and_content_type(stack):
    base = stack["gw"].base_url
    assert httpx.get(base + "/v1/chat/completions").status_code == 405
    reply = httpx.get(base + "/v2/nothing")
    assert reply.status_code == 404 and reply.json()["error"]["message"]
    reply = httpx.post(
        base + "/v1/chat/completions",
        content=b"model=m",
        timeout=10,
        headers={"authorization": f"Bearer {LEARNER_KEY}", "content-type": "text/plain"},
    )
    assert reply.status_code == 400


# --- errors that say what happened ------------------------------------------------------------
@pytest.mark.parametrize("data_class", ["public", "restricted"])
def test_an_unconfigured_model_is_not_listed_and_says_so(stack, data_class):
    """An alias whose only upstream is left out (its key variable unset) is not offered in
    /v1/models, and a request for it is told so: not a residency denial, whatever its data."""
    assert "unconfigured" not in [m.id for m in client(stack).models.list()]
    request_id = uuid.uuid4().hex
    reply = post(
        stack,
        {"model": "unconfigured", "messages": MESSAGES},
        headers={"x-servelab-data-class": data_class, "x-request-id": request_id},
    )
    assert reply.status_code == 404
    error = reply.json()["error"]
    assert error["code"] == "model_not_configured" and "not configured" in error["message"]
    assert error["type"] == "invalid_request_error"
    metrics = httpx.get(stack["gw"].base_url + "/metrics").text
    assert 'requests_total{model="unconfigured",outcome="not_configured"}' in metrics
    denials = [line for line in metrics.splitlines() if line.startswith("servelab_gateway_resid")]
    assert not [line for line in denials if 'model="unconfigured"' in line]  # not a denial
    assert all(r["request_id"] != request_id for r in read_jsonl(stack["audit"]))


# --- residency refusal ------------------------------------------------------------------------
def test_residency_denial_names_the_policy_and_is_audited(stack):
    request_id = uuid.uuid4().hex
    before = len(stack["up"].records())
    reply = post(
        stack,
        {"model": "us-only", "messages": MESSAGES},
        key=EU_KEY,
        headers={"x-request-id": request_id},
    )
    assert reply.status_code == 403
    error = reply.json()["error"]
    assert error["code"] == "residency_denied"
    assert error["policy"] == {
        "data_class": "personal-eu",
        "allowed_jurisdictions": ["EU", "on-prem"],
        "max_retention_days": None,
    }
    assert error["candidates"][0]["upstream"] == "us" and not error["candidates"][0]["allowed"]
    assert len(stack["up"].records()) == before  # nothing was sent anywhere
    record = next(r for r in read_jsonl(stack["audit"]) if r["request_id"] == request_id)
    assert record["decision"] == "denied" and record["key"] == "eu-app"
    assert record["data_class"] == "personal-eu" and record["chosen"] is None
    assert (
        'servelab_gateway_residency_denials_total{data_class="personal-eu"'
        in httpx.get(stack["gw"].base_url + "/metrics").text
    )


# --- upstream keys: used, never shown -----------------------------------------------------------
def test_provider_keys_reach_upstreams_and_nowhere_else(stack):
    sdk = client(stack)
    answer = sdk.chat.completions.create(model="standin", messages=MESSAGES)  # needs the key
    assert answer.choices[0].message.content
    streamed = list(sdk.chat.completions.create(model="azure", messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    raw = sdk.chat.completions.with_raw_response.create(model="wrong-key", messages=MESSAGES)
    assert raw.headers["x-servelab-upstream"] == "local"  # the 401 upstream failed over
    assert raw.headers["x-servelab-attempts"] == "2"

    seen = stack["seen"] + [
        raw.text,
        str(raw.headers),
        httpx.get(stack["gw"].base_url + "/metrics").text,
        stack["audit"].read_text(),
    ]
    seen += [
        r.text
        for r in (
            post(stack, {"model": "wrong-key", "messages": MESSAGES}),
            post(stack, {"model": "azure", "messages": MESSAGES, "stream": True}),
        )
    ]
    log = stack["gw"].stop()
    stack["gw"].start()  # later tests still have a gateway (fresh process, same files)
    assert "managed-wrong-key failed (http_401_403)" in log  # the failover was logged...
    assert "Traceback" not in log  # (and nothing so far, bad input included, crashed it)
    for text in [*seen, log]:
        for secret in (MANAGED_SECRET, AZURE_SECRET, "sk-not-the-right-one"):
            assert secret not in text  # ...but no key, anywhere


# --- client disconnect -------------------------------------------------------------------------
def test_client_disconnect_cancels_the_upstream_request(stack):
    request_id = uuid.uuid4().hex
    body = {
        "model": "m",
        "messages": MESSAGES,
        "stream": True,
        "scripted": {"chunks": 400, "itl_ms": 10},
    }  # 4 s of answer if nobody stops it
    with httpx.stream(
        "POST",
        stack["gw"].base_url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {LEARNER_KEY}", "x-request-id": request_id},
        timeout=10,
    ) as reply:
        lines = reply.iter_lines()
        got = [line for line, _ in zip(lines, range(6), strict=False)]
        assert any(line.startswith("data: {") for line in got)
        closed_at = time.perf_counter()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        record = next(
            (r for r in stack["up"].records() if r["client_request_id"] == request_id), None
        )
        if record:
            break
        time.sleep(0.05)
    assert record is not None, "the upstream request never ended"
    assert record["error"] == "client disconnected"
    assert len(record["chunks"]) < 100  # stopped at once, not after 400 chunks
    assert record["done_perf"] - closed_at < 1.0


def _connections_to(pid: int, port: int) -> int:
    return sum(
        1
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


def test_client_disconnect_cancels_a_non_streamed_request_too(stack):
    """The scripted upstream reads nothing while it prepares an answer, so it cannot see the
    gateway hang up before it writes; the gateway's own connection to it is checked instead:
    closing it is how an OpenAI-compatible upstream is told to stop."""
    port = int(stack["slow"].base_url.rsplit(":", 1)[1])
    pid = stack["gw"].proc.pid
    body = json.dumps({"model": "slow", "messages": MESSAGES}).encode()
    host, gw_port = stack["gw"].base_url[len("http://") :].split(":")
    with socket.create_connection((host, int(gw_port))) as client:
        client.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n"
            b"content-type: application/json\r\n"
            b"authorization: Bearer " + LEARNER_KEY.encode() + b"\r\n"
            b"content-length: %d\r\n\r\n" % len(body) + body
        )
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and _connections_to(pid, port) == 0:
            time.sleep(0.02)  # the gateway's request to the slow upstream is on its way
        assert _connections_to(pid, port) == 1
    hung_up = time.monotonic()  # the client gave up, 3+ s before the answer is due
    while time.monotonic() - hung_up < 1.0 and _connections_to(pid, port):
        time.sleep(0.02)
    assert _connections_to(pid, port) == 0  # the upstream request was cancelled at once


# --- start-up ----------------------------------------------------------------------------------
def test_gateway_refuses_to_start_on_a_bad_routing_table(tmp_path):
    bad = write_table(
        tmp_path / "r.yaml", {"us": upstream("http://127.0.0.1:1", "US")}, {"m": ["us", "nowhere"]}
    )
    with pytest.raises(RuntimeError) as err:
        GatewayProcess(routing=bad, keys=write_keys(tmp_path / "k.yaml")).start()
    assert "cannot start" in str(err.value) and "unknown upstream 'nowhere'" in str(err.value)
