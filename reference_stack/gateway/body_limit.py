"""Refuse oversized request bodies with 413 before anything reads them into memory.

A pure ASGI middleware (Starlette's ``BaseHTTPMiddleware`` would wrap every streamed response
in an extra task and queue, which costs real time per chunk). A declared ``Content-Length``
over the limit is refused at once; a body without one (chunked) is read here, up to the limit,
and replayed to the application.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PayloadTooLarge


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
                break
        if length is not None:
            if length > self.max_bytes:
                return await self._refuse(scope, receive, send, length)
            return await self.app(scope, receive, send)
        # No Content-Length: read (at most max_bytes + 1) here, then replay it.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away while sending
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._refuse(scope, receive, send, size)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: int) -> None:
        error = PayloadTooLarge(
            f"Request body of {size} bytes exceeds the gateway's limit of {self.max_bytes} bytes."
        )
        await error.response(headers={"connection": "close"})(scope, receive, send)
