"""Shape a stand-in's timing to a provider / region / deployment-type profile.

A profile (``servelab_base.catalog.LatencyProfile``, all numbers ``modelled``, see the catalog
README) has four parts, the stages a client sees:

    network round trip  ->  queueing on shared capacity  ->  time to first token  ->  per-token pace

For each request the shaper draws one ``Timing`` from a seeded RNG (so a run replays exactly):
the network and queue delays are waited before the response starts; each piece is then released
no earlier than its target time ``ttft + i * pace`` (with jitter). The shaper only ever ADDS
delay: when the local engine is slower than the profile (a CPU laptop decodes smollm2 at about
20 tokens/s, 50 ms a token), the engine's own pace shows through. The scripted token source has
no pace of its own, so with it the profile is reproduced exactly.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from servelab_base.catalog import LatencyProfile

MS = 1e-3
# Jitter multiplies each drawn duration by (1 + jitter * N(0, 1)); the factor is clipped here so
# a heavy draw never makes a duration negative or absurdly short.
MIN_JITTER_FACTOR = 0.3


@dataclass(frozen=True)
class Timing:
    """The drawn timing of one request (seconds)."""

    network_s: float
    queue_s: float
    ttft_s: float  # from the start of processing (after network + queue) to the first piece
    pace_s: tuple[float, ...]  # gaps between later pieces; the last value repeats if needed

    def gap(self, i: int) -> float:
        """Gap before piece ``i`` (i >= 1)."""
        if not self.pace_s:
            return 0.0
        return self.pace_s[min(i - 1, len(self.pace_s) - 1)]


class Shaper:
    """Draws ``Timing`` from a profile and paces a stream of pieces to it."""

    PRECOMPUTED_GAPS = 512  # enough for any lab answer; longer answers reuse the last gap

    def __init__(self, profile: LatencyProfile, scale: float = 1.0) -> None:
        if scale < 0:
            raise ValueError("latency scale must be >= 0 (0: no shaping, 1: the profile)")
        self.profile = profile
        self.scale = scale  # 0 turns shaping off (tests); 2 doubles every modelled delay

    def _jittered(self, rng: random.Random, value_ms: float) -> float:
        factor = max(MIN_JITTER_FACTOR, 1.0 + self.profile.jitter * rng.gauss(0.0, 1.0))
        return value_ms * factor * MS

    def draw(self, rng: random.Random) -> Timing:
        p = self.profile
        queue = rng.expovariate(1.0 / p.queue_mean_ms) * MS if p.queue_mean_ms > 0 else 0.0
        gaps = (
            tuple(self._jittered(rng, p.per_token_ms) for _ in range(self.PRECOMPUTED_GAPS))
            if p.per_token_ms > 0
            else ()
        )
        ttft = self._jittered(rng, p.ttft_ms) if p.ttft_ms > 0 else 0.0
        k = self.scale
        return Timing(p.network_rtt_ms * MS * k, queue * k, ttft * k, tuple(g * k for g in gaps))


class Pacer:
    """Releases pieces no earlier than their target times (never makes anything faster)."""

    def __init__(self, timing: Timing, extra_first_token_s: float = 0.0) -> None:
        self.timing = timing
        self.start = time.monotonic()
        self.next_at = self.start + timing.ttft_s + extra_first_token_s
        self.index = 0

    async def wait_turn(self) -> None:
        """Sleep until the current piece may go out, then schedule the next one."""
        delay = self.next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        self.index += 1
        self.next_at = max(self.next_at, time.monotonic()) + self.timing.gap(self.index)

    def push_back(self, seconds: float) -> None:
        """Pause ``seconds`` from now before the next piece (a stall mid-stream)."""
        self.next_at = max(self.next_at, time.monotonic()) + seconds
