"""Lab 09 helpers: the data, plots and live probes around choosing a serving pattern.

The decision itself (weighting, cost, latency budget) is what learners write in the lab; this
module loads what they decide ON, draws what they decide WITH, and makes one live call down each
path of a mixed architecture. Functions that need a learner's rule take it as an argument.

Data (``datasets/lab09/``, see its README):

- ``pattern_scores.csv``: each pattern scored 1-5 per criterion, with the reasoning;
- ``cases.yaml``: the four reference cases (weights, knock-out minimums, workload, SLO);
- ``paths.csv``: concrete paths (provider, region, model, price, latency profile), built by
  ``build_paths()`` from the provider catalog plus ``selfhosted.csv``; a provider's batch tier
  (``tiers.csv``) is a path of its own, priced per token with a ``window_hours`` and no
  interactive latency profile.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import yaml

from servelab import live
from servelab.labs.show import figure, knobs
from servelab_base.paths import DATASETS

LAB09 = DATASETS / "lab09"
CRITERIA = ["latency", "cost_at_scale", "residency", "capability", "operations", "offline"]
PATTERNS = ["managed-api", "cloud-platform", "self-hosted-batch", "self-hosted-online", "edge"]
MIN_SCORE, MAX_SCORE = 1, 5  # the scoring scale of pattern_scores.csv

# Paths taken from the provider catalog (datasets/providers/): path id -> catalog coordinates.
CATALOG_PATHS = {
    "managed-frontier": ("managed-api", "openai", "global", "gpt-5.1", "serverless"),
    "managed-mini": ("managed-api", "openai", "global", "gpt-4o-mini", "serverless"),
    "cloud-eu": ("cloud-platform", "azure-openai", "swedencentral", "gpt-4o", "serverless"),
    "cloud-eu-ptu": ("cloud-platform", "azure-openai", "swedencentral", "gpt-4o", "provisioned"),
}
# Batch tiers (datasets/providers/tiers.csv) of catalog paths: path id -> (the synchronous
# path it discounts, jurisdiction where the tier processes). Azure's Global Batch keeps data at
# rest in the resource's geography but may run inference in any Azure OpenAI location, so its
# jurisdiction is "global", not the resource region's.
BATCH_PATHS = {
    "managed-mini-batch": ("managed-mini", None),
    "cloud-global-batch": ("cloud-eu", "global"),
}
PATH_COLUMNS = [
    "path",
    "pattern",
    "provider",
    "region",
    "jurisdiction",
    "model",
    "unit",
    "input_usd",
    "output_usd",
    "hourly_usd",
    "window_hours",
    "tokens_per_s",
    "network_rtt_ms",
    "queue_ms",
    "ttft_ms",
    "per_token_ms",
    "basis",
    "source",
]
STAGES = ["network_rtt_ms", "queue_ms", "ttft_ms", "decode_ms"]  # latency budget, in order


def load_scores() -> pd.DataFrame:
    """Pattern x criterion scores (1-5, higher is better for the architect), index = pattern."""
    df = pd.read_csv(LAB09 / "pattern_scores.csv").set_index("pattern")
    return df[CRITERIA]


def load_reasoning() -> pd.Series:
    """Why each pattern got its scores (one sentence per criterion, in order)."""
    return pd.read_csv(LAB09 / "pattern_scores.csv").set_index("pattern")["reasoning"]


def load_cases() -> dict[str, dict[str, Any]]:
    """The four reference cases: title, weights, must (knock-outs), workload, slo / deadline_h."""
    cases = yaml.safe_load((LAB09 / "cases.yaml").read_text())["cases"]
    for name, case in cases.items():
        unknown = set(case["weights"]) - set(CRITERIA) | set(case.get("must", {})) - set(CRITERIA)
        if unknown:
            raise ValueError(f"case {name}: unknown criteria {sorted(unknown)}")
    return cases


def build_paths(catalog: Any | None = None) -> pd.DataFrame:
    """The concrete paths of the lab, from the provider catalog plus ``selfhosted.csv``.

    ``datasets/lab09/paths.csv`` is this table written once, so grading reads a fixed file;
    tests/integration/labs/test_lab09_decision.py checks it still matches the catalog.
    """
    from servelab_base.catalog import load

    catalog = catalog or load()
    rows = []
    for path, (pattern, provider, region, model, dtype) in CATALOG_PATHS.items():
        price = catalog.price(provider, model, dtype)
        lat = catalog.latency(provider, region, dtype)
        if price is None:
            raise KeyError(f"catalog has no price for {provider}/{model}/{dtype}")
        rows.append(
            {
                "path": path,
                "pattern": pattern,
                "provider": provider,
                "region": region,
                "jurisdiction": catalog.region(provider, region).jurisdiction,
                "model": model,
                "unit": price.unit,
                "input_usd": price.input_usd,
                "output_usd": price.output_usd,
                "hourly_usd": price.hourly_usd,
                "window_hours": None,
                "tokens_per_s": None,
                "network_rtt_ms": lat.network_rtt_ms,
                "queue_ms": lat.queue_mean_ms,
                "ttft_ms": lat.ttft_ms,
                "per_token_ms": lat.per_token_ms,
                "basis": f"price {price.basis}; latency {lat.basis}",
                "source": (
                    f"datasets/providers ({provider}/{region}/{model}/{dtype}); {price.source}"
                ),
            }
        )
    by_path = {r["path"]: r for r in rows}
    for path, (base, jurisdiction) in BATCH_PATHS.items():
        sync = by_path[base]
        tier = catalog.tier(sync["provider"], sync["model"], "batch")
        if tier is None:
            raise KeyError(f"catalog has no batch tier for {sync['provider']}/{sync['model']}")
        rows.append(
            {
                **sync,
                **dict.fromkeys(["network_rtt_ms", "queue_ms", "ttft_ms", "per_token_ms"]),
                "path": path,
                "jurisdiction": jurisdiction or sync["jurisdiction"],
                "input_usd": tier.input_usd,
                "output_usd": tier.output_usd,
                "window_hours": tier.window_hours,
                "basis": f"price {tier.basis}; asynchronous: no interactive latency",
                "source": (
                    f"datasets/providers/tiers.csv ({sync['provider']}/{sync['model']}/batch);"
                    f" {tier.source}"
                ),
            }
        )
    own = pd.read_csv(LAB09 / "selfhosted.csv")
    for r in own.to_dict("records"):
        rows.append(
            {
                "path": r["path"],
                "pattern": r["pattern"],
                "provider": "self",
                "region": "own",
                "jurisdiction": "own",
                "model": r["model"],
                "unit": r["unit"],
                "input_usd": None,
                "output_usd": None,
                "hourly_usd": r["hourly_usd"],
                "window_hours": None,
                "tokens_per_s": r["tokens_per_s"],
                "network_rtt_ms": r["network_rtt_ms"],
                "queue_ms": r["queue_ms"],
                "ttft_ms": r["ttft_ms"],
                "per_token_ms": r["per_token_ms"],
                "basis": r["basis"],
                "source": r["source"],
            }
        )
    return pd.DataFrame(rows, columns=PATH_COLUMNS)


def load_paths() -> pd.DataFrame:
    """The recorded path table (``datasets/lab09/paths.csv``), index = path id."""
    return pd.read_csv(LAB09 / "paths.csv").set_index("path")


# -- plots -----------------------------------------------------------------------------------
def plot_scores(scores: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Heat map of the decision matrix: the capability-versus-control curve at a glance."""
    ax = ax or plt.subplots(figsize=(8, 3.4), layout="constrained")[1]
    im = ax.imshow(scores.values, cmap="RdYlGn", vmin=MIN_SCORE, vmax=MAX_SCORE, aspect="auto")
    ax.set_xticks(range(len(scores.columns)), scores.columns, rotation=20, ha="right")
    ax.set_yticks(range(len(scores.index)), scores.index)
    for i in range(scores.shape[0]):
        for j in range(scores.shape[1]):
            ax.text(j, i, str(scores.iat[i, j]), ha="center", va="center")
    ax.figure.colorbar(im, ax=ax, label="score (5 = best for the architect)")
    ax.set_title("pattern scores per criterion")
    return ax


def plot_rankings(rankings: dict[str, pd.Series], chosen: dict[str, str | None]) -> plt.Figure:
    """One bar chart per case: weighted score per pattern, the chosen pattern highlighted,
    knocked-out patterns hatched."""
    fig, axes = plt.subplots(
        1, len(rankings), figsize=(4 * len(rankings), 3.4), sharey=True, layout="constrained"
    )
    for ax, (case, series) in zip(list(axes), rankings.items(), strict=True):
        colours = ["tab:green" if p == chosen.get(case) else "lightgrey" for p in series.index]
        ax.barh(list(series.index), list(series.values), color=colours)
        ax.invert_yaxis()
        ax.set_xlim(MIN_SCORE - 1, MAX_SCORE)
        ax.set_title(f"{case}\n-> {chosen.get(case)}", fontsize=10)
        ax.set_xlabel("weighted score")
    return fig


def plot_cost_curves(
    paths: pd.DataFrame,
    cost_fn: Callable[[dict, dict], float],
    input_tokens: int,
    output_tokens: int,
    ax: plt.Axes | None = None,
    volumes: list[int] | None = None,
    deadline_h: float | None = None,
) -> plt.Axes:
    """Cost of each path against monthly volume (log-log), using the learner's ``cost_fn``.

    A batch tier (a ``window_hours``) is drawn dotted, and only for a workload with a
    ``deadline_h`` its window meets: interactive traffic cannot wait for it."""
    ax = ax or plt.subplots(figsize=(7, 4), layout="constrained")[1]
    volumes = volumes or [10**k for k in range(3, 9)]
    for path, row in paths.iterrows():
        if row["unit"] not in ("per_million_tokens", "per_gpu_hour"):
            continue
        window = row.get("window_hours")
        tier = window is not None and not pd.isna(window)
        if tier and (deadline_h is None or window > deadline_h):
            continue
        workload = {"requests": 0, "input_tokens": input_tokens, "output_tokens": output_tokens}
        if deadline_h is not None:
            workload["deadline_h"] = deadline_h
        costs = [cost_fn({**workload, "requests": v}, row.to_dict()) for v in volumes]
        ax.loglog(volumes, costs, marker="o", ls=":" if tier else "-", label=path)
    ax.set_xlabel("requests (documents) per month")
    ax.set_ylabel("USD")
    due = "" if deadline_h is None else f", due within {deadline_h:g} h"
    ax.set_title(f"cost per month at {input_tokens} in / {output_tokens} out tokens{due}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def budget_stages(row: dict, n_tokens: int) -> dict[str, float]:
    """The four stages of a path's latency budget for an answer of ``n_tokens`` (for plots)."""
    return {
        "network_rtt_ms": row["network_rtt_ms"],
        "queue_ms": row["queue_ms"],
        "ttft_ms": row["ttft_ms"],
        "decode_ms": row["per_token_ms"] * (n_tokens - 1),
    }


def plot_latency_budget(
    paths: pd.DataFrame, n_tokens: int, slo_ms: float | None = None, ax: plt.Axes | None = None
) -> plt.Axes:
    """Stacked bars: where each interactive path spends an answer of ``n_tokens``."""
    ax = ax or plt.subplots(figsize=(8, 3.6), layout="constrained")[1]
    interactive = paths.dropna(subset=["ttft_ms"])
    left = pd.Series(0.0, index=interactive.index)
    for stage in STAGES:
        width = pd.Series({p: budget_stages(r, n_tokens)[stage] for p, r in interactive.iterrows()})
        ax.barh(list(interactive.index), list(width.values), left=list(left.values), label=stage)
        left += width
    if slo_ms is not None:
        ax.axvline(slo_ms, color="red", linestyle="--", label=f"SLO {slo_ms:.0f} ms")
    ax.invert_yaxis()
    ax.set_xlabel("milliseconds")
    ax.set_title(f"latency budget of a {n_tokens}-token answer (modelled / measured: see basis)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def weight_explorer(
    scores: pd.DataFrame,
    score_fn: Callable[[pd.DataFrame, dict], pd.Series],
    start: dict[str, float],
) -> Any:
    """Sliders for the weights of one case; redraws the ranking with the learner's ``score_fn``
    (``show.knobs``: the figure first, then any message). Returns the widget (None when
    ipywidgets is not installed: nothing graded needs it)."""
    try:
        import ipywidgets as widgets
    except ImportError:
        print("ipywidgets is not installed: the weight sliders are optional")
        return None

    def draw(**weights: float) -> None:
        if sum(weights.values()) <= 0:
            print("give at least one criterion a weight above zero")
            return
        series = score_fn(scores, weights)
        fig, ax = plt.subplots(figsize=(6, 2.8), layout="constrained")
        ax.barh(list(series.index), list(series.values), color="tab:blue")
        ax.invert_yaxis()
        ax.set_xlim(MIN_SCORE - 1, MAX_SCORE)
        ax.set_xlabel("weighted score")
        ax.set_title(f"top: {series.index[0]}")
        figure(fig)

    sliders = {
        c: widgets.FloatSlider(
            value=float(start.get(c, 0)),
            min=0,
            max=5,
            step=0.5,
            description=c,
            continuous_update=False,
            style={"description_width": "initial"},
        )
        for c in CRITERIA
    }
    return knobs(draw, **sliders)


# -- live: one call down each path of a mixed architecture -----------------------------------
MIXED_PATHS = {
    # role in the architecture -> (pattern, how to reach it, model / deployment)
    "interactive (managed API)": ("managed-api", "managed", "gpt-4o-mini"),
    "regulated (cloud platform, EU)": ("cloud-platform", "cloud", "gpt-4o-mini"),
    "ingestion (self-hosted vLLM)": ("self-hosted-batch", "vllm", None),
}
LIVE_TIMEOUT_S = 20.0  # a stand-in answers 12 tokens in about a second; 20 s allows a busy laptop
LIVE_MAX_TOKENS = 12
#: The three requests together may take this long before the modelled budgets stand in.
LIVE_SECONDS = 30.0
#: The question: one the stand-ins' and vLLM's 135M model answers right, greedily.
LIVE_PROMPT = "What is the capital of Germany? Answer in one word."
#: The catalog path whose modelled latency stands in for each role when nothing answers live.
MODELLED_PATHS = {
    "interactive (managed API)": "managed-mini",
    "regulated (cloud platform, EU)": "cloud-eu",
    "ingestion (self-hosted vLLM)": "selfhosted-online-h100",
}


def _client_for(how: str) -> tuple[Any, str, str]:
    """(openai client, where it points, real / stand-in / local) for one way of reaching a path."""
    import openai

    from servelab import clients as providers
    from servelab_base.config import get_settings

    if how in ("managed", "cloud"):
        region = None if how == "managed" else providers.DEFAULT_REGION
        mode = providers.mode(how, region)
        client = providers.client(how, region, max_retries=0, timeout=LIVE_TIMEOUT_S)
        return client, mode.endpoint, "REAL provider" if mode.real else "stand-in"
    settings = get_settings()
    client = openai.OpenAI(
        base_url=settings.vllm_url + "/v1", api_key="local", max_retries=0, timeout=LIVE_TIMEOUT_S
    )
    return client, settings.vllm_url, "local engine"


def _probe(role: str, pattern: str, how: str, model: str | None, prompt: str) -> dict[str, Any]:
    """One streamed request down one path; the row says what happened (never raises)."""
    import openai

    from servelab.labs.lab00_inference_path import record_stream
    from servelab_base.config import get_settings

    row = {
        "role": role,
        "pattern": pattern,
        "mode": "",
        "endpoint": "",
        "ttft_ms": math.nan,
        "e2e_ms": math.nan,
        "tokens": None,
        "answer": "",
        "status": "",
    }
    try:
        client, row["endpoint"], row["mode"] = _client_for(how)
        trace = record_stream(
            client,
            model or get_settings().model,
            [{"role": "user", "content": prompt}],
            max_tokens=LIVE_MAX_TOKENS,
            temperature=0,
        )
        texts = [c for c in trace["chunks"] if c["text"]]
        if trace["chunks"]:
            row["ttft_ms"] = (trace["chunks"][0]["t"] - trace["sent_at"]) * 1000
        if texts:
            row["e2e_ms"] = (texts[-1]["t"] - trace["sent_at"]) * 1000
        row["tokens"] = (trace["usage"] or {}).get("completion_tokens")
        row["answer"] = "".join(c["text"] for c in texts).strip()
        row["status"] = "ok"
    except openai.APIConnectionError as e:
        if isinstance(e, openai.APITimeoutError):
            row["status"] = f"timed out after {LIVE_TIMEOUT_S:.0f} s: is the machine busy?"
        else:
            row["status"] = "down: start the stack with `servelab up` (or `make up`)"
    except openai.APIStatusError as e:
        row["status"] = f"HTTP {e.status_code}: {str(e.message)[:120]}"
    except Exception as e:  # noqa: BLE001 (a live cell must never stop the lab)
        row["status"] = f"{type(e).__name__}: {str(e)[:120]}"
    return row


def probe_paths(prompt: str = LIVE_PROMPT, progress: live.Progress | None = None) -> pd.DataFrame:
    """Send one streamed request down each path of ``MIXED_PATHS`` at the same time (the
    paths are independent, as in production); a path that is down says what to start."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    with ThreadPoolExecutor(max_workers=len(MIXED_PATHS)) as pool:
        futures = [
            pool.submit(_probe, role, pattern, how, model, prompt)
            for role, (pattern, how, model) in MIXED_PATHS.items()
        ]
        for _ in as_completed(futures):
            if progress is not None:
                progress.update()
        rows = [f.result() for f in futures]
    return pd.DataFrame(rows).set_index("role")


def modelled_paths(n_tokens: int = LIVE_MAX_TOKENS) -> pd.DataFrame:
    """``probe_paths``' table from the catalog's modelled latency of each role's path."""
    paths = load_paths()
    rows = []
    for role, (pattern, _, _) in MIXED_PATHS.items():
        path = paths.loc[MODELLED_PATHS[role]]
        first = path.network_rtt_ms + path.queue_ms + path.ttft_ms
        rows.append(
            {
                "role": role,
                "pattern": pattern,
                "mode": f"modelled: {MODELLED_PATHS[role]} ({path.basis})",
                "endpoint": "",
                "ttft_ms": first,
                "e2e_ms": first + path.per_token_ms * (n_tokens - 1),
                "tokens": n_tokens,
                "answer": "",
                "status": "modelled",
            }
        )
    return pd.DataFrame(rows).set_index("role")


def live_paths() -> live.Outcome:
    """One request down each path at once, within ``LIVE_SECONDS``; the modelled budgets when
    the machine is slower than that."""
    return live.run(
        "one request down each path",
        lambda progress: probe_paths(progress=progress),
        seconds=LIVE_SECONDS,
        total=len(MIXED_PATHS),
        recorded=modelled_paths,
    )


def show_paths(outcome: live.Outcome) -> None:
    """What each path did (or what the catalog models), as a bar chart and the answers."""
    table = outcome.value
    print(table[["pattern", "mode", "status"]].to_string())
    answered = table[table.status.isin(["ok", "modelled"])]
    if answered.empty:
        down = table.status.str.startswith("down").all()
        why = "start the stack with `make up`" if down else "each one failed or timed out"
        print(f"no path answered ({why}); the catalog's modelled figures instead:")
        answered = modelled_paths()
    live_ = (answered.status == "ok").all()
    fig, ax = plt.subplots(figsize=(8, 2.6), layout="constrained")
    answered[["ttft_ms", "e2e_ms"]].plot.barh(ax=ax)
    ax.invert_yaxis()
    ax.set_title("one live request per path" if live_ else "modelled latency per path (catalog)")
    ax.set_xlabel(
        "milliseconds (this laptop: the stand-ins' tokens come from the local engine)"
        if live_
        else "milliseconds, modelled for a 12-token answer"
    )
    ax.set_ylabel("")
    figure(fig)
    if live_:
        print(answered[["answer"]].to_string())
