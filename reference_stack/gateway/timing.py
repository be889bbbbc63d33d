"""Per-request stage timings, handed to the caller as a ``Server-Timing`` header.

Lab 00 measures the inference path stage by stage; these are the gateway's stages:

    auth            key lookup and rate-limit check
    policy          data class and residency screening of the model's chain
    route           the order to try the compliant candidates in
    failover        time spent on attempts that failed before the one that answered
    upstream_connect    attempt start -> request written (0 on a pooled connection)
    upstream_first_token    request written -> the upstream's first event (or whole answer)

``Server-Timing`` (W3C) is what browsers' dev tools and many HTTP clients already display.
Streamed answers carry the header when the first byte leaves, and repeat the timings with the
relay's duration in an SSE comment just before ``data: [DONE]``.
"""

from __future__ import annotations

import time


class StageTimer:
    __slots__ = ("stages", "_last", "started")

    def __init__(self) -> None:
        self.started = self._last = time.perf_counter()
        self.stages: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        """Close ``stage`` now: the time since the previous lap is charged to it."""
        now = time.perf_counter()
        self.stages[stage] = self.stages.get(stage, 0.0) + (now - self._last)
        self._last = now

    def add(self, stage: str, seconds: float) -> None:
        self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    def restart(self) -> None:
        """Start timing the next stage from now (time since the last lap is not charged)."""
        self._last = time.perf_counter()

    def header(self) -> str:
        """``Server-Timing`` value, durations in milliseconds."""
        return ", ".join(
            f"{name};dur={seconds * 1000:.3f}" for name, seconds in self.stages.items()
        )
