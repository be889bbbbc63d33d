"""The managed-API stand-in through the real openai.OpenAI client (scripted tokens, no engine)."""

from __future__ import annotations

import json
import sys
import time

import httpx
import openai
import pytest

from reference_stack.providers.server import READY_LINE
from reference_stack.providers.testing import MANAGED_KEY, managed_standin
from servelab_base.child_server import ChildServer

MESSAGES = [{"role": "user", "content": "Name one serving pattern."}]

#: A fresh interpreter importing FastAPI on a loaded 2-core CI machine.
START_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def standin():
    with managed_standin(seed=3) as (url, serving):
        yield url, serving


@pytest.fixture
def client(standin):
    url, serving = standin
    serving.reset_limits()
    serving.faults.load(serving.faults.plan.__class__())
    return openai.OpenAI(base_url=url + "/v1", api_key=MANAGED_KEY, max_retries=0)


def test_model_list_says_it_is_a_standin(client):
    models = client.models.list().data
    assert {"gpt-4o-mini", "gpt-4o"} <= {m.id for m in models}
    assert all("servelab-standin" in m.owned_by for m in models)
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"


def test_completion_with_usage_request_id_and_labels(client):
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=5
    )
    completion = raw.parse()
    assert raw.headers["x-servelab-standin"] == "managed-api"
    assert completion._request_id == raw.headers["x-request-id"]
    assert completion._request_id.startswith("req_")
    assert completion.model == "gpt-4o-mini-2024-07-18"  # the dated snapshot, as OpenAI reports
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 5  # below the script's minimum length
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 5


def test_streaming_with_usage(client):
    stream = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    content = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(content)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    # the same request gives the same answer: the scripted source replays exactly
    again = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert again.choices[0].message.content == "".join(content)


def test_errors_have_openai_shapes(standin, client):
    url, _ = standin
    with pytest.raises(openai.AuthenticationError) as e:
        openai.OpenAI(
            base_url=url + "/v1", api_key="sk-not-the-right-key", max_retries=0
        ).models.list()
    assert e.value.code == "invalid_api_key" and "sk-not-t" in e.value.message
    r = httpx.get(url + "/v1/models")
    assert r.status_code == 401 and "didn't provide an API key" in r.json()["error"]["message"]
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-99", messages=MESSAGES)
    assert e.value.code == "model_not_found" and e.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="gpt-4o", messages=[])
    assert e.value.param == "messages"
    r = httpx.post(
        url + "/v1/chat/completions",
        content=b"{not json",
        headers={"Authorization": f"Bearer {MANAGED_KEY}"},
    )
    assert r.status_code == 400 and "parse the JSON body" in r.json()["error"]["message"]
    r = httpx.post(url + "/v1/completions/nope", headers={"Authorization": f"Bearer {MANAGED_KEY}"})
    assert r.status_code == 404 and r.json()["error"]["message"].startswith("Invalid URL")


def test_rate_limit_headers_and_429_parsed_by_the_sdk(standin, client):
    url, _ = standin
    httpx.post(url + "/admin/limits", json={"rpm": 2, "tpm": 100_000}).raise_for_status()
    ok = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=5
    )
    assert ok.headers["x-ratelimit-limit-requests"] == "2"
    assert ok.headers["x-ratelimit-remaining-requests"] == "1"
    assert int(ok.headers["x-ratelimit-remaining-tokens"]) < 100_000
    assert ok.headers["x-ratelimit-reset-requests"].endswith(("ms", "s"))
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)
    with pytest.raises(openai.RateLimitError) as e:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)
    err = e.value
    assert err.status_code == 429 and err.code == "rate_limit_exceeded" and err.type == "requests"
    assert "Rate limit reached for gpt-4o-mini" in err.message and "(RPM): Limit 2" in err.message
    assert int(err.response.headers["retry-after"]) >= 1
    assert err.response.headers["x-request-id"].startswith("req_")


def test_sdk_retry_honours_retry_after(standin):
    url, serving = standin
    # a one-request 429 storm with Retry-After 1: the SDK waits it out and retries once
    plan = {
        "seed": 1,
        "rules": [{"kind": "rate_limit_storm", "requests": [0, 1], "retry_after_s": 1}],
    }
    httpx.post(url + "/admin/faults", json=plan).raise_for_status()
    retrying = openai.OpenAI(base_url=url + "/v1", api_key=MANAGED_KEY, max_retries=2)
    started = time.monotonic()
    raw = retrying.chat.completions.with_raw_response.create(
        model="gpt-4.1", messages=MESSAGES, max_tokens=3
    )
    assert raw.retries_taken == 1 and raw.parse().choices
    assert time.monotonic() - started >= 1.0  # it waited the Retry-After before retrying
    log = httpx.get(url + "/admin/faults/log").json()["log"]
    assert [(e["index"], e["kinds"], e["status"]) for e in log] == [(0, ["rate_limit_storm"], 429)]


def test_entry_point_serves_and_prints_its_port(tmp_path):
    argv = [sys.executable, "-m", "reference_stack.providers.managed", "--port", "0"]
    with ChildServer([*argv, "--source", "scripted", "--seed", "5"]) as child:
        ready = json.loads(child.wait_for_line(READY_LINE, START_TIMEOUT_S).group(0))
        port = ready["ports"]["managed"]
        health = httpx.get(f"http://127.0.0.1:{port}/health").json()
        assert health["status"] == "ok" and health["token_source"] == "scripted:seed=5"
        c = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key=MANAGED_KEY, max_retries=0
        )
        assert c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES).choices
