"""Failover: how each way an attempt can end is handled, and the one retry loop that does it.

The table (``RULES``) is the whole policy: one row per ``Reason`` an attempt at an upstream can
end with, saying

- ``fails_over``: try the next compliant upstream. A failure that says "the upstream is unwell"
  (it cannot be reached, it is too slow, it is overloaded, it broke) does; one that says "the
  request is wrong" (a 4xx such as 400, 404, 413, 422) goes back to the client unchanged:
  every other upstream would refuse it too, and retrying it only multiplies load. A failure
  after the stream's first byte never can: the client already holds part of an answer;
- ``trips_breaker``: count it against that upstream's circuit breaker (breaker.py);
- ``honours_retry_after``: when the upstream said ``Retry-After``, its breaker stays open for
  exactly that long (the upstream said when to come back) instead of counting to the threshold.

Nothing else in the gateway decides any of this: the loop below and ``tell_breaker`` read the
table, and the relay only reports which ``Reason`` a stream ended with. Changing a rule is
editing its row.

The loop (``FailoverLoop.run``) is the only place anything is retried: the HTTP client below it
never retries on its own (the openai SDK and LiteLLM learned this the hard way: retries nested
in retries multiply). It walks the compliant candidates in order, skipping upstreams whose
breaker is open; when a full round has failed, it waits (jittered exponential backoff, or the
upstream's ``Retry-After`` if that is longer) and goes round again, until the attempt budget
or the patience for ``Retry-After`` runs out.

Panic routing: when EVERY candidate was skipped because its breaker is open, the loop tries one
anyway: of those that opened after failures, the one closest to the end of its cooldown (Envoy's
panic mode; settings.py says why). A breaker must never turn the last upstream of a chain into a
refusal by itself; only an upstream's own Retry-After keeps it out.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from .breaker import Breaker, State
from .routing import Candidate


class Reason(StrEnum):
    """Why an attempt did not end in a whole answer (the values are metric and audit labels)."""

    # before the client's first byte
    CONNECT_ERROR = "connect_error"
    CONNECT_TIMEOUT = "connect_timeout"
    FIRST_TOKEN_TIMEOUT = "first_token_timeout"
    TOTAL_TIMEOUT = "total_timeout"  # also mid-stream: the stream outlived the total timeout
    BROKEN_STREAM = "broken_stream"  # closed or garbled before the first chunk
    TOO_MANY_REQUESTS = "http_429"
    SERVER_ERROR = "http_5xx"
    UPSTREAM_AUTH = "http_401_403"  # the gateway's key for that upstream is wrong
    REQUEST_TIMEOUT = "http_408"
    CLIENT_ERROR = "http_4xx"  # any other 4xx: the request itself is wrong
    FORCED = "forced"  # the teaching switch (settings.force_failover / header)
    # after the client's first byte (relay/streaming.py)
    UPSTREAM_LOST = "upstream_lost"
    TRUNCATED = "truncated"
    UPSTREAM_ERROR_EVENT = "upstream_error"
    # either side: the client went away
    CLIENT_DISCONNECTED = "client_disconnected"


@dataclass(frozen=True)
class Rule:
    fails_over: bool
    trips_breaker: bool
    honours_retry_after: bool
    why: str


#: The explicit failover table, one row per reason (README.md shows it too).
# fmt: off
RULES: dict[Reason, Rule] = {
    #                                 fails  trips    honours
    #                                 over   breaker  Retry-After
    Reason.CONNECT_ERROR:        Rule(True,  True,    False, "upstream down or unreachable"),
    Reason.CONNECT_TIMEOUT:      Rule(True,  True,    False, "unreachable within connect timeout"),
    Reason.FIRST_TOKEN_TIMEOUT:  Rule(True,  True,    False, "no first token within TTFT timeout"),
    Reason.TOTAL_TIMEOUT:        Rule(True,  True,    False, "no whole answer in total timeout"),
    Reason.BROKEN_STREAM:        Rule(True,  True,    False, "ended or garbled before first chunk"),
    Reason.TOO_MANY_REQUESTS:    Rule(True,  True,    True,  "overloaded or over its rate limit"),
    Reason.SERVER_ERROR:         Rule(True,  True,    True,  "upstream error (500, 502, 503 ...)"),
    Reason.UPSTREAM_AUTH:        Rule(True,  True,    False, "the gateway's key for it failed"),
    Reason.REQUEST_TIMEOUT:      Rule(True,  True,    False, "it timed out reading the request"),
    Reason.CLIENT_ERROR:         Rule(False, False,   False, "invalid request: all would say so"),
    Reason.FORCED:               Rule(True,  False,   False, "forced for teaching; no fault"),
    # after the first byte nothing can fail over: the client holds part of an answer
    Reason.UPSTREAM_LOST:        Rule(False, True,    False, "connection lost mid-stream"),
    Reason.TRUNCATED:            Rule(False, True,    False, "stream ended without [DONE]"),
    Reason.UPSTREAM_ERROR_EVENT: Rule(False, False,   False, "its own clean in-band error event"),
    Reason.CLIENT_DISCONNECTED:  Rule(False, False,   False, "client went away: no verdict"),
}
# fmt: on


def reason_for_status(status: int) -> Reason:
    """Classify an upstream's HTTP error status."""
    if status == 429:
        return Reason.TOO_MANY_REQUESTS
    if status in (401, 403):
        return Reason.UPSTREAM_AUTH
    if status == 408:
        return Reason.REQUEST_TIMEOUT
    if status >= 500:
        return Reason.SERVER_ERROR
    return Reason.CLIENT_ERROR


def tell_breaker(
    breaker: Breaker,
    reason: Reason | None,
    retry_after_s: float | None = None,
    *,
    holds_probe: bool = True,
) -> None:
    """The one place a breaker learns how an attempt at its upstream ended (``None``: answered).

    The reason's row decides: a failure that is the upstream's fault counts against it (for
    exactly ``Retry-After`` where the row honours it); any other ending gives back the half-open
    probe slot the attempt held. A stream that fails after its first byte (``holds_probe``
    False) holds no slot: opening it already told the breaker the upstream answered."""
    if reason is None:
        breaker.record_success()
        return
    rule = RULES[reason]
    if rule.trips_breaker:
        breaker.record_failure(retry_after_s if rule.honours_retry_after else None)
    elif holds_probe:
        breaker.release_probe()


class AttemptFailed(Exception):
    """One attempt at one upstream failed, classified by the failover table."""

    def __init__(
        self,
        reason: Reason,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        body: bytes | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.body = body  # upstream's error body, relayed for client errors

    @property
    def rule(self) -> Rule:
        return RULES[self.reason]


#: ``Attempt.outcome`` of the attempt that answered, and of an upstream skipped unasked
OK = "ok"
SKIPPED = "skipped_breaker_open"


@dataclass
class Attempt:
    """What one attempt did, for the audit log, metrics and the error body."""

    upstream: str
    jurisdiction: str
    outcome: str  # OK, a Reason value, or SKIPPED
    detail: str = ""
    seconds: float = 0.0

    def as_record(self) -> dict:
        return {
            "upstream": self.upstream,
            "jurisdiction": self.jurisdiction,
            "outcome": self.outcome,
            "detail": self.detail,
            "ms": round(self.seconds * 1000, 2),
        }


T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    """The loop's result: what the winning attempt returned, or why there is none."""

    result: T | None
    candidate: Candidate | None
    attempts: list[Attempt] = field(default_factory=list)
    #: the failure that ended the loop early because it must not fail over (a client error)
    fatal: AttemptFailed | None = None
    #: seconds until some breaker lets a request through (when nothing could even be tried)
    retry_in: float = 0.0
    #: every candidate was cooling down, so the loop tried them anyway (panic routing)
    panic: bool = False

    @property
    def tried(self) -> int:
        return sum(1 for a in self.attempts if a.outcome != SKIPPED)


def backoff(round_no: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2^round))."""
    return rng.uniform(0, min(cap, base * 2**round_no))


class FailoverLoop:
    """The one retry loop. ``attempt(candidate, forced)`` returns a result or raises
    AttemptFailed; everything about upstreams being unwell is decided here."""

    def __init__(
        self,
        breakers: dict[str, Breaker],
        *,
        max_attempts: int,
        backoff_base_s: float,
        backoff_max_s: float,
        max_retry_after_wait_s: float,
        panic_routing: bool = True,
        rng: random.Random | None = None,
        on_breaker_change: Callable[[str, State], None] | None = None,
    ) -> None:
        self.breakers = breakers
        self.on_breaker_change = on_breaker_change
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_retry_after_wait_s = max_retry_after_wait_s
        self.panic_routing = panic_routing
        self.rng = rng or random.Random()

    def settle(
        self,
        upstream: str,
        reason: Reason | None,
        retry_after_s: float | None = None,
        *,
        holds_probe: bool = True,
    ) -> None:
        """Tell ``upstream``'s breaker how an attempt ended (see ``tell_breaker``); the relay
        calls this too, when a stream it was relaying ends."""
        breaker = self.breakers[upstream]
        before = breaker.state()
        tell_breaker(breaker, reason, retry_after_s, holds_probe=holds_probe)
        after = breaker.state()
        if self.on_breaker_change and after is not before:
            self.on_breaker_change(upstream, after)

    async def run(
        self,
        plan: list[Candidate],
        attempt: Callable[[Candidate, bool], Awaitable[T]],
        force_first: bool = False,
        on_failure: Callable[[Candidate, AttemptFailed], None] | None = None,
    ) -> Outcome[T]:
        outcome: Outcome[T] = Outcome(None, None)
        skipped: set[str] = set()
        round_no = 0
        while True:
            for candidate in plan:
                if outcome.tried >= self.max_attempts:
                    return outcome
                breaker = self.breakers[candidate.name]
                if not breaker.allow():
                    if candidate.name not in skipped:  # record each skip once
                        skipped.add(candidate.name)
                        outcome.attempts.append(
                            Attempt(
                                candidate.name,
                                candidate.upstream.jurisdiction,
                                SKIPPED,
                                f"breaker open for {breaker.retry_in():.1f} s more",
                            )
                        )
                    continue
                if await self._try(candidate, attempt, force_first, on_failure, outcome):
                    return outcome
            if outcome.tried == 0 and self.panic_routing:  # every candidate was cooling down
                panic = [c for c in plan if self.breakers[c.name].may_panic()]
                if panic:  # one real attempt, at the one closest to the end of its cooldown
                    outcome.panic = True
                    for candidate in sorted(panic, key=lambda c: self.breakers[c.name].retry_in()):
                        done = await self._try(candidate, attempt, force_first, on_failure, outcome)
                        if done or outcome.attempts[-1].outcome != Reason.FORCED:
                            break
                    return outcome
            # A full round without success: wait, then go round again if that is worth it.
            waits = [self.breakers[c.name].retry_in() for c in plan]
            soonest = min(waits) if waits else 0.0
            if (
                outcome.tried >= self.max_attempts
                or round_no + 1 >= self.max_attempts
                or soonest > self.max_retry_after_wait_s
            ):
                outcome.retry_in = soonest
                return outcome
            delay = max(
                soonest, backoff(round_no, self.backoff_base_s, self.backoff_max_s, self.rng)
            )
            round_no += 1
            skipped.clear()
            await asyncio.sleep(delay)

    async def _try(
        self,
        candidate: Candidate,
        attempt: Callable[[Candidate, bool], Awaitable[T]],
        force_first: bool,
        on_failure: Callable[[Candidate, AttemptFailed], None] | None,
        outcome: Outcome[T],
    ) -> bool:
        """One attempt, recorded and told to its breaker; True when the loop is done (it
        answered, or failed in a way that must not fail over)."""
        forced = force_first and outcome.tried == 0
        started = time.perf_counter()
        try:
            result = await attempt(candidate, forced)
        except AttemptFailed as failure:
            elapsed = time.perf_counter() - started
            outcome.attempts.append(
                Attempt(
                    candidate.name,
                    candidate.upstream.jurisdiction,
                    failure.reason.value,
                    failure.message,
                    elapsed,
                )
            )
            self.settle(candidate.name, failure.reason, failure.retry_after)
            if on_failure:
                on_failure(candidate, failure)
            if not failure.rule.fails_over:
                outcome.fatal = failure
                return True
            return False
        except BaseException:  # cancelled: the client went away
            self.settle(candidate.name, Reason.CLIENT_DISCONNECTED)
            raise
        self.settle(candidate.name, None)
        outcome.attempts.append(
            Attempt(
                candidate.name,
                candidate.upstream.jurisdiction,
                OK,
                "",
                time.perf_counter() - started,
            )
        )
        outcome.result, outcome.candidate = result, candidate
        return True
