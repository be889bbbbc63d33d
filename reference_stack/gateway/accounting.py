"""Accounting: what the gateway records about a request, in one call per way it can end.

Three records are kept, and this module is the only one that writes them:

- **metrics** (metrics.py, Prometheus): requests by outcome, attempts and failovers, TTFT and
  inter-token gaps per upstream, time per stage, tokens, refusals, breaker states;
- the **audit log** (audit.py): every routing decision that denied, rerouted or failed a
  request, with the candidates considered and the attempts made, and the error code it ended
  with. A request served by its first choice writes nothing;
- the key's **token quota** (quotas.py): settled from the upstream's ``usage`` once the answer
  is done (requests were taken up front, at admission).

``ChatService`` (serving.py) calls exactly one method for each outcome of a request (refused,
denied by policy, answered, streamed, failed ...), plus ``attempt_failed`` and ``routed`` on
the way, so the request path itself reads as its stages, not as its bookkeeping.
"""

from __future__ import annotations

import logging
from collections.abc import Container
from typing import Any

from .audit import AuditLog
from .breaker import State
from .context import RequestContext
from .errors import GatewayError, ModelNotConfigured
from .failover import OK, RULES, AttemptFailed, Outcome
from .metrics import GatewayMetrics
from .quotas import Quotas
from .relay.streaming import RelayResult
from .relay.upstream import Completed, OpenedStream
from .residency import ResidencyPolicy
from .routing import Candidate
from .timing import StageTimer

log = logging.getLogger("servelab.gateway")

#: ``attempts`` outcome of a stream that failed after its first byte, against its breaker
FAILED_MID_STREAM = "failed_mid_stream"
#: Token counts an upstream reports are believed up to this: 10x the largest context window of
#: any model served anywhere (about 1 M tokens). Anything else (negative, fractional, absurd) is
#: a broken or hostile upstream, and its usage is ignored rather than charged.
MAX_REPORTED_TOKENS = 10_000_000


def _token_count(value: Any) -> int | None:
    """A reported token count, if it is a believable one."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_REPORTED_TOKENS else None


class Accounting:
    def __init__(
        self,
        metrics: GatewayMetrics,
        audit: AuditLog,
        quotas: Quotas,
        policy: ResidencyPolicy,
        models: Container[str],
    ) -> None:
        self.metrics = metrics
        self.audit = audit
        self.quotas = quotas
        self.policy = policy
        self.models = models
        self._stall_counted = 0.0

    def model_label(self, alias: str) -> str:
        """Metric label for a model: unknown names collapse into one value (bounded labels)."""
        return alias if alias in self.models else "unknown"

    # --- before any upstream is tried -----------------------------------------------------------
    def refused(self, alias: str, error: GatewayError) -> None:
        """Refused at the door: bad key, unknown, forbidden or unconfigured model, over its
        rate limit. (Not audited: no routing decision was made.)"""
        if error.status == 429:
            self.metrics.rate_limited.labels(error.code or "").inc()
            outcome = "rate_limited"
        elif isinstance(error, ModelNotConfigured):
            outcome = "not_configured"
        else:
            outcome = "refused"
        self.metrics.requests.labels(self.model_label(alias), outcome).inc()

    def residency_denied(self, req: RequestContext, error: GatewayError) -> None:
        """No upstream of the model's chain may process this data class."""
        self.metrics.residency_denials.labels(
            req.alias, req.data_class, "no_compliant_in_chain"
        ).inc()
        self.metrics.requests.labels(req.alias, "residency_denied").inc()
        self._audit(req, "denied", error.message, error=error.code)

    def client_disconnected(self, alias: str) -> None:
        """The client hung up before its (non-streamed) answer was ready."""
        self.metrics.requests.labels(self.model_label(alias), "client_disconnected").inc()

    # --- on the way: attempts and breakers -------------------------------------------------------
    def attempt_failed(
        self, req: RequestContext, candidate: Candidate, failure: AttemptFailed
    ) -> None:
        self.metrics.attempts.labels(candidate.name, failure.reason.value).inc()
        if failure.rule.fails_over:
            self.metrics.failovers.labels(req.alias, candidate.name, failure.reason.value).inc()
        log.warning(
            "request %s: %s failed (%s): %s",
            req.request_id,
            candidate.name,
            failure.reason.value,
            failure.message,
        )

    def breaker_changed(self, upstream: str, state: State) -> None:
        self.metrics.set_breaker(upstream, state)

    def replicas(self, snapshot: dict[str, dict]) -> None:
        """Each pool member's membership, requests in flight and engine queue, as gauges."""
        for name, state in snapshot.items():
            self.metrics.replica_in_pool.labels(name).set(1 if state["in_pool"] else 0)
            self.metrics.replica_in_flight.labels(name).set(state["in_flight"])
            queue = state["engine_queue"]
            self.metrics.replica_engine_queue.labels(name).set(
                float("nan") if queue is None else queue
            )

    def loop_stalled(self, total_s: float) -> None:
        """The event loop's stall time so far (lag.py), as a counter."""
        if total_s > self._stall_counted:
            self.metrics.loop_stalled.inc(total_s - self._stall_counted)
            self._stall_counted = total_s

    def routed(self, req: RequestContext, outcome: Outcome[Any]) -> None:
        """An upstream answered (its first event, or its whole answer): count the attempt, and
        audit why when it is not where the chain alone would have sent the request."""
        chosen = outcome.candidate
        assert chosen is not None
        self.metrics.attempts.labels(chosen.name, OK).inc()
        excluded = [
            s.candidate.name
            for s in req.screened
            if not s.allowed and s.candidate.priority <= chosen.priority
        ]
        failed = [a.upstream for a in outcome.attempts if a.outcome != OK]
        if outcome.panic:
            self.metrics.panic_routed.labels(req.alias).inc()
        if not excluded and not failed:
            return
        reasons = []
        if excluded:
            reasons.append(f"residency policy excluded {', '.join(excluded)}")
        if failed:
            reasons.append(f"failed over from {', '.join(failed)}")
        if outcome.panic:
            reasons.append("every compliant upstream was cooling down: tried anyway (panic)")
        self._audit(req, "rerouted", "; ".join(reasons), outcome, chosen.name)

    # --- how the request ended -------------------------------------------------------------------
    def completed(self, req: RequestContext, upstream: str, done: Completed) -> None:
        """A non-streamed answer was returned whole."""
        self.metrics.ttft.labels(upstream).observe(done.first_token_s)
        self._observe_stages(req.timer)
        self.metrics.requests.labels(req.alias, "ok").inc()
        self._settle_tokens(req, upstream, done.parsed.get("usage"))

    def streamed(
        self, req: RequestContext, upstream: str, opened: OpenedStream, result: RelayResult
    ) -> None:
        """A relayed stream ended: whole, or cut short (``result.reason``)."""
        self.metrics.ttft.labels(upstream).observe(opened.first_token_s)
        self._observe_stages(req.timer)
        observe = self.metrics.itl.labels(upstream).observe
        for gap in result.gaps:
            observe(gap)
        outcome = result.reason.value if result.reason else OK
        self.metrics.requests.labels(req.alias, outcome).inc()
        if result.reason and RULES[result.reason].trips_breaker:
            self.metrics.attempts.labels(upstream, FAILED_MID_STREAM).inc()
        self._settle_tokens(req, upstream, result.usage)

    def relayed_client_error(self, req: RequestContext) -> None:
        """The upstream said the request is wrong; its answer went back unchanged."""
        self.metrics.requests.labels(req.alias, "client_error").inc()

    def served_from_cache(self, req: RequestContext, outcome: Outcome[Any]) -> None:
        """Every compliant upstream failed; an earlier identical answer was served."""
        self.metrics.requests.labels(req.alias, "served_from_cache").inc()
        self._audit(
            req,
            "rerouted",
            "every compliant upstream failed; served an earlier identical answer "
            "from the gateway's cache",
            outcome,
            "cache",
        )

    def failed(self, req: RequestContext, error: GatewayError, outcome: Outcome[Any]) -> None:
        """No compliant upstream answered: ``error`` (an outage or the upstreams' quotas, never
        a residency denial: the policy allowed them) goes back to the client."""
        if outcome.panic:
            self.metrics.panic_routed.labels(req.alias).inc()
        self.metrics.requests.labels(req.alias, error.code or "failed").inc()
        self._audit(req, "failed", error.message, outcome, error=error.code)

    # --- the records -----------------------------------------------------------------------------
    def _observe_stages(self, timer: StageTimer) -> None:
        observe = self.metrics.stage.labels
        for stage, seconds in timer.stages.items():
            observe(stage).observe(seconds)

    def _settle_tokens(self, req: RequestContext, upstream: str, usage: Any) -> None:
        if not isinstance(usage, dict) or not usage:
            return
        prompt = _token_count(usage.get("prompt_tokens", 0))
        completion = _token_count(usage.get("completion_tokens", 0))
        if prompt is None or completion is None:
            log.warning(
                "request %s: %s reported unbelievable usage, ignored", req.request_id, upstream
            )
            return
        self.quotas.charge_tokens(req.key, prompt + completion)
        self.metrics.tokens.labels(upstream, "prompt").inc(prompt)
        self.metrics.tokens.labels(upstream, "completion").inc(completion)

    def _audit(
        self,
        req: RequestContext,
        decision: str,
        why: str,
        outcome: Outcome[Any] | None = None,
        chosen: str | None = None,
        error: str | None = None,
    ) -> None:
        self.audit.write(
            {
                "request_id": req.request_id,
                "key": req.key.name,
                "owner": req.key.owner,
                "key_kind": req.key.kind,
                "data_class": req.data_class,
                "allowed_jurisdictions": self.policy.jurisdictions(req.data_class),
                "model": req.alias,
                "decision": decision,
                "error": error,
                "chosen": chosen,
                "why": why,
                "candidates": [s.as_record() for s in req.screened],
                "attempts": [a.as_record() for a in outcome.attempts] if outcome else [],
            }
        )
