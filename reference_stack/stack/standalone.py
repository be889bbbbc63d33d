"""One service of a profile as a child process on a port of your choosing, outside `servelab up`.

Tests, benchmarks and record scripts need their own copies of a stack service (say, two
replicas of llama-server) without touching the running stack: other ports, no pid files, gone
when they finish. This runs the profile's OWN command line (same flags, same environment), so
what they measure is what `servelab up --profile NAME` starts, only on another port.

    with standalone.start("cpu-replicas", "replica-1") as replica:
        replica.url            # "http://127.0.0.1:PORT" (add "/v1" for the openai SDK)
"""

from __future__ import annotations

import socket
from pathlib import Path

from reference_stack.stack import supervisor
from reference_stack.stack.profile import load, placeholders, render
from servelab_base.child_server import ChildServer, ChildServerError
from servelab_base.config import Settings, get_settings


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (the OS's choice; another process could take it first)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Standalone:
    """A started service: its ``url`` and its ``process`` (a ChildServer)."""

    def __init__(self, process: ChildServer, url: str) -> None:
        self.process = process
        self.url = url

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> str:
        """SIGTERM (SIGKILL if it lingers); returns what it printed."""
        return self.process.stop()

    def __enter__(self) -> Standalone:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def command(
    profile_name: str, service: str, port: int, settings: Settings | None = None
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment ``servelab up`` would use for ``service``, on ``port``."""
    settings = settings or get_settings()
    prof = load(profile_name)
    svc = prof.service(service)
    values = placeholders(settings, svc, prof) | {"port": port}
    return supervisor.resolve_command(svc, values), supervisor.environment(svc, values)


def missing(profile_name: str, service: str) -> list[Path]:
    """Files ``service`` needs that are not there (its ``requires``: a build, a model)."""
    prof = load(profile_name)
    svc = prof.service(service)
    values = placeholders(get_settings(), svc, prof)
    return [Path(render(t, values)) for t in svc.requires if not Path(render(t, values)).exists()]


def start(
    profile_name: str,
    service: str,
    port: int | None = None,
    timeout_s: float | None = None,
    cpu: int | None = None,
) -> Standalone:
    """Start ``service`` of ``profile_name`` on ``port`` (a free one by default) and wait for
    its health path; ``cpu`` pins it to one CPU. RuntimeError (with its log) if it fails."""
    settings = get_settings()
    svc = load(profile_name).service(service)
    absent = missing(profile_name, service)
    if absent:
        raise FileNotFoundError(f"{service}: {absent[0]} is missing; run `servelab prepare`")
    port = port or free_port(settings.host)
    argv, env = command(profile_name, service, port, settings)
    process = ChildServer(argv, name=service, env=env, cpu=cpu).start()
    url = settings.url(port)
    try:
        process.wait_for_health(url + svc.health, timeout_s or svc.startup_timeout_s)
    except ChildServerError as exc:
        raise RuntimeError(f"{service} did not start: {exc}") from None
    return Standalone(process, url)
