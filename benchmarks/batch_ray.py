"""Lab 03's corpus job: Ray Data pipeline against the plain loop, on the same engine and corpus.

    .venv/bin/python benchmarks/batch_ray.py --docs 32 --rounds 2 [--endpoint llamacpp]

Needs the embedded stack (`servelab up`). Per round, in this order: the plain loop (one request at
a time, openai SDK), then the Ray Data pipeline (Ray's HTTP request processor) with 1 worker and
with 2 workers, all on the same documents with the lab's prompt, greedy, max_tokens 32. It reports

- throughput: documents/s and output tokens/s of each run, wall clock (Ray's node start-up is
  timed apart: a batch job pays it once; each run still starts its own worker processes), and
  when the first result row arrived (Ray hands rows back block by block, the loop one by one);
- client CPU: CPU-seconds of this process and every process it started (Ray's GCS, raylet,
  helpers and workers), sampled every 0.2 s, per document: what Ray costs on a 2-core laptop
  beside the engine; and the engine's own CPU-seconds (the llama-server / vLLM process tree);
- whether every run gave the loop's answers;
- a ten-million-document projection from the best measured rate against the catalog's
  managed-API prices (gpt-4o-mini, per token and in its Batch API tier), with the measured
  tokens per document.

Writes the raw numbers to benchmarks/results/<date>/batch_ray.json. On a shared machine the
numbers are noisy: compare the paths as ratios within one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from servelab.batch import loop, ray_pipeline  # noqa: E402
from servelab.batch.spec import ENDPOINTS, endpoint  # noqa: E402
from servelab.labs.lab03_batch import load_corpus  # noqa: E402
from servelab.labs.lab03_job import lab_job  # noqa: E402
from servelab_base.catalog import load as load_catalog  # noqa: E402
from servelab_base.config import get_settings  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TEN_MILLION = 10_000_000
API_MODEL = ("openai", "gpt-4o-mini")


class CpuMeter:
    """CPU-seconds used by a set of process trees, sampled in a thread (last value per pid).

    A process that ends between two samples loses at most 0.2 s of its CPU time.
    """

    def __init__(self, roots: list[psutil.Process], every_s: float = 0.2) -> None:
        self.roots, self.every_s = roots, every_s
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()

    def _sample(self) -> None:
        for root in self.roots:
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for p in procs:
                try:
                    t = p.cpu_times()
                    self.seen[p.pid] = t.user + t.system
                except psutil.NoSuchProcess:
                    pass

    def __enter__(self) -> CpuMeter:
        self._sample()
        self.start = dict(self.seen)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        return sum(v - self.start.get(pid, 0.0) for pid, v in self.seen.items())


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what the platform module says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def engine_process(port: int) -> psutil.Process:
    """The process listening on ``port`` (the engine of the stack)."""
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    raise SystemExit(f"nothing listens on port {port}: start the stack (`servelab up`)")


def measure(name: str, run, engine: psutil.Process) -> dict:
    """One run of the job: ``run(on_row)`` returns the rows; times, rates and CPU around it."""
    me = psutil.Process()
    arrived: list[float] = []
    with CpuMeter([me]) as client, CpuMeter([engine]) as served:
        start = time.perf_counter()
        rows = run(lambda _row: arrived.append(time.perf_counter()))
        wall = time.perf_counter() - start
    out_tokens = sum(r["output_tokens"] for r in rows)
    result = {
        "path": name,
        "documents": len(rows),
        "wall_s": round(wall, 3),
        "first_row_s": round(arrived[0] - start, 3),
        "docs_per_s": round(len(rows) / wall, 3),
        "output_tokens": out_tokens,
        "prompt_tokens": sum(r["prompt_tokens"] for r in rows),
        "output_tokens_per_s": round(out_tokens / wall, 2),
        "client_cpu_s": round(client.seconds, 2),
        "client_cpu_ms_per_doc": round(1000 * client.seconds / len(rows), 1),
        "engine_cpu_s": round(served.seconds, 2),
    }
    print(json.dumps(result), flush=True)
    return {**result, "rows": rows}


def projection(best: dict, per_doc_prompt: float, per_doc_output: float) -> dict:
    """Ten million documents at the measured rate, against the managed API's bill."""
    catalog = load_catalog()
    price = catalog.price(*API_MODEL)
    batch = catalog.tier(*API_MODEL, "batch")
    api = TEN_MILLION * (per_doc_prompt * price.input_usd + per_doc_output * price.output_usd)
    api_batch = TEN_MILLION * (per_doc_prompt * batch.input_usd + per_doc_output * batch.output_usd)
    days = TEN_MILLION / best["docs_per_s"] / 86_400
    return {
        "documents": TEN_MILLION,
        "at_docs_per_s": best["docs_per_s"],
        "path": best["path"],
        "days_on_this_machine": round(days, 1),
        "machines_for_one_day": round(days, 1),
        "prompt_tokens_per_doc": round(per_doc_prompt, 1),
        "output_tokens_per_doc": round(per_doc_output, 1),
        "api_model": "/".join(API_MODEL),
        "api_usd": round(api / 1e6, 2),
        "api_batch_tier_usd": round(api_batch / 1e6, 2),
        "api_prices": {"source": price.source, "batch_source": batch.source},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=32, help="documents per run (<= 64)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--endpoint", choices=ENDPOINTS, default="llamacpp")
    args = parser.parse_args()
    settings = get_settings()
    target = endpoint(args.endpoint, settings)
    if reason := target.unavailable():
        raise SystemExit(reason)
    port = {"llamacpp": settings.llamacpp_port, "vllm": settings.vllm_port}.get(
        args.endpoint, settings.gateway_port
    )
    engine = engine_process(port)
    docs = load_corpus(limit=args.docs)
    job = lab_job()
    load_before = os.getloadavg()
    loop.run_loop(docs[:4], job, target)  # warm-up: the engine's prompt cache, the client
    with CpuMeter([psutil.Process()]) as ray_cpu:
        start = time.perf_counter()
        ray_pipeline.start_ray()
        ray_start_s = time.perf_counter() - start
    print(f"Ray node start: {ray_start_s:.1f} s, {ray_cpu.seconds:.1f} CPU-s", flush=True)
    with CpuMeter([psutil.Process()]) as idle:
        time.sleep(5)
    print(f"idle Ray node: {idle.seconds / 5:.2f} CPU-s per s", flush=True)
    processors = {
        w: ray_pipeline.build(ray_pipeline.http_config(target, workers=w), job) for w in (1, 2)
    }
    runs = []
    for _ in range(args.rounds):
        runs.append(measure("loop", lambda on: loop.run_loop(docs, job, target, on_row=on), engine))
        for w, processor in processors.items():
            runs.append(
                measure(
                    f"ray x{w}",
                    lambda on, p=processor: ray_pipeline.run(p, docs, on_row=on),
                    engine,
                )
            )
    reference = runs[0]["rows"]
    same = {r["path"]: r["rows"] == reference for r in runs}
    summary = {}
    for path in ("loop", "ray x1", "ray x2"):
        mine = [r for r in runs if r["path"] == path]
        summary[path] = {
            key: round(statistics.median(r[key] for r in mine), 3)
            for key in ("docs_per_s", "first_row_s", "client_cpu_ms_per_doc", "engine_cpu_s")
        }
    base = summary["loop"]
    for path, s in summary.items():
        s["throughput_vs_loop"] = round(s["docs_per_s"] / base["docs_per_s"], 2)
        print(f"{path:>7}: {s}", flush=True)
    best = max(runs, key=lambda r: r["docs_per_s"])
    n = sum(r["documents"] for r in runs)
    proj = projection(
        best,
        sum(r["prompt_tokens"] for r in runs) / n,
        sum(r["output_tokens"] for r in runs) / n,
    )
    print(json.dumps(proj, indent=1))
    ray_pipeline.stop_ray()
    record = {
        "command": "python benchmarks/batch_ray.py " + " ".join(sys.argv[1:]),
        "date": dt.date.today().isoformat(),
        "machine": f"{cpu_model()}, {os.cpu_count()} cores",
        "load_average_1min": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        "endpoint": target.base_url,
        "ray_start_s": round(ray_start_s, 2),
        "ray_start_cpu_s": round(ray_cpu.seconds, 2),
        "ray_idle_cpu_s_per_s": round(idle.seconds / 5, 3),
        "same_answers_as_first_loop": same,
        "summary": summary,
        "runs": [{k: v for k, v in r.items() if k != "rows"} for r in runs],
        "projection": proj,
    }
    out = RESULTS / record["date"] / "batch_ray.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"same answers as the loop: {same}\nwritten {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
