"""The stand-ins as `servelab up` runs them: real tokens from the embedded vLLM engine."""

from __future__ import annotations

import httpx
import pytest

from servelab import clients as providers

MESSAGES = [{"role": "user", "content": "In one sentence: what is a GPU?"}]
pytestmark = pytest.mark.stack


def test_standins_run_with_the_stack_and_say_what_they_are(stack):
    health = httpx.get(f"{stack.url(stack.managed_port)}/health").json()
    assert health["standin"] == "managed-api" and health["token_source"].startswith("engine:")
    for mode in providers.modes()[1:]:
        if not mode.real:
            region = httpx.get(f"{mode.endpoint}/health").json()
            assert region["standin"] == "cloud-platform" and region["region"] == mode.region


@pytest.mark.parametrize(
    "kind,region,model", [("managed", None, "gpt-4o-mini"), ("cloud", "uksouth", "gpt-4.1-mini")]
)
def test_streaming_with_usage_carries_real_engine_tokens(stack, kind, region, model):
    client = providers.client(kind, region, real=False, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model=model,
        messages=MESSAGES,
        max_tokens=16,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert raw.headers["x-servelab-token-source"].startswith(f"engine:{stack.model}")
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = chunks[-1].usage
    assert text.strip() and 0 < usage.completion_tokens <= 16
    assert usage.prompt_tokens > 5  # counted by the engine's tokenizer, chat template included
