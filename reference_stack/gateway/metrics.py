"""Prometheus metrics of the gateway, served at ``/metrics``.

Labels are upstream names, model aliases, data classes and outcomes: small, fixed sets (never a
key, a user, a prompt or an upstream's credential). Names follow Prometheus conventions
(``_seconds``, ``_total``) under the ``servelab_gateway_`` prefix; the same TTFT / ITL words
mean what docs/metrics.md says, measured here at the gateway for the upstream's events.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .breaker import STATE_VALUE, State

#: TTFT buckets: 5 ms (a loopback stand-in) to 60 s (a cold CPU engine on a long prompt).
TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60)
#: Gap between upstream events: 1 ms (H100 decode of a small model) to 5 s (a stall).
ITL_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)
#: Gateway stages: 10 us (a dict lookup) to 10 s (an upstream's first token).
STAGE_BUCKETS = (1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1, 10)


class GatewayMetrics:
    """All metrics of one gateway, in their own registry (tests can run several gateways)."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        p = "servelab_gateway_"
        self.requests = Counter(
            p + "requests_total", "Requests answered, by outcome", ["model", "outcome"], registry=r
        )
        self.attempts = Counter(
            p + "upstream_attempts_total",
            "Attempts at upstreams, by outcome",
            ["upstream", "outcome"],
            registry=r,
        )
        self.ttft = Histogram(
            p + "upstream_ttft_seconds",
            "Request sent to upstream -> its first event",
            ["upstream"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.itl = Histogram(
            p + "upstream_inter_token_seconds",
            "Gap between consecutive upstream events (per chunk)",
            ["upstream"],
            buckets=ITL_BUCKETS,
            registry=r,
        )
        self.failovers = Counter(
            p + "failovers_total",
            "Attempts that failed over to the next candidate",
            ["model", "from_upstream", "reason"],
            registry=r,
        )
        self.residency_denials = Counter(
            p + "residency_denials_total",
            "Requests refused by residency policy",
            ["model", "data_class", "why"],
            registry=r,
        )
        self.panic_routed = Counter(
            p + "panic_routed_total",
            "Requests whose every compliant upstream was cooling down, tried anyway (panic)",
            ["model"],
            registry=r,
        )
        self.loop_stalled = Counter(
            p + "event_loop_stalled_seconds_total",
            "Time the gateway's own event loop could not run (not counted against upstreams)",
            registry=r,
        )
        self.rate_limited = Counter(
            p + "rate_limited_total", "Requests refused with 429", ["limit"], registry=r
        )
        self.breaker_state = Gauge(
            p + "breaker_state",
            "Breaker per upstream: 0 closed, 1 half-open, 2 open",
            ["upstream"],
            registry=r,
        )
        self.stage = Histogram(
            p + "stage_seconds",
            "Time spent per gateway stage",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.replica_in_pool = Gauge(
            p + "replica_in_pool",
            "Pool member taking requests (1) or out after failed health checks (0)",
            ["upstream"],
            registry=r,
        )
        self.replica_in_flight = Gauge(
            p + "replica_in_flight",
            "Requests this gateway has in flight at a pool member",
            ["upstream"],
            registry=r,
        )
        self.replica_engine_queue = Gauge(
            p + "replica_engine_queue",
            "Running + waiting requests a pool member's engine last reported (NaN: no fresh one)",
            ["upstream"],
            registry=r,
        )
        self.tokens = Counter(
            p + "tokens_total",
            "Tokens reported by upstreams' usage",
            ["upstream", "kind"],
            registry=r,
        )

    def set_breaker(self, upstream: str, state: State) -> None:
        self.breaker_state.labels(upstream).set(STATE_VALUE[state])
