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
  published figures lab 04 compares with their floors (modelled, never measured here);
- `live_reply` (`ask`), `live_staggered`, `live_burst`, `knob_point`: the live sections. Each
  runs its work through ``servelab.live.run`` within `LIVE_BUDGET_S` and falls back on the
  recording of the same experiment (``datasets/lab04/``; the knob: the recorded level nearest
  to its own, `nearest_recorded`) when the stack is down or slow, or the notebook is graded.
"""

from __future__ import annotations

import asyncio
import json
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
from servelab.live import Outcome, scaled
from servelab.live import run as run_live
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
#: Seconds each live section may take before the recording stands in: the lab has four, and all
#: of them at their limit still fit its two minutes on a slow 2-core laptop.
LIVE_BUDGET_S = 20.0
#: The question of the first live cell; asked at temperature 0, so the answer is the model's most
#: likely one, the same on every run, not a random draw.
QUESTION = "In one sentence: what is continuous batching?"


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


def load_reply(folder: Path = LAB04) -> dict:
    """The recorded answer to `QUESTION` through the gateway (``ask``'s result, with its meta)."""
    return json.loads((folder / "reply.json").read_text())


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
    duration_s: float | None = None,
) -> list[dict]:
    """One short closed-loop run at ``concurrency`` (for the lab's slider); records tagged.

    ``duration_s`` stops sending new requests after that long (the ones in flight finish).
    """
    n = num_requests or 2 * concurrency
    workload = Workload(
        load_prompts(prompts), max_tokens=max_tokens, extra_body={"ignore_eos": True}, name=prompts
    )
    load = Load(max_concurrency=concurrency, num_requests=n, duration_s=duration_s)
    run = run_sync(target, workload, load, progress=False)
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
    metrics_url: str,
    during: Callable[[], Any],
    interval_s: float = POLL_INTERVAL_S,
    stop: Callable[[], bool] | None = None,
) -> tuple[pd.DataFrame, Any]:
    """Scrape vLLM's gauges every ``interval_s`` while ``during()`` runs in a thread.

    Returns (one row per scrape: ``t`` seconds since the start and each gauge of `GAUGES`,
    whatever ``during()`` returned). ``stop()`` returning True ends the scraping early (a live
    cell's time budget is spent); ``during()`` is then left to finish on its own.
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
        if stop is not None and stop():
            return pd.DataFrame(rows), None
        time.sleep(interval_s)
    thread.join()
    if "error" in box:
        raise box["error"]
    return pd.DataFrame(rows), box.get("value")


def plot_gauges(gauges: pd.DataFrame, max_num_seqs: int | None = None, ax=None):
    """Running and waiting requests over time, and KV-cache use on a second axis.

    Both axes leave head room above the data, so the legends sit over empty space, not over
    the running line at ``--max-num-seqs``.
    """
    ax = ax if ax is not None else plt.subplots(figsize=(8, 3.5))[1]
    top = max(gauges.running.max(), gauges.waiting.max(), max_num_seqs or 0, 1)
    ax.set_ylim(0, 1.6 * top)
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
    twin.set_ylim(0, 1.6 * max(100 * gauges.kv_cache_usage.max(), 1))
    twin.legend(loc="upper right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("inside vLLM while the burst runs (its /metrics)")
    return ax


def mark_arrivals(records: Sequence[dict], ax) -> None:
    """Draw each staggered request's arrival on a `bench.plots.timeline` picture, and name each
    row by the offset it was sent at (the timeline's own labels are the request ids' tails)."""
    recs = sorted(records, key=lambda r: r["sent_at"])
    t0 = recs[0]["sent_at"]
    labels = [
        f"sent at +{r['offset_ms']:g} ms" if "offset_ms" in r else f"request {i + 1}"
        for i, r in enumerate(recs)
    ]
    ax.set_yticks(range(len(recs)), labels, fontsize=8)
    for row, r in enumerate(recs):
        ax.plot(
            [1000 * (r["sent_at"] - t0)],
            [row],
            ">",
            color="red",
            ms=7,
            label="arrives" if row == 0 else None,
        )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)  # beside, not on, the bars


# -- live sections (servelab.live: bounded in time, the recording when they cannot run) ------
def ask(
    base_url: str,
    api_key: str,
    model: str,
    question: str = QUESTION,
    max_tokens: int = 48,
    timeout_s: float = LIVE_BUDGET_S,
) -> dict:
    """One chat completion with the ``openai`` SDK at temperature 0: the answer, who served it
    (the gateway's ``x-servelab-upstream`` header) and the usage.

    The SDK's retries are off and its timeout is the live budget, so a slow engine ends the call
    instead of hanging the cell.
    """
    from openai import OpenAI  # imported here: the rest of the module does not need it

    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout_s)
    raw = client.chat.completions.with_raw_response.create(
        model=model,
        max_tokens=max_tokens,
        temperature=0,
        messages=[{"role": "user", "content": question}],
    )
    reply = raw.parse()
    return {
        "question": question,
        "answer": reply.choices[0].message.content,
        "served_by": raw.headers.get("x-servelab-upstream"),
        "usage": reply.usage.model_dump(exclude_none=True) if reply.usage else None,
    }


def live_reply(base_url: str, api_key: str, model: str) -> Outcome:
    """`ask` through the gateway within the budget; the recorded reply when it cannot run."""
    return run_live(
        "a question through the gateway",
        lambda progress: ask(base_url, api_key, model, max_tokens=scaled(48, 32)),
        seconds=LIVE_BUDGET_S,
        needs=["gateway"],
        recorded=load_reply,
    )


def live_staggered(target: Target) -> Outcome:
    """The four staggered arrivals, now; the recorded ones when they cannot run."""
    return run_live(
        "four staggered arrivals",
        lambda progress: staggered(target, max_tokens=scaled(24, 16)),
        seconds=LIVE_BUDGET_S,
        needs=["vllm"],
        recorded=lambda: load_sweep("staggered"),
    )


def load_gauges(folder: Path = LAB04) -> pd.DataFrame:
    """The recorded burst: vLLM's gauges every ~0.1 s (``gauges.csv``)."""
    return pd.read_csv(folder / "gauges.csv")


def live_burst(vllm_url: str, target: Target, requests: int = 12) -> Outcome:
    """``requests`` at once into vLLM, its gauges scraped meanwhile; the recorded burst when
    the burst cannot run. Above ``--max-num-seqs`` (8), the rest must wait."""

    def work(progress) -> pd.DataFrame:
        gauges, _ = watch_gauges(
            vllm_url + "/metrics",
            lambda: live_point(target, requests, requests, scaled(16, 8), duration_s=LIVE_BUDGET_S),
            stop=progress.stopped,
        )
        return gauges

    return run_live(
        f"a burst of {requests} requests",
        work,
        seconds=LIVE_BUDGET_S,
        needs=["vllm"],
        recorded=load_gauges,
    )


def nearest_recorded(concurrency: int, name: str = "sweep_short") -> list[dict]:
    """The records of the recorded level closest to ``concurrency`` (the lower one on a tie)."""
    levels = by_level(load_sweep(name))
    return levels[min(levels, key=lambda level: (abs(level - concurrency), level))]


def knob_point(target: Target, service: str, concurrency: int, max_tokens: int = 16) -> Outcome:
    """The slider's sweep point: 2 x ``concurrency`` requests (1 x when live work is small) to
    ``target``, whose ``service`` must be up; when it cannot run, the recorded level nearest
    to ``concurrency`` (vLLM direct; each record carries its ``concurrency``)."""
    n = scaled(2, 1) * concurrency
    return run_live(
        f"concurrency {concurrency}",
        lambda progress: live_point(target, concurrency, n, max_tokens, duration_s=LIVE_BUDGET_S),
        seconds=LIVE_BUDGET_S,
        needs=[service],
        recorded=lambda: nearest_recorded(concurrency),
    )
