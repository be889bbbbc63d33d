"""Requests-per-minute and tokens-per-minute limits, the way managed APIs enforce them.

Each limit is a bucket that refills continuously (capacity per minute, replenished pro rata),
which is how OpenAI describes its limits. A request spends 1 from the request bucket and its
ESTIMATED tokens (prompt estimate + max_tokens) from the token bucket, as providers do before
they know the real output length. When either bucket is short the request is refused with the
seconds until it would fit: that becomes the 429's Retry-After. (The bucket itself is
``servelab_base.token_bucket``, the same one the gateway's quotas use.)
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from servelab_base.token_bucket import SECONDS_PER_MINUTE, TokenBucket


@dataclass
class Verdict:
    """The outcome of one check, with what the x-ratelimit-* headers report."""

    allowed: bool
    limit_requests: int | None
    limit_tokens: int | None
    remaining_requests: int | None
    remaining_tokens: int | None
    reset_requests_s: float  # until the request bucket is full again
    reset_tokens_s: float
    retry_after_s: float  # 0 when allowed
    exceeded: str = ""  # "requests" or "tokens" when refused


class RateLimiter:
    """RPM and TPM buckets per key (an API key and model, or a deployment)."""

    def __init__(
        self,
        rpm: int | None,
        tpm: int | None,
        window_s: float = SECONDS_PER_MINUTE,
        clock=time.monotonic,
    ) -> None:
        self.rpm, self.tpm, self.window_s, self.clock = rpm, tpm, window_s, clock
        self._buckets: dict[str, tuple[TokenBucket | None, TokenBucket | None]] = {}
        self._lock = threading.Lock()

    def _for(self, key: str) -> tuple[TokenBucket | None, TokenBucket | None]:
        """The key's request and token buckets (None where that limit is off)."""
        if key not in self._buckets:
            self._buckets[key] = (
                TokenBucket(self.rpm, self.window_s, self.clock) if self.rpm else None,
                TokenBucket(self.tpm, self.window_s, self.clock) if self.tpm else None,
            )
        return self._buckets[key]

    def check(self, key: str, tokens: int) -> Verdict:
        """Spend one request and ``tokens`` tokens, or refuse and say how long to wait."""
        with self._lock:
            req, tok = self._for(key)
            wait_req = req.wait_for(1) if req else 0.0
            # A request larger than the whole minute's budget can never fit: wait a full minute.
            wait_tok = (
                (tok.wait_for(tokens) if tokens <= tok.capacity else SECONDS_PER_MINUTE)
                if tok
                else 0.0
            )
            allowed = wait_req == 0.0 and wait_tok == 0.0
            if allowed:
                if req:
                    req.take(1)
                if tok:
                    tok.take(tokens)
            return Verdict(
                allowed=allowed,
                limit_requests=self.rpm,
                limit_tokens=self.tpm,
                remaining_requests=math.floor(req.level) if req else None,
                remaining_tokens=math.floor(tok.level) if tok else None,
                reset_requests_s=req.until_full() if req else 0.0,
                reset_tokens_s=tok.until_full() if tok else 0.0,
                retry_after_s=0.0 if allowed else max(wait_req, wait_tok),
                exceeded="" if allowed else ("requests" if wait_req >= wait_tok else "tokens"),
            )


def duration_text(seconds: float) -> str:
    """OpenAI's reset format: ``12ms``, ``1.5s``, ``6m0s``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.0f}s"
