"""The provider catalog: who serves which model where, at what price, under which terms.

The facts live in ``datasets/providers/`` (CSV and YAML, each row with its public source and the
date it was read, or labelled ``modelled`` with its reasoning). This module reads them once and
offers them two ways:

- as pandas DataFrames for notebooks: ``load().table("prices")``;
- as small frozen records for code: ``load().deployment("azure-openai", "uksouth", "gpt-4o")``.

The provider stand-ins (reference_stack/providers/) read the same catalog, so what a lab sees in
a table is exactly what the stand-in serves.

    >>> from servelab_base.catalog import load
    >>> cat = load()
    >>> cat.table("regions")[["provider", "region", "jurisdiction", "standin_port"]]
    >>> cat.cost_usd("openai", "gpt-4o-mini", prompt_tokens=1200, completion_tokens=300)
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from servelab_base.paths import DATASETS

if TYPE_CHECKING:  # pandas is imported lazily: the stand-ins use the records, not the frames
    import pandas as pd

CATALOG_DIR = DATASETS / "providers"
#: The date the catalog's facts were read. It is the default "as of" date of the stand-ins, so
#: which models a region serves does not change with the wall clock (graders need the same
#: behaviour every time). Pass another date to see later arrivals.
SNAPSHOT_DATE = date(2026, 11, 27)
TABLES = (
    "providers",
    "regions",
    "models",
    "prices",
    "availability",
    "limits",
    "latency",
    "tiers",  # discounted price tiers of a per-token price: cached input, asynchronous batch
)
DEPLOYMENT_TYPES = ("serverless", "provisioned", "managed-compute")
TOKENS_PER_PRICE_UNIT = 1_000_000  # prices are quoted per million tokens


@dataclass(frozen=True)
class Region:
    """One endpoint location of a provider (for a stand-in: one base URL)."""

    provider: str
    region: str
    display_name: str
    jurisdiction: str  # EU, US, UK, ...
    country: str
    data_zone: str
    standin_port: int | None
    real_endpoint: str


@dataclass(frozen=True)
class Deployment:
    """A model served in a region under one deployment type, from a date on."""

    provider: str
    region: str
    model: str
    deployment_type: str  # serverless | provisioned | managed-compute
    name: str  # the deployment name a client puts in the URL (Azure) or the model id (OpenAI)
    available_from: date
    basis: str


@dataclass(frozen=True)
class LatencyProfile:
    """How a provider's timing looks from the modelled client (all ``modelled``, see README)."""

    network_rtt_ms: float
    queue_mean_ms: float
    ttft_ms: float
    per_token_ms: float
    jitter: float  # coefficient of variation applied to TTFT and per-token gaps
    basis: str
    reasoning: str


@dataclass(frozen=True)
class Limit:
    """Requests and tokens per minute (None: not limited)."""

    rpm: int | None
    tpm: int | None
    basis: str


@dataclass(frozen=True)
class Price:
    unit: str  # per_million_tokens | per_ptu_hour | per_vm_hour
    input_usd: float | None
    output_usd: float | None
    hourly_usd: float | None
    basis: str
    source: str


@dataclass(frozen=True)
class PriceTier:
    """A discounted tier of a per-token price (``tiers.csv``): ``cached_input`` (prompt tokens
    the provider found in its prompt cache) or ``batch`` (asynchronous, results within
    ``window_hours``). USD per million tokens; ``output_usd`` is None for cached input."""

    tier: str
    input_usd: float
    output_usd: float | None
    window_hours: float | None
    basis: str
    source: str


def _num(text: str) -> float | None:
    return float(text) if text not in ("", None) else None


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


class Catalog:
    """The catalog's rows, with lookups the stand-ins and labs need."""

    def __init__(self, directory: Path = CATALOG_DIR) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise FileNotFoundError(f"provider catalog not found at {self.directory}")
        self.rows: dict[str, list[dict]] = {
            "providers": yaml.safe_load((self.directory / "providers.yaml").read_text())[
                "providers"
            ]
        }
        for name in TABLES[1:]:
            self.rows[name] = _read_csv(self.directory / f"{name}.csv")
        self._check()

    def _check(self) -> None:
        """Refuse a catalog whose rows point at unknown providers, regions or types."""
        providers = {p["id"] for p in self.rows["providers"]}
        regions = {(r["provider"], r["region"]) for r in self.rows["regions"]}
        for name in TABLES[1:]:
            for row in self.rows[name]:
                if row["provider"] not in providers:
                    raise ValueError(f"{name}.csv: unknown provider {row['provider']!r}")
                dtype = row.get("deployment_type")
                if dtype is not None and dtype not in DEPLOYMENT_TYPES:
                    raise ValueError(f"{name}.csv: unknown deployment_type {dtype!r}")
        for row in self.rows["availability"] + self.rows["latency"]:
            if (row["provider"], row["region"]) not in regions:
                raise ValueError(f"unknown region {row['provider']}/{row['region']}")

    # -- notebooks -------------------------------------------------------------------------
    def table(self, name: str) -> pd.DataFrame:
        """One catalog table as a DataFrame (``providers``, ``regions``, ``prices`` ...)."""
        import pandas as pd

        if name not in self.rows:
            raise KeyError(f"unknown table {name!r}; tables: {', '.join(TABLES)}")
        return pd.DataFrame(self.rows[name])

    # -- lookups ---------------------------------------------------------------------------
    def provider(self, provider: str) -> dict:
        for p in self.rows["providers"]:
            if p["id"] == provider:
                return p
        raise KeyError(f"unknown provider {provider!r}")

    def regions(self, provider: str) -> list[Region]:
        out = []
        for r in self.rows["regions"]:
            if r["provider"] == provider:
                port = int(r["standin_port"]) if r["standin_port"] else None
                out.append(
                    Region(
                        r["provider"],
                        r["region"],
                        r["display_name"],
                        r["jurisdiction"],
                        r["country"],
                        r["data_zone"],
                        port,
                        r["real_endpoint"],
                    )
                )
        return out

    def region(self, provider: str, region: str) -> Region:
        for r in self.regions(provider):
            if r.region == region:
                return r
        known = ", ".join(r.region for r in self.regions(provider))
        raise KeyError(f"unknown region {region!r} for {provider}; known: {known}")

    def deployments(
        self, provider: str, region: str, as_of: date = SNAPSHOT_DATE
    ) -> list[Deployment]:
        """Deployments that exist in ``region`` on ``as_of`` (later arrivals are left out)."""
        out = []
        for r in self.rows["availability"]:
            if r["provider"] != provider or r["region"] != region:
                continue
            since = date.fromisoformat(r["available_from"])
            if since <= as_of:
                out.append(
                    Deployment(
                        r["provider"],
                        r["region"],
                        r["model"],
                        r["deployment_type"],
                        r["deployment"],
                        since,
                        r["basis"],
                    )
                )
        return out

    def deployment(
        self, provider: str, region: str, name: str, as_of: date = SNAPSHOT_DATE
    ) -> Deployment | None:
        for d in self.deployments(provider, region, as_of):
            if d.name == name:
                return d
        return None

    def snapshot(self, provider: str, model: str) -> str:
        """The dated model name a provider reports back (``gpt-4o-mini-2024-07-18``)."""
        for r in self.rows["models"]:
            if r["provider"] == provider and r["model"] == model:
                return r["snapshot"]
        return model

    def latency(self, provider: str, region: str, deployment_type: str) -> LatencyProfile:
        for r in self.rows["latency"]:
            if (r["provider"], r["region"], r["deployment_type"]) == (
                provider,
                region,
                deployment_type,
            ):
                return LatencyProfile(
                    float(r["network_rtt_ms"]),
                    float(r["queue_mean_ms"]),
                    float(r["ttft_ms"]),
                    float(r["per_token_ms"]),
                    float(r["jitter"]),
                    r["basis"],
                    r["reasoning"],
                )
        raise KeyError(f"no latency profile for {provider}/{region}/{deployment_type}")

    def limit(self, provider: str, model: str, deployment_type: str) -> Limit:
        """Rate limits for a model; a ``*`` row covers every model of that provider and type."""
        fallback = Limit(None, None, "not catalogued")
        for r in self.rows["limits"]:
            if r["provider"] != provider or r["deployment_type"] != deployment_type:
                continue
            limit = Limit(
                int(r["rpm"]) if r["rpm"] else None, int(r["tpm"]) if r["tpm"] else None, r["basis"]
            )
            if r["model"] == model:
                return limit
            if r["model"] == "*":
                fallback = limit
        return fallback

    def price(self, provider: str, model: str, deployment_type: str = "serverless") -> Price | None:
        for r in self.rows["prices"]:
            if (r["provider"], r["model"], r["deployment_type"]) == (
                provider,
                model,
                deployment_type,
            ):
                return Price(
                    r["unit"],
                    _num(r["input_usd"]),
                    _num(r["output_usd"]),
                    _num(r["hourly_usd"]),
                    r["basis"],
                    r["source"],
                )
        return None

    def tier(
        self, provider: str, model: str, tier: str, deployment_type: str = "serverless"
    ) -> PriceTier | None:
        """The ``cached_input`` or ``batch`` tier of a model's price; None where not catalogued."""
        for r in self.rows["tiers"]:
            if (r["provider"], r["model"], r["deployment_type"], r["tier"]) == (
                provider,
                model,
                deployment_type,
                tier,
            ):
                return PriceTier(
                    r["tier"],
                    float(r["input_usd"]),
                    _num(r["output_usd"]),
                    _num(r["window_hours"]),
                    r["basis"],
                    r["source"],
                )
        return None

    def cost_usd(
        self,
        provider: str,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        deployment_type: str = "serverless",
    ) -> float | None:
        """What a pay-per-token call would cost; None where the price is not per token."""
        p = self.price(provider, model, deployment_type)
        if p is None or p.unit != "per_million_tokens":
            return None
        return (
            prompt_tokens * p.input_usd + completion_tokens * p.output_usd
        ) / TOKENS_PER_PRICE_UNIT


@lru_cache
def load(directory: str | None = None) -> Catalog:
    """The catalog (read once per process). ``directory`` defaults to datasets/providers/."""
    return Catalog(Path(directory) if directory else CATALOG_DIR)
