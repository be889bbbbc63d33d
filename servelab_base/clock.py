"""Clocks a timing policy can be written against: the real one, and a fake one for grading.

A retry or failover policy that calls ``clock.now()`` and ``clock.sleep(s)`` instead of
``time.monotonic()`` and ``time.sleep(s)`` runs unchanged on either. On ``FakeClock`` time moves
only when told (a call that "takes" 0.3 s advances it, a sleep advances it and is recorded), so
the same policy on the same scenario always gives the same waits and the same elapsed time, in
microseconds of real time. Labs 01 and 07 grade policies on it; the provider stand-ins' rate
limiters accept it as their clock.
"""

from __future__ import annotations

import math
import numbers
import time


class FakeClock:
    """Seconds since the scenario began; moves only on ``advance`` and ``sleep``.

    ``sleeps`` lists every wait asked for, ``intervals`` each one's (start, seconds). Calling
    the clock itself (``clock()``) reads it, so it can stand in for ``time.monotonic``."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = float(start)
        self.sleeps: list[float] = []
        self.intervals: list[tuple[float, float]] = []

    def now(self) -> float:
        return self.t

    __call__ = now

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (recorded). A wait that is not a non-negative number is refused:
        a policy computing ``sleep("2")`` or ``sleep(-1)`` has a bug worth seeing."""
        self.sleeps.append(_seconds(seconds))
        self.intervals.append((self.t, self.sleeps[-1]))
        self.t += self.sleeps[-1]

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass without a wait being recorded (time a call takes)."""
        self.t += _seconds(seconds)


class RealClock:
    """The machine's monotonic clock behind the same ``now()`` / ``sleep()`` interface."""

    def now(self) -> float:
        return time.monotonic()

    __call__ = now

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"sleep() takes seconds as a number, got {type(value).__name__}")
    if value < 0 or math.isnan(value):
        raise ValueError(f"cannot sleep {value} s")
    return float(value)
