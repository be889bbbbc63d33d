"""Lab 00 helpers: the stages of an inference call, recorded traces, and the pictures of both.

A *trace* is one streamed request as the client saw it, in servelab's raw-event format
(the same record ``servelab.bench`` stores)::

    {"request_id": str, "sent_at": float, "chunks": [{"t": float, "text": str,
     "n_tokens": int | None, "finish_reason": str | None}, ...],
     "usage": {"prompt_tokens": int, "completion_tokens": int} | None,
     "status": int, "error": str | None, "upstream": str | None}

Times are seconds on one monotonic clock; only differences mean anything.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from servelab_base.paths import DATASETS

LAB00 = DATASETS / "lab00"

#: The inference path of the course, in order. (stage, what happens there)
STAGES: list[tuple[str, str]] = [
    ("client", "the application builds the request and opens (or reuses) a connection"),
    ("gateway_auth", "the gateway checks the API key, the quota and the data class"),
    ("gateway_route", "the gateway applies the residency policy and picks an upstream"),
    ("orchestration", "prompt assembly, tool schemas, retrieval: the prompt the model will see"),
    ("queue", "the request waits for a slot in the engine's running batch"),
    ("prefill", "the engine reads the whole prompt once and builds the KV cache"),
    ("decode", "the engine generates output tokens one step at a time"),
    ("postprocess", "parsing, validation, guardrails on the generated text"),
    ("stream", "bytes travel back over the network as server-sent events"),
    ("render", "the client paints tokens on the screen"),
]


def load_trace(name: str, folder: Path = LAB00) -> dict[str, Any]:
    """A recorded trace from ``datasets/lab00/<name>.json`` (its ``meta`` says its source)."""
    path = folder / f"{name}.json"
    if not path.exists():
        available = sorted(p.stem for p in folder.glob("*.json"))
        raise FileNotFoundError(f"no trace {name!r} in {folder}; available: {available}")
    return json.loads(path.read_text())


def load_budget(folder: Path = LAB00) -> pd.DataFrame:
    """Per-stage latency budget and the actuals of a slow request (see datasets/lab00/README.md)."""
    return pd.read_csv(folder / "stage_budget.csv", comment="#")


def chunk_table(trace: dict[str, Any]) -> pd.DataFrame:
    """One row per chunk: arrival time after send (ms), gap to the previous chunk, text."""
    rows = []
    previous = trace["sent_at"]
    for i, chunk in enumerate(trace["chunks"]):
        rows.append(
            {
                "chunk": i,
                "t_ms": 1000 * (chunk["t"] - trace["sent_at"]),
                "gap_ms": 1000 * (chunk["t"] - previous),
                "text": chunk["text"],
            }
        )
        previous = chunk["t"]
    return pd.DataFrame(rows)


def plot_trace(
    trace: dict[str, Any], title: str | None = None, ax: plt.Axes | None = None
) -> plt.Axes:
    """Chunk arrivals on a time line: the long first gap is TTFT, the short ones are decode."""
    table = chunk_table(trace)
    ax = ax or plt.subplots(figsize=(10, 2.6))[1]
    content = table[table.text != ""]
    empty = table[table.text == ""]
    ax.axvspan(0, table.t_ms.iloc[0], color="tab:orange", alpha=0.25, label="waiting (TTFT)")
    ax.axvspan(
        table.t_ms.iloc[0], table.t_ms.iloc[-1], color="tab:blue", alpha=0.12, label="streaming"
    )
    ax.vlines(content.t_ms, 0, 1, color="tab:blue", lw=1, label="content chunk")
    if len(empty):
        ax.vlines(empty.t_ms, 0, 1, color="tab:red", lw=2, label="empty chunk (role / finish)")
    ax.set_yticks([])
    ax.set_xlabel("ms after the request was sent")
    ax.set_title(title or trace.get("meta", {}).get("title", trace["request_id"]))
    ax.legend(loc="upper right", fontsize=8, ncols=4)
    return ax


def plot_waterfall(stages: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Stage waterfall: each stage's actual time starts where the previous one ended; the
    budget is drawn as an outline, so a stage that breaks its budget sticks out in red."""
    ax = ax or plt.subplots(figsize=(10, 4))[1]
    start = 0.0
    for i, row in enumerate(stages.itertuples()):
        over = row.actual_ms > row.budget_ms
        ax.barh(i, row.actual_ms, left=start, color="tab:red" if over else "tab:green", alpha=0.7)
        ax.barh(i, row.budget_ms, left=start, fill=False, edgecolor="black", linestyle="--")
        start += row.actual_ms
    ax.set_yticks(range(len(stages)), stages.stage)
    ax.invert_yaxis()
    ax.set_xlabel("ms since the user pressed enter (dashed: budget)")
    ax.set_title("Latency budget vs actuals, stage by stage")
    return ax


def record_stream(
    client: Any, model: str, messages: list[dict[str, str]], max_tokens: int = 48, **extra: Any
) -> dict[str, Any]:
    """Send one streamed chat completion with the ``openai`` client and record its trace.

    ``client`` is an ``openai.OpenAI`` (pointed at vLLM, the gateway, a stand-in or a real
    provider). The usage-only final chunk goes to ``usage``, not ``chunks``.
    """
    trace: dict[str, Any] = {
        "request_id": str(uuid.uuid4()),
        "chunks": [],
        "usage": None,
        "status": 200,
        "error": None,
        "upstream": None,
    }
    trace["sent_at"] = time.perf_counter()
    stream = client.chat.completions.create(
        model=model,
        messages=messages,
        max_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
        **extra,
    )
    for chunk in stream:
        t = time.perf_counter()
        if chunk.usage is not None and not chunk.choices:
            trace["usage"] = {
                "prompt_tokens": chunk.usage.prompt_tokens,
                "completion_tokens": chunk.usage.completion_tokens,
            }
            continue
        for choice in chunk.choices:
            trace["chunks"].append(
                {
                    "t": t,
                    "text": choice.delta.content or "",
                    "n_tokens": None,
                    "finish_reason": choice.finish_reason,
                }
            )
    return trace


def parse_server_timing(header: str) -> dict[str, float]:
    """``"auth;dur=0.1, route;dur=0.02"`` -> ``{"auth": 0.1, "route": 0.02}`` (milliseconds)."""
    stages: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in header.split(","))):
        name, *params = (x.strip() for x in part.split(";"))
        for param in params:
            key, _, value = param.partition("=")
            if key == "dur":
                stages[name] = float(value)
    return stages


def measure_gateway_stages(
    client: Any, model: str, messages: list[dict[str, str]], max_tokens: int = 16
) -> pd.DataFrame:
    """One non-streamed call through the gateway: its own stage timings (``Server-Timing``)
    next to what the client measured, the remainder being client, network and relay."""
    started = time.perf_counter()
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=messages, max_tokens=max_tokens
    )
    total_ms = 1000 * (time.perf_counter() - started)
    raw.parse()
    stages = parse_server_timing(raw.headers.get("server-timing", ""))
    rows = [{"stage": name, "ms": ms, "measured_by": "gateway"} for name, ms in stages.items()]
    rows.append(
        {
            "stage": "client + network + relay",
            "ms": total_ms - sum(stages.values()),
            "measured_by": "client (remainder)",
        }
    )
    return pd.DataFrame(rows)
