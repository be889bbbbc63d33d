"""The scripted upstream, through real HTTP and the real openai SDK."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import openai
import pytest

from reference_stack.scripted import ScriptedUpstream, truth

MESSAGES = [{"role": "user", "content": "Say something about latency please"}]


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    record = tmp_path_factory.mktemp("scripted") / "requests.jsonl"
    with ScriptedUpstream(ttft_ms=20, itl_ms=5, chunks=6, record=record) as up:
        up.record_path = record
        yield up


@pytest.fixture
def client(upstream):
    return openai.OpenAI(base_url=upstream.base_url + "/v1", api_key="unused", max_retries=0)


def _last_record(upstream, rid: str) -> dict:
    for _ in range(50):  # the record lands as the last bytes are written: allow the race
        found = [r for r in upstream.records() if r["id"] == rid]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no record for {rid}")


def test_stream_with_usage_matches_the_record(upstream, client):
    stream = client.chat.completions.create(
        model="any-name", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    content = [c for c in chunks if c.choices]
    usage_chunks = [c for c in chunks if not c.choices]
    assert len(content) == 6
    assert content[0].choices[0].delta.role == "assistant"
    assert content[-1].choices[0].finish_reason == "stop"
    assert len(usage_chunks) == 1 and usage_chunks[0].usage.completion_tokens == 6
    assert usage_chunks[0].usage.prompt_tokens == len(MESSAGES[0]["content"].split())
    assert content[0].model == "any-name"
    record = _last_record(upstream, content[0].id)
    text = "".join(c.choices[0].delta.content for c in content)
    assert "".join(c["text"] for c in record["chunks"]) == text
    # never early: every chunk leaves at or after its scripted due time
    assert min(truth.lateness(record)) >= -1e-4
    assert len(truth.itls(record)) == 5 and min(truth.itls(record)) >= 0
    # absolute schedule: a late chunk does not push the later ones back
    assert truth.e2e(record) == pytest.approx(0.020 + 5 * 0.005, abs=0.05)
    assert truth.ttft(record) >= 0.020


def test_same_request_same_text_and_schedule(client):
    def text() -> str:
        reply = client.chat.completions.create(model="m", messages=MESSAGES)
        return reply.choices[0].message.content

    assert text() == text()


def test_non_stream_reply_and_max_tokens_cut(upstream, client):
    reply = client.chat.completions.create(model="m", messages=MESSAGES, max_tokens=3)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 3
    assert len(reply.choices[0].message.content.split()) == 3
    record = _last_record(upstream, reply.id)
    assert record["chunks"][0]["kind"] == "whole"
    # sent when the third chunk would have been due: 20 + 2 * 5 ms
    assert record["chunks"][0]["due"] == pytest.approx(0.030)


def test_overrides_by_header_and_body(upstream, client):
    stream = client.chat.completions.create(
        model="m",
        messages=MESSAGES,
        stream=True,
        extra_headers={"x-scripted-tokens-per-chunk": "3", "x-scripted-role-chunk-ms": "1"},
        extra_body={"scripted": {"chunks": 2, "itl_ms": 1}},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    assert [len(c.choices[0].delta.content.split()) for c in chunks[1:]] == [3, 3]
    record = _last_record(upstream, chunks[0].id)
    assert record["script"]["chunks"] == 2 and record["script"]["tokens_per_chunk"] == 3
    assert [c["kind"] for c in record["chunks"]] == ["role", "content", "content"]
    assert truth.ttft(record) < truth.ttfct(record)


def test_unknown_override_is_a_clear_400(client):
    with pytest.raises(openai.BadRequestError, match="unknown scripted override"):
        client.chat.completions.create(
            model="m", messages=MESSAGES, extra_headers={"x-scripted-ttft": "5"}
        )


def test_scripted_status_is_an_openai_error(client):
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(
            model="m", messages=MESSAGES, extra_headers={"x-scripted-status": "429"}
        )
    assert info.value.response.headers["retry-after"] == "1"


def test_abort_mid_stream_is_seen_by_client_and_recorded(upstream, client):
    stream = client.chat.completions.create(
        model="m", messages=MESSAGES, stream=True, extra_headers={"x-scripted-fail-after": "2"}
    )
    got = []
    with pytest.raises(Exception):  # noqa: B017 - httpx raises its own truncated-body error
        for c in stream:
            got.append(c)
    assert len(got) == 2
    record = _last_record(upstream, got[0].id)
    assert record["error"].startswith("scripted failure after 2")


def test_error_event_mid_stream(client):
    stream = client.chat.completions.create(
        model="m",
        messages=MESSAGES,
        stream=True,
        extra_body={"scripted": {"fail_after": 1, "fail_mode": "error"}},
    )
    with pytest.raises(openai.APIError, match="scripted failure"):
        list(stream)


def test_zero_chunks_and_no_usage(client):
    chunks = list(
        client.chat.completions.create(
            model="m",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"x-scripted-chunks": "0"},
        )
    )
    assert len(chunks) == 2  # one empty finish chunk, then usage
    assert chunks[0].choices[0].delta.content == "" and chunks[0].choices[0].finish_reason
    assert chunks[1].usage.completion_tokens == 0
    chunks = list(
        client.chat.completions.create(
            model="m",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"x-scripted-usage": "false"},
        )
    )
    assert all(c.choices and c.usage is None for c in chunks)


def test_continuous_usage_stats(client):
    chunks = list(
        client.chat.completions.create(
            model="m",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True, "continuous_usage_stats": True},
            extra_headers={"x-scripted-tokens-per-chunk": "2", "x-scripted-chunks": "3"},
        )
    )
    running = [c.usage.completion_tokens for c in chunks]
    assert running == [2, 4, 6, 6]


def test_client_disconnect_is_recorded(upstream):
    with socket.create_connection(("127.0.0.1", int(upstream.base_url.rsplit(":", 1)[1]))) as s:
        body = json.dumps({"messages": MESSAGES, "stream": True}).encode()
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-request-id: gone-1\r\n"
            b"x-scripted-itl-ms: 50\r\ncontent-length: %d\r\n\r\n%b" % (len(body), body)
        )
        s.recv(100)  # headers arrive at once
    for _ in range(100):
        found = [r for r in upstream.records() if r["client_request_id"] == "gone-1"]
        if found:
            break
        time.sleep(0.05)
    assert found and found[0]["error"] == "client disconnected"
    assert found[0]["completion_tokens"] < 6


def test_models_health_404_and_record_file(upstream, client):
    assert [m.id for m in client.models.list()] == ["scripted"]
    with urllib.request.urlopen(upstream.base_url + "/health") as reply:
        assert json.load(reply) == {"status": "ok"}
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(upstream.base_url + "/v1/completions")
    assert info.value.code == 404
    lines = upstream.record_path.read_text().splitlines()
    assert lines and all("sent_perf" in line for line in lines if '"chunks":[{' in line)
    assert len(lines) == len(upstream.records())


def test_bad_command_line_fails_fast():
    with pytest.raises(RuntimeError, match="jitter_ms"):
        ScriptedUpstream(itl_ms=1, jitter_ms=5).start()
