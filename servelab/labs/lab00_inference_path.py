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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from servelab import live
from servelab.course_server.learner import gateway_key
from servelab.labs.show import figure, table
from servelab_base.config import get_settings
from servelab_base.paths import DATASETS

LAB00 = DATASETS / "lab00"
#: The live section's question: one this 135M model answers well greedily ("1. Red 2. Blue ...").
LIVE_QUESTION = [{"role": "user", "content": "Name three colors."}]
#: Seconds a live call may take before the recording is shown instead. On a quiet 2-core laptop
#: 24 tokens stream in 2-4 s and one gateway call takes under 2 s; a busy one is many times slower.
LIVE_SECONDS = 30.0

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
    ax = ax or plt.subplots(figsize=(10, 2.8), layout="constrained")[1]
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
    # below the axis, where it hides no chunk
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.32), fontsize=8, ncols=4)
    return ax


def plot_waterfall(stages: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Stage waterfall: each stage's actual time starts where the previous one ended; the
    budget is drawn as an outline, so a stage that breaks its budget sticks out in red."""
    ax = ax or plt.subplots(figsize=(10, 4), layout="constrained")[1]
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
    client: Any,
    model: str,
    messages: list[dict[str, str]],
    max_tokens: int = 48,
    progress: live.Progress | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Send one streamed chat completion with the ``openai`` client and record its trace.

    ``client`` is an ``openai.OpenAI`` (pointed at vLLM, the gateway, a stand-in or a real
    provider). The usage-only final chunk goes to ``usage``, not ``chunks``. Under
    ``live.run``, ``progress`` counts the chunks and stops the reading once the time is up.
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
        if progress is not None:
            if progress.stopped():
                stream.close()
                break
            progress.update()
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
    client: Any,
    model: str,
    messages: list[dict[str, str]],
    max_tokens: int = 16,
    **extra: Any,
) -> pd.DataFrame:
    """One non-streamed call through the gateway: its own stage timings (``Server-Timing``)
    next to what the client measured, the remainder being client, network and relay."""
    started = time.perf_counter()
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=messages, max_tokens=max_tokens, **extra
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


def load_gateway_stages(folder: Path = LAB00) -> pd.DataFrame:
    """A recorded ``measure_gateway_stages`` (``gateway_stages.json``; its ``meta`` says how)."""
    data = json.loads((folder / "gateway_stages.json").read_text())
    return pd.DataFrame(data["stages"]).assign(source=data["meta"]["title"])


def plot_gateway_stages(stages: pd.DataFrame, title: str) -> plt.Figure:
    """One bar per stage on a log axis: the gateway's own stages take fractions of a
    millisecond and waiting for the model takes seconds; a linear axis would show one bar."""
    fig, ax = plt.subplots(figsize=(8, 3), layout="constrained")
    ms = stages.ms.clip(lower=0.01)  # a log axis cannot draw 0
    ax.barh(list(stages.stage), list(ms), color="tab:blue")
    for y, value in enumerate(stages.ms):
        ax.annotate(f" {value:,.2f} ms", (ms.iloc[y], y), va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(right=ms.max() * 20)  # room for the last label
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds (log scale)")
    ax.set_title(title)
    return fig


# -- live: the same measurements on the learner's own stack ----------------------------------
def _engine_client(url: str, api_key: str = "local") -> Any:
    from openai import OpenAI

    return OpenAI(base_url=url + "/v1", api_key=api_key, max_retries=0, timeout=LIVE_SECONDS)


def live_trace(seconds: float = LIVE_SECONDS) -> live.Outcome:
    """One streamed answer from the stack's vLLM, recorded like the traces above (greedy, so
    it reads like the recording); the recording itself when vLLM is slow or down."""
    settings = get_settings()
    max_tokens = live.scaled(24, 12)

    def work(progress: live.Progress) -> dict[str, Any]:
        client = _engine_client(settings.vllm_url)
        trace = record_stream(
            client, settings.model, LIVE_QUESTION, max_tokens, progress, temperature=0
        )
        trace["meta"] = {"title": "your request, live"}
        return trace

    return live.run(
        "streaming one answer from vLLM",
        work,
        seconds=seconds,
        total=max_tokens + 2,  # + the role chunk and the finish chunk
        needs=["vllm"],
        recorded=lambda: load_trace("vllm_short"),
    )


def show_live_trace(
    outcome: live.Outcome,
    ttft: Callable[[dict], float],
    itl_mean: Callable[[dict], float | None],
    e2e: Callable[[dict], float],
) -> None:
    """The live (or recorded) trace: its time line, its text, and YOUR exercise-1 numbers."""
    trace = outcome.value
    if trace is None:
        return
    figure(plot_trace(trace).figure)
    print("answer:", "".join(c["text"] for c in trace["chunks"]).strip())
    try:
        itl = itl_mean(trace)
        print(
            f"your functions: TTFT {ttft(trace) * 1000:.0f} ms, "
            f"ITL {(itl or 0) * 1000:.1f} ms, E2E {e2e(trace) * 1000:.0f} ms, "
            f"usage {trace['usage']}"
        )
    except Exception as exc:  # noqa: BLE001 - an unfinished exercise must not stop the lab
        print(f"your exercise 1 functions raised {type(exc).__name__}: finish them to see more")


def live_gateway_stages(seconds: float = LIVE_SECONDS) -> live.Outcome:
    """One call through the stack's gateway, split into its stages; the recording when the
    gateway is slow or down."""
    settings = get_settings()

    def work(progress: live.Progress) -> pd.DataFrame:
        client = _engine_client(settings.gateway_url, api_key=gateway_key())
        stages = measure_gateway_stages(
            client, settings.model, [{"role": "user", "content": "Say hi."}], temperature=0
        )
        return stages.assign(source="your call, live")

    return live.run(
        "one call through the gateway",
        work,
        seconds=seconds,
        needs=["gateway"],
        recorded=load_gateway_stages,
    )


def show_gateway_stages(outcome: live.Outcome) -> None:
    """The gateway's stage timings (live or recorded) as a log-scale bar chart and a table."""
    stages = outcome.value
    if stages is None:
        return
    figure(plot_gateway_stages(stages, f"one call through the gateway ({stages.source[0]})"))
    table(stages.drop(columns="source"))
