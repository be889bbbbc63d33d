"""Latency metrics derived from raw events, exactly as docs/metrics.md defines them.

Every function takes one raw-event record (see `servelab.bench.events`) and returns seconds, or
None when the metric does not exist for that request (no chunk at all, no content, one token).
`per_request` and `summarize` turn a list of records into pandas DataFrames.

    TTFT   first chunk carrying choices (even with empty text)  - sent_at
    TTFCT  first chunk with non-empty content                   - sent_at
    ITL    gaps between consecutive content chunks (per chunk, not per token)
    E2E    last content chunk                                   - sent_at   (usage chunk excluded)
    TPOT   (E2E - TTFT) / (output_tokens - 1)        output_tokens from usage when present
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

#: Percentiles reported by default: those `vllm bench serve --metric-percentiles` users ask for.
DEFAULT_PERCENTILES = (50, 90, 95, 99)
#: SLO names `goodput` understands (values in milliseconds, as in `vllm bench serve --goodput`).
SLO_METRICS = ("ttft", "ttfct", "tpot", "e2e")


# -- one request -----------------------------------------------------------------------------
def content_chunks(record: dict) -> list[dict]:
    """Chunks that carry visible text (role-only and empty chunks left out)."""
    return [c for c in record["chunks"] if c["text"]]


def ttft(record: dict) -> float | None:
    """Time to first token: first chunk carrying ``choices`` (even empty) minus send time."""
    if not record["chunks"]:
        return None
    return record["chunks"][0]["t"] - record["sent_at"]


def ttfct(record: dict) -> float | None:
    """Time to first content token: first chunk with non-empty text minus send time."""
    content = content_chunks(record)
    if not content:
        return None
    return content[0]["t"] - record["sent_at"]


def itls(record: dict) -> list[float]:
    """Inter-chunk latencies: gaps between consecutive content chunks (per chunk, not per token)."""
    times = [c["t"] for c in content_chunks(record)]
    return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


def itls_per_token(record: dict) -> list[float]:
    """Each gap divided by the tokens its later chunk carried (only where that count is known)."""
    content = content_chunks(record)
    return [
        (b["t"] - a["t"]) / b["n_tokens"]
        for a, b in zip(content, content[1:], strict=False)
        if b.get("n_tokens")
    ]


def e2e(record: dict) -> float | None:
    """End-to-end latency: last content chunk minus send time.

    With no content at all (zero output tokens) it falls back to the last chunk, so a request
    that finished empty still has a duration; with no chunk at all it is None.
    """
    chunks = content_chunks(record) or record["chunks"]
    if not chunks:
        return None
    return chunks[-1]["t"] - record["sent_at"]


def output_tokens(record: dict) -> tuple[int, str]:
    """Output tokens and where the count came from.

    ``usage``       the server's ``usage.completion_tokens`` (what `vllm bench serve` uses)
    ``chunks``      the sum of per-chunk token counts, when every content chunk has one
    ``chunk_count`` the number of content chunks: an undercount when chunks carry several tokens
    """
    usage = record.get("usage")
    if usage and usage.get("completion_tokens") is not None:
        return int(usage["completion_tokens"]), "usage"
    content = content_chunks(record)
    if content and all(c.get("n_tokens") is not None for c in content):
        return sum(c["n_tokens"] for c in content), "chunks"
    return len(content), "chunk_count"


def tpot(record: dict) -> float | None:
    """Time per output token after the first: (E2E - TTFT) / (output_tokens - 1)."""
    n, _ = output_tokens(record)
    first, last = ttft(record), e2e(record)
    if n < 2 or first is None or last is None:
        return None
    return (last - first) / (n - 1)


def ok(record: dict) -> bool:
    """Did the request succeed: HTTP 200, no error, and at least one chunk (or a whole reply)."""
    return record["status"] == 200 and not record["error"] and bool(record["chunks"])


# -- many requests ---------------------------------------------------------------------------
def measured(records: Iterable[dict], include_warmup: bool = False) -> list[dict]:
    """The records that count: warm-up requests are left out unless asked for."""
    return [r for r in records if include_warmup or not r.get("warmup")]


def per_request(records: Iterable[dict], include_warmup: bool = False) -> pd.DataFrame:
    """One row per request: status, the latencies (seconds), token counts and their source."""
    rows = []
    for r in measured(records, include_warmup):
        n, source = output_tokens(r)
        gaps = itls(r)
        rows.append(
            {
                "request_id": r["request_id"],
                "ok": ok(r),
                "status": r["status"],
                "error": r["error"],
                "upstream": r.get("upstream"),
                "sent_at": r["sent_at"],
                "ttft": ttft(r),
                "ttfct": ttfct(r),
                "tpot": tpot(r),
                "e2e": e2e(r),
                "itl_mean": float(np.mean(gaps)) if gaps else None,
                "n_chunks": len(r["chunks"]),
                "n_content_chunks": len(content_chunks(r)),
                "output_tokens": n,
                "token_source": source,
                "prompt_tokens": (r.get("usage") or {}).get(
                    "prompt_tokens", r.get("prompt_tokens")
                ),
            }
        )
    frame = pd.DataFrame(rows)
    for col in ("ttft", "ttfct", "tpot", "e2e", "itl_mean"):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


def duration(records: Sequence[dict]) -> float:
    """Benchmark duration from the events: first send to last chunk (or recorded end)."""
    if not records:
        return 0.0
    start = min(r["sent_at"] for r in records)
    ends = [
        r.get("done_at") or (r["chunks"][-1]["t"] if r["chunks"] else r["sent_at"]) for r in records
    ]
    return max(ends) - start


def meets_slos(record: dict, slos: dict[str, float]) -> bool:
    """True when a successful request meets every SLO (values in ms; keys in SLO_METRICS).

    As in `vllm bench serve --goodput`: a request with one output token has no TPOT, which
    counts as meeting a TPOT SLO; a missing TTFT / E2E fails.
    """
    if not ok(record):
        return False
    for name, limit_ms in slos.items():
        key = "e2e" if name == "e2el" else name
        if key not in SLO_METRICS:
            raise ValueError(f"unknown SLO {name!r}; use {SLO_METRICS} (values in ms)")
        value = {"ttft": ttft, "ttfct": ttfct, "tpot": tpot, "e2e": e2e}[key](record)
        if value is None and key == "tpot":
            value = 0.0
        if value is None or value * 1000 > limit_ms:
            return False
    return True


def run_stats(
    records: Iterable[dict],
    slos: dict[str, float] | None = None,
    duration_s: float | None = None,
    include_warmup: bool = False,
) -> dict:
    """Run-level numbers: counts, throughputs over the benchmark duration, goodput."""
    recs = measured(records, include_warmup)
    dur = duration_s if duration_s is not None else duration(recs)
    good = [r for r in recs if ok(r)]
    out_tokens = sum(output_tokens(r)[0] for r in good)
    in_tokens = sum(
        ((r.get("usage") or {}).get("prompt_tokens") or r.get("prompt_tokens") or 0) for r in good
    )
    per_s = (lambda x: x / dur) if dur > 0 else (lambda x: math.nan)
    stats = {
        "requests": len(recs),
        "completed": len(good),
        "failed": len(recs) - len(good),
        "duration_s": dur,
        "request_throughput": per_s(len(good)),
        "output_tokens": out_tokens,
        "output_throughput": per_s(out_tokens),
        "total_token_throughput": per_s(out_tokens + in_tokens),
    }
    if slos:
        met = sum(meets_slos(r, slos) for r in recs)
        stats.update(
            {
                "slos_ms": dict(slos),
                "good_requests": met,
                "goodput": per_s(met),
                "slo_attainment": met / len(recs) if recs else math.nan,
            }
        )
    return stats


def distribution(values: Sequence[float], percentiles: Sequence[float]) -> dict:
    """count, mean, std, min, the percentiles (linear interpolation, like numpy) and max."""
    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    row: dict[str, float] = {"count": len(arr)}
    if len(arr) == 0:
        return row | {
            k: math.nan for k in ["mean", "std", "min"] + [f"p{p:g}" for p in percentiles] + ["max"]
        }
    row |= {"mean": arr.mean(), "std": arr.std(), "min": arr.min()}
    row |= {f"p{p:g}": float(np.percentile(arr, p)) for p in percentiles}
    row["max"] = arr.max()
    return row


def summarize(
    records: Iterable[dict],
    slos: dict[str, float] | None = None,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    duration_s: float | None = None,
    include_warmup: bool = False,
) -> pd.DataFrame:
    """Percentiles of every latency metric over the successful requests, in milliseconds.

    Rows: ttft, ttfct, itl (all gaps of all requests pooled, like vLLM), tpot, e2e. Columns:
    count, mean, std, min, p50..., max. Run-level numbers (throughput, goodput against ``slos``,
    e.g. ``{"ttft": 500, "tpot": 50}`` in ms) are in ``frame.attrs["run"]``.
    """
    recs = measured(records, include_warmup)
    good = [r for r in recs if ok(r)]
    series = {
        "ttft": [ttft(r) for r in good],
        "ttfct": [ttfct(r) for r in good],
        "itl": [gap for r in good for gap in itls(r)],
        "tpot": [tpot(r) for r in good],
        "e2e": [e2e(r) for r in good],
    }
    frame = pd.DataFrame(
        {name: distribution(values, percentiles) for name, values in series.items()}
    ).T
    ms_columns = [c for c in frame.columns if c != "count"]
    frame[ms_columns] = frame[ms_columns] * 1000
    frame["count"] = frame["count"].astype(int)
    frame.index.name = "metric (ms)"
    frame.attrs["run"] = run_stats(recs, slos, duration_s, include_warmup=True)
    return frame


def report(
    records: Iterable[dict],
    slos: dict[str, float] | None = None,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    duration_s: float | None = None,
) -> str:
    """A printable summary: run-level numbers, then the latency table."""
    table = summarize(records, slos, percentiles, duration_s)
    run = table.attrs["run"]
    lines = [
        f"{k:>24}: {v:.3f}" if isinstance(v, float) else f"{k:>24}: {v}" for k, v in run.items()
    ]
    return "\n".join(lines) + "\n\n" + table.round(3).to_string()
