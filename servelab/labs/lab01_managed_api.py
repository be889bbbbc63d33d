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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import matplotlib.pyplot as plt
import openai
import pandas as pd

from servelab import clients as providers
from servelab import live
from servelab.labs import own_standin
from servelab.labs.show import figure, held_prints, table
from servelab_base.config import get_settings
from servelab_base.paths import DATASETS

LAB01 = DATASETS / "lab01"
ADMIN_TIMEOUT_S = 5.0  # the stand-in's admin endpoints answer on loopback in milliseconds
#: A live cell stops reading a stream after this long: the course keeps every cell under ~30 s,
#: and a CPU engine shared with other work can fall to about a token a second.
LIVE_BUDGET_S = 10.0
#: What a live section may take in all before the recording is shown instead.
LIVE_SECONDS = 30.0
#: The live calls' question: the stand-in's words come from the course's 135M model, which
#: answers this one right (greedily); a real OpenAI model answers anything.
QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


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
    client: openai.OpenAI,
    budget_s: float | None = LIVE_BUDGET_S,
    progress: live.Progress | None = None,
    **create: Any,
) -> dict[str, Any]:
    """Stream one chat completion (usage included) and keep every chunk with its arrival time.

    Reading stops after ``budget_s`` seconds, or when ``progress`` (under ``live.run``) says
    the time is up (``meta.truncated`` is then True and the usage chunk is missing): a busy
    laptop's engine must not hold a notebook cell for minutes.
    """
    create = {**create, "stream": True, "stream_options": {"include_usage": True}}
    sent_at = time.perf_counter()
    stream = client.chat.completions.create(**create)
    chunks, truncated = [], False
    for c in stream:
        chunks.append(
            {"t": time.perf_counter(), "data": c.model_dump(mode="json", exclude_unset=True)}
        )
        if progress is not None:
            progress.update()
        late = budget_s is not None and time.perf_counter() - sent_at > budget_s
        if late or (progress is not None and progress.stopped()):
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
    ax = ax or plt.subplots(figsize=(10, 2.6), layout="constrained")[1]
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


def _admin(url: str | None = None) -> httpx.Client:
    if providers.mode("managed").real:
        raise RuntimeError("faults and limits can only be injected into the local stand-in")
    settings = get_settings()
    return httpx.Client(
        base_url=url or settings.url(settings.managed_port), timeout=ADMIN_TIMEOUT_S
    )


def set_faults(plan: dict[str, Any] | None, url: str | None = None) -> dict:
    """Install a fault plan in the stand-in at ``url`` (default: the stack's; None plan: remove
    all faults). The lab's drills use their own stand-in (servelab.labs.own_standin)."""
    with _admin(url) as admin:
        r = admin.post("/admin/faults", json=plan) if plan else admin.delete("/admin/faults")
        r.raise_for_status()
        return r.json()


def set_limits(rpm: int | None = None, tpm: int | None = None, url: str | None = None) -> dict:
    """Override the per-model RPM / TPM of the stand-in at ``url`` (default: the stack's; both
    None: back to the catalog's limits)."""
    with _admin(url) as admin:
        if rpm is None and tpm is None:
            r = admin.delete("/admin/limits")
        else:
            r = admin.post("/admin/limits", json={"rpm": rpm, "tpm": tpm})
        r.raise_for_status()
        return r.json()


def burst(
    client: openai.OpenAI,
    n: int,
    model: str,
    max_tokens: int = 16,
    concurrency: int = 4,
    progress: live.Progress | None = None,
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
        if progress is not None:
            progress.update()
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


# -- live sections: bounded in time, a recording when the API is slow or not there ------------
def live_needs() -> list[str]:
    """The stack services the live cells need: the stand-in, unless OPENAI_API_KEY is set."""
    return [] if providers.mode("managed").real else ["managed-standin"]


def live_call(
    client: openai.OpenAI, model: str, messages: list[dict], max_tokens: int = 32
) -> live.Outcome:
    """One streamed call (greedy, so the stand-in answers like its recording), recorded chunk
    by chunk; the recorded ``stream_short.json`` when the API is slow or not running."""
    max_tokens = live.scaled(max_tokens, max_tokens // 2)

    def work(progress: live.Progress) -> dict[str, Any]:
        return record_chunks(
            client,
            None,
            progress,
            model=model,
            messages=messages,
            max_tokens=max_tokens,
            temperature=0,
        )

    return live.run(
        "one streamed call to the managed API",
        work,
        seconds=LIVE_SECONDS,
        total=max_tokens + 3,  # + role, finish and usage chunks
        needs=live_needs(),
        recorded=lambda: load_stream("short"),
    )


def show_call(outcome: live.Outcome, catalog: Any, model: str) -> None:
    """What one call told you: its text, when the text came, its usage and its price."""
    trace = outcome.value
    if trace is None:
        return
    table_ = chunk_table(trace)
    text = table_[table_.content.fillna("") != ""]
    if not outcome.live:  # datasets/lab01/README.md: the recording's words are placeholders
        print("the recorded stream (its words come from the stand-in's scripted token source):")
    print("answer:", "".join(table_.content.fillna("")).strip())
    if len(text):
        print(
            f"first text after {text.t_ms.iloc[0]:.0f} ms, "
            f"last chunk after {table_.t_ms.iloc[-1]:.0f} ms"
        )
    if trace.get("meta", {}).get("truncated"):
        print("(stopped reading early: the engine behind the stand-in is busy)")
        return
    usage = table_.usage.dropna()
    if len(usage):
        usage = usage.iloc[-1]
        cost = catalog.cost_usd("openai", model, usage["prompt_tokens"], usage["completion_tokens"])
        print(f"usage: {usage}")
        print(f"this call cost ${cost:.7f} at the catalog's list price of {model}")


def show_live_stream(
    outcome: live.Outcome,
    ttft: Callable[[dict], float],
    e2e: Callable[[dict], float],
    tpot: Callable[[dict], float | None],
) -> None:
    """YOUR exercise-3 functions on the call made at the top (or on its recording)."""
    trace = outcome.value
    if trace is None:
        return
    title = "your live call" if outcome.live else "the recorded call (no live call was made)"
    figure(plot_stream(trace, title=title).figure)
    try:
        pace = tpot(trace)
        print(
            f"TTFT {ttft(trace) * 1000:.0f} ms, E2E {e2e(trace) * 1000:.0f} ms, "
            + (f"TPOT {pace * 1000:.1f} ms" if pace else "TPOT unknown (no usage chunk)")
        )
    except Exception as exc:  # noqa: BLE001 - an unfinished exercise must not stop the lab
        print(f"your exercise 3 functions raised {type(exc).__name__}: finish them to see more")


def show_burst(rpm: int, n: int, model: str) -> None:
    """The burst knob: lower the RPM limit of the kernel's own stand-in (never the shared one,
    see servelab.labs.own_standin), fire ``n`` calls, draw their statuses.

    The body of a widget callback (run it through ``show.redraw``): the figure comes first, the
    text after it.
    """
    if providers.mode("managed").real:
        print("needs the local stand-in: with OPENAI_API_KEY set the limits are OpenAI's")
        return

    def work(progress: live.Progress) -> pd.DataFrame:
        own = own_standin.url()
        set_limits(rpm=rpm, url=own)
        try:
            client = providers.client("managed").with_options(base_url=own + "/v1")
            return burst(client, n, model, max_tokens=4, progress=progress)
        finally:
            set_limits(url=own)  # back to the catalog's limits

    outcome, said = held_prints(
        lambda: live.run(
            f"a burst of {n} calls",
            work,
            seconds=LIVE_SECONDS,
            total=n,
            needs=["managed-standin"],
        )
    )
    result = outcome.value
    if result is not None:
        colours = result.status.map({200: "tab:green", 429: "tab:orange"}).fillna("tab:red")
        fig, ax = plt.subplots(figsize=(8, 2), layout="constrained")
        ax.bar(result.call, 1, color=colours)
        ax.set(title="green 200, orange 429, red other", yticks=[], xlabel="call")
        figure(fig)
    print(said)
    if result is not None:
        table(result)


def call_through_policy(
    policy: Callable[..., Any],
    client: openai.OpenAI,
    model: str,
    messages: list[dict],
    plan: dict[str, Any] | None,
) -> None:
    """The fault knob: install ``plan`` in the kernel's own stand-in (never the shared one, see
    servelab.labs.own_standin), make one real call through YOUR retry ``policy`` with real
    ``time.sleep`` and ``client``'s settings, remove the faults, say what happened."""
    if providers.mode("managed").real:
        print("needs the local stand-in: faults cannot be injected into OpenAI")
        return

    def work(progress: live.Progress) -> dict[str, Any]:
        attempts: list[float] = []
        own = own_standin.url()
        drill = client.with_options(base_url=own + "/v1")

        def send() -> Any:
            attempts.append(time.perf_counter())
            progress.update()
            return drill.chat.completions.create(
                model=model, messages=messages, max_tokens=16, temperature=0
            )

        set_faults(plan, url=own)
        start = time.perf_counter()
        try:
            answer = policy(send, time.sleep)
            said = f"answer: {answer.choices[0].message.content}"
        except openai.APIError as e:
            said = f"gave up: {type(e).__name__} {e}"
        finally:
            set_faults(None, url=own)
        return {"said": said, "attempts": len(attempts), "s": time.perf_counter() - start}

    outcome = live.run(
        "one call through your policy", work, seconds=LIVE_SECONDS, needs=["managed-standin"]
    )
    if outcome.value is not None:
        result = outcome.value
        print(result["said"])
        print(f"{result['attempts']} attempts in {result['s']:.1f} s")
