"""Ground-truth latencies from the scripted upstream's own records (server side, seconds).

These are what a perfect client with a zero-cost network would measure. Compare them with a
client's measurements of the same request (join on ``client_request_id`` or ``id``).
"""

from __future__ import annotations


def sent_times(record: dict, kinds: tuple[str, ...] = ("role", "content")) -> list[float]:
    """perf_counter stamps of the chunks of the given kinds, in send order."""
    return [c["sent_perf"] for c in record["chunks"] if c["kind"] in kinds]


def ttft(record: dict) -> float | None:
    """First chunk carrying ``choices`` (role or content) minus the time the request was read."""
    times = sent_times(record)
    return times[0] - record["received_perf"] if times else None


def content_times(record: dict) -> list[float]:
    """Send stamps of chunks with non-empty content."""
    return [c["sent_perf"] for c in record["chunks"] if c["kind"] == "content" and c["text"]]


def ttfct(record: dict) -> float | None:
    """First chunk with non-empty content minus the time the request was read."""
    times = content_times(record)
    return times[0] - record["received_perf"] if times else None


def itls(record: dict) -> list[float]:
    """Gaps between consecutive content chunks, as sent."""
    times = content_times(record)
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def e2e(record: dict) -> float | None:
    """Last content chunk minus the time the request was read."""
    times = content_times(record)
    return times[-1] - record["received_perf"] if times else None


def lateness(record: dict) -> list[float]:
    """How late each chunk left versus its scripted due time (timer and event-loop delay)."""
    t0 = record.get("started_perf") or record["received_perf"]
    return [c["sent_perf"] - t0 - c["due"] for c in record["chunks"]]


def phases(record: dict) -> list[dict]:
    """The server's view of one request as timeline segments (perf_counter seconds).

    ``queued`` (read -> a slot freed), ``prefill`` (slot -> first chunk: the scripted TTFT),
    ``decode`` (first -> last chunk). Attach to a client record as ``record["phases"]`` and
    servelab.bench.plots.timeline draws them (same clock on one host).
    """
    sent = sent_times(record)
    start = record.get("started_perf") or record["received_perf"]
    out = []
    if start > record["received_perf"]:
        out.append({"name": "queued", "start": record["received_perf"], "end": start})
    if sent:
        out.append({"name": "prefill", "start": start, "end": sent[0]})
        out.append({"name": "decode", "start": sent[0], "end": sent[-1]})
    return out
