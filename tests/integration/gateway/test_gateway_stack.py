"""The gateway as `servelab up` runs it: the bundled routing table and keys, in front of the
embedded vLLM, llama.cpp and the provider stand-ins (real tokens, real processes)."""

from __future__ import annotations

import json
import os

import httpx
import openai
import pytest
from gateway_support import (
    LEARNER_KEY,
    openai_chat_requests,
    upstream,
    write_keys,
    write_table,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_stack.gateway.process import GatewayProcess
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


# --- OpenAI's spec against the real engine ----------------------------------------------------
#: Generated requests per run: each costs the CPU engine a token or two (or a fast 400).
SPEC_EXAMPLES = int(os.environ.get("SERVELAB_SPEC_STACK_EXAMPLES", "6"))


@pytest.fixture(scope="module")
def vllm_only_gateway(stack, tmp_path_factory):
    """The current gateway code in front of the running vLLM alone (no fallback), so that its
    answer to a request can be compared with vLLM's own."""
    tmp = tmp_path_factory.mktemp("gw-spec")
    routing = write_table(
        tmp / "routing.yaml", {"vllm": upstream(stack.vllm_url)}, {stack.model: ["vllm"]}
    )
    with GatewayProcess(
        routing=routing, keys=write_keys(tmp / "keys.yaml"), audit=tmp / "audit.jsonl"
    ) as gw:
        yield gw


@settings(
    max_examples=SPEC_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_the_gateway_refuses_nothing_the_engine_serves(stack, vllm_only_gateway, data):
    """Requests valid per OpenAI's spec (tests/data/openai_chat_request.json), sent to vLLM and
    through the gateway: the gateway succeeds exactly when vLLM does (a 4xx from it is one
    vLLM gives too). Output caps are drawn from a few cheap values, valid and not; fields that
    make vLLM compile a grammar (response_format, tool_choice) are left to the unit test."""
    caps = [1, 2, 0, -1, 8193]
    requests = openai_chat_requests(
        stack.model, drop=("response_format", "tool_choice"), output_caps=caps
    )
    body = data.draw(requests)
    with httpx.Client(timeout=120) as client:
        direct = client.post(stack.vllm_url + "/v1/chat/completions", json=body)
        gateway = client.post(
            vllm_only_gateway.base_url + "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {LEARNER_KEY}"},
        )
    detail = f"vLLM {direct.status_code}: {direct.text[:300]}\ngateway {gateway.status_code}: "
    detail += f"{gateway.text[:300]}\n{json.dumps(body)[:1500]}"
    assert gateway.status_code < 500, detail
    assert (gateway.status_code == 200) == (direct.status_code == 200), detail
