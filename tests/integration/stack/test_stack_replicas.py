"""`servelab up --profile cpu-replicas` brings the two llama-server replicas up, `servelab status`
lists them, `servelab down` stops them: the real CLI, the real binary, in its own state folder
(SERVELAB_STACK_DIR), so the running stack's pid files are never touched."""

from __future__ import annotations

import socket

import pytest
from stack_support import servelab

from reference_stack.stack import profile, standalone
from servelab_base.config import Settings

REPLICAS = ("replica-1", "replica-2")


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_up_status_down_of_the_replicas(tmp_path, monkeypatch):
    prof = profile.load("cpu-replicas")
    ports = [prof.service(name).resolved_port(Settings()) for name in REPLICAS]
    if any(listening(port) for port in ports):
        pytest.skip(f"ports {ports} are taken (a cpu-replicas stack is running here)")
    missing = standalone.missing("cpu-replicas", "replica-1")
    if missing:
        pytest.fail(f"{missing[0]} is missing: run `servelab prepare`")
    monkeypatch.setenv("SERVELAB_STACK_DIR", str(tmp_path / "stack"))
    only = [arg for name in REPLICAS for arg in ("--service", name)]
    try:
        up = servelab("up", "--profile", "cpu-replicas", *only)
        assert up.returncode == 0, up.stdout + up.stderr
        for name, port in zip(REPLICAS, ports, strict=True):
            assert f"[up] {name:<16} http://127.0.0.1:{port}  models: smollm2-135m-instruct" in (
                up.stdout
            )
        status = servelab("status", "--profile", "cpu-replicas")
        lines = {line.split()[0]: line for line in status.stdout.splitlines() if line.strip()}
        for name, port in zip(REPLICAS, ports, strict=True):
            assert "healthy" in lines[name] and f":{port}" in lines[name], status.stdout
            assert "pid " in lines[name]  # started by servelab, in this state folder
        plain = servelab("status")  # the default profile lists them too, as started by `up`
        assert all(name in plain.stdout for name in REPLICAS), plain.stdout
    finally:
        down = servelab("down")
    assert down.returncode == 0
    assert all(f"stopped {name}" in down.stdout for name in REPLICAS), down.stdout
    assert not any(listening(port) for port in ports)
    assert not list((tmp_path / "stack").glob("*.json"))  # no pid file left
