"""Lab 03's corpus job as its own process, the way a batch job runs: ``python -m`` this module.

    .venv/bin/python -m servelab.labs.lab03_job --engine ray --size small --out rows.jsonl

It classifies the corpus (``small``: the first 8 documents, two per queue; ``full``: all 64)
with the lab's prompt at temperature 0, through the Ray Data pipeline (``--engine ray``) or the
plain loop (``--engine loop``), against an engine of the embedded stack (``--endpoint``; default
llama.cpp, whose answers do not depend on what else it is batching). It writes one JSON line per
document to ``--out`` and reports on stdout, one JSON object per line, what the notebook's
progress bar shows:

    {"event": "start", "engine": "ray", "documents": 8, ...}
    {"event": "ready", "setup_s": 6.1}                 the Ray node is up (or the client built)
    {"event": "row", "done": 3, "total": 8}
    {"event": "fallback", "reason": "..."}             Ray could not start: the loop runs instead
    {"event": "done", "elapsed_s": 9.8, "setup_s": 6.1, "engine": "ray", ...}
    {"event": "error", "reason": "..."}                nothing ran (exit status 2)

A notebook starts it with ``servelab.labs.lab03_live.run_job`` and stops it at its time limit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from servelab.batch import loop, ray_pipeline
from servelab.batch.spec import ENDPOINTS, ChatJob, EndpointError, endpoint
from servelab.labs.lab03_batch import SYSTEM_PROMPT, load_corpus
from servelab_base.config import get_settings

SIZES = {"small": 8, "full": 64}
ENGINES = ("ray", "loop")
#: long enough for a one-word label plus the chatter a 135M model adds (as the recordings)
MAX_TOKENS = 32
#: exit status when nothing ran (stack down, an endpoint error)
NOTHING_RAN = 2


#: when this process started: every event says how long after (``t``, seconds)
STARTED = time.perf_counter()


def emit(event: str, **fields: Any) -> None:
    """One progress event on stdout, flushed at once (the parent reads it live)."""
    t = round(time.perf_counter() - STARTED, 3)
    print(json.dumps({"event": event, "t": t, **fields}), flush=True)


def lab_job(max_tokens: int = MAX_TOKENS) -> ChatJob:
    """The lab's classification request, with explicit greedy sampling."""
    return ChatJob(SYSTEM_PROMPT, model=get_settings().model, max_tokens=max_tokens)


def run(engine: str, size: str, workers: int, endpoint_name: str, out: Path) -> int:
    """Run the job and write its rows; the exit status (0, or NOTHING_RAN)."""
    docs = load_corpus(limit=SIZES[size])
    target = endpoint(endpoint_name)  # type: ignore[arg-type]
    in_flight = workers if engine == "ray" else 1
    emit("start", engine=engine, documents=len(docs), workers=in_flight, endpoint=target.base_url)
    reason = target.unavailable()
    if reason:
        emit("error", reason=reason)
        return NOTHING_RAN
    job = lab_job()
    start = time.perf_counter()
    done = 0

    def on_row(_row: dict[str, Any]) -> None:
        nonlocal done
        done += 1
        emit("row", done=done, total=len(docs))

    processor = None
    if engine == "ray":
        try:
            ray_pipeline.start_ray()
            config = ray_pipeline.http_config(target, workers=workers)
            processor = ray_pipeline.build(config, job)
        except ray_pipeline.RayUnavailable as exc:
            emit("fallback", reason=str(exc))
            engine = "loop"
    setup_s = time.perf_counter() - start
    emit("ready", setup_s=round(setup_s, 3), engine=engine)
    try:
        if processor is not None:
            rows = ray_pipeline.run(processor, docs, on_row=on_row)
        else:
            rows = loop.run_loop(docs, job, target, on_row=on_row)
    except EndpointError as exc:
        emit("error", reason=str(exc))
        return NOTHING_RAN
    elapsed_s = time.perf_counter() - start - setup_s
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    emit(
        "done",
        engine=engine,
        workers=workers if engine == "ray" else 1,
        rows=len(rows),
        output_tokens=sum(r["output_tokens"] for r in rows),
        setup_s=round(setup_s, 3),
        elapsed_s=round(elapsed_s, 3),
        out=str(out),
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=ENGINES, default="ray")
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--workers", type=int, default=2, help="Ray workers (requests in flight)")
    parser.add_argument("--endpoint", choices=ENDPOINTS, default="llamacpp")
    parser.add_argument("--out", type=Path, required=True, help="rows, one JSON line each")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return run(args.engine, args.size, args.workers, args.endpoint, args.out)


if __name__ == "__main__":
    sys.exit(main())
