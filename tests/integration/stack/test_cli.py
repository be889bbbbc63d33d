"""The `servelab` console script and its doctor."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from servelab.doctor import preflight
from servelab_base.config import Settings


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    exe = os.path.join(os.path.dirname(sys.executable), "servelab")
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
    )


def test_help_lists_commands():
    out = run_cli("--help")
    assert out.returncode == 0
    assert "doctor" in out.stdout and "course" in out.stdout


def test_doctor_reports_keys_without_values():
    secret = "sk-this-must-never-be-printed-1234"
    out = run_cli("doctor", env={"OPENAI_API_KEY": secret})
    assert secret not in out.stdout + out.stderr
    assert "OPENAI_API_KEY" in out.stdout and "set (real provider" in out.stdout
    assert "python" in out.stdout


def test_doctor_fails_with_a_fix_when_a_needed_service_is_down():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = run_cli("doctor", "--need", "vllm", env={"SERVELAB_VLLM_PORT": str(port)})
    assert out.returncode == 1
    assert "FAIL" in out.stdout and "fix:" in out.stdout


def test_doctor_flags_a_port_taken_by_something_else():
    with socket.socket() as s:  # listening, but never answers HTTP
        s.bind(("127.0.0.1", 0))
        s.listen()
        settings = Settings(vllm_port=s.getsockname()[1])
        report = preflight(needs=["vllm"], settings=settings)
    line = next(c for c in report.checks if c.name == "vllm")
    assert line.ok is False and "port" in line.fix


def test_unknown_service_is_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match="unknown service"):
        preflight(needs=["nonsense"])
