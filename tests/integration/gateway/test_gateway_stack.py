"""The gateway as `servelab up` runs it: the bundled routing table and keys, in front of the
embedded vLLM, llama.cpp and the provider stand-ins (real tokens, real processes)."""

from __future__ import annotations

import httpx
import openai
import pytest

from reference_stack.gateway.settings import LOCAL_LEARNER_KEY

pytestmark = pytest.mark.stack
MESSAGES = [{"role": "user", "content": "In five words: what is a gateway?"}]
EU_APP_KEY = "sk-servelab-local-eu-app"


def client(stack, key: str = LOCAL_LEARNER_KEY) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=stack.gateway_url + "/v1", api_key=key, max_retries=0, timeout=120
    )


def test_streams_from_vllm_with_usage_and_timings(stack):
    raw = client(stack).chat.completions.with_raw_response.create(
        model=stack.model,
        messages=MESSAGES,
        max_tokens=12,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert raw.headers["x-servelab-upstream"] == "local-vllm"
    assert "upstream_first_token;dur=" in raw.headers["server-timing"]
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() and 0 < chunks[-1].usage.completion_tokens <= 12


def test_eu_personal_data_stays_in_the_eu_or_on_prem(stack):
    raw = client(stack, EU_APP_KEY).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=8
    )
    # managed-openai (US) comes first in the chain but may not take personal-eu data
    assert raw.headers["x-servelab-upstream"] in (
        "azure-swedencentral",
        "local-vllm",
        "local-llamacpp",
        "cache",
    )
    assert raw.headers["x-servelab-data-class"] == "personal-eu"
    assert raw.parse().choices[0].message.content


def test_restricted_data_only_on_prem_even_when_forced_to_fail_over(stack):
    raw = client(stack).chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        max_tokens=8,
        extra_headers={"x-servelab-data-class": "restricted", "x-servelab-force-failover": "1"},
    )
    # the first compliant candidate (local-vllm) is forced to fail: the other on-prem one,
    # never a provider, answers
    assert raw.headers["x-servelab-upstream"] == "local-llamacpp"
    assert raw.headers["x-servelab-attempts"] == "2"


def test_gateway_health_lists_the_bundled_upstreams(stack):
    health = httpx.get(stack.gateway_url + "/health").json()
    assert {"local-vllm", "local-llamacpp", "managed-openai"} <= set(health["upstreams"])
