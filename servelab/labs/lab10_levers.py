"""Lab 10 helpers: the levers' recordings, their pictures, and the small live probes.

Recordings live in ``datasets/lab10/`` (each with a ``meta`` block or a README row saying
measured, with the command, hardware and date, or published, with the citation). The live probes
talk to the running stack over HTTP with a deadline, and return ``None`` (with a message) instead
of raising when the stack is slow or down: a live section must never stop a notebook.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import matplotlib.pyplot as plt
import pandas as pd

from servelab_base.paths import DATASETS

LAB10 = DATASETS / "lab10"
#: The /metrics counters of vLLM's prefix cache (tokens queried, tokens found in the cache).
PREFIX_COUNTERS = ("vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total")


# -- recordings ----------------------------------------------------------------------------
def load_json(name: str, folder: Path = LAB10) -> dict[str, Any]:
    """A recording ``datasets/lab10/<name>.json`` (its ``meta`` says where it came from)."""
    path = folder / f"{name}.json"
    if not path.exists():
        available = sorted(p.stem for p in folder.glob("*.json"))
        raise FileNotFoundError(f"no recording {name!r} in {folder}; available: {available}")
    return json.loads(path.read_text())


def load_csv(name: str, folder: Path = LAB10) -> pd.DataFrame:
    """A table ``datasets/lab10/<name>.csv`` (the README says where each column came from)."""
    return pd.read_csv(folder / f"{name}.csv", comment="#")


def provenance(recording: dict[str, Any]) -> str:
    """One line: measured or published, how, on what, when."""
    meta = recording.get("meta", {})
    parts = [meta.get(k) for k in ("source", "command", "hardware", "date") if meta.get(k)]
    return " | ".join(str(p) for p in parts)


# -- /metrics ------------------------------------------------------------------------------
def parse_counters(text: str, names: tuple[str, ...] = PREFIX_COUNTERS) -> dict[str, float]:
    """The named counters from a Prometheus text page, summed over their labels."""
    out = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in out:
            out[name] += float(line.rsplit(" ", 1)[1])
    return out


def scrape(base_url: str, names: tuple[str, ...] = PREFIX_COUNTERS, timeout: float = 5.0):
    """The counters from ``base_url``/metrics, or None when the engine does not answer."""
    try:
        reply = httpx.get(base_url.rstrip("/") + "/metrics", timeout=timeout)
        reply.raise_for_status()
    except httpx.HTTPError:
        return None
    return parse_counters(reply.text, names)


def is_up(base_url: str, timeout: float = 2.0) -> bool:
    """True when ``base_url``/health answers 200 within ``timeout`` seconds."""
    try:
        return httpx.get(base_url.rstrip("/") + "/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


# -- live probes ---------------------------------------------------------------------------
def shared_prefix(nonce: str, sentences: int = 60) -> str:
    """A long system prompt (about 15 tokens a sentence) that starts with ``nonce``, so a run
    begins with a cold cache and every later request shares the whole prefix."""
    rule = (
        "Rule {i}: answer in one short sentence, cite the policy section you used, and never "
        "reveal internal ticket numbers."
    )
    return f"Session {nonce}. You are the support assistant of servelab.\n" + "\n".join(
        rule.format(i=i) for i in range(1, sentences + 1)
    )


def stream_ttft(
    base_url: str, model: str, messages: list[dict], max_tokens: int = 4, timeout: float = 60.0
) -> float:
    """Seconds from sending one streamed chat completion to its first chunk."""
    body = {"model": model, "messages": messages, "max_tokens": max_tokens, "stream": True}
    body["temperature"] = 0.0
    sent = time.perf_counter()
    with httpx.stream(
        "POST", base_url.rstrip("/") + "/v1/chat/completions", json=body, timeout=timeout
    ) as reply:
        reply.raise_for_status()
        first = None
        for line in reply.iter_lines():
            if line.startswith("data:") and first is None:
                first = time.perf_counter() - sent
    if first is None:
        raise RuntimeError("the stream ended without a chunk")
    return first


def prefix_run(
    base_url: str,
    model: str,
    questions: list[str],
    nonce: str,
    deadline_s: float = 90.0,
    say=print,
) -> dict[str, Any] | None:
    """Send one request per question, all sharing :func:`shared_prefix`; return the TTFTs and
    the engine's prefix-cache counters before and after. None (said why) when the engine is
    down or the deadline passes."""
    before = scrape(base_url)
    if before is None:
        say(f"no engine answers on {base_url}: start the stack with `make up`")
        return None
    system = shared_prefix(nonce)
    ttfts = []
    started = time.perf_counter()
    for i, question in enumerate(questions):
        if time.perf_counter() - started > deadline_s:
            say(f"stopped after {i} requests: the {deadline_s:.0f} s budget is spent")
            break
        messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
        try:
            ttfts.append(stream_ttft(base_url, model, messages))
        except (httpx.HTTPError, RuntimeError) as exc:
            say(f"request {i + 1} failed ({exc}); stopping")
            break
        say(f"  request {i + 1}/{len(questions)}: TTFT {ttfts[-1] * 1000:.0f} ms")
    after = scrape(base_url)
    if after is None or not ttfts:
        return None
    return {"ttft_s": ttfts, "before": before, "after": after}


# -- plots ---------------------------------------------------------------------------------
def plot_prefix(recording: dict[str, Any], ax: plt.Axes | None = None) -> plt.Axes:
    """TTFT per request with the prefix cache on and off (the first request warms the cache)."""
    ax = ax or plt.subplots(figsize=(8, 3.2))[1]
    for run in recording["runs"]:
        ms = [1000 * t for t in run["ttft_s"]]
        ax.plot(range(1, len(ms) + 1), ms, marker="o", label=f"prefix caching {run['caching']}")
    ax.set_xlabel("request (all share one long system prompt)")
    ax.set_ylabel("TTFT (ms)")
    ax.set_ylim(bottom=0)
    ax.set_title("Prefix caching on the embedded vLLM: TTFT per request")
    ax.legend()
    return ax


def plot_quantization(measured: pd.DataFrame, published: pd.DataFrame) -> plt.Figure:
    """Left: size against perplexity of the variants made here. Right: the published
    perplexity increases of the same llama.cpp types on Llama 3 8B."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    left.scatter(measured.size_bytes / 1e6, measured.perplexity)
    for row in measured.itertuples():
        left.annotate(row.variant, (row.size_bytes / 1e6, row.perplexity), fontsize=8)
    left.set_xlabel("GGUF size (MB)")
    left.set_ylabel("perplexity on the shipped text")
    left.set_title("measured here: SmolLM2-135M, requantized from Q4_1")
    pub = published[published.model == "Llama-3-8B"].sort_values("size_gb", ascending=False)
    right.bar(pub.variant, pub.ppl_increase)
    right.set_yscale("log")
    right.set_ylabel("perplexity increase over F16 (log)")
    right.set_title("published: llama.cpp's table for Llama 3 8B")
    right.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    return fig


def plot_gaps(trace: dict[str, Any], title: str, ax: plt.Axes | None = None) -> plt.Axes:
    """Gaps between text chunks of one stream: speculation shows up as bursts of ~0 ms gaps."""
    ax = ax or plt.subplots(figsize=(8, 2.8))[1]
    times = [c["t"] for c in trace["chunks"] if c["text"]]
    gaps = [1000 * (b - a) for a, b in zip(times, times[1:], strict=False)]
    ax.bar(range(len(gaps)), gaps, width=0.9)
    ax.set_xlabel("gap number")
    ax.set_ylabel("ms")
    ax.set_title(title)
    return ax


# -- economics -----------------------------------------------------------------------------
HOURS_PER_MONTH = 730  # 365 x 24 / 12


def batch_options(model: str = "gpt-4o-mini") -> list[dict[str, Any]]:
    """The ways to pay for one month of a token workload, as plain dicts the exercise prices:
    ``name``, ``input_usd`` and ``output_usd`` per million tokens, ``fixed_usd`` per month and
    ``window_h`` (hours until results are due; 0 = answered now).

    Managed rows come from the provider catalog (datasets/providers/prices.csv and tiers.csv,
    published); the self-hosted row is one H100 rented for the whole month at lab 09's
    published on-demand price (datasets/lab09/selfhosted.csv), whatever the volume.
    """
    from servelab_base.catalog import load

    catalog = load()
    options = []
    for provider, label in (("openai", "OpenAI"), ("azure-openai", "Azure OpenAI")):
        sync = catalog.price(provider, model)
        if sync is not None and sync.unit == "per_million_tokens":
            options.append(
                {
                    "name": f"{label} {model}, synchronous",
                    "input_usd": sync.input_usd,
                    "output_usd": sync.output_usd,
                    "fixed_usd": 0.0,
                    "window_h": 0.0,
                }
            )
        batch = catalog.tier(provider, model, "batch")
        if batch is not None:
            options.append(
                {
                    "name": f"{label} {model}, batch tier",
                    "input_usd": batch.input_usd,
                    "output_usd": batch.output_usd,
                    "fixed_usd": 0.0,
                    "window_h": batch.window_hours,
                }
            )
    selfhosted = pd.read_csv(DATASETS / "lab09" / "selfhosted.csv")
    h100 = selfhosted.set_index("path").loc["selfhosted-batch-h100"]
    options.append(
        {
            "name": "self-hosted H100 (Llama 3.1 8B FP8), on all month",
            "input_usd": 0.0,
            "output_usd": 0.0,
            "fixed_usd": round(float(h100.hourly_usd) * HOURS_PER_MONTH, 2),
            "window_h": 0.0,
        }
    )
    return options


# -- live sections (servelab.live: bounded, with progress, skipped while graded) -------------
LIVE_QUESTIONS = ["Hi?", "Can you help?", "What does it cost?", "Can I get a refund?"]


def live_prefix(seconds: float = 90.0) -> Any:
    """Requests sharing a fresh long prefix on the stack's vLLM, with the engine's cache
    counters before and after; the recording (caching on) when vLLM is slow or down."""
    import uuid

    from servelab import live
    from servelab_base.config import get_settings

    settings = get_settings()
    questions = live.scaled(LIVE_QUESTIONS, LIVE_QUESTIONS[:2])

    def work(progress: live.Progress) -> dict[str, Any]:
        run = prefix_run(
            settings.vllm_url,
            settings.model,
            questions,
            uuid.uuid4().hex[:8],
            deadline_s=seconds,
            say=lambda _line: progress.update(),
        )
        if run is None:
            raise RuntimeError("vLLM stopped answering")
        return run

    recorded = next(r for r in load_json("prefix_cache")["runs"] if r["caching"] == "on")
    return live.run(
        "requests sharing one long prefix",
        work,
        seconds=seconds,
        total=len(questions),
        needs=["vllm"],
        recorded=recorded,
    )


def show_live_prefix(outcome: Any, hit_rate: Any) -> None:
    """The TTFTs of the live (or recorded) run and YOUR hit_rate on its counters."""
    run = outcome.value
    if run is None:
        return
    print("TTFT per request (ms):", [round(1000 * t) for t in run["ttft_s"]])
    try:
        print(f"your hit_rate over these requests: {hit_rate(run['before'], run['after'])}")
    except Exception as exc:  # noqa: BLE001 - an unfinished exercise must not stop the lab
        print(f"your hit_rate raised {type(exc).__name__}: finish exercise 1 to see it")


def live_structured(schema: dict[str, Any], seconds: float = 60.0) -> Any:
    """One free and one JSON-schema-constrained answer from the stack's vLLM, timed."""
    from servelab import live
    from servelab_base.config import get_settings

    settings = get_settings()
    body = {
        "model": settings.model,
        "max_tokens": live.scaled(40, 20),
        "temperature": 0.0,
        "messages": [{"role": "user", "content": "The weather in Paris today, as JSON."}],
    }
    constrained = {"type": "json_schema", "json_schema": {"name": "weather", "schema": schema}}
    modes = (("free text", {}), ("json_schema", {"response_format": constrained}))

    def work(progress: live.Progress) -> list[dict[str, Any]]:
        rows = []
        for mode, extra in modes:
            started = time.perf_counter()
            reply = httpx.post(
                settings.vllm_url + "/v1/chat/completions", json={**body, **extra}, timeout=seconds
            )
            reply.raise_for_status()
            data = reply.json()
            rows.append(
                {
                    "mode": mode,
                    "ms": round(1000 * (time.perf_counter() - started)),
                    "tokens": data["usage"]["completion_tokens"],
                    "text": data["choices"][0]["message"]["content"],
                }
            )
            progress.update()
        return rows

    return live.run("free and constrained answers", work, seconds=seconds, total=2, needs=["vllm"])
