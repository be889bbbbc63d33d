"""A circuit breaker per upstream: stop sending requests to an upstream that keeps failing.

    closed  --(threshold consecutive failures)-->  open  --(cooldown elapsed)-->  half_open
    half_open --(probe succeeds)--> closed          half_open --(probe fails)--> open

While open, the upstream is skipped without a request (no timeout paid). After the cooldown one
request is let through as a probe. A 429 or 503 with ``Retry-After`` opens the breaker at once
for exactly that long, up to a cap (the value is the upstream's: settings.py says why 60 s):
the upstream said when to come back.

When every candidate of a request is open, the failover loop may still try the ones that opened
after failures (panic routing, failover.py); ``may_panic`` says which.
"""

from __future__ import annotations

import math
import time
from enum import StrEnum


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


#: numeric value of each state for the Prometheus gauge
STATE_VALUE = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}


class Breaker:
    def __init__(self, threshold: int, cooldown_s: float, max_retry_after_s: float = 60.0) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.max_retry_after_s = max_retry_after_s
        self.failures = 0  # consecutive
        self.open_until = 0.0  # monotonic time the cooldown ends
        self.probing = False  # a half-open probe is in flight
        self.upstream_asked = False  # the cooldown is the upstream's own Retry-After

    def state(self, now: float | None = None) -> State:
        now = time.monotonic() if now is None else now
        if self.open_until == 0.0:
            return State.CLOSED
        return State.OPEN if now < self.open_until else State.HALF_OPEN

    def allow(self, now: float | None = None) -> bool:
        """May a request be sent now? In half-open, only one probe at a time."""
        state = self.state(now)
        if state is State.CLOSED:
            return True
        if state is State.HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def retry_in(self, now: float | None = None) -> float:
        """Seconds until the breaker lets a request through again (0: now)."""
        now = time.monotonic() if now is None else now
        return max(0.0, self.open_until - now)

    def may_panic(self, now: float | None = None) -> bool:
        """May a request be sent anyway, when every other candidate is cooling down too? Yes,
        unless the upstream itself asked for this cooldown (Retry-After)."""
        return not (self.upstream_asked and self.state(now) is State.OPEN)

    def record_success(self) -> None:
        self.failures, self.open_until, self.probing = 0, 0.0, False
        self.upstream_asked = False

    def record_failure(self, retry_after_s: float | None = None) -> None:
        now = time.monotonic()
        self.failures += 1
        self.probing = False
        if retry_after_s is not None and math.isfinite(retry_after_s):
            self.open_until = now + min(max(retry_after_s, 0.0), self.max_retry_after_s)
            self.upstream_asked = True
        elif self.failures >= self.threshold or self.open_until:  # a failed probe re-opens
            self.open_until = now + self.cooldown_s
            self.upstream_asked = False

    def release_probe(self) -> None:
        """A probe ended without a verdict (e.g. the client went away): let another probe."""
        self.probing = False
