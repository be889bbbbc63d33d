"""Limits on a request body: its size (413) and how long it may take to arrive (408).

A pure ASGI middleware (Starlette's ``BaseHTTPMiddleware`` would wrap every streamed response
in an extra task and queue, which costs real time per chunk). A declared ``Content-Length``
over the limit is refused at once. Otherwise the body is read here, up to the limit, and
replayed to the application, so the app never waits on a slow client: the whole body must
arrive within ``timeout_s`` plus one second per ``min_rate`` bytes received (Apache's
mod_reqtimeout rule: a real client, however large its body, keeps earning time; a slowloris
client sending a byte a second does not). The gateway's own stalls are not counted (lag.py).

What comes before the body (the request line and headers) is the HTTP server's to bound:
edge.py.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import GatewayError, PayloadTooLarge, RequestTimeout
from .lag import NO_LAG, Deadline, LoopLag


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        timeout_s: float = 20.0,
        min_rate: int = 500,
        lag: LoopLag = NO_LAG,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.min_rate = min_rate
        self.lag = lag

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > self.max_bytes:
                    return await self._refuse(
                        scope, receive, send, PayloadTooLarge(self._too_large(int(value)))
                    )
                break
        chunks, size, more = [], 0, True
        try:
            async with Deadline(self.timeout_s, self.lag) as deadline:
                while more:
                    message = await receive()
                    if message["type"] != "http.request":
                        return  # the client went away while sending
                    chunks.append(message.get("body", b""))
                    size += len(chunks[-1])
                    if size > self.max_bytes:
                        return await self._refuse(
                            scope, receive, send, PayloadTooLarge(self._too_large(size))
                        )
                    more = message.get("more_body", False)
                    if more:  # it keeps earning time at the minimum rate
                        deadline.extend_to(self.timeout_s + size / self.min_rate)
        except TimeoutError:
            budget = self.timeout_s + size / self.min_rate
            error = RequestTimeout(
                f"The request body did not arrive in time: {size} bytes in {budget:.1f} s "
                f"(allowed: {self.timeout_s:g} s plus 1 s per {self.min_rate} bytes)."
            )
            return await self._refuse(scope, receive, send, error)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self, size: int) -> str:
        return (
            f"Request body of {size} bytes exceeds the gateway's limit of {self.max_bytes} bytes."
        )

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, error: GatewayError
    ) -> None:
        await error.response(headers={"connection": "close"})(scope, receive, send)
