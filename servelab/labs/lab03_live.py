"""Lab 03's live section: the corpus job in its own process, watched, and stopped in time.

``run_job`` starts ``python -m servelab.labs.lab03_job`` (a batch job is a process of its own,
not something a notebook kernel hosts), turns the job's progress events into a progress bar, and
stops the job at a time limit. Whatever happens, the notebook gets rows to look at: the live
ones, or the recorded answers with a sentence saying why (the stack is down, the machine was too
slow, a graded run skips live work).

``SERVELAB_LIVE_SIZE=small`` (the default: 8 documents) or ``full`` (all 64) sets how much work
the live job does; a slow laptop keeps ``small``.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from servelab.labs.lab03_batch import LAB03, load_outputs
from servelab.labs.lab03_job import SIZES

LIVE_SIZE_ENV = "SERVELAB_LIVE_SIZE"
#: seconds the live job may take, by size: ``small`` fits the lab's two-minute budget on a quiet
#: 2-core laptop (Ray's start-up is most of it); ``full`` is a choice to wait
TIME_LIMIT_S = {"small": 60.0, "full": 300.0}
#: seconds a stopped job gets to shut its Ray node down before it is killed
STOP_GRACE_S = 10.0
ENGINE_NAMES = {"ray": "Ray Data pipeline", "loop": "plain loop"}


def live_size(env: Mapping[str, str] = os.environ) -> str:
    """``small`` or ``full``, from SERVELAB_LIVE_SIZE (unset or empty: small)."""
    size = env.get(LIVE_SIZE_ENV, "").strip().lower() or "small"
    if size not in SIZES:
        raise ValueError(
            f"{LIVE_SIZE_ENV}={env[LIVE_SIZE_ENV]!r}: use one of {', '.join(sorted(SIZES))}"
        )
    return size


@dataclass
class JobResult:
    """Rows of the corpus job and how they were made (``live`` False: the recording)."""

    live: bool
    rows: pd.DataFrame
    what: str
    setup_s: float | None = None
    elapsed_s: float | None = None

    @property
    def output_tokens_per_s(self) -> float | None:
        """Output tokens per second of the classification itself (start-up excluded)."""
        if not self.live or not self.elapsed_s:
            return None
        return float(self.rows.output_tokens.sum()) / self.elapsed_s


def recorded(documents: int, why: str) -> JobResult:
    """The recorded answers for the first ``documents`` documents, saying why they stand in."""
    rows = load_outputs().head(documents)
    print(f"{why}\nShowing the recorded answers instead ({LAB03.name}/outputs.jsonl).")
    return JobResult(False, rows, "recorded: vLLM's offline engine, scripts/record_lab03.py")


def _stop(proc: subprocess.Popen, finished: bool) -> None:
    """End the job and everything it started (its own process group), gently first.

    A ``finished`` job is given time to shut its Ray node down by itself.
    """
    if finished:
        try:
            proc.wait(STOP_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)  # the job's Ray driver shuts its node down on SIGTERM
    try:
        proc.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _events(proc: subprocess.Popen, deadline: float):
    """The job's progress events as they come; stops at the deadline or when the job ends."""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not sel.select(timeout=min(left, 1.0)):
                continue
            line = proc.stdout.readline()
            if not line:
                return  # the job closed its output: it has ended
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # not an event (a library printed to stdout)
            if isinstance(event, dict) and "event" in event:
                yield event


def run_job(
    engine: str = "ray",
    size: str | None = None,
    workers: int = 2,
    endpoint: str = "llamacpp",
    time_limit_s: float | None = None,
    progress: bool = True,
) -> JobResult:
    """Run the corpus job as a process with a progress bar; the recording if it cannot finish.

    ``size`` defaults to SERVELAB_LIVE_SIZE; ``time_limit_s`` to TIME_LIMIT_S[size], times
    SERVELAB_LIVE_PATIENCE (servelab.live.patience).
    """
    from tqdm.auto import tqdm

    from servelab.live import patience

    if size is None:
        try:
            size = live_size()
        except ValueError as exc:  # a mistyped setting must not end the lab
            print(f"{exc}; running the small job")
            size = "small"
    if size not in SIZES:
        raise ValueError(f"size {size!r}: use one of {', '.join(sorted(SIZES))}")
    total = SIZES[size]
    if os.environ.get("NBGRADER_EXECUTION"):
        return recorded(total, "Graded run: the live job is skipped (it would grade nothing).")
    limit = time_limit_s if time_limit_s is not None else TIME_LIMIT_S[size] * patience()
    print(f"{size} job: {total} documents, {limit:.3g} s at most ({LIVE_SIZE_ENV}=small|full)")
    with tempfile.TemporaryDirectory(prefix="servelab-lab03-") as tmp:
        out, log = Path(tmp) / "rows.jsonl", Path(tmp) / "job.log"
        command = [sys.executable, "-m", "servelab.labs.lab03_job", "--engine", engine]
        command += ["--size", size, "--workers", str(workers), "--endpoint", endpoint]
        with log.open("w") as err:
            proc = subprocess.Popen(
                [*command, "--out", str(out)],
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                start_new_session=True,  # its own process group: stopped as one
            )
        bar = tqdm(total=total, unit="doc", desc=f"{engine}: starting", disable=not progress)
        start, done, last = time.monotonic(), 0, {}
        try:
            for event in _events(proc, start + limit):
                last = event
                if event["event"] == "ready":
                    bar.set_description(f"{event['engine']}: classifying")
                elif event["event"] == "row":
                    bar.update(event["done"] - done)
                    done = event["done"]
                elif event["event"] == "fallback":
                    bar.set_description("loop: classifying (Ray could not start)")
        finally:
            _stop(proc, finished=last.get("event") in ("done", "error"))
            bar.close()
        took = time.monotonic() - start
        if last.get("event") == "done":
            rows = pd.read_json(out, lines=True)
            what = f"live: {ENGINE_NAMES[last['engine']]}, {last['workers']} in flight, {endpoint}"
            if engine == "ray" and last["engine"] == "loop":
                print("Ray could not start here, so the same job ran as a plain loop.")
            return JobResult(True, rows, what, last["setup_s"], last["elapsed_s"])
        if last.get("event") == "error":
            return recorded(total, f"The live job could not run: {last['reason']}.")
        if took >= limit:
            return recorded(
                total,
                f"The live job did not finish within {limit:.3g} s on this machine "
                f"({done} of {total} documents done).",
            )
        tail = " | ".join(log.read_text().strip().splitlines()[-3:])
        return recorded(total, f"The live job stopped (exit status {proc.returncode}): {tail}")


def agreement(live: pd.DataFrame, recorded_rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """Live answers beside the recorded ones for the same documents, and whether they agree."""
    recorded_rows = load_outputs() if recorded_rows is None else recorded_rows
    both = live[["id", "label", "text"]].merge(
        recorded_rows[["id", "text"]], on="id", suffixes=("_live", "_recorded")
    )
    return both.assign(same=both.text_live == both.text_recorded)


def summary(result: JobResult) -> dict[str, Any]:
    """The numbers a learner compares: documents, tokens, start-up and classification time."""
    return {
        "source": result.what,
        "documents": len(result.rows),
        "output_tokens": int(result.rows.output_tokens.sum()),
        "start_up_s": result.setup_s,
        "classify_s": result.elapsed_s,
        "output_tokens_per_s": result.output_tokens_per_s,
    }
