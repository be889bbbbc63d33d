"""Failover: which failures move on to the next upstream, and the one retry loop that does it.

The table below is the whole policy. A failure that says "the upstream is unwell" (it cannot be
reached, it is too slow, it is overloaded, it broke) fails over and counts against that
upstream's breaker. A failure that says "the request is wrong" (a 4xx such as 400, 404, 413,
422) goes back to the client unchanged: every other upstream would refuse it too, and retrying
it only multiplies load.

The loop (``FailoverLoop.run``) is the only place anything is retried: the HTTP client below it
never retries on its own (the openai SDK and LiteLLM learned this the hard way: retries nested
in retries multiply). It walks the compliant candidates in order, skipping upstreams whose
breaker is open; when a full round has failed, it waits (jittered exponential backoff, or the
upstream's ``Retry-After`` if that is longer) and goes round again, until the attempt budget
or the patience for ``Retry-After`` runs out.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from .breaker import Breaker
from .routing import Candidate


class Reason(StrEnum):
    CONNECT_ERROR = "connect_error"
    CONNECT_TIMEOUT = "connect_timeout"
    FIRST_TOKEN_TIMEOUT = "first_token_timeout"
    TOTAL_TIMEOUT = "total_timeout"
    BROKEN_STREAM = "broken_stream"  # closed or garbled before the first chunk
    TOO_MANY_REQUESTS = "http_429"
    SERVER_ERROR = "http_5xx"
    UPSTREAM_AUTH = "http_401_403"  # the gateway's key for that upstream is wrong
    REQUEST_TIMEOUT = "http_408"
    CLIENT_ERROR = "http_4xx"  # any other 4xx: the request itself is wrong
    FORCED = "forced"  # the teaching switch (settings.force_failover / header)


@dataclass(frozen=True)
class Rule:
    fails_over: bool
    trips_breaker: bool
    why: str


#: The explicit failover table (README.md shows it too).
RULES: dict[Reason, Rule] = {
    Reason.CONNECT_ERROR: Rule(True, True, "upstream down or unreachable"),
    Reason.CONNECT_TIMEOUT: Rule(True, True, "upstream unreachable within the connect timeout"),
    Reason.FIRST_TOKEN_TIMEOUT: Rule(True, True, "no first token within the TTFT timeout"),
    Reason.TOTAL_TIMEOUT: Rule(True, True, "no complete answer within the total timeout"),
    Reason.BROKEN_STREAM: Rule(True, True, "stream ended or garbled before its first chunk"),
    Reason.TOO_MANY_REQUESTS: Rule(True, True, "upstream overloaded or over its rate limit"),
    Reason.SERVER_ERROR: Rule(True, True, "upstream error (500, 502, 503, 504 ...)"),
    Reason.UPSTREAM_AUTH: Rule(
        True,
        True,
        "the gateway's credential for this upstream failed; the client's request is fine",
    ),
    Reason.REQUEST_TIMEOUT: Rule(True, True, "upstream timed out reading the request"),
    Reason.CLIENT_ERROR: Rule(False, False, "the request is invalid; every upstream would say so"),
    Reason.FORCED: Rule(True, False, "forced for teaching/testing; not the upstream's fault"),
}


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


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from ``retry-after-ms`` (OpenAI) or ``Retry-After`` (seconds or HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


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


@dataclass
class Attempt:
    """What one attempt did, for the audit log, metrics and the error body."""

    upstream: str
    jurisdiction: str
    outcome: str  # "ok", a Reason value, or "skipped_breaker_open"
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

    @property
    def tried(self) -> int:
        return sum(1 for a in self.attempts if a.outcome != "skipped_breaker_open")


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
        rng: random.Random | None = None,
    ) -> None:
        self.breakers = breakers
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_retry_after_wait_s = max_retry_after_wait_s
        self.rng = rng or random.Random()

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
                                "skipped_breaker_open",
                                f"breaker open for {breaker.retry_in():.1f} s more",
                            )
                        )
                    continue
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
                    if failure.rule.trips_breaker:
                        breaker.record_failure(
                            failure.retry_after
                            if failure.reason is Reason.TOO_MANY_REQUESTS
                            or failure.reason is Reason.SERVER_ERROR
                            else None
                        )
                    else:
                        breaker.release_probe()
                    if on_failure:
                        on_failure(candidate, failure)
                    if not failure.rule.fails_over:
                        outcome.fatal = failure
                        return outcome
                    continue
                except BaseException:
                    breaker.release_probe()  # cancelled (client gone): no verdict on upstream
                    raise
                outcome.attempts.append(
                    Attempt(
                        candidate.name,
                        candidate.upstream.jurisdiction,
                        "ok",
                        "",
                        time.perf_counter() - started,
                    )
                )
                outcome.result, outcome.candidate = result, candidate
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
