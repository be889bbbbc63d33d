"""servelab.bench: measure an OpenAI-compatible endpoint the honest way.

Record raw events first (`loadgen` -> `events`), derive every metric from them later
(`metrics`), then look at them (`plots`). The glossary is docs/metrics.md (TTFT, TTFCT, ITL, TPOT,
E2E, goodput): the same names mean different things in other tools.

    from servelab.course_server.learner import gateway_key
    from servelab.bench import Load, Target, Workload, load_prompts, run_sync, summarize
    target = Target("http://127.0.0.1:8400/v1", model="smollm2-135m-instruct",
                    api_key=gateway_key())  # servelab.course_server.learner: yours
    run = run_sync(target, Workload(load_prompts("short_chat"), max_tokens=64),
                   Load(max_concurrency=4, num_requests=40, warmup=4))
    summarize(run.records, slos={"ttft": 500, "tpot": 100})   # ms; run.meta says how

Modules: `client` (one request -> one record) over `http` (a small client that stamps honestly),
`loadgen` (closed / open loop, warm-up, bounds, client CPU), `arrivals` (Poisson / gamma),
`events` (JSONL / Parquet), `metrics`, `plots`, `floors` (bandwidth floors), `prompts`.
CLI: ``servelab bench serve | report | plot | floors``. Accuracy: benchmarks/bench_accuracy.md.
"""

from .client import Target
from .events import Run, load, save
from .loadgen import Load, Workload, run, run_sync
from .metrics import per_request, report, summarize
from .prompts import load_prompts

__all__ = [
    "Load",
    "Run",
    "Target",
    "Workload",
    "load",
    "load_prompts",
    "per_request",
    "report",
    "run",
    "run_sync",
    "save",
    "summarize",
]
