"""Where a stand-in's tokens come from.

Two sources behind one small interface (``TokenSource.stream`` yields ``Piece`` then ``Finish``):

- ``EngineSource``: the local vLLM engine (real tokens from smollm2-135m-instruct), the default.
- ``ScriptedSource``: a seeded script, for tests and grading. The same seed and the same request
  give the same pieces every time, with no engine running, so a scenario replays exactly.

A source only produces text; the latency shaper (latency.py) decides when each piece is sent.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

import httpx

ENGINE_TIMEOUT_S = 120.0  # a CPU engine under load can take tens of seconds for a long answer
# The scripted source's answer length (in pieces) when the request's max_tokens allows it.
SCRIPT_MIN_PIECES = 8
SCRIPT_MAX_PIECES = 40
# Chat-format overhead the scripted source adds when it estimates prompt tokens: OpenAI's
# cookbook counts about 3 tokens per message plus 3 to prime the reply; we use the same shape.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3
SCRIPT_WORDS = (
    "latency budget region endpoint token stream prefill decode cache batch queue gateway "
    "provider model deployment residency capacity retry fallback quota request response "
    "client server engine throughput schedule replica failover policy metric trace window "
    "serving pattern managed cloud edge batch online price limit route audit"
).split()


class UpstreamError(Exception):
    """The token source could not produce an answer (engine down, engine error)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"upstream {status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass
class Generation:
    """What a stand-in asks its token source for."""

    messages: list[dict]
    max_tokens: int
    temperature: float | None = None
    seed: int | None = None
    stop: list[str] | None = None


@dataclass
class Piece:
    """One chunk of generated text (usually one token)."""

    text: str


@dataclass
class Finish:
    """End of a generation, with the token counts the response's ``usage`` reports."""

    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    extra: dict = field(default_factory=dict)


class TokenSource(Protocol):
    name: str

    def stream(self, gen: Generation) -> AsyncIterator[Piece | Finish]: ...

    async def aclose(self) -> None: ...


def prompt_text(messages: list[dict]) -> str:
    """The text of all messages (string or list-of-parts content), for counting and seeding."""
    parts = []
    for m in messages:
        content = m.get("content") or ""
        if isinstance(content, list):
            content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
        parts.append(f"{m.get('role', '')}: {content}")
    return "\n".join(parts)


def estimate_prompt_tokens(messages: list[dict]) -> int:
    """Approximate prompt tokens: words and punctuation plus the chat-format overhead.

    Not a real tokenizer (the scripted source has none); it is stable, which is what tests and
    rate limits need. The engine source reports the engine's own count instead.
    """
    count = TOKENS_PER_REPLY
    for m in messages:
        count += TOKENS_PER_MESSAGE + len(re.findall(r"\w+|[^\w\s]", prompt_text([m])))
    return count


class ScriptedSource:
    """Seeded, engine-free tokens: the same (seed, request) gives the same answer every time."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.name = f"scripted:seed={seed}"

    def script(self, gen: Generation) -> tuple[list[str], str]:
        """The pieces this request gets, and its finish reason."""
        rng = random.Random(f"{self.seed}|{gen.seed}|{prompt_text(gen.messages)}")
        length = rng.randint(SCRIPT_MIN_PIECES, SCRIPT_MAX_PIECES)
        words = [rng.choice(SCRIPT_WORDS) for _ in range(length)]
        pieces = [words[0].capitalize()] + [" " + w for w in words[1:-1]] + [" " + words[-1] + "."]
        if gen.max_tokens < len(pieces):
            return pieces[: gen.max_tokens], "length"
        return pieces, "stop"

    async def stream(self, gen: Generation) -> AsyncIterator[Piece | Finish]:
        pieces, reason = self.script(gen)
        for text in pieces:
            yield Piece(text)
        yield Finish(reason, estimate_prompt_tokens(gen.messages), len(pieces))

    async def aclose(self) -> None:
        return None


class EngineSource:
    """Real tokens from an OpenAI-compatible engine (the embedded vLLM) over streaming HTTP."""

    def __init__(self, base_url: str, model: str, timeout_s: float = ENGINE_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"engine:{model}@{self.base_url}"
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout_s)

    def _body(self, gen: Generation) -> dict:
        body = {
            "model": self.model,
            "messages": gen.messages,
            "max_tokens": gen.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        for key in ("temperature", "seed", "stop"):
            if getattr(gen, key) is not None:
                body[key] = getattr(gen, key)
        return body

    async def stream(self, gen: Generation) -> AsyncIterator[Piece | Finish]:
        reason, usage = "stop", None
        try:
            async with self._client.stream(
                "POST", "/v1/chat/completions", json=self._body(gen)
            ) as r:
                if r.status_code != 200:
                    detail = (await r.aread()).decode(errors="replace")[:500]
                    raise UpstreamError(r.status_code, detail)
                async for line in r.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            yield Piece(text)
                        reason = choice.get("finish_reason") or reason
        except httpx.HTTPError as e:
            raise UpstreamError(
                502, f"engine at {self.base_url} unreachable: {type(e).__name__}"
            ) from e
        usage = usage or {}
        yield Finish(
            reason, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def make_source(
    kind: str, *, seed: int = 0, engine_url: str | None = None, model: str | None = None
) -> TokenSource:
    """``engine`` (the local vLLM) or ``scripted`` (seeded, engine-free)."""
    if kind == "scripted":
        return ScriptedSource(seed)
    if kind == "engine":
        from servelab_base.config import get_settings

        settings = get_settings()
        return EngineSource(engine_url or settings.vllm_url, model or settings.model)
    raise ValueError(f"unknown token source {kind!r}: use 'engine' or 'scripted'")
