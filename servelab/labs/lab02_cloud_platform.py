"""Lab 02 helpers: the cloud platform's offers (region x model x deployment type), PTU data,
recorded latency per region and deployment type, and one timed live call.

An *offer* is one row of the catalog's availability table joined with its region: which
deployment of which model a region serves, under which deployment type, from which date, and in
which jurisdiction the region lies. Residency is chosen by choosing the region; capability lags
because a model reaches some regions later than others.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import matplotlib.pyplot as plt
import openai
import pandas as pd

from servelab import clients as providers
from servelab import live
from servelab_base.catalog import Catalog, load
from servelab_base.paths import DATASETS

LAB02 = DATASETS / "lab02"
CLOUD = "azure-openai"
#: A live call stops reading after this long (the course keeps every cell under ~30 s).
LIVE_BUDGET_S = 10.0
#: What a live section may take in all before the recorded figures are shown instead.
LIVE_SECONDS = 20.0
HEALTH_TIMEOUT_S = 2.0
#: The live calls' question: the stand-in's words come from the course's 135M model, which
#: answers this one right (greedily); a real Azure deployment answers anything.
QUESTION = [{"role": "user", "content": "What is the capital of Sweden? Answer in one word."}]


def offers(catalog: Catalog | None = None) -> pd.DataFrame:
    """Every deployment the cloud platform offers, with its region's jurisdiction and country.

    Columns: region, display_name, jurisdiction, country, data_zone, model, deployment_type,
    deployment, available_from (a ``datetime.date``), basis.
    """
    catalog = catalog or load()
    avail = catalog.table("availability")
    avail = avail[avail.provider == CLOUD].copy()
    avail["available_from"] = [date.fromisoformat(d) for d in avail.available_from]
    regions = catalog.table("regions")
    regions = regions[regions.provider == CLOUD][
        ["region", "display_name", "jurisdiction", "country", "data_zone"]
    ]
    merged = avail.merge(regions, on="region", how="left")
    columns = [
        "region",
        "display_name",
        "jurisdiction",
        "country",
        "data_zone",
        "model",
        "deployment_type",
        "deployment",
        "available_from",
        "basis",
    ]
    merged = merged[columns].sort_values(["model", "region", "deployment_type"])
    return merged.reset_index(drop=True)


def load_ptu_sizing(folder: Path = LAB02) -> pd.DataFrame:
    """Per-model PTU parameters (Microsoft's sizing tables; source in the file's header)."""
    return pd.read_csv(folder / "ptu_sizing.csv", comment="#")


def ptu_sizing(model: str, folder: Path = LAB02) -> dict[str, Any]:
    """One model's PTU parameters as a dict (``input_tpm_per_ptu``, ``regional_min_ptus`` ...)."""
    table = load_ptu_sizing(folder)
    rows = table[table.model == model]
    if rows.empty:
        raise KeyError(f"no PTU sizing for {model!r}; known: {sorted(table.model)}")
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in rows.iloc[0].items()}


def load_ptu_billing(folder: Path = LAB02) -> pd.DataFrame:
    """What one PTU costs per month under each commitment term (source in the file's header)."""
    return pd.read_csv(folder / "ptu_billing.csv", comment="#")


def load_latency_samples(folder: Path = LAB02) -> pd.DataFrame:
    """Recorded TTFT / E2E per call, region and deployment type (scripts/record_lab02.py)."""
    return pd.read_csv(folder / "latency_samples.csv", comment="#")


def plot_latency(
    samples: pd.DataFrame, column: str = "ttft_ms", ax: plt.Axes | None = None
) -> plt.Axes:
    """One box per region and deployment type: where the median sits and how wide the tail is."""
    ax = ax or plt.subplots(figsize=(10, 3.8), layout="constrained")[1]
    groups = list(samples.groupby(["region", "deployment_type"], sort=True))
    labels = [f"{region}\n{dtype}" for (region, dtype), _ in groups]
    boxes = ax.boxplot(
        [g[column] for _, g in groups], tick_labels=labels, patch_artist=True, showfliers=True
    )
    for patch, ((_, dtype), _) in zip(boxes["boxes"], groups, strict=True):
        patch.set_facecolor("tab:green" if dtype == "provisioned" else "tab:orange")
        patch.set_alpha(0.45)
    ax.set_ylabel(column.removesuffix("_ms").upper() + " (ms)")
    ax.set_title("orange: serverless (shared capacity)   green: provisioned (reserved)")
    ax.tick_params(axis="x", labelsize=8)
    return ax


# -- live -------------------------------------------------------------------------------------
def live_mode(region: str) -> tuple[bool, str]:
    """(reachable, what to say) for one region of the cloud platform."""
    mode = providers.mode("cloud", region)
    if mode.real:
        return True, f"REAL Azure OpenAI at {mode.endpoint} (calls are billed)"
    try:
        httpx.get(f"{mode.endpoint}/health", timeout=HEALTH_TIMEOUT_S)
    except httpx.HTTPError:
        return False, (
            f"the cloud stand-in for {region} is not answering at {mode.endpoint}: "
            "start the stack with `servelab up` to run this live"
        )
    return True, f"cloud stand-in for {region} at {mode.endpoint}"


def timed_call(
    client: openai.AzureOpenAI,
    deployment: str,
    messages: list[dict],
    max_tokens: int = 24,
    budget_s: float = LIVE_BUDGET_S,
    progress: live.Progress | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One streamed call to a deployment: TTFT, E2E, text, or the error the platform returned.

    Under ``live.run``, ``progress`` counts the chunks and stops the reading once time is up.
    """
    sent = time.perf_counter()
    out: dict[str, Any] = {
        "deployment": deployment,
        "status": 200,
        "ttft_ms": None,
        "e2e_ms": None,
        "text": "",
        "region_header": None,
        "error": None,
    }
    try:
        raw = client.chat.completions.with_raw_response.create(
            model=deployment, messages=messages, max_tokens=max_tokens, stream=True, **extra
        )
        out["region_header"] = raw.headers.get("x-ms-region")
        for chunk in raw.parse():
            now = time.perf_counter()
            if progress is not None:
                progress.update()
                if progress.stopped():
                    break
            if chunk.choices and out["ttft_ms"] is None:
                out["ttft_ms"] = round(1000 * (now - sent), 1)
            if chunk.choices and chunk.choices[0].delta.content:
                out["text"] += chunk.choices[0].delta.content
                out["e2e_ms"] = round(1000 * (now - sent), 1)
            if now - sent > budget_s:
                out["error"] = f"stopped reading after {budget_s:.0f} s (engine busy)"
                break
    except openai.APIStatusError as e:
        body = e.body if isinstance(e.body, dict) else {}
        out.update(status=e.status_code, error=f"{body.get('code', '')}: {body.get('message', e)}")
    except openai.APIConnectionError as e:
        out.update(status=0, error=f"no connection: {e}")
    return out


# -- live sections: bounded in time, recorded figures when the platform is slow or not there ----
def live_needs(region: str = "swedencentral") -> list[str]:
    """The stack services the live cells need: the stand-in, unless Azure settings are set."""
    return [] if providers.mode("cloud", region).real else ["cloud-standin"]


def recorded_call(region: str, deployment_type: str) -> dict[str, Any] | None:
    """The recorded median TTFT / E2E of one region and deployment type (``timed_call``'s shape),
    None when the recording has no such pair."""
    samples = load_latency_samples()
    rows = samples[(samples.region == region) & (samples.deployment_type == deployment_type)]
    if rows.empty:
        return None
    return {
        "deployment": rows.deployment.iloc[0],
        "status": 200,
        "ttft_ms": round(float(rows.ttft_ms.median()), 1),
        "e2e_ms": round(float(rows.e2e_ms.median()), 1),
        "text": f"(recorded: median of {len(rows)} calls, datasets/lab02/latency_samples.csv)",
        "region_header": region,
        "error": None,
    }


def live_call(
    region: str, deployment: str, deployment_type: str = "serverless", max_tokens: int = 16
) -> live.Outcome:
    """One timed, greedy call to ``deployment`` in ``region``; the recorded median of that
    region and deployment type when the platform is slow or not running."""
    max_tokens = live.scaled(max_tokens, max_tokens // 2)

    def work(progress: live.Progress) -> dict[str, Any]:
        client = providers.client("cloud", region, max_retries=0, timeout=LIVE_SECONDS)
        return timed_call(
            client, deployment, QUESTION, max_tokens, progress=progress, temperature=0
        )

    return live.run(
        f"one call to {deployment} in {region}",
        work,
        seconds=LIVE_SECONDS,
        total=max_tokens + 2,
        needs=live_needs(region),
        recorded=lambda: recorded_call(region, deployment_type),
    )


def describe_call(result: dict[str, Any] | None) -> str:
    """One line for a ``timed_call`` result."""
    if result is None:
        return "no call was made"
    if result["error"]:
        return f"{result['deployment']}: status {result['status']}, {result['error']}"
    return (
        f"{result['deployment']}: status {result['status']}, TTFT {result['ttft_ms']} ms, "
        f"E2E {result['e2e_ms']} ms, served in {result['region_header']}: {result['text']!r}"
    )


def catalog_lag(model: str, regions: list[str], on: date) -> list[str]:
    """What the catalog says about ``model`` (serverless) in each region on the date ``on``."""
    table = offers()
    lines = []
    for region in regions:
        rows = table[
            (table.region == region)
            & (table.model == model)
            & (table.deployment_type == "serverless")
        ]
        if rows.empty:
            lines.append(f"{region:<14} not offered: the platform answers 404 DeploymentNotFound")
            continue
        since = rows.available_from.iloc[0]
        state = "available" if since <= on else "not yet: 404 DeploymentNotFound until"
        lines.append(f"{region:<14} {state} {since}; basis: {rows.basis.iloc[0]}")
    return lines


def live_lag(model: str, regions: list[str], on: date) -> None:
    """One live call per region to ``model``; the catalog's dates when the platform is not
    there (the same lesson: a region may not have the model yet)."""
    max_tokens = live.scaled(8, 4)

    def work(progress: live.Progress) -> list[str]:
        lines = []
        for region in regions:
            client = providers.client("cloud", region, max_retries=0, timeout=LIVE_SECONDS)
            r = timed_call(client, model, QUESTION, max_tokens, temperature=0)
            lines.append(f"{region:<14} status {r['status']}  {r['error'] or 'ok: ' + r['text']}")
            progress.update()
        return lines

    outcome = live.run(
        f"one call to {model} per region",
        work,
        seconds=LIVE_SECONDS,
        total=len(regions),
        needs=live_needs(regions[0]),
        recorded=lambda: ["from the catalog:", *catalog_lag(model, regions, on)],
    )
    print("\n".join(outcome.value or []))
