"""Lab 06 helpers: measure TTFT and ITL like a professional, and catch a client fooling itself.

The scripted upstream (`reference_stack.scripted`) knows exactly when it sent every chunk, so a
client's numbers can be checked against the truth. This module adds what lab 06 needs around
servelab.bench:

- `glossary`: the table of names in docs/metrics.md, and what other tools call the same thing;
- `scripted_workload` / `measure`: a servelab.bench run whose requests carry scripted timing
  (several tokens a chunk, a role-only first chunk, no usage...) through the body field
  ``{"scripted": {...}}``;
- `heavy_client`: a deliberately *heavy* client (the ``openai`` SDK, threads, JSON work and a
  sleep per chunk, as a UI that renders every chunk would do) that records the same raw events;
- `against_truth`: each request's client-side TTFT / E2E / mean ITL next to the server's truth;
- `load_vllm_bench`: a recorded `vllm bench serve` result (``--save-result --save-detailed``);
- `pitfall`, `live_overhead`, `live_stack`: the live sections, bounded in time by
  ``servelab.live``; when they cannot run (a slow machine, the stack down, a graded notebook)
  they give their recording instead (``datasets/lab06/pitfalls/``, ``stack_*.jsonl``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from reference_stack.scripted import truth
from servelab.bench import Load, Target, Workload, load_prompts, metrics, run_sync
from servelab.bench.events import load_records
from servelab.live import Outcome, scaled
from servelab.live import run as run_live
from servelab_base.paths import DATASETS

LAB06 = DATASETS / "lab06"
PITFALLS_DIR = LAB06 / "pitfalls"
#: The lab's scripted upstream: at most 4 responses at once (more wait in a queue).
UPSTREAM = {"ttft_ms": 40, "itl_ms": 10, "chunks": 12, "max_running": 4}
#: The live pitfalls of section 2: what each asks of the scripted upstream, and the load
#: (arguments of `measure`). scripts/record_lab06.py records the same runs.
PITFALLS = {
    # the same pace per token: 1 token a chunk every 5 ms, or 4 tokens a chunk every 20 ms
    "several_tokens": {
        "overrides": [
            {"tokens_per_chunk": 1, "itl_ms": 5, "chunks": 24},
            {"tokens_per_chunk": 4, "itl_ms": 20, "chunks": 6},
        ],
        "n": 8,
        "concurrency": 4,
    },
    # a role-only chunk 5 ms in, the first word at 60 ms
    "empty_first_chunk": {
        "overrides": {"role_chunk_ms": 5, "ttft_ms": 60, "chunks": 4},
        "n": 4,
        "concurrency": 2,
    },
    # no usage in the stream, 3 tokens a chunk: counting chunks finds a third of the tokens
    "no_usage": {
        "overrides": {"usage": False, "tokens_per_chunk": 3, "chunks": 8},
        "n": 4,
        "concurrency": 2,
    },
    "closed_loop": {"n": 24, "concurrency": 4},
    "open_loop": {"n": 24, "concurrency": None, "request_rate": 40},
}
#: The live overhead experiment: the script of every request, and the load of both clients.
OVERHEAD_LIVE = {"overrides": {"ttft_ms": 40, "chunks": 16}, "n": 8, "concurrency": 4}
#: The last section: the embedded stack measured straight and through the gateway (recorded in
#: stack_vllm.jsonl / stack_gateway.jsonl by scripts/record_lab06.py stack).
STACK_FILES = {"vLLM direct": "stack_vllm", "through the gateway": "stack_gateway"}
STACK_TOKENS, STACK_CONCURRENCY = 8, 2
#: Seconds a live section against the scripted upstream may take (each takes about one on an
#: idle laptop), and the section against the embedded stack (CPU decoding is slow).
LIVE_BUDGET_S, STACK_BUDGET_S = 10.0, 25.0

#: The glossary of docs/metrics.md in table form: servelab's name, its definition, and what four
#: other tools call the same quantity ("-" where the tool has no such number). The vLLM column
#: follows vLLM's benchmark client (vllm/benchmarks/lib/endpoint_request_func.py, openai-chat):
#: every chunk whose ``choices`` is non-empty counts, text or not (docs/metrics.md).
GLOSSARY = [
    (
        "TTFT",
        "first chunk carrying choices (even with empty text) - send time",
        "TTFT (same: an empty role chunk counts)",
        "TTFT = first NON-empty chunk",
        "TTFT",
        "ttft",
    ),
    ("TTFCT", "first chunk with non-empty content - send time", "-", "= its TTFT", "TTFOT", "-"),
    (
        "ITL (per chunk)",
        "gaps between consecutive content chunks",
        "ITL: gaps between ALL chunks with choices (after an empty role chunk, to an empty "
        "finish chunk)",
        "ICL (inter-chunk latency)",
        "-",
        "-",
    ),
    (
        "TPOT",
        "(E2E - TTFT) / (output_tokens - 1), output_tokens from usage",
        "TPOT (same formula, over its E2EL)",
        "called ITL",
        "ITL (excludes first token)",
        "-",
    ),
    ("TPOT incl. first", "E2E / output_tokens", "-", "-", "called TPOT", "'inter-token latency'"),
    (
        "E2E",
        "last content chunk - send time (usage chunk excluded)",
        "E2EL: last chunk with choices (an empty finish chunk counts, the usage chunk not)",
        "request latency",
        "request latency",
        "e2e latency",
    ),
    (
        "output throughput",
        "output tokens / benchmark duration",
        "output throughput",
        "output token throughput",
        "-",
        "-",
    ),
    (
        "goodput",
        "requests meeting every SLO (TTFT, TPOT, E2E) per second",
        "--goodput",
        "goodput",
        "-",
        "-",
    ),
]
#: The scripted upstream's model name (it accepts any).
SCRIPTED_MODEL = "scripted"


def glossary() -> pd.DataFrame:
    """The glossary as a table (docs/metrics.md): one row per servelab metric."""
    return pd.DataFrame(
        GLOSSARY,
        columns=[
            "servelab",
            "definition",
            "vllm bench serve",
            "NVIDIA AIPerf",
            "GuideLLM",
            "ray llmperf",
        ],
    ).set_index("servelab")


# -- runs against the scripted upstream -----------------------------------------------------
def scripted_workload(
    overrides: dict | Sequence[dict], n: int = 8, max_tokens: int | None = None
) -> Workload:
    """``n`` short prompts, each asking the scripted upstream for ``overrides``.

    ``overrides`` is one dict for every request or one per request (cycled), e.g.
    ``{"tokens_per_chunk": 4}`` or ``[{"role_chunk_ms": 5}, {}]``.
    """
    per_request = [overrides] if isinstance(overrides, dict) else list(overrides)
    prompts = load_prompts("short_chat")
    entries = [
        prompts[i % len(prompts)] | {"extra_body": {"scripted": per_request[i % len(per_request)]}}
        for i in range(n)
    ]
    return Workload(entries, max_tokens=max_tokens, name="scripted")


def measure(
    base_url: str,
    overrides: dict | Sequence[dict] | None = None,
    n: int = 8,
    concurrency: int | None = 4,
    request_rate: float = math.inf,
    max_tokens: int | None = None,
) -> list[dict]:
    """A servelab.bench run against the scripted upstream at ``base_url`` (no ``/v1``).

    Closed loop at ``concurrency`` by default; give ``request_rate`` (and ``concurrency=None``)
    for an open loop with Poisson arrivals.
    """
    target = Target(base_url.rstrip("/") + "/v1", model=SCRIPTED_MODEL)
    load = Load(max_concurrency=concurrency, request_rate=request_rate, num_requests=n)
    run = run_sync(target, scripted_workload(overrides or {}, n, max_tokens), load, progress=False)
    return run.records


def heavy_client(
    base_url: str,
    n: int = 8,
    concurrency: int = 4,
    work_ms: float = 2.0,
    json_rounds: int = 20,
    overrides: dict | None = None,
    model: str = SCRIPTED_MODEL,
    prefix: str = "heavy",
) -> list[dict]:
    """Stream ``n`` chat completions with the ``openai`` SDK from ``concurrency`` threads, doing
    per-chunk work the way a naive client does, and record raw events like servelab.bench.

    Per chunk: ``json_rounds`` JSON round trips of the chunk (``model_dump`` -> ``dumps`` ->
    ``loads``) and a ``work_ms`` sleep (a stand-in for rendering). A chunk's stamp is taken when
    the SDK hands it over, so it includes the time the previous chunk's work kept the thread
    (and, through the GIL, the other threads) busy: the artefact lab 06 asks you to find.
    """
    from openai import OpenAI  # imported here: the rest of the module does not need it

    client = OpenAI(
        base_url=base_url.rstrip("/") + "/v1", api_key="unused", max_retries=0, timeout=60
    )
    prompts = load_prompts("short_chat")

    def one(i: int) -> dict:
        request_id = f"{prefix}-{i:04d}"
        record = {
            "request_id": request_id,
            "sent_at": 0.0,
            "chunks": [],
            "usage": None,
            "status": 0,
            "error": None,
            "upstream": None,
        }
        extra = {"scripted": overrides} if overrides else None
        record["sent_at"] = time.perf_counter()
        try:
            stream = client.chat.completions.create(
                model=model,
                stream=True,
                stream_options={"include_usage": True},
                messages=[{"role": "user", "content": prompts[i % len(prompts)]["prompt"]}],
                extra_headers={"x-request-id": request_id},
                extra_body=extra,
            )
            record["status"] = 200
            for chunk in stream:
                t = time.perf_counter()
                if chunk.usage is not None:
                    record["usage"] = {
                        "prompt_tokens": chunk.usage.prompt_tokens,
                        "completion_tokens": chunk.usage.completion_tokens,
                    }
                if chunk.choices:
                    record["chunks"].append(
                        {
                            "t": t,
                            "text": chunk.choices[0].delta.content or "",
                            "n_tokens": None,
                            "finish_reason": chunk.choices[0].finish_reason,
                        }
                    )
                data = chunk.model_dump()
                for _ in range(json_rounds):
                    data = json.loads(json.dumps(data))
                time.sleep(work_ms / 1000)
        except Exception as exc:  # noqa: BLE001 - a failed request becomes an error record
            record["error"] = f"{type(exc).__name__}: {exc}"[:500]
        record["done_at"] = time.perf_counter()
        return record

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(n)))


# -- client against truth -------------------------------------------------------------------
def against_truth(client_records: Sequence[dict], server_records: Sequence[dict]) -> pd.DataFrame:
    """Per request (joined on the client's request id): client and true TTFT, E2E, mean ITL (ms).

    The server's stamps start when it finished reading the request, so ``*_error_ms`` holds the
    network, the HTTP stacks on both sides, and the client's own overhead.
    """
    by_id = {r["client_request_id"]: r for r in server_records}
    rows = []
    for c in client_records:
        s = by_id.get(c["request_id"])
        if s is None or not metrics.ok(c):
            continue
        gaps_c, gaps_s = metrics.itls(c), truth.itls(s)
        row = {
            "request_id": c["request_id"],
            "ttft_client_ms": 1000 * metrics.ttft(c),
            "ttft_true_ms": 1000 * truth.ttft(s),
            "e2e_client_ms": 1000 * metrics.e2e(c),
            "e2e_true_ms": 1000 * truth.e2e(s),
            "itl_client_ms": 1000 * float(np.mean(gaps_c)) if gaps_c else math.nan,
            "itl_true_ms": 1000 * float(np.mean(gaps_s)) if gaps_s else math.nan,
        }
        for m in ("ttft", "e2e", "itl"):
            row[f"{m}_error_ms"] = row[f"{m}_client_ms"] - row[f"{m}_true_ms"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("request_id")


def plot_against_truth(tables: dict[str, pd.DataFrame], metric: str = "e2e", ax=None):
    """Per-request client error (client - truth, ms) of ``metric`` for each client in ``tables``."""
    ax = ax if ax is not None else plt.subplots(figsize=(8, 3.5))[1]
    for label, table in tables.items():
        ax.plot(range(len(table)), table[f"{metric}_error_ms"], "o-", label=label)
    ax.axhline(0, color="grey", lw=1)
    ax.set_xlabel("request (in send order)")
    ax.set_ylabel(f"{metric.upper()} error: client - truth (ms)")
    ax.set_title(f"what the client adds to {metric.upper()}")
    ax.legend(fontsize=8)
    return ax


# -- recorded data --------------------------------------------------------------------------
def load_server_records(path: str | Path) -> list[dict]:
    """reference_stack.scripted records (one JSON object a line)."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def load_vllm_bench(name: str = "vllm_bench_serve", folder: Path = LAB06) -> dict:
    """A recorded `vllm bench serve --save-result --save-detailed` result, with our ``meta``."""
    return json.loads((folder / f"{name}.json").read_text())


# -- live sections (servelab.live: bounded in time, the recording when they cannot run) --------
def pitfall(name: str, base_url: str) -> list[dict]:
    """Pitfall ``name`` of `PITFALLS` against the scripted upstream at ``base_url``, live
    within `LIVE_BUDGET_S`; its recording (``datasets/lab06/pitfalls/``) when it cannot run."""
    return run_live(
        f"pitfall {name.replace('_', ' ')}",
        lambda progress: measure(base_url, **PITFALLS[name]),
        seconds=LIVE_BUDGET_S,
        recorded=lambda: load_records(PITFALLS_DIR / f"{name}.jsonl"),
    ).value


def live_overhead(upstream) -> Outcome:
    """The overhead experiment, now: the same requests measured by servelab.bench and by
    `heavy_client`, with the scripted upstream's own records; value ``(light, heavy, server)``,
    or None when it cannot run (the recorded experiment is drawn beside it anyway)."""

    def work(progress) -> tuple[list[dict], list[dict], list[dict]]:
        light = measure(upstream.base_url, **OVERHEAD_LIVE)
        progress.update()
        heavy = heavy_client(
            upstream.base_url,
            n=OVERHEAD_LIVE["n"],
            concurrency=OVERHEAD_LIVE["concurrency"],
            overrides=OVERHEAD_LIVE["overrides"],
            prefix="live-heavy",
        )
        progress.update()
        return light, heavy, upstream.records()

    return run_live("the overhead experiment", work, seconds=LIVE_BUDGET_S, total=2)


def stack_runs(targets: dict[str, Target], requests: int = 4) -> dict[str, list[dict]]:
    """A short closed-loop run per target (`STACK_TOKENS` tokens, `STACK_CONCURRENCY` at a
    time): the last section's measurement.

    Each run starts with one warm-up request per measured one, on the same prompts: vLLM caches
    prompt prefixes, so without it the second target would meet its prompts cached and the first
    would not, and the difference would be the cache's, not the gateway's.
    """
    workload = Workload(
        load_prompts("short_chat"), max_tokens=STACK_TOKENS, extra_body={"ignore_eos": True}
    )
    load = Load(
        max_concurrency=STACK_CONCURRENCY,
        num_requests=requests,
        warmup=requests,
        duration_s=STACK_BUDGET_S,
    )
    return {
        label: run_sync(target, workload, load, progress=False).records
        for label, target in targets.items()
    }


def live_stack(targets: dict[str, Target]) -> Outcome:
    """`stack_runs` on vLLM and the gateway within `STACK_BUDGET_S` (4 requests each, 2 when
    live work is small); the recorded runs when the stack is down or too slow."""
    return run_live(
        "the embedded stack, straight and through the gateway",
        lambda progress: stack_runs(targets, scaled(4, 2)),
        seconds=STACK_BUDGET_S,
        needs=["vllm", "gateway"],
        recorded=lambda: {k: load_records(LAB06 / f"{v}.jsonl") for k, v in STACK_FILES.items()},
    )
