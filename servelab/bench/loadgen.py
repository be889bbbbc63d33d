"""The load generator: closed loop (fixed concurrency) or open loop (arrivals at a rate).

Vocabulary of `vllm bench serve`: ``request_rate`` (inf = all at once) and ``max_concurrency``.

- closed loop: ``request_rate=inf, max_concurrency=N``: N workers, each sends its next request as
  soon as its previous one ends, so the server sees exactly N in flight. Throughput is what the
  server gives; latency never explodes, because load backs off as the server slows.
- open loop: ``request_rate=R``: requests leave on a Poisson / gamma schedule whatever the server
  does (``max_concurrency`` may cap how many are in flight; then requests wait in the client and
  ``scheduled_at`` shows how late they left). Past the server's capacity, queues grow without
  bound: this is where the knee shows.

A run has an optional warm-up (requests flagged ``"warmup": true``, left out of summaries), then
stops issuing requests after ``num_requests`` or ``duration_s``, whichever comes first, and waits
for the ones in flight. It also measures its own CPU time: the client is part of what it measures.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import math
import os
import platform
import resource
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from tqdm.auto import tqdm

from . import arrivals
from .client import Target, chat_body, send
from .events import Run
from .http import Pool

T = TypeVar("T")


@dataclass
class Load:
    """How requests are sent (names as in `vllm bench serve`)."""

    max_concurrency: int | None = 1  # closed loop when request_rate is inf
    request_rate: float = math.inf  # requests per second (open loop when finite)
    burstiness: float = 1.0  # 1 = Poisson; gamma shape otherwise
    num_requests: int | None = 100
    duration_s: float | None = None  # stop issuing new requests after this long
    warmup: int = 0  # requests sent (and flagged) before the measured part
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_requests is None and self.duration_s is None:
            raise ValueError("bound the run: give num_requests, duration_s, or both")
        if math.isinf(self.request_rate) and not self.max_concurrency:
            if self.num_requests is None:
                raise ValueError("request_rate=inf needs max_concurrency or num_requests")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        if self.request_rate <= 0 or self.burstiness <= 0:
            raise ValueError("request_rate and burstiness must be > 0")

    @property
    def closed_loop(self) -> bool:
        return math.isinf(self.request_rate) and self.max_concurrency is not None

    def describe(self) -> str:
        if self.closed_loop:
            return f"closed loop, concurrency {self.max_concurrency}"
        kind = "Poisson" if self.burstiness == 1 else f"gamma (burstiness {self.burstiness:g})"
        cap = f", max concurrency {self.max_concurrency}" if self.max_concurrency else ""
        return f"open loop, {kind} arrivals at {self.request_rate:g} req/s{cap}"


@dataclass
class Workload:
    """What is sent: prompts (cycled), output length, and extra body fields."""

    prompts: Sequence[dict]  # {"prompt": str, "prompt_tokens": int, ...}: see bench.prompts
    max_tokens: int | None = 128
    stream: bool = True
    extra_body: dict = field(default_factory=dict)  # e.g. {"ignore_eos": True} for vLLM
    name: str = "custom"

    def body(self, target: Target, i: int) -> tuple[dict, dict]:
        """Request body number ``i`` and the prompt entry it came from."""
        entry = self.prompts[i % len(self.prompts)]
        max_tokens = entry.get("max_tokens", self.max_tokens)
        extra = self.extra_body | entry.get("extra_body", {})  # a prompt may add its own fields
        return chat_body(target, entry["prompt"], max_tokens, self.stream, extra), entry


def hardware() -> dict:
    """What the client ran on (CPU model, core count), for the run's metadata."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info = {"cpu": model, "cores": cores, "platform": platform.platform()}
    if hasattr(os, "getloadavg"):  # a busy host distorts every latency: say how busy it was
        info["load_avg_1m"] = round(os.getloadavg()[0], 2)
    return info


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for pkg in ("servelab", "httptools"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Runner:
    """One run's state: what to send, how, the records so far and the progress bar."""

    def __init__(self, target: Target, workload: Workload, load: Load, progress: bool):
        self.target, self.workload, self.load = target, workload, load
        self.run_id = uuid.uuid4().hex[:8]
        self.records: list[dict] = []
        self.progress = progress
        self.bar = None

    async def one(
        self, pool: Pool, i: int, warmup: bool, scheduled_at: float | None = None
    ) -> None:
        body, entry = self.workload.body(self.target, i)
        prefix = "warmup" if warmup else self.run_id
        record = await send(pool, self.target, body, f"{prefix}-{i:06d}")
        record["warmup"] = warmup
        record["prompt_tokens"] = entry.get("prompt_tokens")
        record["max_tokens"] = body.get("max_tokens")
        if scheduled_at is not None:
            record["scheduled_at"] = scheduled_at
        self.records.append(record)
        if self.bar is not None and not warmup:
            self.bar.update(1)

    async def closed(
        self, pool, concurrency: int, n: int | None, deadline: float | None, warmup: bool = False
    ) -> None:
        """``concurrency`` workers, each sending its next request when the last one ends."""
        counter = itertools.count()

        async def worker() -> None:
            while True:
                i = next(counter)
                if (n is not None and i >= n) or (deadline and time.perf_counter() >= deadline):
                    return
                await self.one(pool, i, warmup)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def open(self, pool, n: int | None, deadline: float | None) -> None:
        """Requests leave on the arrival schedule; each is its own task."""
        load = self.load
        limit = asyncio.Semaphore(load.max_concurrency) if load.max_concurrency else None
        # bounded by time only: draw twice the expected arrivals; the deadline cuts the rest
        count = n if n is not None else int(2 * load.request_rate * load.duration_s) + 10
        offsets = arrivals.send_offsets(count, load.request_rate, load.burstiness, load.seed)
        start = time.perf_counter()
        tasks = []

        async def gated(i: int, at: float) -> None:
            if limit is None:
                await self.one(pool, i, False, at)
                return
            async with limit:
                await self.one(pool, i, False, at)

        for i, offset in enumerate(offsets):
            at = start + float(offset)
            if deadline and at >= deadline:
                break
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(gated(i, at)))
        await asyncio.gather(*tasks)

    async def run(self) -> Run:
        load = self.load
        pool = Pool(self.target.base_url)
        gc_was_enabled = gc.isenabled()
        try:
            if load.warmup:  # same concurrency as the run (or 1): connections and caches warm
                await self.closed(pool, load.max_concurrency or 1, load.warmup, None, True)
            total = load.num_requests
            self.bar = tqdm(
                total=total,
                desc=load.describe(),
                unit="req",
                disable=not self.progress,
                leave=False,
            )
            # No garbage collection while measuring: a full collection over a big heap stalls
            # the event loop for tens of ms (measured: a 250 ms ITL p99 at 64 streams that the
            # server never sent). Records hold no reference cycles, so little piles up.
            gc.collect()
            gc.disable()
            started_wall, started = time.time(), time.perf_counter()
            cpu0 = _cpu_seconds()
            deadline = started + load.duration_s if load.duration_s else None
            if load.closed_loop:
                await self.closed(pool, load.max_concurrency, load.num_requests, deadline)
            else:
                await self.open(pool, load.num_requests, deadline)
            elapsed = time.perf_counter() - started
            cpu = _cpu_seconds() - cpu0
            self.bar.close()
        finally:
            pool.close()
            if gc_was_enabled:
                gc.enable()
        measured = [r for r in self.records if not r["warmup"]]
        meta = {
            "run_id": self.run_id,
            "started_at": datetime.fromtimestamp(started_wall, UTC).isoformat(),
            "target": {"base_url": self.target.base_url, "model": self.target.model},
            "load": asdict(load)
            | {
                "description": load.describe(),  # JSON has no Infinity
                "request_rate": str(load.request_rate),
            },
            "workload": {
                "name": self.workload.name,
                "prompts": len(self.workload.prompts),
                "max_tokens": self.workload.max_tokens,
                "stream": self.workload.stream,
                "extra_body": self.workload.extra_body,
            },
            "duration_s": elapsed,
            "client": {
                "cpu_s": cpu,
                "cpu_per_request_ms": 1000 * cpu / len(measured) if measured else None,
                "cpu_util_of_one_core": cpu / elapsed if elapsed > 0 else None,
                "clock": "time.perf_counter (CLOCK_MONOTONIC on Linux)",
            },
            "hardware": hardware(),
            "versions": versions(),
        }
        return Run(self.records, meta)


async def run(target: Target, workload: Workload, load: Load, progress: bool = True) -> Run:
    """Run one benchmark and return its raw events and metadata (await it in a notebook)."""
    return await _Runner(target, workload, load, progress).run()


def run_sync(target: Target, workload: Workload, load: Load, progress: bool = True) -> Run:
    """`run` from plain code; also works where an event loop already runs (Jupyter)."""
    return run_blocking(lambda: run(target, workload, load, progress))


def run_blocking(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine ``make()`` to completion, also inside Jupyter's running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    result: dict[str, Any] = {}

    def target() -> None:  # a loop is running (notebook): use a fresh loop in a thread
        try:
            result["value"] = asyncio.run(make())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]
