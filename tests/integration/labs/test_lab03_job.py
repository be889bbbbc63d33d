"""Lab 03's corpus job as its own process, and the notebook side that watches and stops it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import psutil
import pytest

from servelab.labs import lab03_job, lab03_live
from servelab.labs.lab03_batch import load_corpus


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def job(tmp_path, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[dict]]:
    out = subprocess.run(
        [sys.executable, "-m", "servelab.labs.lab03_job", "--out", str(tmp_path / "rows.jsonl")]
        + list(args),
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    return out.returncode, [json.loads(line) for line in out.stdout.splitlines()]


@pytest.mark.stack
def test_the_job_writes_a_row_per_document_and_reports_each(stack, tmp_path):
    code, events = job(tmp_path, "--engine", "loop", "--size", "small")
    assert code == 0, events
    kinds = [e["event"] for e in events]
    assert kinds == ["start", "ready"] + ["row"] * 8 + ["done"]
    assert [e["done"] for e in events if e["event"] == "row"] == list(range(1, 9))
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [d["id"] for d in load_corpus(limit=8)]
    assert events[-1]["output_tokens"] == sum(r["output_tokens"] for r in rows)
    assert all(r["output_tokens"] <= lab03_job.MAX_TOKENS for r in rows)


def test_with_the_stack_down_the_job_says_so_and_runs_nothing(tmp_path):
    env = {**os.environ, "SERVELAB_LLAMACPP_PORT": str(closed_port())}
    code, events = job(tmp_path, "--engine", "ray", env=env)
    assert code == lab03_job.NOTHING_RAN
    assert events[-1]["event"] == "error" and "make up" in events[-1]["reason"]
    assert not (tmp_path / "rows.jsonl").exists()


@pytest.mark.stack
def test_when_ray_cannot_start_the_loop_runs_instead(stack, tmp_path, monkeypatch, capsys):
    def busy(**_):
        raise lab03_job.ray_pipeline.RayUnavailable("the machine is busy")

    monkeypatch.setattr(lab03_job.ray_pipeline, "start_ray", busy)
    monkeypatch.setitem(lab03_job.SIZES, "small", 2)  # two documents show the fallback
    assert lab03_job.run("ray", "small", 2, "llamacpp", tmp_path / "rows.jsonl") == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[1] == {"event": "fallback", "t": events[1]["t"], "reason": "the machine is busy"}
    assert events[-1]["engine"] == "loop" and events[-1]["rows"] == 2


def test_the_notebook_gets_the_recording_when_the_stack_is_down(monkeypatch, capsys):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("SERVELAB_LLAMACPP_PORT", str(closed_port()))
    result = lab03_live.run_job(engine="loop", size="small", progress=False)
    assert not result.live and len(result.rows) == 8
    out = capsys.readouterr().out
    assert "could not run" in out and "make up" in out and "recorded answers" in out


@pytest.mark.stack
def test_the_notebook_stops_a_job_at_its_time_limit(stack, monkeypatch, capsys):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    result = lab03_live.run_job(engine="loop", size="full", time_limit_s=1.0, progress=False)
    assert not result.live and len(result.rows) == 64
    assert "did not finish within 1 s" in capsys.readouterr().out
    left = {p.pid for p in psutil.Process().children(recursive=True)} - before
    assert not left  # the job and everything it started are gone
