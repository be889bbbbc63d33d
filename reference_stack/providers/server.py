"""Run stand-in apps with uvicorn: several ports in one process, or in a thread for tests.

The cloud stand-in serves one app per region, each on its own port (one endpoint per region,
as a learner sees distinct base URLs); one process and one event loop carry them all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT_S = 10.0  # an in-process uvicorn starts in well under a second
#: The line ``serve_all`` prints once every app accepts requests, as a parent process sees it.
READY_LINE = re.compile(r'^\{"ready": true, "ports".*$', re.MULTILINE)


class _QuietDisconnects(logging.Filter):
    """A disconnect fault ends a response on purpose: don't report it as a server error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port), handed to uvicorn."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _server(app, log_level: str) -> uvicorn.Server:
    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="off", timeout_graceful_shutdown=1
    )
    return uvicorn.Server(config)


async def serve_all(
    apps: dict[str, object], sockets: dict[str, socket.socket], log_level: str = "warning"
) -> None:
    """Serve each named app on its socket until interrupted; prints one JSON 'ready' line."""
    logging.getLogger("uvicorn.error").addFilter(_QuietDisconnects())
    servers = {name: _server(app, log_level) for name, app in apps.items()}
    tasks = [asyncio.create_task(servers[n].serve(sockets=[sockets[n]])) for n in apps]
    while not all(s.started for s in servers.values()):
        if any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.02)
    ports = {n: sockets[n].getsockname()[1] for n in apps}
    print(json.dumps({"ready": True, "ports": ports}), flush=True)
    await asyncio.gather(*tasks)


@contextmanager
def serve_in_thread(app, host: str = LOOPBACK) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a background thread; yields its base URL.

    For tests and benchmarks: real HTTP, no fixed port, and the server is stopped on exit.
    """
    logging.getLogger("uvicorn.error").addFilter(_QuietDisconnects())
    sock = bind(host, 0)
    server = _server(app, "warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    waited = 0.0
    while not server.started:
        if not thread.is_alive() or waited > STARTUP_TIMEOUT_S:
            raise RuntimeError("stand-in server did not start")
        threading.Event().wait(0.02)
        waited += 0.02
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)
