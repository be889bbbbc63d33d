"""Residency policy, fail-closed: which upstreams may process a request's data at all.

A request's data class (the key's default, or one the key may choose per request) maps to the
jurisdictions allowed to process it, and optionally to the longest data retention allowed.
Candidates are screened HERE, BEFORE routing and failover see them: the failover loop only ever
receives compliant candidates, so no retry, breaker or fallback can cross the boundary.

Fail-closed means: an unknown data class allows nothing, and when nothing compliant is left
the request is refused with a body that names the policy, never sent somewhere "close enough".
(LiteLLM's region routing used to filter silently and fall back to any deployment; this one
denies, explains and audits.)
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ResidencyDenied
from .routing import Candidate, RoutingTable


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
    def __init__(self, table: RoutingTable) -> None:
        self.table = table

    def jurisdictions(self, data_class: str) -> list[str]:
        policy = self.table.data_classes.get(data_class)
        return list(policy.jurisdictions) if policy else []

    def screen(self, data_class: str, candidates: list[Candidate]) -> list[Screened]:
        """The verdict on every candidate, in chain order."""
        policy = self.table.data_classes.get(data_class)
        verdicts = []
        for candidate in candidates:
            upstream = candidate.upstream
            if policy is None:
                verdicts.append(Screened(candidate, False, f"unknown data class '{data_class}'"))
            elif upstream.jurisdiction not in policy.jurisdictions:
                verdicts.append(
                    Screened(
                        candidate,
                        False,
                        f"jurisdiction {upstream.jurisdiction} not allowed for "
                        f"{data_class} (allowed: {', '.join(policy.jurisdictions)})",
                    )
                )
            elif (
                policy.max_retention_days is not None
                and upstream.retention.days > policy.max_retention_days
            ):
                verdicts.append(
                    Screened(
                        candidate,
                        False,
                        f"retains data {upstream.retention.days} days, "
                        f"{data_class} allows at most {policy.max_retention_days}",
                    )
                )
            else:
                verdicts.append(Screened(candidate, True, "compliant"))
        return verdicts

    def policy_summary(self, data_class: str) -> dict:
        """What a refusal tells the caller about the policy that refused it."""
        policy = self.table.data_classes.get(data_class)
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
