"""Pictures of a run that a learner would rather look at than read (matplotlib).

Every function draws on ``ax`` (a new figure when None) and returns the Axes, so notebooks can
arrange them. Inputs are raw-event records, or tables built from them by `sweep_table`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import metrics

METRIC_FUNCS = {
    "ttft": metrics.ttft,
    "ttfct": metrics.ttfct,
    "tpot": metrics.tpot,
    "e2e": metrics.e2e,
}
LABELS = {
    "ttft": "TTFT",
    "ttfct": "time to first content token",
    "itl": "ITL (per chunk)",
    "tpot": "TPOT",
    "e2e": "end-to-end latency",
}


def _axes(ax):
    return ax if ax is not None else plt.subplots(figsize=(7, 4))[1]


def values_ms(records: Sequence[dict], metric: str) -> np.ndarray:
    """A metric over the successful, non-warm-up requests, in ms (ITL: all gaps pooled)."""
    good = [r for r in metrics.measured(records) if metrics.ok(r)]
    if metric == "itl":
        vals = [g for r in good for g in metrics.itls(r)]
    elif metric in METRIC_FUNCS:
        vals = [METRIC_FUNCS[metric](r) for r in good]
    else:
        raise ValueError(f"unknown metric {metric!r}; use itl or {sorted(METRIC_FUNCS)}")
    return 1000 * np.array([v for v in vals if v is not None], dtype=float)


def latency_cdf(
    runs: Mapping[str, Sequence[dict]] | Sequence[dict],
    metric: str = "ttft",
    ax=None,
    log: bool = False,
):
    """Empirical CDF of ``metric`` for one run or several (``{"label": records}``).

    The median and p99 are marked: where the curve flattens at the top is the tail.
    """
    ax = _axes(ax)
    if not isinstance(runs, Mapping):
        runs = {"run": runs}
    for label, records in runs.items():
        vals = np.sort(values_ms(records, metric))
        if not len(vals):
            continue
        frac = np.arange(1, len(vals) + 1) / len(vals)
        (line,) = ax.step(vals, frac, where="post", label=label)
        for q in (50, 99):
            x = np.percentile(vals, q)
            ax.plot([x], [q / 100], "o", color=line.get_color(), ms=4)
            if len(runs) == 1:  # with several curves the labels would collide
                ax.annotate(
                    f"p{q} {x:.1f}",
                    (x, q / 100),
                    textcoords="offset points",
                    xytext=(5, -10),
                    fontsize=8,
                    color=line.get_color(),
                )
    ax.set_xlabel(f"{LABELS.get(metric, metric)} (ms)")
    ax.set_ylabel("fraction of requests" if metric != "itl" else "fraction of gaps")
    ax.set_ylim(0, 1.02)
    if log:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(f"{LABELS.get(metric, metric)}: cumulative distribution")
    return ax


def sweep_table(runs: Mapping[float, Sequence[dict]], percentiles=(50, 99)) -> pd.DataFrame:
    """One row per load level (concurrency or rate): p50 / p99 of each metric (ms), throughput."""
    rows = []
    for level, records in runs.items():
        row: dict = {"level": level}
        for metric in ("ttft", "itl", "tpot", "e2e"):
            vals = values_ms(records, metric)
            for q in percentiles:
                row[f"{metric}_p{q}"] = float(np.percentile(vals, q)) if len(vals) else np.nan
        stats = metrics.run_stats(records)
        row["output_throughput"] = stats["output_throughput"]
        row["request_throughput"] = stats["request_throughput"]
        rows.append(row)
    return pd.DataFrame(rows).set_index("level").sort_index()


def vs_load(
    table: pd.DataFrame,
    metrics_: Sequence[str] = ("ttft", "itl"),
    xlabel: str = "concurrency",
    ax=None,
):
    """p50 and p99 against load, with output throughput on a second axis: find the knee.

    Past the knee, throughput stops rising while latency keeps climbing.
    """
    ax = _axes(ax)
    for metric in metrics_:
        (line,) = ax.plot(
            table.index, table[f"{metric}_p50"], "o-", label=f"{LABELS.get(metric, metric)} p50"
        )
        if f"{metric}_p99" in table:
            ax.plot(
                table.index,
                table[f"{metric}_p99"],
                "o--",
                color=line.get_color(),
                alpha=0.6,
                label=f"{LABELS.get(metric, metric)} p99",
            )
    ax.set_xlabel(xlabel)
    ax.set_ylabel("latency (ms)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    if "output_throughput" in table:
        twin = ax.twinx()
        twin.plot(
            table.index, table["output_throughput"], "s:", color="grey", label="output tokens/s"
        )
        twin.set_ylabel("output tokens/s", color="grey")
        twin.legend(loc="upper center", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"latency against {xlabel}")
    return ax


#: Colours of timeline segments: client-only view, then server-told phases.
SEGMENT_COLORS = {
    "waiting": "#f2c14e",
    "streaming": "#3a86ff",
    "queued": "#bbbbbb",
    "prefill": "#f2c14e",
    "decode": "#3a86ff",
}


def timeline(records: Sequence[dict], n: int = 16, ax=None, chunks: bool = True):
    """Per-request bars of ``n`` overlapping requests, like the continuous-batching picture.

    Each bar is split into ``waiting`` (sent -> first chunk) and ``streaming`` (first -> last
    chunk), with a tick per chunk. Where a record carries server-told ``phases``
    (``[{"name": "queued"|"prefill"|"decode", "start": t, "end": t}]`` on the client clock),
    those are drawn instead.
    """
    ax = _axes(ax)
    recs = sorted(metrics.measured(records), key=lambda r: r["sent_at"])[:n]
    if not recs:
        raise ValueError("no records to draw")
    t0 = recs[0]["sent_at"]
    used = set()
    for row, r in enumerate(recs):
        segments = [(p["name"], p["start"], p["end"]) for p in r.get("phases") or []]
        if not segments and r["chunks"]:
            first, last = r["chunks"][0]["t"], r["chunks"][-1]["t"]
            segments = [("waiting", r["sent_at"], first), ("streaming", first, last)]
        elif not segments:
            segments = [("waiting", r["sent_at"], r.get("done_at") or r["sent_at"])]
        for name, start, end in segments:
            ax.barh(
                row,
                1000 * (end - start),
                left=1000 * (start - t0),
                height=0.6,
                color=SEGMENT_COLORS.get(name, "#999999"),
                label=name if name not in used else None,
            )
            used.add(name)
        if chunks:
            ticks = [1000 * (c["t"] - t0) for c in r["chunks"] if c["text"]]
            ax.plot(ticks, [row] * len(ticks), "|", color="black", ms=5, alpha=0.6)
        if not metrics.ok(r):
            ax.annotate(
                "error",
                (1000 * (r.get("done_at", r["sent_at"]) - t0), row),
                color="red",
                fontsize=8,
            )
    ax.set_yticks(range(len(recs)), [r["request_id"][-6:] for r in recs], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time since the first request was sent (ms)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("request timeline (ticks: content chunks)")
    return ax


def itl_vs_floor(
    records: Sequence[dict], floor_s: float, floor_label: str = "floor", ax=None, bins: int = 50
):
    """Histogram of measured per-chunk ITL with the physical floor drawn beside it."""
    ax = _axes(ax)
    vals = values_ms(records, "itl")
    if not len(vals):
        raise ValueError("no inter-chunk gaps in these records")
    floor_ms = 1000 * floor_s
    top = max(float(np.percentile(vals, 99)) * 1.5, floor_ms * 1.5)  # rare stalls off-scale
    ax.hist(
        np.clip(vals, 0, top),
        bins=bins,
        range=(0, top),
        color="#3a86ff",
        alpha=0.8,
        label="measured ITL (last bin: everything slower)",
    )
    ax.axvline(floor_ms, color="red", lw=2, label=f"{floor_label}: {floor_ms:.2f} ms")
    median = float(np.median(vals))
    ax.axvline(
        median,
        color="black",
        ls="--",
        label=f"median {median:.2f} ms ({median / floor_ms:.1f}x the floor)",
    )
    ax.set_xlabel("inter-chunk latency (ms)")
    ax.set_ylabel("gaps")
    ax.legend(fontsize=8)
    ax.set_title("measured ITL next to its physical floor")
    return ax
