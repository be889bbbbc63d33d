"""One call to get an OpenAI SDK client for a provider: the real one when its key is set, else
the local stand-in. The notebook code after it is the same either way.

    >>> from servelab import clients
    >>> client = clients.client("managed")                        # OpenAI API or its stand-in
    >>> eu = clients.client("cloud", region="swedencentral")       # Azure OpenAI or its stand-in
    >>> eu.chat.completions.create(model="gpt-4o-mini", messages=[...])  # model = deployment
    >>> clients.modes()                                            # which are real, which stand-ins

Real providers are configured the way their own SDKs expect:

- managed: ``OPENAI_API_KEY`` (and optionally ``OPENAI_BASE_URL``);
- cloud:   ``AZURE_OPENAI_API_KEY`` and ``AZURE_OPENAI_ENDPOINT`` (one Azure resource lives in
  one region; set ``AZURE_OPENAI_ENDPOINT_<REGION>``, e.g. ``AZURE_OPENAI_ENDPOINT_SWEDENCENTRAL``,
  to give each region its own resource), ``OPENAI_API_VERSION`` optional.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import openai

from servelab_base.catalog import load
from servelab_base.config import Settings, get_settings

Kind = Literal["managed", "cloud"]
MANAGED_PROVIDER, CLOUD_PROVIDER = "openai", "azure-openai"
DEFAULT_REGION = "swedencentral"  # the course's EU default for the cloud platform
# Keys the stand-ins accept (not secrets: they open only the local stand-ins).
MANAGED_STANDIN_KEY = "sk-servelab-standin"
CLOUD_STANDIN_KEY = "servelab-standin"
DEFAULT_API_VERSION = "2024-10-21"  # Azure OpenAI GA data-plane version the stand-in accepts


@dataclass(frozen=True)
class Mode:
    """Where a kind of provider is reached from this environment."""

    kind: str
    region: str
    real: bool
    endpoint: str

    def __str__(self) -> str:
        what = "REAL provider" if self.real else "stand-in"
        return f"{self.kind:<8} {self.region:<14} {what:<13} {self.endpoint}"


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def standin_url(kind: Kind, region: str | None = None, settings: Settings | None = None) -> str:
    """Base URL of a stand-in (managed: ``.../v1``; cloud: the region's Azure-style endpoint)."""
    settings = settings or get_settings()
    if kind == "managed":
        return f"{settings.url(settings.managed_port)}/v1"
    catalog = load()
    regions = [r for r in catalog.regions(CLOUD_PROVIDER) if r.standin_port]
    region_rec = catalog.region(CLOUD_PROVIDER, region or DEFAULT_REGION)
    # The catalog numbers regions from 8420; SERVELAB_CLOUD_PORT moves them all together.
    offset = settings.cloud_port - min(r.standin_port for r in regions)
    return settings.url(region_rec.standin_port + offset)


def mode(kind: Kind, region: str | None = None) -> Mode:
    """Whether ``kind`` (and ``region`` for the cloud) reaches the real provider, and where."""
    if kind == "managed":
        if _env("OPENAI_API_KEY"):
            return Mode(
                kind, "global", True, _env("OPENAI_BASE_URL") or "https://api.openai.com/v1"
            )
        return Mode(kind, "global", False, standin_url(kind))
    if kind != "cloud":
        raise ValueError(f"unknown kind {kind!r}: use 'managed' or 'cloud'")
    region = region or DEFAULT_REGION
    load().region(CLOUD_PROVIDER, region)  # refuse unknown regions early, with the known ones
    endpoint = _env(f"AZURE_OPENAI_ENDPOINT_{region.upper()}") or _env("AZURE_OPENAI_ENDPOINT")
    if _env("AZURE_OPENAI_API_KEY") and endpoint:
        return Mode(kind, region, True, endpoint)
    return Mode(kind, region, False, standin_url(kind, region))


def client(
    kind: Kind, region: str | None = None, *, real: bool | None = None, **kwargs
) -> openai.OpenAI | openai.AzureOpenAI:
    """An ``openai.OpenAI`` (managed) or ``openai.AzureOpenAI`` (cloud) client.

    ``real=None`` picks the real provider when its key is set, else the stand-in; ``real=False``
    forces the stand-in; ``real=True`` insists on the real provider (error when not configured).
    Extra keyword arguments (``max_retries``, ``timeout`` ...) go to the SDK client.
    """
    m = mode(kind, region)
    if real is True and not m.real:
        needed = (
            "OPENAI_API_KEY"
            if kind == "managed"
            else "AZURE_OPENAI_API_KEY and AZURE_OPENAI_ENDPOINT"
        )
        raise RuntimeError(f"real {kind} provider requested but {needed} not set")
    use_real = m.real if real is None else real
    if kind == "managed":
        if use_real:
            return openai.OpenAI(api_key=_env("OPENAI_API_KEY"), base_url=m.endpoint, **kwargs)
        return openai.OpenAI(api_key=MANAGED_STANDIN_KEY, base_url=standin_url("managed"), **kwargs)
    api_version = (
        kwargs.pop("api_version", None) or _env("OPENAI_API_VERSION") or DEFAULT_API_VERSION
    )
    if use_real:
        return openai.AzureOpenAI(
            api_key=_env("AZURE_OPENAI_API_KEY"),
            azure_endpoint=m.endpoint,
            api_version=api_version,
            **kwargs,
        )
    return openai.AzureOpenAI(
        api_key=CLOUD_STANDIN_KEY,
        api_version=api_version,
        azure_endpoint=standin_url("cloud", m.region),
        **kwargs,
    )


def modes() -> list[Mode]:
    """Every provider kind and cloud region, real or stand-in (what ``servelab doctor`` shows)."""
    regions = [r.region for r in load().regions(CLOUD_PROVIDER) if r.standin_port]
    return [mode("managed")] + [mode("cloud", r) for r in regions]
