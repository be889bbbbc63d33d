"""The chat-completion pipeline both stand-ins share, and the OpenAI body format they both speak.

    request -> fault decision -> rate limit -> network + queue delay -> paced tokens -> body

The dialects (managed/, cloud/) differ in URLs, authentication, error shapes and headers; the
bodies of a chat completion and of its stream chunks are the same OpenAI format in both (Azure
adds content-filter annotations, passed in as ``extra``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from reference_stack.providers.faults import Decision
from reference_stack.providers.latency import Pacer, Shaper, Timing
from reference_stack.providers.tokens import (
    Finish,
    Generation,
    Piece,
    TokenSource,
    UpstreamError,
)

# Stand-ins label themselves in every answer: this header names the stand-in, the next the
# token source behind it. `system_fingerprint` carries the same label inside the body.
STANDIN_HEADER = "x-servelab-standin"
SOURCE_HEADER = "x-servelab-token-source"
FINGERPRINT = "fp_servelab_standin"


class DropConnection(Exception):
    """Raised inside a stream to make the server close the connection (a disconnect fault)."""


def drop_connection_on_fault(app):
    """ASGI wrapper: a ``DropConnection`` ends the app call, and uvicorn closes the socket."""

    async def wrapped(scope, receive, send):
        try:
            await app(scope, receive, send)
        except DropConnection:
            return
        except BaseExceptionGroup as group:  # anyio task groups may wrap it
            rest = group.subgroup(lambda e: not isinstance(e, DropConnection))
            if rest is not None:
                raise rest from None

    return wrapped


def short_hash(*parts: object, n: int = 24) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:n]


@dataclass
class Call:
    """One chat completion in flight: what was asked and what the stand-in decided."""

    gen: Generation
    model_reported: str  # the dated model name the body reports
    stream: bool
    include_usage: bool
    decision: Decision
    timing: Timing
    seed: int
    extra_first_chunk: dict = field(default_factory=dict)
    extra_choice: dict = field(default_factory=dict)

    @property
    def completion_id(self) -> str:
        return f"chatcmpl-{short_hash(self.seed, self.decision.index, n=29)}"


def draw_timing(shaper: Shaper, seed: int, index: int) -> Timing:
    """The request's timing, drawn from its own seeded RNG so a replay times out the same."""
    return shaper.draw(random.Random(f"{seed}|latency|{index}"))


async def paced_pieces(source: TokenSource, call: Call) -> AsyncIterator[Piece | Finish]:
    """The source's pieces, released on the profile's schedule, with stream faults applied."""
    await asyncio.sleep(call.timing.network_s + call.timing.queue_s)
    pacer = Pacer(call.timing, call.decision.extra_first_token_s)
    sent = 0
    async for event in source.stream(call.gen):
        if isinstance(event, Finish):
            yield event
            return
        if call.decision.disconnect_after is not None and sent >= call.decision.disconnect_after:
            raise DropConnection()
        if call.decision.stall and sent == call.decision.stall[0] and sent > 0:
            pacer.push_back(call.decision.stall[1])
        await pacer.wait_turn()
        sent += 1
        yield event


def usage_body(finish: Finish) -> dict:
    return {
        "prompt_tokens": finish.prompt_tokens,
        "completion_tokens": finish.completion_tokens,
        "total_tokens": finish.prompt_tokens + finish.completion_tokens,
    }


def chunk(call: Call, created: int, choices: list, usage: dict | None = None) -> dict:
    body = {
        "id": call.completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": call.model_reported,
        "system_fingerprint": FINGERPRINT,
        "choices": choices,
    }
    if call.include_usage:
        body["usage"] = usage
    return body


def sse(data: dict | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


async def open_stream(source: TokenSource, call: Call) -> tuple[Piece | Finish, AsyncIterator]:
    """Start the paced generation and wait for its first event, so a dead engine becomes an
    HTTP error before any header is sent (raises ``UpstreamError``)."""
    pieces = paced_pieces(source, call)
    first = await anext(pieces)
    return first, pieces


async def stream_body(
    call: Call, first_event: Piece | Finish, rest: AsyncIterator, error_body: dict
) -> AsyncIterator[bytes]:
    """The SSE byte stream of a streamed chat completion (OpenAI chunk format).

    An engine failure after the first chunk is reported the way OpenAI does mid-stream: one
    ``data: {"error": ...}`` event, which the SDK raises as ``APIError``."""
    created = int(time.time())
    if call.extra_first_chunk:  # Azure: prompt filter results, no choices
        yield sse({**chunk(call, created, []), **call.extra_first_chunk})
    first = True
    event = first_event
    while True:
        if isinstance(event, Finish):
            if first:  # an empty answer still opens with the role
                yield sse(chunk(call, created, [_delta({"role": "assistant", "content": ""})]))
            yield sse(chunk(call, created, [_delta({}, event.finish_reason)]))
            if call.include_usage:
                yield sse(chunk(call, created, [], usage_body(event)))
            yield sse("[DONE]")
            return
        delta = {"content": event.text}
        if first:
            delta = {"role": "assistant", **delta}
        yield sse(chunk(call, created, [_delta(delta, extra=call.extra_choice)]))
        first = False
        try:
            event = await anext(rest)
        except UpstreamError:
            yield sse(error_body)
            return


def _delta(delta: dict, finish_reason: str | None = None, extra: dict | None = None) -> dict:
    return {
        "index": 0,
        "delta": delta,
        "logprobs": None,
        "finish_reason": finish_reason,
        **(extra or {}),
    }


async def completion_body(source: TokenSource, call: Call) -> dict:
    """The body of a non-streamed chat completion, after waiting out the paced generation."""
    text, finish = [], None
    async for event in paced_pieces(source, call):
        if isinstance(event, Finish):
            finish = event
        else:
            text.append(event.text)
    assert finish is not None, "a token source must end with Finish"
    message = {"role": "assistant", "content": "".join(text), "refusal": None}
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": finish.finish_reason,
        **call.extra_choice,
    }
    return {
        "id": call.completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": call.model_reported,
        "system_fingerprint": FINGERPRINT,
        "choices": [choice],
        "usage": usage_body(finish),
        **call.extra_first_chunk,
    }
