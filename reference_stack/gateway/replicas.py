"""Replica pools: which members take requests, how busy each one is, and the probe that keeps
both true. The rule that orders the members per request is balance.py's.

For every upstream with ``replicas`` (routing.yaml) the gateway keeps, per member:

- **in the pool or not**, from an active health check: ``GET /health`` every
  ``replica_probe_interval_s``; ``replica_unhealthy_threshold`` failed checks in a row take the
  member out, ``replica_healthy_threshold`` passing ones bring it back (settings.py says why
  these values). A member out of the pool is left out of every request's plan; when EVERY
  member is out, all are tried anyway (a health check can be wrong too: Envoy's panic mode);
- **ours**: requests this gateway has in flight there, counted from the attempt's start to the
  end of its answer (a stream: its last byte relayed);
- **the engine's queue**: running + waiting from its ``/metrics``, read after each passing
  check, with ``ours`` at that moment (balance.py subtracts it to see everyone else's load).

Health checks and breakers are two views of one member, and neither is a second failover
mechanism: the check asks (is it up?), the breaker listens (did real requests fail?). A member
out of the pool is not planned; one whose breaker is open is skipped by the ONE failover loop,
which then tries the next member, then the chain's next step. A member that comes back into the
pool also has its breaker closed (Envoy: a passing active check un-ejects a host), unless the
breaker is open because the upstream itself asked (Retry-After). A member that passes its checks
but fails real requests stays governed by its breaker alone.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import aiohttp

from .balance import RULES, Member, engine_queue
from .lag import NO_LAG, Deadline, LoopLag
from .relay.upstream import request_headers
from .routing import Candidate, RoutingTable, Upstream
from .settings import Settings

HEALTH_PATH = "/health"
METRICS_PATH = "/metrics"
#: The most of a /metrics page read: vLLM's is about 60 KB, llama-server's 3 KB; more is not
#: an engine's page.
MAX_METRICS_BYTES = 4 * 1024 * 1024

log = logging.getLogger("servelab.gateway")


def engine_root(base_url: str) -> str:
    """Where an OpenAI-compatible engine serves /health and /metrics: its base URL less ``/v1``."""
    url = base_url.rstrip("/")
    return url.removesuffix("/v1")


@dataclass
class Replica:
    """One member of a pool and what the gateway knows of it."""

    upstream: Upstream  # named POOL/i, with its own base_url
    in_pool: bool = True  # until its checks say otherwise (a new member is used at once)
    failed: int = 0  # consecutive failed checks
    passed: int = 0  # consecutive passing checks
    ours: int = 0  # requests this gateway has in flight there
    engine_queue: float | None = None  # running + waiting at the last reading of its /metrics
    ours_then: int = 0  # ours at that reading
    read_at: float = -math.inf  # time.monotonic() of that reading

    @property
    def name(self) -> str:
        return self.upstream.name

    def member(self, now: float) -> Member:
        return Member(self.name, self.ours, self.engine_queue, self.ours_then, now - self.read_at)


class Pools:
    """Every pool of a routing table: membership, counts, probes, and the plan per request."""

    def __init__(
        self,
        table: RoutingTable,
        settings: Settings,
        lag: LoopLag = NO_LAG,
        on_rejoin: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.lag = lag
        self.on_rejoin = on_rejoin  # told the name of a member that came back into its pool
        self.pools: dict[str, list[Replica]] = {
            name: [Replica(member) for member in upstream.members]
            for name, upstream in table.upstreams.items()
            if upstream.replicas and upstream.available
        }
        self.replicas = {r.name: r for members in self.pools.values() for r in members}
        self._turns = dict.fromkeys(self.pools, 0)
        self._candidates: dict[tuple, dict[str, Candidate]] = {}

    @property
    def active(self) -> bool:
        return bool(self.pools)

    # --- per request --------------------------------------------------------------------------
    def expand(self, plan: list[Candidate], rule: str) -> list[Candidate]:
        """``plan`` with each pool replaced by its members, in the order ``rule`` gives."""
        if not any(c.name in self.pools for c in plan):
            return plan
        out: list[Candidate] = []
        for candidate in plan:
            replicas = self.pools.get(candidate.name)
            out += [candidate] if replicas is None else self._order(candidate, replicas, rule)
        return out

    def _order(self, pool: Candidate, replicas: list[Replica], rule: str) -> list[Candidate]:
        turn = self._turns[pool.name]
        self._turns[pool.name] = turn + 1
        now = time.monotonic()
        members = [r.member(now) for r in replicas if r.in_pool]
        if not members:  # every one failed its checks: try them all rather than none
            members = [r.member(now) for r in replicas]
        ordered = RULES[rule](members, turn, self.settings.engine_metrics_stale_s)
        candidates = self._member_candidates(pool, replicas)
        return [candidates[m.name] for m in ordered]

    def _member_candidates(self, pool: Candidate, replicas: list[Replica]) -> dict[str, Candidate]:
        key = (pool.name, pool.model, pool.priority, pool.weight)
        found = self._candidates.get(key)
        if found is None:
            found = self._candidates[key] = {
                r.name: Candidate(r.upstream, pool.model, pool.priority, pool.weight)
                for r in replicas
            }
        return found

    def started(self, name: str) -> None:
        """An attempt at ``name`` began (nothing happens for an upstream that is no member)."""
        replica = self.replicas.get(name)
        if replica is not None:
            replica.ours += 1

    def finished(self, name: str) -> None:
        """That attempt ended: failed, answered whole, or its stream relayed to the end."""
        replica = self.replicas.get(name)
        if replica is not None and replica.ours > 0:
            replica.ours -= 1

    # --- the probe ------------------------------------------------------------------------------
    def observe(self, replica: Replica, healthy: bool) -> None:
        """One health check's verdict: count it, and move the member in or out of its pool."""
        settings = self.settings
        if healthy:
            replica.failed, replica.passed = 0, replica.passed + 1
            if not replica.in_pool and replica.passed >= settings.replica_healthy_threshold:
                replica.in_pool = True
                log.warning("replica %s is back in its pool (health check passed)", replica.name)
                if self.on_rejoin is not None:
                    self.on_rejoin(replica.name)
        else:
            replica.passed, replica.failed = 0, replica.failed + 1
            if replica.in_pool and replica.failed >= settings.replica_unhealthy_threshold:
                replica.in_pool = False
                replica.engine_queue = None  # a down engine's last reading says nothing
                log.warning(
                    "replica %s left its pool: %d health checks failed in a row",
                    replica.name,
                    replica.failed,
                )

    async def probe(self, session: aiohttp.ClientSession, replica: Replica) -> None:
        """Check one member's health; when it passes, read its engine's queue."""
        root = engine_root(replica.upstream.base_url or "")
        headers = request_headers(replica.upstream)
        healthy = await self._get(session, root + HEALTH_PATH, headers) is not None
        self.observe(replica, healthy)
        if not healthy:
            return
        text = await self._get(session, root + METRICS_PATH, headers)
        try:
            queue = engine_queue(text) if text is not None else None
        except ValueError:  # not a Prometheus exposition: no reading
            queue = None
        replica.engine_queue, replica.ours_then, replica.read_at = (
            queue,
            replica.ours,
            time.monotonic(),
        )

    async def _get(
        self, session: aiohttp.ClientSession, url: str, headers: dict[str, str]
    ) -> str | None:
        """The body of a 200 answer within the probe timeout, else None."""
        trace = SimpleNamespace(sent=None, deadline=None, next_budget=0.0)
        try:
            async with Deadline(self.settings.replica_probe_timeout_s, self.lag):
                async with session.get(url, headers=headers, trace_request_ctx=trace) as reply:
                    if reply.status != 200:
                        return None
                    raw = await reply.content.read(MAX_METRICS_BYTES)
        except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
            return None
        return raw.decode("utf-8", "replace")

    async def run(self, session: aiohttp.ClientSession) -> None:
        """Probe every member, every ``replica_probe_interval_s``, until cancelled."""
        loop = asyncio.get_running_loop()
        interval = self.settings.replica_probe_interval_s
        while True:
            started = loop.time()
            await asyncio.gather(*(self.probe(session, r) for r in self.replicas.values()))
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))

    # --- what /health and /metrics show ---------------------------------------------------------
    def snapshot(self) -> dict[str, dict]:
        """Per member: in the pool, requests in flight here, the engine's fresh queue (or None)."""
        now = time.monotonic()
        stale = self.settings.engine_metrics_stale_s
        return {
            r.name: {
                "in_pool": r.in_pool,
                "in_flight": r.ours,
                "engine_queue": r.engine_queue if now - r.read_at <= stale else None,
            }
            for r in self.replicas.values()
        }
