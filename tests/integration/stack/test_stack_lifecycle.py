"""`servelab up / status / logs / down` with small real services, in an isolated cache.

Each test writes its own profile (real Python processes serving HTTP on free ports) and runs the
real CLI in a subprocess with SERVELAB_CACHE pointing at a temporary directory, so its pid files
and logs never touch the embedded stack's.
"""

from __future__ import annotations

import json
import os
import socket
import textwrap
import time
from pathlib import Path

import psutil
import pytest
import yaml
from stack_support import servelab

# A tiny health-checked service: answers 200 on /health after DELAY seconds, optionally
# starting a child process first (to prove `down` stops the whole process group).
SERVICE = textwrap.dedent("""
    import http.server, subprocess, sys, time
    port, delay, child = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "child"
    if child:
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    time.sleep(delay)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b"ok")
        def log_message(self, *a):
            pass
    print("serving", port, flush=True)
    http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "svc.py").write_text(SERVICE)
    return {**os.environ, "SERVELAB_CACHE": str(tmp_path / "cache")}


def service(
    name: str, port: int, tmp_path: Path, delay: float = 0.2, child: bool = False, **extra
) -> dict:
    return {
        "name": name,
        "port": port,
        "command": [
            "{python}",
            str(tmp_path / "svc.py"),
            "{port}",
            str(delay),
            "child" if child else "-",
        ],
        **extra,
    }


def write_profile(tmp_path: Path, services: list[dict]) -> str:
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump({"name": "test", "services": services}))
    return str(path)


def pids(tmp_path: Path) -> dict[str, int]:
    state = tmp_path / "cache" / "stack"
    return {p.stem: json.loads(p.read_text())["pid"] for p in state.glob("*.json")}


def test_up_is_idempotent_and_down_leaves_nothing(tmp_path, env):
    a, b = free_port(), free_port()
    profile = write_profile(
        tmp_path,
        [
            service("engine", a, tmp_path, child=True),
            service("front", b, tmp_path, after=["engine"]),
        ],
    )
    first = servelab("up", "--profile", profile, env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert f"http://127.0.0.1:{a}" in first.stdout and f"http://127.0.0.1:{b}" in first.stdout
    assert first.stdout.index("starting engine") < first.stdout.index("starting front")
    running = pids(tmp_path)
    group = [psutil.Process(running["engine"]), *psutil.Process(running["engine"]).children()]
    assert len(group) == 2  # the service and the child it spawned

    again = servelab("up", "--profile", profile, env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "engine already running" in again.stdout and "starting" not in again.stdout
    assert pids(tmp_path) == running

    status = servelab("status", "--profile", profile, env=env)
    assert status.returncode == 0 and status.stdout.count("healthy") == 2

    logs = servelab("logs", "engine", env=env)
    assert logs.returncode == 0 and f"serving {a}" in logs.stdout

    down = servelab("down", env=env)
    assert down.returncode == 0 and "stopped 2 service(s)" in down.stdout
    gone, alive = psutil.wait_procs(group, timeout=5)
    assert not alive, f"left behind: {alive}"
    assert pids(tmp_path) == {}
    after = servelab("status", "--profile", profile, env=env)
    assert after.returncode == 1 and after.stdout.count("down") == 2
    assert "nothing was running" in servelab("down", env=env).stdout


def test_taken_port_is_a_clear_error(tmp_path, env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = servelab(
            "up",
            "--profile",
            write_profile(tmp_path, [service("engine", port, tmp_path)]),
            env=env,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"engine: port {port} on 127.0.0.1 is taken by pid {os.getpid()}" in result.stderr
    assert pids(tmp_path) == {}


def test_missing_build_says_run_prepare(tmp_path, env):
    result = servelab(
        "up",
        "--profile",
        write_profile(
            tmp_path,
            [service("edge", free_port(), tmp_path, requires=[str(tmp_path / "no-such-binary")])],
        ),
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    assert "no-such-binary is missing" in result.stderr and "servelab prepare" in result.stderr


def test_crashed_engine_is_named_with_its_log_and_the_rest_keeps_running(tmp_path, env):
    good = free_port()
    crash = {
        "name": "engine",
        "port": free_port(),
        "command": ["{python}", "-c", "import sys; print('model file is corrupt'); sys.exit(3)"],
    }
    profile = write_profile(
        tmp_path,
        [
            crash,
            service("edge", good, tmp_path),
            service("gateway", free_port(), tmp_path, after=["engine", "edge"]),
        ],
    )
    result = servelab("up", "--profile", profile, env=env, timeout=120)
    try:
        assert result.returncode == 1
        assert "FAILED engine: engine exited during start-up with exit code 3" in result.stderr
        assert "model file is corrupt" in result.stderr  # the log's tail is shown
        assert "FAILED gateway: not started: it needs engine, which failed" in result.stderr
        assert f"http://127.0.0.1:{good}" in result.stdout  # edge is up and reported
        assert set(pids(tmp_path)) == {"edge"}
    finally:
        servelab("down", env=env)
    assert pids(tmp_path) == {}


def test_service_that_never_gets_healthy_times_out_and_is_stopped(tmp_path, env):
    slow = service("slow", free_port(), tmp_path, delay=60, startup_timeout_s=2)
    started = time.monotonic()
    result = servelab("up", "--profile", write_profile(tmp_path, [slow]), env=env, timeout=120)
    assert result.returncode == 1
    assert "slow did not become healthy within 2 s" in result.stderr
    assert time.monotonic() - started < 60
    assert pids(tmp_path) == {}


def test_unknown_profile_and_bad_schema_fail_loudly(tmp_path, env):
    result = servelab("up", "--profile", "no-such-profile", env=env)
    assert result.returncode == 2 and "available:" in result.stderr and "cpu" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nservices:\n  - name: x\n    port: 1\n    comand: [a]\n")
    result = servelab("up", "--profile", str(bad), env=env)
    assert result.returncode == 2 and "comand" in result.stderr


def test_logs_without_a_stack(tmp_path, env):
    result = servelab("logs", env=env)
    assert result.returncode == 1 and "servelab up" in result.stderr
