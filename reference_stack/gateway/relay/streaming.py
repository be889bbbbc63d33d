"""Relay an upstream's SSE stream to the client: bytes in, bytes out, and the streaming rule.

The rule: the client's first byte is sent only once the upstream has produced its first token
(``UpstreamClient.open_stream`` waits for it, holding back content-free events before it), so
every failure before that point fails over invisibly. After it, a failure cannot be hidden (the
client already holds part of an answer; retrying elsewhere would duplicate or contradict it),
so the stream ends with an in-band error event in OpenAI's shape, never with silence and never
with a second answer. The client's response ends at ``[DONE]``, whatever the upstream does next.

Every block relayed is scrubbed of upstream keys first (redact.py), mid-stream included.

The relay is a small ASGI response rather than Starlette's ``StreamingResponse`` so that a
client disconnect is noticed while waiting for the upstream (a watcher awaits
``http.disconnect``) and cancels the upstream request at once: a closed connection is how an
OpenAI-compatible engine learns to stop generating.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..failover import Reason
from ..lag import NO_LAG, Deadline, LoopLag
from . import sse
from .upstream import OpenedStream

#: After ``[DONE]`` the client's response is complete; the rest of the upstream's body (its
#: chunked-encoding end) is read for this long so the connection can go back to the pool,
#: then the connection is dropped instead.
DRAIN_AFTER_DONE_S = 1.0


@dataclass
class RelayResult:
    """How a relayed stream ended, for the breaker, metrics, quotas and the cache."""

    #: None: relayed whole, up to [DONE]. Otherwise what ended it (UPSTREAM_ERROR_EVENT,
    #: TOTAL_TIMEOUT, UPSTREAM_LOST, TRUNCATED or CLIENT_DISCONNECTED); the failover table
    #: (failover.RULES) says what each means for the upstream's breaker.
    reason: Reason | None = None
    usage: dict | None = None
    chunks: int = 0
    gaps: list[float] = field(default_factory=list)  # seconds between upstream events
    text: list[str] | None = None  # content pieces, collected only for the cache
    finish_reason: str | None = None
    seconds: float = 0.0  # first byte to last


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _collect(block: bytes, result: RelayResult) -> None:
    """Gather the answer's text (only when the model's chain ends in the cache)."""
    assert result.text is not None
    for event in sse.split(block):
        chunk = sse.event_json(event)
        choices = chunk.get("choices") if isinstance(chunk, dict) else None
        for choice in (choices if isinstance(choices, list) else [])[:1]:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            piece = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(piece, str) and piece:
                result.text.append(piece)
            finish = choice.get("finish_reason")
            result.finish_reason = finish if isinstance(finish, str) else result.finish_reason


class StreamRelay(Response):
    """ASGI response relaying ``opened`` to the client with ``headers`` (a Starlette
    ``Response`` only in name, so FastAPI passes it through untouched)."""

    def __init__(
        self,
        opened: OpenedStream,
        headers: dict[str, str],
        *,
        include_usage: bool,
        timing_comment: Callable[[], str],
        on_finish: Callable[[RelayResult], None],
        collect_text: bool = False,
        lag: LoopLag = NO_LAG,
    ) -> None:
        self.opened = opened
        self.status_code = 200
        self.background = None
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        self.raw_headers += [(k.encode(), v.encode()) for k, v in headers.items()]
        self.include_usage = include_usage
        self.timing_comment = timing_comment
        self.on_finish = on_finish
        self.lag = lag
        self.result = RelayResult(text=[] if collect_text else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        # The first byte leaves at once, before anything else is set up.
        block, done = self._prepare(self.opened.first)
        self.result.chunks += 1
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": block, "more_body": not done})
        except OSError:  # the client is already gone
            self.result.reason = Reason.CLIENT_DISCONNECTED
            self.opened.close()
            self.on_finish(self.result)
            return
        if done:  # the whole answer came in the first read
            await self._drain()
            self.result.seconds = time.perf_counter() - started
            self.on_finish(self.result)
            return
        relay = asyncio.ensure_future(self._relay(send, started))
        watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            await asyncio.wait((relay, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not relay.done():  # the client went away first: stop the upstream too
                relay.cancel()
                self.result.reason = Reason.CLIENT_DISCONNECTED
            watcher.cancel()
            ended = await asyncio.gather(relay, watcher, return_exceptions=True)
            if isinstance(ended[0], OSError) and self.result.reason is None:
                self.result.reason = Reason.CLIENT_DISCONNECTED  # a write to the client failed
            if ended[0] is True:  # relayed up to [DONE]: the client's response has ended
                await self._drain()
            elif not self.opened.response.content.at_eof():
                self.opened.close()
            self.on_finish(self.result)

    def _prepare(self, block: bytes) -> tuple[bytes, bool]:
        """Inspect one block of whole events: usage, in-band errors, [DONE]; scrub keys.
        Cheap when there is none of these (a few substring searches)."""
        result = self.result
        block = self.opened.redactor.bytes(block)
        end = sse.done_end(block)
        done = end >= 0
        if done:  # nothing after [DONE] is relayed; the timings go just before it
            block = block[:end]
        block, usage = sse.take_usage(block, self.include_usage)
        if usage is not None:
            result.usage = usage
        if result.text is not None:
            _collect(block, result)
        if sse.find_error(block) is not None:
            result.reason = Reason.UPSTREAM_ERROR_EVENT  # the upstream's own clean error event
        if done:
            at = block.rfind(b"data:")  # the [DONE] event is the block's last
            block = block[:at] + sse.comment(self.timing_comment()) + block[at:]
        return block, done

    async def _relay(self, send: Send, started: float) -> bool:
        """Everything after the first block: relay until [DONE] (True), or end with an error
        event (False)."""
        opened, result = self.opened, self.result
        read = opened.response.content.readany
        last = time.perf_counter()
        tail = b""
        done = False
        try:
            async with Deadline(max(opened.remaining_s, 0.0), self.lag):
                while True:
                    try:
                        data = await read()
                    except (aiohttp.ClientError, OSError):  # the upstream's side, not the client's
                        result.reason = Reason.UPSTREAM_LOST
                        tail = sse.error_event(
                            "The upstream connection was lost mid-stream; "
                            "the answer above is incomplete.",
                            "upstream_stream_broken",
                        )
                        break
                    if not data:
                        break
                    try:
                        block = opened.splitter.feed(data)
                    except sse.EventTooLarge:
                        result.reason = Reason.UPSTREAM_LOST
                        tail = sse.error_event(
                            "The upstream sent a malformed stream (an event without end); "
                            "the answer above is incomplete.",
                            "upstream_stream_broken",
                        )
                        break
                    if not block:
                        continue
                    now = time.perf_counter()
                    result.gaps.append(now - last)
                    last = now
                    result.chunks += 1
                    block, done = self._prepare(block)
                    if done:  # the client's answer is complete: end its response now
                        result.seconds = time.perf_counter() - started
                        await send({"type": "http.response.body", "body": block})
                        break
                    if block:
                        await send({"type": "http.response.body", "body": block, "more_body": True})
        except TimeoutError:
            result.reason = Reason.TOTAL_TIMEOUT
            tail = sse.error_event(
                "The upstream did not finish within the gateway's total "
                "timeout; the answer above is incomplete.",
                "upstream_timeout",
            )
        if done:
            return True
        if not tail and result.reason is None:
            result.reason = Reason.TRUNCATED
            tail = sse.error_event(
                "The upstream ended the stream without [DONE]; the answer above is incomplete.",
                "upstream_stream_truncated",
            )
        result.seconds = time.perf_counter() - started
        await send({"type": "http.response.body", "body": tail, "more_body": False})
        return False

    async def _drain(self) -> None:
        """Read the upstream's body to its end (briefly), so its connection is reused."""
        content = self.opened.response.content
        try:
            async with asyncio.timeout(DRAIN_AFTER_DONE_S):
                while await content.readany():
                    pass
        except (TimeoutError, aiohttp.ClientError, OSError):
            self.opened.close()
