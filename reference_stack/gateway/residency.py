"""Residency policy, fail-closed: which upstreams may process a request's data at all.

A request's data class (the key's default, or one the key may choose per request) maps to the
jurisdictions allowed to process it, and optionally to the longest data retention allowed.
Candidates are screened HERE, BEFORE routing and failover see them: the failover loop only ever
receives compliant candidates, so no retry, breaker or fallback can cross the boundary.

Fail-closed means: an unknown data class allows nothing, an upstream nobody catalogued (no known
jurisdiction) is allowed nothing, a retention nobody knows does not meet a retention limit, and
when nothing compliant is left the request is refused with a body that names the policy, never
sent somewhere "close enough". (LiteLLM's region routing used to filter silently and fall back
to any deployment; this one denies, explains and audits.)

This module is the course's ONE implementation of the rule: the gateway enforces it on its
routing table, and lab 08's recorded and hidden cases are answered through ``verdict`` (with the
lab's policy file, ``datasets/lab08/policy.yaml``, read by ``ResidencyPolicy.from_file``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import TypeAdapter, ValidationError

from .errors import ResidencyDenied
from .routing import Candidate, DataClass, RoutingTable

_CLASSES = TypeAdapter(dict[str, DataClass])


@dataclass(frozen=True)
class Verdict:
    """May data of one class be processed at one place, and why (or why not)."""

    allowed: bool
    reason: str


@dataclass(frozen=True)
class Screened:
    """One candidate and the policy's verdict on it."""

    candidate: Candidate
    allowed: bool
    reason: str

    def as_record(self) -> dict:
        upstream = self.candidate.upstream
        return {
            "upstream": upstream.name,
            "model": self.candidate.model,
            "jurisdiction": upstream.jurisdiction,
            "region": upstream.region,
            "allowed": self.allowed,
            "reason": self.reason,
        }


class ResidencyPolicy:
    """The data classes of a routing table (or of a policy file) and the rule that applies them."""

    def __init__(self, table: RoutingTable | Mapping[str, DataClass]) -> None:
        classes = table.data_classes if isinstance(table, RoutingTable) else table
        self.data_classes: dict[str, DataClass] = dict(classes)

    @classmethod
    def from_file(cls, path: Path) -> ResidencyPolicy:
        """A policy file: ``data_classes:`` as in a routing table (``source:`` and comments
        besides); ValueError names the file and the field."""
        try:
            raw = yaml.safe_load(Path(path).read_text())
            return cls(_CLASSES.validate_python(raw["data_classes"]))
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValidationError) as exc:
            raise ValueError(f"residency policy {path}: {exc}") from exc

    def jurisdictions(self, data_class: str) -> list[str]:
        policy = self.data_classes.get(data_class)
        return list(policy.jurisdictions) if policy else []

    def verdict(
        self, data_class: str, jurisdiction: str | None, retention_days: int | None
    ) -> Verdict:
        """The rule, on plain facts. ``jurisdiction`` None: an upstream nobody catalogued;
        ``retention_days`` None: its retention terms are unknown (not zero)."""
        policy = self.data_classes.get(data_class)
        if policy is None:
            return Verdict(False, f"unknown data class '{data_class}'")
        if jurisdiction is None:
            return Verdict(False, "not a catalogued upstream: its jurisdiction is unknown")
        if jurisdiction not in policy.jurisdictions:
            return Verdict(
                False,
                f"jurisdiction {jurisdiction} not allowed for "
                f"{data_class} (allowed: {', '.join(policy.jurisdictions)})",
            )
        limit = policy.max_retention_days
        if limit is not None and retention_days is None:
            return Verdict(
                False, f"retention terms unknown, {data_class} allows at most {limit} days"
            )
        if limit is not None and retention_days > limit:
            return Verdict(
                False, f"retains data {retention_days} days, {data_class} allows at most {limit}"
            )
        return Verdict(True, "compliant")

    def screen(self, data_class: str, candidates: list[Candidate]) -> list[Screened]:
        """The verdict on every candidate, in chain order."""
        verdicts = []
        for candidate in candidates:
            upstream = candidate.upstream
            v = self.verdict(data_class, upstream.jurisdiction, upstream.retention.days)
            verdicts.append(Screened(candidate, v.allowed, v.reason))
        return verdicts

    def policy_summary(self, data_class: str) -> dict:
        """What a refusal tells the caller about the policy that refused it."""
        policy = self.data_classes.get(data_class)
        return {
            "data_class": data_class,
            "allowed_jurisdictions": list(policy.jurisdictions) if policy else [],
            "max_retention_days": policy.max_retention_days if policy else None,
        }

    def compliant(self, data_class: str, alias: str, screened: list[Screened]) -> list[Candidate]:
        """The compliant candidates in order, or ResidencyDenied when there are none."""
        allowed = [s.candidate for s in screened if s.allowed]
        if not allowed:
            raise ResidencyDenied(
                f"Residency policy: no upstream of model '{alias}' may process data class "
                f"'{data_class}' (allowed jurisdictions: "
                f"{', '.join(self.jurisdictions(data_class)) or 'none'}). "
                f"The request was not sent anywhere.",
                extra={
                    "policy": self.policy_summary(data_class),
                    "candidates": [s.as_record() for s in screened],
                },
            )
        return allowed
