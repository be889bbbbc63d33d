"""Shared fixtures. `stack`: the embedded reference stack, brought up once per test session.

Tests that need running engines take the `stack` fixture (and carry ``@pytest.mark.stack``). If
the cpu stack already answers /health (a learner ran `servelab up`, or another session started
it), the fixture uses it as it is; otherwise it runs `servelab up --profile cpu` and, at the end
of the session, `servelab down`, unless another test session is still using the stack.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator

import psutil
import pytest
from stack_support import servelab
from suite_schedule import make_scheduler, order

from servelab_base.config import Settings, get_settings

STACK_PROFILE = "cpu"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist (`make test` runs two workers): shares, see tests/suite_schedule.py."""
    return make_scheduler(config, log)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the costliest shares first (same on each worker)
        rank = {nodeid: i for i, nodeid in enumerate(order([item.nodeid for item in items]))}
        items.sort(key=lambda item: rank[item.nodeid])


def pytest_terminal_summary(terminalreporter):
    """Each lab's time in JupyterLab (tests/browser records them on its reports)."""
    times = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            for key, value in getattr(report, "user_properties", []):
                if key == "lab_time" and getattr(report, "when", "") == "call":
                    times[value[0]] = value[1]
    if not times:
        return
    terminalreporter.section("browser: each lab's time in JupyterLab (seconds)")
    total = 0.0
    for lab, phases in sorted(times.items()):
        lab_total = sum(phases.values())
        total += lab_total
        detail = ", ".join(f"{k} {v:.1f}" for k, v in phases.items())
        terminalreporter.write_line(f"{lab:<26} {lab_total:6.1f}   ({detail})")
    terminalreporter.write_line(f"{'all labs':<26} {total:6.1f}")


def _sessions_dir():
    from reference_stack.stack.supervisor import STATE_DIR

    return STATE_DIR / "test-sessions"


def _other_live_sessions() -> list[int]:
    pids = []
    for path in _sessions_dir().glob("*"):
        if path.name.isdigit() and int(path.name) != os.getpid():
            if psutil.pid_exists(int(path.name)):
                pids.append(int(path.name))
            else:
                path.unlink(missing_ok=True)
    return pids


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    """The running cpu stack's settings (ports, model name); brought up if needed."""
    from reference_stack.stack import lifecycle, profile

    settings = get_settings()
    prof = profile.load(STACK_PROFILE)
    sessions = _sessions_dir()
    sessions.mkdir(parents=True, exist_ok=True)
    me = sessions / str(os.getpid())
    me.touch()
    started_by_tests = sessions / "started-by-tests"
    try:
        # two test sessions may both find the stack down: one starts it at a time
        with (sessions / "up.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not lifecycle.is_up(prof, settings):
                result = servelab("up", "--profile", STACK_PROFILE)
                if result.returncode != 0:
                    pytest.fail(
                        f"`servelab up --profile {STACK_PROFILE}` failed "
                        f"(exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
                    )
                started_by_tests.touch()
        yield settings
    finally:
        me.unlink(missing_ok=True)
        if started_by_tests.exists() and not _other_live_sessions():
            _down_and_check()
            started_by_tests.unlink(missing_ok=True)


def _down_and_check() -> None:
    """`servelab down`, then fail the session if any process of the stack survived it."""
    from reference_stack.stack import supervisor

    procs = []
    for rec in supervisor.records():
        if rec.alive():
            root = psutil.Process(rec.pid)
            procs += [root, *root.children(recursive=True)]
    result = servelab("down", timeout=120)
    _, alive = psutil.wait_procs(procs, timeout=10)
    if result.returncode != 0 or alive:
        pytest.fail(
            f"`servelab down` left {[(p.pid, p.name()) for p in alive]} running "
            f"(exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
