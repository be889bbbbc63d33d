"""Both embedded engines answer the real `openai` SDK, streamed and not, and export metrics.

The prompt is one SmolLM2-135M-Instruct answers well despite its Q4_1 weights; greedy decoding
(temperature 0) keeps the answer stable, so "coherent" can be checked by content.
"""

from __future__ import annotations

import re

import httpx
import openai
import pytest

pytestmark = pytest.mark.stack

PROMPT = [{"role": "user", "content": "Name three colors."}]
COLORS = {"red", "blue", "green", "yellow", "orange", "purple", "black", "white", "pink"}
MAX_TOKENS = 40


def client(url: str) -> openai.OpenAI:
    # the engines need no key; the SDK insists on one
    return openai.OpenAI(base_url=f"{url}/v1", api_key="not-needed", max_retries=0, timeout=60)


def engine_url(stack, engine: str) -> str:
    return {"vllm": stack.vllm_url, "llamacpp": stack.llamacpp_url}[engine]


def colors_in(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower())) & COLORS


@pytest.mark.parametrize("engine", ["vllm", "llamacpp"])
def test_chat_completion(stack, engine):
    reply = client(engine_url(stack, engine)).chat.completions.create(
        model=stack.model, messages=PROMPT, max_tokens=MAX_TOKENS, temperature=0
    )
    text = reply.choices[0].message.content
    assert reply.model == stack.model
    assert len(colors_in(text)) >= 3, f"{engine} answered {text!r}"
    assert reply.choices[0].finish_reason in {"stop", "length"}
    assert 0 < reply.usage.completion_tokens <= MAX_TOKENS
    assert reply.usage.prompt_tokens > len(PROMPT[0]["content"].split())  # chat template applied


@pytest.mark.parametrize("engine", ["vllm", "llamacpp"])
def test_streamed_chat_completion(stack, engine):
    stream = client(engine_url(stack, engine)).chat.completions.create(
        model=stack.model,
        messages=PROMPT,
        max_tokens=MAX_TOKENS,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.usage:
            usage = chunk.usage
    text = "".join(pieces)
    assert len(pieces) >= 3, f"{engine} did not stream: {pieces!r}"
    assert len(colors_in(text)) >= 3, f"{engine} streamed {text!r}"
    assert usage is not None and usage.completion_tokens >= len(pieces) - 1


def test_both_engines_serve_the_same_weights(stack):
    """Same GGUF weights, greedy decoding: both engines should give the same short answer."""
    answers = {
        engine: client(engine_url(stack, engine))
        .chat.completions.create(model=stack.model, messages=PROMPT, max_tokens=12, temperature=0)
        .choices[0]
        .message.content.strip()
        .lower()
        for engine in ("vllm", "llamacpp")
    }
    assert colors_in(answers["vllm"]) == colors_in(answers["llamacpp"]), answers


def metric_names(url: str) -> set[str]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        line.split("{")[0].split(" ")[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_vllm_exports_latency_histograms(stack):
    # make sure at least one request went through this server before reading the histograms
    client(stack.vllm_url).chat.completions.create(
        model=stack.model, messages=PROMPT, max_tokens=4, temperature=0
    )
    names = metric_names(stack.vllm_url)
    for histogram in ("vllm:time_to_first_token_seconds", "vllm:inter_token_latency_seconds"):
        assert {f"{histogram}_bucket", f"{histogram}_sum", f"{histogram}_count"} <= names
    text = httpx.get(f"{stack.vllm_url}/metrics", timeout=10).text
    count = re.search(
        r'^vllm:time_to_first_token_seconds_count\{[^}]*model_name="'
        + re.escape(stack.model)
        + r'"[^}]*\} ([0-9.e+]+)',
        text,
        re.M,
    )
    assert count and float(count.group(1)) >= 1


def test_llamacpp_exports_prometheus_counters(stack):
    client(stack.llamacpp_url).chat.completions.create(
        model=stack.model, messages=PROMPT, max_tokens=4, temperature=0
    )
    r = httpx.get(f"{stack.llamacpp_url}/metrics", timeout=10)
    assert r.status_code == 200
    counters = dict(re.findall(r"^(llamacpp:[a-z_]+) ([0-9.e+]+)$", r.text, re.M))
    assert float(counters["llamacpp:tokens_predicted_total"]) >= 4
    assert float(counters["llamacpp:prompt_tokens_total"]) >= 1
    assert "llamacpp:requests_processing" in counters
    assert "# TYPE llamacpp:tokens_predicted_total counter" in r.text


@pytest.mark.parametrize("engine", ["vllm", "llamacpp"])
def test_health_and_model_list(stack, engine):
    url = engine_url(stack, engine)
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200
    models = [m.id for m in client(url).models.list()]
    assert stack.model in models
