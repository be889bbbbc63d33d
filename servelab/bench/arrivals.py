"""When an open-loop benchmark sends each request: Poisson or gamma arrivals at a rate.

Same model as `vllm bench serve`: with ``burstiness`` = 1 the gaps are exponential (a Poisson
process); otherwise gamma with shape = burstiness and scale = 1 / (rate x burstiness), so the mean
rate stays ``rate`` while lower burstiness makes arrivals clump and higher makes them regular.
``rate`` = inf sends everything at once (vLLM's default).
"""

from __future__ import annotations

import math

import numpy as np


def gaps(n: int, rate: float, burstiness: float = 1.0, seed: int = 0) -> np.ndarray:
    """``n`` gaps (seconds) between consecutive arrivals."""
    if rate <= 0 or burstiness <= 0:
        raise ValueError("rate and burstiness must be > 0 (rate may be inf)")
    if math.isinf(rate):
        return np.zeros(n)
    rng = np.random.default_rng(seed)
    return rng.gamma(shape=burstiness, scale=1.0 / (rate * burstiness), size=n)


def send_offsets(n: int, rate: float, burstiness: float = 1.0, seed: int = 0) -> np.ndarray:
    """Send time of each of ``n`` requests, seconds after the start (the first at 0)."""
    offsets = np.cumsum(gaps(n, rate, burstiness, seed))
    return offsets - offsets[0] if n else offsets
