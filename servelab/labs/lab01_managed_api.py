"""Lab 01 helpers: recorded SDK streams, the usage log, and the managed stand-in's admin knobs.

A *raw stream* is one streamed chat completion exactly as the ``openai`` SDK parsed it, each
chunk stamped with the client's clock when it arrived::

    {"sent_at": float, "chunks": [{"t": float, "data": {<ChatCompletionChunk as JSON>}}, ...],
     "meta": {...}}

Unlike lab 00's traces nothing is pre-digested: the role-only chunk, the chunk with
``finish_reason`` and the final usage-only chunk (``choices == []``) are all there, as a client
of a managed API sees them. Times are ``time.perf_counter()`` seconds; only differences matter.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import matplotlib.pyplot as plt
import openai
import pandas as pd

from servelab import clients as providers
from servelab_base.config import get_settings
from servelab_base.paths import DATASETS

LAB01 = DATASETS / "lab01"
ADMIN_TIMEOUT_S = 5.0  # the stand-in's admin endpoints answer on loopback in milliseconds
#: A live cell stops reading a stream after this long: the course keeps every cell under ~30 s,
#: and a CPU engine shared with other work can fall to about a token a second.
LIVE_BUDGET_S = 10.0


def load_stream(name: str, folder: Path = LAB01) -> dict[str, Any]:
    """A recorded raw stream, ``datasets/lab01/stream_<name>.json``."""
    path = folder / f"stream_{name}.json"
    if not path.exists():
        known = sorted(p.stem.removeprefix("stream_") for p in folder.glob("stream_*.json"))
        raise FileNotFoundError(f"no stream {name!r} in {folder}; available: {known}")
    return json.loads(path.read_text())


def load_usage_log(folder: Path = LAB01) -> pd.DataFrame:
    """The ``usage`` of 60 recorded calls (see datasets/lab01/README.md for their source)."""
    return pd.read_csv(folder / "usage_log.csv", comment="#")


def record_chunks(
    client: openai.OpenAI, budget_s: float | None = LIVE_BUDGET_S, **create: Any
) -> dict[str, Any]:
    """Stream one chat completion (usage included) and keep every chunk with its arrival time.

    Reading stops after ``budget_s`` seconds (``meta.truncated`` is then True and the usage
    chunk is missing): a busy laptop's engine must not hold a notebook cell for minutes.
    """
    create = {**create, "stream": True, "stream_options": {"include_usage": True}}
    sent_at = time.perf_counter()
    stream = client.chat.completions.create(**create)
    chunks, truncated = [], False
    for c in stream:
        chunks.append(
            {"t": time.perf_counter(), "data": c.model_dump(mode="json", exclude_unset=True)}
        )
        if budget_s is not None and time.perf_counter() - sent_at > budget_s:
            stream.close()
            truncated = True
            break
    return {
        "sent_at": sent_at,
        "chunks": chunks,
        "meta": {"source": "live", "model": create.get("model"), "truncated": truncated},
    }


def _content(data: dict) -> str:
    choices = data.get("choices") or []
    return (choices[0].get("delta") or {}).get("content") or "" if choices else ""


def chunk_table(trace: dict[str, Any]) -> pd.DataFrame:
    """One row per chunk: ms after send, what it carries (role, text, finish, usage)."""
    rows = []
    for i, c in enumerate(trace["chunks"]):
        d = c["data"]
        choices = d.get("choices") or []
        delta = (choices[0].get("delta") or {}) if choices else {}
        rows.append(
            {
                "chunk": i,
                "t_ms": round(1000 * (c["t"] - trace["sent_at"]), 1),
                "choices": len(choices),
                "role": delta.get("role"),
                "content": delta.get("content"),
                "finish_reason": choices[0].get("finish_reason") if choices else None,
                "usage": d.get("usage"),
            }
        )
    return pd.DataFrame(rows)


def plot_stream(trace: dict[str, Any], title: str = "", ax: plt.Axes | None = None) -> plt.Axes:
    """Chunk arrivals: text chunks as ticks, the empty / finish / usage chunks marked apart."""
    ax = ax or plt.subplots(figsize=(10, 2.4))[1]
    table = chunk_table(trace)
    text = table[table.content.fillna("") != ""]
    other = table[table.content.fillna("") == ""]
    ax.vlines(text.t_ms, 0, 1, color="tab:blue", label="chunk with text")
    ax.vlines(
        other.t_ms,
        0,
        0.6,
        color="tab:red",
        linestyles="dotted",
        label="no text (role / finish / usage)",
    )
    if len(text):
        ax.axvspan(
            0, text.t_ms.iloc[0], color="tab:orange", alpha=0.2, label="waiting for the first text"
        )
    ax.set_yticks([])
    ax.set_xlabel("ms after the request was sent")
    ax.set_title(title or trace.get("meta", {}).get("scenario", ""))
    ax.legend(loc="upper left", fontsize=8, ncol=3, bbox_to_anchor=(0, -0.35))
    return ax


# -- the live stand-in ------------------------------------------------------------------------
def live_mode() -> tuple[bool, str]:
    """(reachable, what to say): is a managed API reachable from this notebook, and which one."""
    mode = providers.mode("managed")
    if mode.real:
        return True, f"REAL OpenAI API at {mode.endpoint} (OPENAI_API_KEY is set: calls are billed)"
    settings = get_settings()
    try:
        httpx.get(f"{settings.url(settings.managed_port)}/health", timeout=ADMIN_TIMEOUT_S)
    except httpx.HTTPError:
        return False, (
            f"the managed-API stand-in is not answering on port {settings.managed_port}:"
            " start the stack with `servelab up` (or `make up`) to run this live"
        )
    return True, f"managed-API stand-in at {mode.endpoint} (set OPENAI_API_KEY to use OpenAI)"


def _admin() -> httpx.Client:
    if providers.mode("managed").real:
        raise RuntimeError("faults and limits can only be injected into the local stand-in")
    settings = get_settings()
    return httpx.Client(base_url=settings.url(settings.managed_port), timeout=ADMIN_TIMEOUT_S)


def set_faults(plan: dict[str, Any] | None) -> dict:
    """Install a fault plan in the stand-in (None: remove all faults)."""
    with _admin() as admin:
        r = admin.post("/admin/faults", json=plan) if plan else admin.delete("/admin/faults")
        r.raise_for_status()
        return r.json()


def set_limits(rpm: int | None = None, tpm: int | None = None) -> dict:
    """Override the stand-in's per-model RPM / TPM (both None: back to the catalog's limits)."""
    with _admin() as admin:
        if rpm is None and tpm is None:
            r = admin.delete("/admin/limits")
        else:
            r = admin.post("/admin/limits", json={"rpm": rpm, "tpm": tpm})
        r.raise_for_status()
        return r.json()


def burst(
    client: openai.OpenAI, n: int, model: str, max_tokens: int = 16, concurrency: int = 4
) -> pd.DataFrame:
    """Send ``n`` small calls at once (no retries); one row per call: status and limit headers."""
    t0 = time.perf_counter()

    def one(i: int) -> dict:
        start = time.perf_counter() - t0
        try:
            raw = client.with_options(max_retries=0).chat.completions.with_raw_response.create(
                model=model,
                max_tokens=max_tokens,
                messages=[{"role": "user", "content": f"Say hello number {i}."}],
            )
            status, headers = raw.status_code, raw.headers
        except openai.APIStatusError as e:
            status, headers = e.status_code, e.response.headers
        return {
            "call": i,
            "sent_s": round(start, 3),
            "status": status,
            "retry_after": headers.get("retry-after"),
            "remaining_requests": headers.get("x-ratelimit-remaining-requests"),
            "remaining_tokens": headers.get("x-ratelimit-remaining-tokens"),
        }

    with ThreadPoolExecutor(concurrency) as pool:
        return pd.DataFrame(pool.map(one, range(n)))
