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
from servelab_base.catalog import Catalog, load
from servelab_base.paths import DATASETS

LAB02 = DATASETS / "lab02"
CLOUD = "azure-openai"
#: A live call stops reading after this long (the course keeps every cell under ~30 s).
LIVE_BUDGET_S = 10.0
HEALTH_TIMEOUT_S = 2.0


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
    ax = ax or plt.subplots(figsize=(10, 3.6))[1]
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
) -> dict[str, Any]:
    """One streamed call to a deployment: TTFT, E2E, text, or the error the platform returned."""
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
            model=deployment, messages=messages, max_tokens=max_tokens, stream=True
        )
        out["region_header"] = raw.headers.get("x-ms-region")
        for chunk in raw.parse():
            now = time.perf_counter()
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
