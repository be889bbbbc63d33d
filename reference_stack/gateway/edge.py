"""The HTTP server's edge: what must be refused before the application ever sees a request.

uvicorn parses HTTP with httptools and hands each request to the app once its headers are in.
What happens BEFORE that moment is out of an ASGI app's reach, and uvicorn bounds none of it:
a client may take forever to send its headers (slowloris: a byte a second keeps a connection
open indefinitely), send a megabyte of headers, or open connections without limit. Its options
do not cover this: ``timeout_keep_alive`` only closes idle connections BETWEEN requests,
``h11_max_incomplete_event_size`` exists only for the slower h11 parser (and answers 400, not
431), and ``limit_concurrency`` answers a bare-text 503 without Retry-After.

``edge_protocol`` makes a subclass of uvicorn's httptools protocol that adds:

- a header deadline: the request line and headers must arrive within ``header_timeout_s``
  (counted from the connection's first byte or the request's first byte), else 408;
- a header size cap: more than ``max_header_bytes`` before the headers end is 431 (Envoy's
  default cap and answer);
- a connection cap: a request arriving on a connection beyond ``max_connections`` gets 503
  with Retry-After, in OpenAI's error shape.

The request BODY is the app's side of the line (an ASGI middleware can time ``receive``):
body_limit.py caps its size (413) and time (408). Settings and their sources: settings.py.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .errors import GatewayError, GatewayOverloaded, RequestTimeout
from .lag import LoopLag


class HeadersTooLarge(GatewayError):
    status, type, code = 431, "invalid_request_error", "request_headers_too_large"


#: How long a refused connection is kept half-open, reading and dropping what the client still
#: sends, so it reads the refusal instead of a reset (nginx's lingering_timeout is 5 s).
LINGER_S = 2.0


@dataclass(frozen=True)
class EdgeLimits:
    header_timeout_s: float
    max_header_bytes: int
    max_connections: int
    overload_retry_after_s: int


def raw_response(error: GatewayError) -> bytes:
    """A whole HTTP/1.1 error response that closes the connection, written before (or instead
    of) any application response."""
    body = json.dumps(error.body()).encode()
    head = [
        f"HTTP/1.1 {error.status} {_REASONS[error.status]}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        *(f"{name}: {value}" for name, value in error.headers.items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


_REASONS = {
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class HeadWithFirstBody:
    """The transport one response is written to: it holds the status line and headers back
    until the first body bytes, so both leave in ONE write (one system call, one wake-up of
    the client: uvicorn writes them separately). If no body follows in the same turn of the
    event loop, the head goes out alone."""

    __slots__ = ("_transport", "_loop", "_head")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._head is None and data.startswith(b"HTTP/1."):  # the first write: the head
            self._head = data
            self._loop.call_soon(self._flush)
            return
        if self._head:
            data, self._head = self._head + data, b""
        self._transport.write(data)

    def _flush(self) -> None:
        if self._head:
            self._transport.write(self._head)
            self._head = b""

    def __getattr__(self, name: str) -> Any:  # close, is_closing, get_extra_info ...
        return getattr(self._transport, name)


def edge_protocol(limits: EdgeLimits, lag: LoopLag) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with ``limits`` (pass it as ``uvicorn.Config(http=...)``)."""

    overloaded = GatewayOverloaded(
        f"The gateway is serving its limit of {limits.max_connections} connections; "
        f"retry in {limits.overload_retry_after_s} s.",
        headers={"retry-after": str(limits.overload_retry_after_s)},
    )

    async def overload_app(scope: Scope, receive: Receive, send: Send) -> None:
        await overloaded.response(headers={"connection": "close"})(scope, receive, send)

    class EdgeProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._in_head = False
            self._head_bytes = 0  # received while the head is incomplete (whole reads)
            self._head_parsed = 0  # request line and headers, as parsed
            self._refusal: GatewayError | None = None
            self._head_started = 0.0
            self._head_lag = 0.0
            self._head_timer: asyncio.TimerHandle | None = None

        # -- the request head: from its first byte to the end of its headers ---------------
        def _start_head(self) -> None:
            self._in_head, self._head_bytes, self._head_parsed = True, 0, 0
            self._head_started, self._head_lag = self.loop.time(), lag.total()
            self._arm(self._head_started + limits.header_timeout_s)

        def _end_head(self) -> None:
            self._in_head = False
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _arm(self, when: float) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
            self._head_timer = self.loop.call_at(when, self._head_deadline)

        def _head_deadline(self) -> None:
            self._head_timer = None
            if not self._in_head:
                return
            stalled = lag.total() - self._head_lag  # the gateway's own stall is not the client's
            due = self._head_started + limits.header_timeout_s + stalled
            if self.loop.time() < due:
                self._arm(due)
                return
            self._refuse(
                RequestTimeout(
                    f"The request headers did not arrive within {limits.header_timeout_s:g} s."
                )
            )

        def send_400_response(self, msg: str) -> None:
            if self._refusal is not None:  # our refusal, raised inside the parser
                self._refuse(self._refusal)
                return
            super().send_400_response(msg)

        def _refuse(self, error: GatewayError) -> None:
            """Answer ``error`` and close, lingering: a client still sending would otherwise
            get a TCP reset that can destroy the answer before it reads it (nginx's
            ``lingering_close``). What it sends meanwhile is read and dropped."""
            self._end_head()
            self._refusal = error
            transport = self.transport
            if transport is None or transport.is_closing():
                return
            transport.write(raw_response(error))
            if transport.can_write_eof():
                transport.write_eof()
                self.loop.call_later(LINGER_S, transport.close)
            else:
                transport.close()

        # -- uvicorn's hooks -----------------------------------------------------------------
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._start_head()  # a connection that sends nothing is a slow head too

        def connection_lost(self, exc: Exception | None) -> None:
            self._end_head()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._refusal is not None:  # lingering after a refusal: drop what comes
                return
            super().data_received(data)
            if self._in_head and not self.transport.is_closing():
                self._head_bytes += len(data)
                if self._head_bytes > limits.max_header_bytes:
                    self._refuse(
                        HeadersTooLarge(
                            f"The request line and headers exceed {limits.max_header_bytes} bytes."
                        )
                    )

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if not self._in_head:  # the next request on a keep-alive connection
                self._start_head()

        def on_url(self, url: bytes) -> None:
            super().on_url(url)
            self._head_parsed += len(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            super().on_header(name, value)
            self._head_parsed += len(name) + len(value) + 4  # ": " and CRLF

        def on_headers_complete(self) -> None:
            self._end_head()
            if self._head_parsed > limits.max_header_bytes:  # arrived whole, in one read
                self._refusal = HeadersTooLarge(
                    f"The request line and headers exceed {limits.max_header_bytes} bytes."
                )
                raise self._refusal  # stops the parser; uvicorn answers via send_400_response
            if len(self.connections) <= limits.max_connections:
                super().on_headers_complete()
            else:
                app, self.app = self.app, overload_app  # this one request only
                try:
                    super().on_headers_complete()
                finally:
                    self.app = app
            if self.cycle is not None:
                self.cycle.transport = HeadWithFirstBody(self.transport, self.loop)

    return EdgeProtocol
