"""Relay an upstream's SSE stream to the client: bytes in, bytes out, and the streaming rule.

The rule: the client's first byte is sent only once the upstream has produced its first event
(``UpstreamClient.open_stream`` waits for it), so every failure before that point fails over
invisibly. After it, a failure cannot be hidden (the client already holds part of an answer;
retrying elsewhere would duplicate or contradict it), so the stream ends with an in-band error
event in OpenAI's shape, never with silence and never with a second answer.

The relay is a small ASGI response rather than Starlette's ``StreamingResponse`` so that a
client disconnect is noticed while waiting for the upstream (a watcher awaits
``http.disconnect``) and cancels the upstream request at once: a closed connection is how an
OpenAI-compatible engine learns to stop generating.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..failover import Reason
from . import sse
from .upstream import OpenedStream


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
        if not event.startswith(b"data: {"):
            continue
        try:
            choices = json.loads(event[6:]).get("choices") or []
        except ValueError:
            continue
        for choice in choices[:1]:
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                result.text.append(piece)
            result.finish_reason = choice.get("finish_reason") or result.finish_reason


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
        self.result = RelayResult(text=[] if collect_text else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        # The first byte leaves at once, before anything else is set up.
        block, done = self._prepare(self.opened.first)
        self.result.chunks += 1
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            if block:
                await send({"type": "http.response.body", "body": block, "more_body": True})
        except OSError:  # the client is already gone
            self.result.reason = Reason.CLIENT_DISCONNECTED
            self.opened.close()
            self.on_finish(self.result)
            return
        relay = asyncio.ensure_future(self._relay(send, done, started))
        watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
        try:
            await asyncio.wait((relay, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not relay.done():  # the client went away first: stop the upstream too
                relay.cancel()
                self.result.reason = Reason.CLIENT_DISCONNECTED
            watcher.cancel()
            failed = await asyncio.gather(relay, watcher, return_exceptions=True)
            if isinstance(failed[0], OSError) and self.result.reason is None:
                self.result.reason = Reason.CLIENT_DISCONNECTED  # a write to the client failed
            if not self.opened.response.content.at_eof():
                self.opened.close()
            self.on_finish(self.result)

    def _prepare(self, block: bytes) -> tuple[bytes, bool]:
        """Inspect one block of whole events: usage, [DONE], in-band errors. Cheap when none."""
        result = self.result
        block, usage = sse.take_usage(block, self.include_usage)
        if usage is not None:
            result.usage = usage
        if result.text is not None:
            _collect(block, result)
        if sse.has_error(block):
            result.reason = Reason.UPSTREAM_ERROR_EVENT  # the upstream's own clean error event
        done = sse.DONE in block
        if done:  # the timings go just before [DONE], where every client still reads
            block = block.replace(sse.DONE, sse.comment(self.timing_comment()) + sse.DONE)
        return block, done

    async def _relay(self, send: Send, done: bool, started: float) -> None:
        """Everything after the first block: relay until [DONE], or end with an error event."""
        opened, result = self.opened, self.result
        read = opened.response.content.readany
        last = time.perf_counter()
        tail = b""
        try:
            async with asyncio.timeout_at(opened.deadline):
                while not done:
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
                    block = opened.splitter.feed(data)
                    if not block:
                        continue
                    now = time.perf_counter()
                    result.gaps.append(now - last)
                    last = now
                    result.chunks += 1
                    block, done = self._prepare(block)
                    if block:
                        await send({"type": "http.response.body", "body": block, "more_body": True})
                if done:  # read the body's end, so the connection goes back to the pool
                    while await read():
                        pass
        except TimeoutError:
            result.reason = Reason.TOTAL_TIMEOUT
            tail = sse.error_event(
                "The upstream did not finish within the gateway's total "
                "timeout; the answer above is incomplete.",
                "upstream_timeout",
            )
        except aiohttp.ClientError:  # reading the body's end after [DONE]: the answer is whole
            pass
        if not done and not tail and result.reason is None:
            result.reason = Reason.TRUNCATED
            tail = sse.error_event(
                "The upstream ended the stream without [DONE]; the answer above is incomplete.",
                "upstream_stream_truncated",
            )
        result.seconds = time.perf_counter() - started
        await send({"type": "http.response.body", "body": tail, "more_body": False})
