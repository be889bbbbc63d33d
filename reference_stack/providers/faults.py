"""Seeded fault injection a lab drives at run time (POST /admin/faults, or --faults FILE.yaml).

A fault plan is a seed and a list of rules. Each request the stand-in receives gets an index
n = 0, 1, 2, ... in arrival order; whether rule i fires for request n depends only on
(seed, i, n), so replaying the same plan against the same sequence of requests gives exactly the
same faults, and ``log`` records them for comparison.

Kinds (first three answer with an error instead of tokens; the others disturb a stream):

- ``outage``            every matching request fails with ``status`` (default 503)
- ``error``             a fraction ``rate`` of requests fail with ``status`` (500, 502, 503 ...)
- ``rate_limit_storm``  requests get 429 with Retry-After ``retry_after_s``
- ``slow_first_token``  the first token comes ``extra_ms`` later
- ``stall``             after ``after_tokens`` tokens the stream pauses ``stall_ms``
- ``disconnect``        after ``after_tokens`` tokens the connection is dropped (no [DONE])

Each rule may be limited to a window of request indexes (``requests: [first, end)``), a window
of seconds since the plan was loaded (``seconds: [start, end)``: wall-clock, so only as
reproducible as the client's timing), and to requests whose model / deployment / region
match (``match: {deployment: gpt-4o}``). Example scenario file::

    seed: 7
    rules:
      - {kind: outage, requests: [10, 20]}
      - {kind: error, status: 500, rate: 0.1}
      - {kind: disconnect, rate: 0.2, after_tokens: 5}
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, model_validator

REJECTING = ("outage", "error", "rate_limit_storm")
STREAMING = ("slow_first_token", "stall", "disconnect")
FaultKind = Literal[
    "outage", "error", "rate_limit_storm", "slow_first_token", "stall", "disconnect"
]
LOG_LIMIT = 10_000  # decisions kept for GET /admin/faults/log (a lab run is far below this)


class FaultRule(BaseModel):
    """One rule of a plan; fields that do not apply to its kind are ignored."""

    kind: FaultKind
    rate: float = Field(1.0, ge=0.0, le=1.0)
    requests: tuple[int, int] | None = None
    seconds: tuple[float, float] | None = None
    match: dict[str, str] = Field(default_factory=dict)
    status: int = Field(503, ge=400, le=599)
    retry_after_s: float = Field(1.0, ge=0.0)
    extra_ms: float = Field(2000.0, ge=0.0)
    after_tokens: int = Field(5, ge=0)
    stall_ms: float = Field(1500.0, ge=0.0)

    @model_validator(mode="after")
    def _check(self) -> FaultRule:
        if self.kind == "rate_limit_storm":
            self.status = 429
        for name in ("requests", "seconds"):
            window = getattr(self, name)
            if window is not None and window[1] < window[0]:
                raise ValueError(f"{name} window must be [start, end) with end >= start")
        return self

    def applies(self, index: int, elapsed_s: float, attrs: dict[str, str]) -> bool:
        if self.requests and not self.requests[0] <= index < self.requests[1]:
            return False
        if self.seconds and not self.seconds[0] <= elapsed_s < self.seconds[1]:
            return False
        return all(attrs.get(k) == v for k, v in self.match.items())


class FaultPlan(BaseModel):
    seed: int = 0
    rules: list[FaultRule] = Field(default_factory=list)

    @classmethod
    def from_yaml(cls, path: str | Path) -> FaultPlan:
        return cls.model_validate(yaml.safe_load(Path(path).read_text()) or {})


@dataclass
class Decision:
    """What happens to one request."""

    index: int
    reject: FaultRule | None = None
    extra_first_token_s: float = 0.0
    stall: tuple[int, float] | None = None  # (after this many tokens, pause seconds)
    disconnect_after: int | None = None
    kinds: list[str] = field(default_factory=list)


class FaultInjector:
    """Holds the current plan, numbers requests, decides and logs faults."""

    def __init__(self, plan: FaultPlan | None = None, clock=time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self.load(plan or FaultPlan())

    def load(self, plan: FaultPlan) -> None:
        """Install a plan and restart numbering, the clock and the log."""
        with self._lock:
            self.plan = plan
            self.count = 0
            self.started = self.clock()
            self.log: list[dict] = []

    def decide(self, attrs: dict[str, str]) -> Decision:
        with self._lock:
            index = self.count
            self.count += 1
            elapsed = self.clock() - self.started
            d = Decision(index)
            for i, rule in enumerate(self.plan.rules):
                if not rule.applies(index, elapsed, attrs):
                    continue
                if random.Random(f"{self.plan.seed}|{i}|{index}").random() >= rule.rate:
                    continue
                if rule.kind in REJECTING:
                    if d.reject is None:  # the first rejecting rule wins
                        d.reject = rule
                        d.kinds.append(rule.kind)
                    continue
                d.kinds.append(rule.kind)
                if rule.kind == "slow_first_token":
                    d.extra_first_token_s += rule.extra_ms / 1000
                elif rule.kind == "stall" and d.stall is None:
                    d.stall = (rule.after_tokens, rule.stall_ms / 1000)
                elif rule.kind == "disconnect" and d.disconnect_after is None:
                    d.disconnect_after = rule.after_tokens
            if d.reject is not None:  # an error answer has no stream to disturb
                d.kinds, d.extra_first_token_s = [d.reject.kind], 0.0
                d.stall = d.disconnect_after = None
            if d.kinds and len(self.log) < LOG_LIMIT:
                self.log.append(
                    {
                        "index": index,
                        "kinds": d.kinds,
                        "status": d.reject.status if d.reject else None,
                        **attrs,
                    }
                )
            return d
