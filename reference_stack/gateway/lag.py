"""The gateway's own stalls, measured, so that they are never blamed on an upstream.

An asyncio gateway does everything on one event loop. When the loop cannot run (the machine's
CPUs are busy with other work, or the loop itself has a backlog of callbacks), an upstream's
answer sits unread in a socket buffer while a timeout's timer, just as late, fires first:
without care, the gateway's own lag becomes "connect timeout" and "no first token" against a
healthy upstream, its breaker opens, and every later request is refused (a metastable storm:
the refusals outlive the lag that caused them).

``LoopLag`` measures the lag: a probe callback due every ``PROBE_INTERVAL_S`` notes how late
it ran, and the lateness adds up to the time the loop was stalled. ``Deadline`` is a timeout,
like ``asyncio.timeout``, that does not count that time: when it is due it looks at how long
the loop stalled since it started and, if it did, moves itself out by as much. The upstream
gets the time it was promised, measured in time the gateway was able to listen.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

#: How often the probe wakes. A stall is measured to within this (the probe's lateness is the
#: stall minus the time left to its next wake-up), far below any upstream timeout; each wake
#: costs the loop about 10 us on a 2-core VM (benchmarks/gateway_overhead.py --profile), so
#: 50 a second are 0.05 % of a core.
PROBE_INTERVAL_S = 0.02
#: Lateness a probe may have without counting as a stall: libuv (uvloop) timers fire on a
#: 1 ms grid, so up to about 1 ms late is punctuality, not lag.
PROBE_SLACK_S = 0.002
#: The most stall time one deadline forgives. A loop stalled for longer than a minute is
#: broken, and the client has waited long enough to be told.
MAX_FORGIVEN_S = 60.0


class LoopLag:
    """Cumulative event-loop stall time of this process, from a probe started by ``start``."""

    def __init__(self, interval_s: float = PROBE_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.stalled_s = 0.0
        self._due = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._due = self._loop.time() + self.interval_s
        self._handle = self._loop.call_at(self._due, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._loop = None

    def _tick(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        late = now - self._due - PROBE_SLACK_S
        if late > 0:
            self.stalled_s += late
        self._due = now + self.interval_s
        self._handle = self._loop.call_at(self._due, self._tick)

    def total(self) -> float:
        """Seconds stalled so far, including a stall still going on (an overdue probe)."""
        if self._loop is None:
            return self.stalled_s
        overdue = self._loop.time() - self._due - PROBE_SLACK_S
        return self.stalled_s + max(0.0, overdue)


#: A LoopLag that never started: a Deadline with it is a plain timeout (tests, tools).
NO_LAG = LoopLag()


class Deadline:
    """``async with Deadline(seconds, lag):`` raises TimeoutError after ``seconds`` of time in
    which the event loop could run (stalls measured by ``lag`` are added back, up to
    ``MAX_FORGIVEN_S``). ``restart(seconds)`` starts a new budget from now (the next phase of
    an attempt: connect, then first token)."""

    __slots__ = ("lag", "seconds", "_timeout", "_loop", "_start", "_lag0", "_handle")

    def __init__(self, seconds: float, lag: LoopLag = NO_LAG) -> None:
        self.lag = lag
        self.seconds = seconds
        self._timeout = asyncio.timeout(None)
        self._handle: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> Deadline:
        self._loop = asyncio.get_running_loop()
        await self._timeout.__aenter__()
        self.restart(self.seconds)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        return await self._timeout.__aexit__(exc_type, exc, tb)

    def restart(self, seconds: float) -> None:
        """A fresh budget of ``seconds``, counted from now."""
        self.seconds = seconds
        self._start = self._loop.time()
        self._lag0 = self.lag.total()
        self._arm(self._start + seconds)

    def extend_to(self, seconds: float) -> None:
        """Make the budget ``seconds`` from the same start (a deadline that keeps earning
        time); the armed check reads it when it runs."""
        self.seconds = max(self.seconds, seconds)

    def expired(self) -> bool:
        return self._timeout.expired()

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._loop.call_at(when, self._check)

    def _check(self) -> None:
        forgiven = min(self.lag.total() - self._lag0, MAX_FORGIVEN_S)
        due = self._start + self.seconds + forgiven
        if self._loop.time() < due:  # the loop stalled meanwhile: that time is given back
            self._arm(due)
        else:
            self._handle = None
            self._timeout.reschedule(self._loop.time())
