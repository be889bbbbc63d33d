"""The least a Python streaming proxy can be: the floor under any gateway on this stack.

uvicorn with uvloop and httptools in front, one pooled aiohttp session behind, as servelab's
gateway has, and nothing else: no auth, no policy, no failover, no inspection of the bytes. The
request body goes to the upstream as it came, the upstream's bytes come back as they are.
benchmarks/gateway_overhead.py runs it as path ``floor`` (``--floor``): the gap between it and
no gateway at all is what the extra hop and the frameworks cost; the gap between servelab and
it is what the gateway's own work costs.

    python benchmarks/minimal_proxy.py UPSTREAM_URL    # prints "listening on http://..."
"""

from __future__ import annotations

import socket
import sys

import aiohttp
import uvicorn

UPSTREAM = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8500"
session: aiohttp.ClientSession | None = None


async def app(scope: dict, receive, send) -> None:  # noqa: ANN001 (ASGI)
    global session
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            if message["type"] == "lifespan.startup":
                session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
                await send({"type": "lifespan.startup.complete"})
        await session.close()
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] == "/health":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    headers = {"content-type": "application/json"}
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            headers["x-request-id"] = value.decode()
    async with session.post(UPSTREAM + scope["path"], data=body, headers=headers) as upstream:
        await send(
            {
                "type": "http.response.start",
                "status": upstream.status,
                "headers": [(b"content-type", upstream.headers["content-type"].encode())],
            }
        )
        async for block in upstream.content.iter_any():
            await send({"type": "http.response.body", "body": block, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


if __name__ == "__main__":
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"minimal proxy listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, loop="uvloop", http="httptools", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
