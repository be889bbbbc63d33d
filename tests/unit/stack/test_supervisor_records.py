"""The supervisor's pid files and start-up messages, in process (no stack started)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import psutil
import pytest

from reference_stack.stack import supervisor


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(supervisor, "STATE_DIR", tmp_path)
    return tmp_path


def _record(proc: subprocess.Popen) -> supervisor.Record:
    created = psutil.Process(proc.pid).create_time()
    return supervisor.Record("engine", proc.pid, created, 9, "cpu", ["sleep"])


def test_a_running_child_is_never_reported_as_exited_with_code_0():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        message = supervisor._exit_code(_record(proc))
        assert "exit code" not in message
        assert "still running" in message
    finally:
        proc.kill()
        proc.wait()


def test_an_exited_child_reports_its_code():
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    rec = _record(proc)
    deadline = time.monotonic() + 10
    while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:  # exited, not yet reaped
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert supervisor._exit_code(rec) == " with exit code 3"


def test_a_reader_never_sees_half_a_pid_file(state_dir):
    """`records` deletes what it cannot parse, so `save` must never expose a partial file."""
    rec = supervisor.Record("engine", 1, 0.0, 9, "cpu", ["x" * 200_000])
    stop = threading.Event()
    seen: list[int] = []

    def read() -> None:
        while not stop.is_set():
            seen.append(len(supervisor.records()))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(200):
            rec.save()
    finally:
        stop.set()
        reader.join()
    assert supervisor.record("engine") == rec
    assert sorted(p.name for p in state_dir.iterdir()) == ["engine.json"]
