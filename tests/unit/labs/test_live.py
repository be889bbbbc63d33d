"""servelab.live: live cells that degrade (time budget, stack down, errors) and skip grading."""

from __future__ import annotations

import time

import pytest

from servelab import live


@pytest.fixture(autouse=True)
def not_grading(monkeypatch):
    monkeypatch.delenv(live.GRADING_ENV, raising=False)
    monkeypatch.delenv(live.SIZE_ENV, raising=False)
    monkeypatch.delenv(live.PATIENCE_ENV, raising=False)
    monkeypatch.setattr(live, "_size_override", None)


def test_live_work_within_its_budget_is_measured(capsys):
    def work(progress):
        for _ in range(3):
            progress.update()
        return 42

    out = live.run("sweep", work, seconds=5, total=3, recorded=7)
    assert (out.value, out.live) == (42, True)
    assert "measured live" in capsys.readouterr().out


def test_slow_work_gives_the_recorded_result_and_is_told_to_stop(capsys):
    seen = {}

    def work(progress):
        while not progress.stopped():
            time.sleep(0.01)
        seen["stopped"] = True
        return "late"

    out = live.run("sweep", work, seconds=0.2, recorded=lambda: "recorded")
    assert (out.value, out.live) == ("recorded", False)
    assert "took more than 0.2 s" in out.message and "recorded result" in capsys.readouterr().out
    time.sleep(0.1)
    assert seen == {"stopped": True}


def test_a_failing_stack_is_one_line_not_a_traceback(capsys):
    def work(progress):
        raise ConnectionRefusedError("connection refused")

    out = live.run("probe", work, seconds=5, recorded=None)
    assert out.value is None and not out.live
    assert "ConnectionRefusedError" in out.message and "nothing to show" in out.message


def test_a_stopped_service_is_named_with_its_fix(monkeypatch):
    monkeypatch.setattr(live, "_services_down", lambda needs: list(needs))
    out = live.run("probe", lambda p: 1, seconds=5, needs=["vllm"], recorded=3)
    assert out.value == 3 and "vllm not running" in out.message and "make up" in out.message


def test_grading_skips_live_work_silently(monkeypatch, capsys):
    monkeypatch.setenv(live.GRADING_ENV, "validate")
    calls = []
    out = live.run("sweep", lambda p: calls.append(1), seconds=5, recorded=9)
    assert (out.value, out.live, calls) == (9, False, [])
    assert "graded" in out.message


def test_size_switch(monkeypatch):
    assert live.scaled(100, 10) == 100
    monkeypatch.setenv(live.SIZE_ENV, "small")
    assert live.scaled(100, 10) == 10
    live.set_size("full")
    assert live.scaled(100, 10) == 100
    with pytest.raises(ValueError):
        live.set_size("huge")


def test_the_pre_flight_is_skipped_while_graded(monkeypatch):
    from servelab.doctor import preflight, verdict

    monkeypatch.setenv(live.GRADING_ENV, "autograde")
    assert verdict(preflight(needs=["vllm"])) == "graded: skipped while the notebook is graded"


@pytest.mark.parametrize(("value", "factor"), [("3", 3.0), ("0.5", 0.5), ("0", 1.0), ("x", 1.0)])
def test_patience_scales_every_budget(monkeypatch, value, factor):
    monkeypatch.setenv(live.PATIENCE_ENV, value)
    assert live.patience() == factor


def test_little_patience_gives_the_recording_sooner(monkeypatch):
    monkeypatch.setenv(live.PATIENCE_ENV, "0.01")

    def work(progress):
        while not progress.stopped():
            time.sleep(0.01)

    started = time.monotonic()
    out = live.run("sweep", work, seconds=20, recorded=5)
    assert (out.value, out.live) == (5, False) and time.monotonic() - started < 5
    assert "took more than 0.2 s" in out.message
