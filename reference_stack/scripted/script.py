"""The script of one request: when each chunk is due and what it says.

A `Script` is fixed the moment a request arrives (server defaults, then per-request overrides),
so every chunk's due time is known in advance: ``ttft_ms`` after the request was read, then one
chunk every ``itl_ms``. Nothing here does I/O; the server only follows the plan.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, fields, replace
from functools import lru_cache

#: Words the scripted text is drawn from. Each word is one "token" of the scripted upstream
#: (it has no tokenizer): a chunk of ``tokens_per_chunk`` tokens carries that many words.
WORDS = (
    "the a model serves tokens fast slow batch queue decode prefill cache latency stream "
    "request reply gateway engine memory bandwidth kernel layer head weight vector matrix "
    "prompt answer time first next last budget region edge cloud api client server chunk "
    "token byte rate load peak tail median mean sample score value"
).split()

#: Header prefix of per-request overrides: ``x-scripted-ttft-ms: 120`` overrides ``ttft_ms``.
HEADER_PREFIX = "x-scripted-"
#: Request-body field of per-request overrides: ``{"scripted": {"ttft_ms": 120}}``
#: (the openai SDK sends it with ``extra_body={"scripted": {...}}``).
BODY_FIELD = "scripted"


@dataclass(frozen=True)
class Script:
    """Timing and shape of one scripted response. Times in milliseconds."""

    ttft_ms: float = 50.0  # request read -> first content chunk sent
    itl_ms: float = 10.0  # gap between consecutive content chunks
    chunks: int = 32  # content chunks per response (0: no content at all)
    tokens_per_chunk: int = 1  # words ("tokens") carried by each content chunk
    jitter_ms: float = 0.0  # each gap drawn uniformly from itl_ms +- jitter_ms (seeded)
    role_chunk_ms: float = -1.0  # >= 0: send a role-only chunk (content "") at this time
    fail_after: int = -1  # >= 0: end the stream abruptly after this many content chunks
    fail_mode: str = "abort"  # "abort" (drop the connection) or "error" (an SSE error event)
    status: int = 200  # != 200: answer this HTTP status with an OpenAI-style error body
    usage: bool = True  # False: never send usage, even when include_usage is asked
    seed: int = 0  # seeds the text and the jitter

    def __post_init__(self) -> None:
        if self.ttft_ms < 0 or self.itl_ms < 0 or self.jitter_ms < 0:
            raise ValueError("ttft_ms, itl_ms and jitter_ms must be >= 0")
        if self.jitter_ms > self.itl_ms:
            raise ValueError("jitter_ms must not exceed itl_ms (gaps would go negative)")
        if self.chunks < 0 or self.tokens_per_chunk < 1:
            raise ValueError("chunks must be >= 0 and tokens_per_chunk >= 1")
        if self.fail_mode not in ("abort", "error"):
            raise ValueError("fail_mode must be 'abort' or 'error'")
        if not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")


#: Script field name -> its type name (annotations are strings: ``from __future__``).
FIELD_TYPES = {f.name: f.type for f in fields(Script)}


def _coerce(name: str, value: object) -> object:
    """Turn a header string or JSON value into the type of Script field ``name``."""
    kind = FIELD_TYPES[name]
    if kind == "bool":
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
    if kind == "int":
        return int(value)  # type: ignore[arg-type]
    if kind == "float":
        return float(value)  # type: ignore[arg-type]
    return str(value)


def with_overrides(base: Script, headers: dict[str, str], body: dict) -> Script:
    """``base`` with the overrides a request carries (body field first, then headers win).

    Raises ValueError on an unknown override name or a bad value, so a typo in a test shows.
    """
    changes: dict[str, object] = {}
    body_overrides = body.get(BODY_FIELD) or {}
    if not isinstance(body_overrides, dict):
        raise ValueError(f"'{BODY_FIELD}' must be an object")
    items = list(body_overrides.items())
    for key, value in headers.items():
        if key.startswith(HEADER_PREFIX):
            items.append((key[len(HEADER_PREFIX) :].replace("-", "_"), value))
    for name, value in items:
        if name not in FIELD_TYPES:
            raise ValueError(f"unknown scripted override {name!r}; known: {sorted(FIELD_TYPES)}")
        changes[name] = _coerce(name, value)
    return replace(base, **changes) if changes else base


def requested_max_tokens(body: dict) -> int | None:
    """The output-token cap a request asks for (``max_completion_tokens`` or ``max_tokens``)."""
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    return int(value) if value is not None else None


@dataclass(frozen=True)
class Plan:
    """What one response will send: content pieces, their due offsets (s), and why it ends."""

    pieces: list[str]  # text of each content chunk
    tokens: list[int]  # tokens in each content chunk
    offsets: list[float]  # seconds after the request was read at which each chunk is due
    finish_reason: str  # "stop", or "length" when max_tokens cut the script short


#: Length of the cyclic word sequence a response's text is cut from (per seed).
TEXT_CYCLE = 4096


@lru_cache(maxsize=16)
def _word_cycle(seed: int) -> tuple[str, ...]:
    """A fixed pseudo-random sequence of words for ``seed``; responses read slices of it."""
    rng = random.Random(seed)
    return tuple(" " + w for w in rng.choices(WORDS, k=TEXT_CYCLE))


def plan(script: Script, body: dict) -> Plan:
    """Lay out the content chunks of one response: deterministic given script and messages.

    The output has ``chunks * tokens_per_chunk`` tokens, cut to the request's ``max_tokens``.
    The text is a slice of the seed's word cycle, starting at a hash of the messages, so the
    same request reads the same. (Built for speed: this runs for every request.)
    """
    total = script.chunks * script.tokens_per_chunk
    cap = requested_max_tokens(body)
    finish_reason = "stop"
    if cap is not None and cap < total:
        total, finish_reason = max(cap, 0), "length"
    messages = json.dumps(body.get("messages"), sort_keys=True).encode()
    start = int.from_bytes(hashlib.blake2b(messages, digest_size=4).digest(), "big")
    cycle = _word_cycle(script.seed)
    words = [cycle[(start + i) % TEXT_CYCLE] for i in range(total)]
    step = script.tokens_per_chunk
    if step == 1:
        pieces, tokens = words, [1] * total
    else:
        pieces = ["".join(words[i : i + step]) for i in range(0, total, step)]
        tokens = [len(words[i : i + step]) for i in range(0, total, step)]
    ttft, itl = script.ttft_ms / 1000, script.itl_ms / 1000
    if not script.jitter_ms:
        offsets = [ttft + i * itl for i in range(len(pieces))]
    else:  # each gap drawn from itl +- jitter, seeded by the seed and the messages
        rng = random.Random(start * 1_000_003 + script.seed)
        offsets, t = [], ttft
        for i in range(len(pieces)):
            if i:
                t += (script.itl_ms + rng.uniform(-script.jitter_ms, script.jitter_ms)) / 1000
            offsets.append(t)
    return Plan(pieces, tokens, offsets, finish_reason)


def count_prompt_tokens(body: dict) -> int:
    """Prompt "tokens" of a chat request: whitespace-separated words of every message's text.

    The scripted upstream has no tokenizer; this count is stable and roughly proportional to a
    real tokenizer's (real BPE tokenizers give about 1.3 tokens per English word).
    """
    count = 0
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            count += len(content.split())
        elif isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
            texts = [str(p.get("text", "")) for p in content if isinstance(p, dict)]
            count += sum(len(t.split()) for t in texts)
    return count
