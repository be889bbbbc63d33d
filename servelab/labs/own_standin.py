"""A managed-API stand-in of the kernel's own, for the drills that break one.

Lab 01's burst and fault knobs and lab 07's outage change a stand-in's rate limits and faults.
The stack's stand-in is shared: by every notebook on a laptop, by the whole class on a course
server, and by tests running side by side. A drill run there would fail everyone else's calls
for as long as it lasts. The drills run against this one instead: the same stand-in program,
started as a child process of this kernel on a free loopback port, drawing its tokens from the
stack's vLLM like the shared one. It starts on the first drill (a second or two) and stops when
the kernel exits.
"""

from __future__ import annotations

import atexit
import sys
import threading

from reference_stack.stack.standalone import free_port
from servelab_base.child_server import ChildServer, ChildServerError
from servelab_base.config import get_settings

#: A stand-in imports FastAPI and the catalog before it answers: a few seconds on a busy laptop.
START_TIMEOUT_S = 30.0

_lock = threading.Lock()
_server: ChildServer | None = None
_url = ""


def url() -> str:
    """Base URL (without ``/v1``) of this kernel's own managed stand-in; started on first use."""
    global _server, _url
    with _lock:
        if _server is not None and _server.running:
            return _url
        settings = get_settings()
        port = free_port(settings.host)
        command = [
            sys.executable,
            "-m",
            "reference_stack.providers.managed",
            "--host",
            settings.host,
            "--port",
            str(port),
            "--engine-url",
            settings.vllm_url,
        ]
        server = ChildServer(command, name="your own managed stand-in").start()
        base = f"http://{settings.host}:{port}"
        try:
            server.wait_for_health(base + "/health", START_TIMEOUT_S)
        except ChildServerError as exc:
            server.stop()
            raise RuntimeError(f"could not start your own stand-in: {exc}") from None
        if _server is None:
            atexit.register(stop)
        _server, _url = server, base
        return _url


def stop() -> None:
    """Stop this kernel's own stand-in (if it runs)."""
    global _server
    with _lock:
        if _server is not None:
            _server.stop()
            _server = None
