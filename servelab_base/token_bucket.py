"""A token bucket: an allowance per minute that refills continuously.

The bucket holds at most ``window_s`` worth of allowance (a 60 s window lets a whole minute's
budget go in one burst; a shorter one spreads it, as Azure evaluates its per-minute limits over
1 s or 10 s) and refills at ``per_minute / 60`` units a second. ``wait_for`` says how long until
an amount fits; ``take`` removes it, and may leave the bucket in debt (below zero) when the
amount was only known afterwards, e.g. the output tokens of a finished answer.

Used by the gateway's per-key quotas and by the provider stand-ins' RPM/TPM limits.
"""

from __future__ import annotations

import time
from collections.abc import Callable

SECONDS_PER_MINUTE = 60.0


class TokenBucket:
    def __init__(
        self,
        per_minute: float,
        window_s: float = SECONDS_PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0:
            raise ValueError(f"per_minute must be positive, got {per_minute}")
        self.capacity = max(1.0, per_minute * window_s / SECONDS_PER_MINUTE)
        self.per_second = per_minute / SECONDS_PER_MINUTE
        self.clock = clock
        self._level = self.capacity
        self._stamp = clock()

    @property
    def level(self) -> float:
        """What is in the bucket now (negative: in debt)."""
        self._refill()
        return self._level

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` is available (0: available now)."""
        missing = amount - self.level
        return 0.0 if missing <= 0 else missing / self.per_second

    def take(self, amount: float) -> None:
        """Remove ``amount``, even if that leaves a debt (paid back by refilling)."""
        self._refill()
        self._level -= amount

    def until_full(self) -> float:
        """Seconds until the bucket is full again."""
        return (self.capacity - self.level) / self.per_second

    def _refill(self) -> None:
        now = self.clock()
        self._level = min(self.capacity, self._level + (now - self._stamp) * self.per_second)
        self._stamp = now
