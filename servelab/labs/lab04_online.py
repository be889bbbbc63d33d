"""Lab 04 helpers: self-hosted online serving with vLLM, watched from outside and from inside.

From outside, servelab.bench measures what a client sees (TTFT, ITL, TPOT); this module adds
the pieces lab 04 needs around it:

- `sweep` / `live_point`: closed-loop runs at several concurrencies, each record tagged with its
  ``concurrency`` (the recorded sweep in datasets/lab04/ was made with it);
- `staggered`: requests that leave at fixed offsets (0, 120, 310, 480 ms), to watch continuous
  batching let late arrivals join a batch that is already decoding;
- `scrape` / `samples` / `watch_gauges`: vLLM's own Prometheus ``/metrics`` (queue time, running
  and waiting requests, KV-cache use), parsed with ``prometheus_client.parser``;
- `gpu_profiles` / `load_published`: the GPU deployment profiles of the reference stack and the
  published figures lab 04 compares with their floors (modelled, never measured here).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import matplotlib.pyplot as plt
import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

from servelab.bench import Load, Target, Workload, load_prompts, run_sync
from servelab.bench.client import chat_body, send
from servelab.bench.events import load_records
from servelab.bench.http import Pool
from servelab.bench.loadgen import run_blocking
from servelab_base.paths import DATASETS

LAB04 = DATASETS / "lab04"
#: The four arrivals of the continuous-batching picture (ms after the first), from the issue.
STAGGERED_OFFSETS_MS = (0, 120, 310, 480)
#: vLLM gauges worth watching while load runs (names as vLLM V1 exports them; docs/platform.md).
GAUGES = {
    "running": "vllm:num_requests_running",
    "waiting": "vllm:num_requests_waiting",
    "kv_cache_usage": "vllm:kv_cache_usage_perc",
}
#: How often `watch_gauges` scrapes: fast enough to see a burst of a few seconds, slow enough
#: that the scrapes do not steal the 2-core laptop's CPU from the engine.
POLL_INTERVAL_S = 0.1


# -- recorded data -----------------------------------------------------------------------------
def load_sweep(name: str = "sweep_short", folder: Path = LAB04) -> list[dict]:
    """Raw-event records of a recorded sweep; each carries the ``concurrency`` it ran at."""
    path = folder / f"{name}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"no recording {path}; run scripts/record_lab04.py")
    return load_records(path)


def load_metrics_text(name: str, folder: Path = LAB04) -> str:
    """A recorded scrape of vLLM's /metrics (Prometheus text format)."""
    return (folder / "metrics" / f"{name}.txt").read_text()


def load_published(folder: Path = LAB04) -> pd.DataFrame:
    """Published decode figures and one CPU measurement, with what each needs for its floor."""
    return pd.read_csv(folder / "decode_points.csv", comment="#")


def by_level(records: Sequence[dict]) -> dict[int, list[dict]]:
    """Records grouped by their ``concurrency`` tag, lowest level first."""
    out: dict[int, list[dict]] = {}
    for r in records:
        out.setdefault(int(r["concurrency"]), []).append(r)
    return dict(sorted(out.items()))


# -- GPU profiles of the reference stack -------------------------------------------------------
def gpu_profiles() -> pd.DataFrame:
    """One row per GPU profile in reference_stack/profiles/: card, model, memory and floor.

    Every figure is MODELLED from datasheets and config.json (the profile says where from); the
    profiles print their vLLM command with ``servelab up --profile NAME --dry-run``.
    """
    from reference_stack.stack import profile

    rows = []
    for name in profile.available():
        p = profile.load(name)
        if p.gpu is None or p.model is None or p.expected is None:
            continue  # the cpu profile: nothing to model
        rows.append(
            {
                "profile": name,
                "gpu": p.gpu.name,
                "gpus": p.gpu.count,
                "bandwidth_tb_s": p.gpu.bandwidth_tb_s,
                "model": p.model.hf_id,
                "weight_gb": p.model.weight_bytes / 1e9,
                "kv_kib_per_token": p.model.kv_bytes_per_token / 1024,
                "kv_cache_tokens": p.expected.kv_cache_tokens,
                "itl_floor_ms": p.expected.itl_floor_ms,
            }
        )
    return pd.DataFrame(rows).set_index("profile")


# -- live load ---------------------------------------------------------------------------------
def staggered(
    target: Target,
    offsets_ms: Sequence[float] = STAGGERED_OFFSETS_MS,
    prompt: str = "Explain in a few sentences why the sky is blue.",
    max_tokens: int = 48,
    extra_body: dict | None = None,
) -> list[dict]:
    """Send one request at each offset (ms after the first) and return their records.

    Each record gets ``offset_ms``, the offset it was scheduled at, and ``scheduled_at``, the
    clock reading it was due at (same clock as ``sent_at``). Offsets count from one common start,
    not from the first send: if the first request is a little late, the others are not shifted.
    ``ignore_eos`` is on by default, so every answer is exactly ``max_tokens`` long and the bars
    compare fairly.
    """
    extra = {"ignore_eos": True} if extra_body is None else extra_body

    async def main() -> list[dict]:
        pool = Pool(target.base_url)
        start = time.perf_counter()

        async def one(i: int, offset_ms: float) -> dict:
            due = start + offset_ms / 1000
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            body = chat_body(target, prompt, max_tokens, True, extra)
            record = await send(pool, target, body, f"staggered-{i}")
            record["offset_ms"] = offset_ms
            record["scheduled_at"] = due
            return record

        try:
            return list(await asyncio.gather(*(one(i, o) for i, o in enumerate(offsets_ms))))
        finally:
            pool.close()

    return run_blocking(main)


def live_point(
    target: Target,
    concurrency: int,
    num_requests: int | None = None,
    max_tokens: int = 32,
    prompts: str = "short_chat",
) -> list[dict]:
    """One short closed-loop run at ``concurrency`` (for the lab's slider); records tagged."""
    n = num_requests or 2 * concurrency
    workload = Workload(
        load_prompts(prompts), max_tokens=max_tokens, extra_body={"ignore_eos": True}, name=prompts
    )
    run = run_sync(
        target, workload, Load(max_concurrency=concurrency, num_requests=n), progress=False
    )
    for r in run.records:
        r["concurrency"] = concurrency
    return run.records


def sweep(
    target: Target,
    levels: Sequence[int],
    workload: Workload,
    requests_per_level: Callable[[int], int],
    warmup: int = 2,
    between: Callable[[int], None] | None = None,
) -> tuple[list[dict], list[dict]]:
    """A closed-loop run per concurrency level; returns (all records, each run's metadata).

    ``between(level)`` runs after each level (the recorder scrapes /metrics there).
    """
    records, metas = [], []
    for level in levels:
        run = run_sync(
            target,
            workload,
            Load(max_concurrency=level, num_requests=requests_per_level(level), warmup=warmup),
            progress=False,
        )
        for r in run.records:
            r["concurrency"] = level
        records += run.records
        metas.append(run.meta)
        if between is not None:
            between(level)
    return records, metas


# -- vLLM's own metrics ------------------------------------------------------------------------
def scrape(metrics_url: str, timeout_s: float = 10.0) -> str:
    """The Prometheus text of ``metrics_url`` (vLLM: ``http://host:port/metrics``)."""
    reply = httpx.get(metrics_url, timeout=timeout_s)
    reply.raise_for_status()
    return reply.text


def samples(text: str) -> pd.DataFrame:
    """Every sample of a Prometheus text exposition: name, labels (dict), value.

    Histograms appear as their ``_bucket`` (with an ``le`` label), ``_sum`` and ``_count``
    samples; counters as ``_total`` (and ``_created``) samples.
    """
    rows = [
        {"name": s.name, "labels": dict(s.labels), "value": s.value}
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]
    return pd.DataFrame(rows, columns=["name", "labels", "value"])


def watch_gauges(
    metrics_url: str, during: Callable[[], Any], interval_s: float = POLL_INTERVAL_S
) -> tuple[pd.DataFrame, Any]:
    """Scrape vLLM's gauges every ``interval_s`` while ``during()`` runs in a thread.

    Returns (one row per scrape: ``t`` seconds since the start and each gauge of `GAUGES`,
    whatever ``during()`` returned).
    """
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = during()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            box["error"] = exc

    thread = threading.Thread(target=work)
    rows = []
    start = time.perf_counter()
    thread.start()
    while True:
        alive = thread.is_alive()
        frame = samples(scrape(metrics_url))
        values = frame.groupby("name")["value"].sum()
        rows.append(
            {"t": time.perf_counter() - start}
            | {k: float(values.get(name, float("nan"))) for k, name in GAUGES.items()}
        )
        if not alive:
            break
        time.sleep(interval_s)
    thread.join()
    if "error" in box:
        raise box["error"]
    return pd.DataFrame(rows), box.get("value")


def plot_gauges(gauges: pd.DataFrame, max_num_seqs: int | None = None, ax=None):
    """Running and waiting requests over time, and KV-cache use on a second axis."""
    ax = ax if ax is not None else plt.subplots(figsize=(8, 3.5))[1]
    ax.step(gauges.t, gauges.running, where="post", label="running (in the batch)")
    ax.step(gauges.t, gauges.waiting, where="post", label="waiting (queued)")
    if max_num_seqs:
        ax.axhline(max_num_seqs, color="grey", ls=":", label=f"--max-num-seqs {max_num_seqs}")
    ax.set_xlabel("seconds since the burst started")
    ax.set_ylabel("requests")
    twin = ax.twinx()
    twin.plot(
        gauges.t,
        100 * gauges.kv_cache_usage,
        color="black",
        alpha=0.5,
        lw=1,
        label="KV cache used (%)",
    )
    twin.set_ylabel("KV cache used (%)")
    twin.legend(loc="upper right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("inside vLLM while the burst runs (its /metrics)")
    return ax


def mark_arrivals(records: Sequence[dict], ax) -> None:
    """Draw each staggered request's scheduled arrival on a `bench.plots.timeline` picture."""
    recs = sorted(records, key=lambda r: r["sent_at"])
    t0 = recs[0]["sent_at"]
    for row, r in enumerate(recs):
        ax.plot(
            [1000 * (r["sent_at"] - t0)],
            [row],
            ">",
            color="red",
            ms=7,
            label="arrives" if row == 0 else None,
        )
    ax.legend(loc="lower right", fontsize=8)
