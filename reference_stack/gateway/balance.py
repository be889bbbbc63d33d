"""Which replica of a pool a request tries first: the balancing rule, all of it.

A pool (routing.yaml: an upstream with ``replicas``) is several copies of one engine serving one
model. For each request the rule puts the pool's members in an order; the failover loop tries
them in that order, so a member that fails before its first token costs the client only that
attempt's time, and the next member answers. Which members take part at all is the health
check's business (replicas.py); this module only orders them. Two rules, chosen per model alias
(``balance:`` in routing.yaml):

``round-robin``
    each member in turn, whatever it is doing: the baseline. It evens out the NUMBER of
    requests, not the WORK: a member still busy with long answers gets the next request as
    surely as an idle one, and that request waits behind them.

``least-load``
    the member with the least work in hand first, where

        load   = ours + others
        ours   = requests this gateway has in flight at the member now (exact, no delay)
        others = the engine's own queue (running + waiting, from its /metrics) minus ours when
                 it was read: requests from anyone else (another gateway process, a client
                 that calls the engine directly), counted only while that reading is fresh

    Ties go to the member whose round-robin turn it is, so an idle pool is still shared evenly.
    This is "join the shortest queue": Envoy's LEAST_REQUEST balancer for the part the gateway
    sees itself, and the queue-depth scorer of llm-d / the Gateway API Inference Extension's
    endpoint picker (which reads ``vllm:num_requests_waiting``) for the part only the engine
    sees. It wins at the tail: a request never queues behind a long answer while another
    replica has a free slot.

Nothing here does I/O or keeps state: the gateway hands in what it knows (``Member``) and the
turn; replicas.py keeps the counts and reads the engines. Thresholds are settings (settings.py:
how often engines are read, when a reading is too old).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from prometheus_client.parser import text_string_to_metric_families

#: The rules an alias may choose (routing.yaml ``balance:``); least-load is the default.
BalanceRule = Literal["least-load", "round-robin"]

#: An engine's queue, as it exports it on /metrics (Prometheus gauges, summed):
#: vLLM V1: requests in the running batch and requests waiting for a slot
#: (vllm/v1/metrics/loggers.py); llama.cpp's llama-server (``--metrics``): slots processing a
#: request and requests deferred until a slot frees (tools/server/server-task.cpp).
ENGINE_QUEUE_METRICS = frozenset(
    {
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "llamacpp:requests_processing",
        "llamacpp:requests_deferred",
    }
)


@dataclass(frozen=True)
class Member:
    """What the rule knows of one replica."""

    name: str
    ours: int  # requests this gateway has in flight there now
    engine_queue: float | None = None  # running + waiting the engine last reported (None: never)
    ours_then: int = 0  # ours when that report was read
    age_s: float = math.inf  # how old that report is


def load(member: Member, stale_after_s: float) -> float:
    """Requests in hand at ``member``: ours, plus others' from a report younger than
    ``stale_after_s`` (an older one says nothing about now)."""
    others = 0.0
    if member.engine_queue is not None and member.age_s <= stale_after_s:
        others = max(0.0, member.engine_queue - member.ours_then)
    return member.ours + others


def round_robin(members: Sequence[Member], turn: int, stale_after_s: float) -> list[Member]:
    """Everyone in turn: member ``turn mod n`` first, then the ones after it."""
    k = turn % len(members) if members else 0
    return [*members[k:], *members[:k]]


def least_load(members: Sequence[Member], turn: int, stale_after_s: float) -> list[Member]:
    """Least loaded first; equal loads in round-robin order from ``turn``."""
    n = len(members)
    order = sorted(range(n), key=lambda i: (load(members[i], stale_after_s), (i - turn) % n))
    return [members[i] for i in order]


#: Rule name -> rule: ``rule(members, turn, stale_after_s)`` -> the members, first choice first.
RULES: dict[str, Callable[[Sequence[Member], int, float], list[Member]]] = {
    "least-load": least_load,
    "round-robin": round_robin,
}


def engine_queue(metrics_text: str) -> float | None:
    """Running + waiting requests from an engine's Prometheus text (every label set added up),
    or None when it exports none of ``ENGINE_QUEUE_METRICS``."""
    wanted = "\n".join(
        line
        for line in metrics_text.splitlines()
        if line.split("{", 1)[0].split(" ", 1)[0] in ENGINE_QUEUE_METRICS
    )
    total, found = 0.0, False
    for family in text_string_to_metric_families(wanted):
        for sample in family.samples:
            if sample.name in ENGINE_QUEUE_METRICS and math.isfinite(sample.value):
                total, found = total + sample.value, True
    return total if found else None
