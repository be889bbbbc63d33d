"""The routing table: data (routing.yaml), validated at start-up, and the order it implies.

The file names the upstreams (where each is, which jurisdiction processes the data there, what
it costs, how long it keeps prompts), the residency policy (which jurisdictions each data class
may go to) and, per model alias, the failover chain. A mistake in the file stops the gateway
with a message naming the file and the field, instead of surfacing as a wrong route later.

Order within a chain: ``priority`` first (lower is tried first; by default the position in the
list), and steps that share a priority are shuffled per request by ``weight`` (a weighted
random order, which spreads load across regions).

An upstream may be a pool of ``replicas``: several copies of the same engine serving the same
model (two local llama-servers, N vLLM hosts). It is still ONE upstream: one step of a chain,
one jurisdiction, one retention, one price, one model name. Each replica is a ``member`` with
its own address, name (``POOL/1``, ``POOL/2`` ...) and breaker; which member a request tries
first is the balancing rule's choice (balance.py, per alias), made after residency and the
chain's order, and the failover loop tries the other members next, before the chain's next step.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .balance import BalanceRule
from .settings import MAX_OUTPUT_TOKENS

#: The name a chain uses for the gateway's own cache of earlier answers (the last resort).
CACHE_STEP = "cache"

_ENV_REFERENCE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def expand_env(text: str) -> str:
    """Replace ``${NAME}`` / ``${NAME:-default}`` with the environment's value (a GPU host or a
    real provider is reached by setting a variable, never by editing the table)."""

    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is None:
            raise ValueError(f"environment variable {name} is not set and has no default")
        return default

    return _ENV_REFERENCE.sub(value, text)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Model):
    """US dollars per million tokens."""

    input_per_mtok: Annotated[float, Field(ge=0)]
    output_per_mtok: Annotated[float, Field(ge=0)]


class Retention(_Model):
    """What the upstream does with prompts and answers after it has answered."""

    days: Annotated[int, Field(ge=0)]  # 0: zero data retention
    used_for_training: bool = False
    terms: str = ""  # where the terms come from


_URL = Annotated[str, Field(pattern=r"^https?://")]


class Upstream(_Model):
    """One place a request can be sent: one address, or a pool of ``replicas``."""

    name: str = ""  # filled from the mapping key
    kind: Literal["openai", "azure"]
    #: ``openai``: base URL ending in /v1 (as the openai SDK's base_url);
    #: ``azure``: the resource endpoint (https://NAME.openai.azure.com)
    base_url: _URL | None = None
    #: instead of ``base_url``: the base URLs of identical replicas (same engine, same model,
    #: same place), balanced per request (balance.py)
    replicas: list[_URL] = []
    api_version: str | None = None  # azure only: the ``api-version`` query parameter
    region: str
    jurisdiction: str
    #: environment variable holding the upstream's key (never in this file, a log or a metric)
    api_key_env: str | None = None
    #: an upstream whose key variable is unset is left out (e.g. the real OpenAI on a laptop)
    optional: bool = False
    price: Price
    retention: Retention
    #: fixed headers sent with every request (e.g. OpenAI-Organization; the tests use it to
    #: script one upstream's faults); never a credential: those come from api_key_env
    headers: dict[str, str] = {}

    @model_validator(mode="after")
    def _check(self) -> Upstream:
        if (self.base_url is None) == (not self.replicas):
            raise ValueError("give either base_url or replicas (a list of base URLs), not both")
        if len(set(self.replicas)) != len(self.replicas):
            raise ValueError("replicas lists the same base URL twice")
        if self.replicas and self.kind != "openai":
            raise ValueError(
                "replicas are engines you run (kind openai): the gateway reads their /health "
                "and /metrics"
            )
        if self.kind == "azure" and not self.api_version:
            raise ValueError("an azure upstream needs api_version")
        secret = {"authorization", "api-key", "x-api-key"} & {h.lower() for h in self.headers}
        if secret:
            raise ValueError(
                f"headers must not carry credentials ({sorted(secret)}): "
                f"name the variable holding the key in api_key_env"
            )
        return self

    @property
    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    @property
    def available(self) -> bool:
        return not (self.optional and self.api_key_env and not self.api_key)

    @property
    def members(self) -> list[Upstream]:
        """Where requests really go: itself, or one upstream per replica (named ``NAME/1``,
        ``NAME/2`` ...: each has its own breaker, attempts and metrics) sharing everything else
        (jurisdiction, retention, price, key), so residency's verdict on the pool is theirs."""
        if not self.replicas:
            return [self]
        return [
            self.model_copy(update={"name": f"{self.name}/{i}", "base_url": url, "replicas": []})
            for i, url in enumerate(self.replicas, start=1)
        ]


class ChainStep(_Model):
    """One step of a model's failover chain: an upstream and the model name it knows."""

    upstream: str
    model: str = ""  # upstream's model name (azure: the deployment); default: the alias
    priority: int | None = None
    weight: Annotated[float, Field(gt=0)] = 1.0


class ModelAlias(_Model):
    #: largest max_tokens a request may ask of this alias (its context window)
    max_output_tokens: Annotated[int, Field(gt=0)] = MAX_OUTPUT_TOKENS
    #: how a pool of replicas in this alias's chain is balanced (balance.py): ``least-load``
    #: (the replica with the fewest requests in flight, engines' own queues included) or
    #: ``round-robin`` (each in turn, load unseen: the baseline to compare against)
    balance: BalanceRule = "least-load"
    chain: Annotated[list[ChainStep | Literal["cache"]], Field(min_length=1)]

    @property
    def cache_enabled(self) -> bool:
        return CACHE_STEP in self.chain

    @property
    def steps(self) -> list[ChainStep]:
        return [step for step in self.chain if isinstance(step, ChainStep)]


class DataClass(_Model):
    """Residency policy of one data class."""

    jurisdictions: Annotated[list[str], Field(min_length=1)]
    #: longest retention an upstream may have for this data (None: any)
    max_retention_days: Annotated[int, Field(ge=0)] | None = None
    description: str = ""


class RoutingTable(_Model):
    source: str
    jurisdictions: Annotated[list[str], Field(min_length=1)]
    data_classes: dict[str, DataClass]
    upstreams: dict[str, Upstream]
    models: dict[str, ModelAlias]

    @model_validator(mode="after")
    def _consistent(self) -> RoutingTable:
        known = set(self.jurisdictions)
        for name, upstream in self.upstreams.items():
            if upstream.jurisdiction not in known:
                raise ValueError(
                    f"upstream '{name}': jurisdiction '{upstream.jurisdiction}' "
                    f"is not in jurisdictions {sorted(known)}"
                )
        for name, data_class in self.data_classes.items():
            unknown = set(data_class.jurisdictions) - known
            if unknown:
                raise ValueError(f"data class '{name}': unknown jurisdictions {sorted(unknown)}")
        for name, upstream in self.upstreams.items():
            for member in upstream.members if upstream.replicas else []:
                if member.name in self.upstreams:
                    raise ValueError(
                        f"upstream '{name}': its replica '{member.name}' has the name of "
                        f"another upstream"
                    )
        for alias, model in self.models.items():
            for step in model.steps:
                if step.upstream not in self.upstreams:
                    raise ValueError(
                        f"model '{alias}': chain names unknown upstream "
                        f"'{step.upstream}' (known: {sorted(self.upstreams)})"
                    )
        return self

    @classmethod
    def load(cls, path: Path) -> RoutingTable:
        """Read, expand ``${VAR}`` references, validate; ValueError names file and field."""
        try:
            raw = yaml.safe_load(expand_env(path.read_text()))
            if isinstance(raw, dict):
                for name, upstream in (raw.get("upstreams") or {}).items():
                    if isinstance(upstream, dict):
                        upstream["name"] = name
            return cls.model_validate(raw)
        except (OSError, yaml.YAMLError, ValidationError, ValueError) as exc:
            raise ValueError(f"routing table {path}: {exc}") from exc


@dataclass(frozen=True)
class Candidate:
    """A place this request could go: the upstream and the model name to ask it for."""

    upstream: Upstream
    model: str
    priority: int = 0
    weight: float = 1.0

    @property
    def name(self) -> str:
        return self.upstream.name


class Router:
    """A model alias's chain as candidates, and the order to try them in."""

    def __init__(self, table: RoutingTable, rng: random.Random | None = None) -> None:
        self.table = table
        self._rng = rng or random.Random()
        # The table does not change while the gateway runs: build each chain once.
        self._chains = {alias: self._build_chain(alias) for alias in table.models}

    def aliases(self) -> list[str]:
        return list(self.table.models)

    def chain(self, alias: str) -> list[Candidate]:
        """Every candidate of ``alias`` in table order (upstreams left out for a missing key
        are skipped)."""
        return self._chains[alias]

    def _build_chain(self, alias: str) -> list[Candidate]:
        out = []
        for position, step in enumerate(self.table.models[alias].steps):
            upstream = self.table.upstreams[step.upstream]
            if upstream.available:
                priority = step.priority if step.priority is not None else position
                out.append(Candidate(upstream, step.model or alias, priority, step.weight))
        return out

    def order(self, candidates: list[Candidate]) -> list[Candidate]:
        """Lower priority first; equal priorities in a weighted random order
        (Efraimidis-Spirakis: sort by u^(1/weight), so heavier steps tend to come first)."""
        if len(candidates) < 2:
            return candidates
        return sorted(
            candidates, key=lambda c: (c.priority, -(self._rng.random() ** (1.0 / c.weight)))
        )
