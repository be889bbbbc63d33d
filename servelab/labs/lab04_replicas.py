"""Lab 04, part two: one engine or two replicas behind the gateway, and how it shares the load.

The experiment (recorded by scripts/record_lab04_replicas.py, rerun by benchmarks/replicas.py):
open-loop Poisson arrivals at several rates into the gateway, three ways:

- ``one``: one llama-server replica (a pool of one);
- ``round-robin``: two replicas, each request to the next one in turn;
- ``load-aware``: the same two, each request to the one with the least in hand (requests in
  flight at the gateway, plus the engine's own queue: reference_stack/gateway/balance.py).

The replicas are the cpu-replicas profile's own llama-server command lines, started on free
ports (``PrivatePool``), with their own gateway, so nothing of the running stack is touched.
The requests mix short answers with long ones (``LONG_SHARE`` of them ``LONG_TOKENS`` long):
with equal answers round-robin would be nearly as good; it is the long ones it cannot see.

What the lab reads is ``replicas.csv``: one row per request, from servelab.bench's raw events
(``rows``). The live section (``live_compare``) runs a short version against the stack's own
replicas (``servelab up --profile cpu-replicas``) or shows the recording.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import matplotlib.pyplot as plt
import pandas as pd
import yaml

from reference_stack.gateway.settings import LOCAL_LEARNER_KEY
from servelab.bench import Load, Target, Workload, load_prompts, run_sync
from servelab.bench.metrics import e2e, ok, output_tokens, ttft
from servelab.course_server.learner import gateway_key
from servelab.live import Outcome, scaled
from servelab.live import run as run_live
from servelab_base.config import get_settings
from servelab_base.paths import DATASETS

LAB04 = DATASETS / "lab04"
RECORDING = LAB04 / "replicas.csv"
#: config -> the alias of the private gateway (``PrivatePool``) that serves it
CONFIGS = {"one": "one", "round-robin": "rr", "load-aware": "ll"}
#: config -> the alias of the stack's gateway (reference_stack/gateway/routing.yaml)
STACK_ALIASES = {
    "round-robin": "smollm2-135m-replicas-rr",
    "load-aware": "smollm2-135m-replicas",
}
#: The answers: most short, some long (tokens, exact: ``ignore_eos``).
SHORT_TOKENS, LONG_TOKENS, LONG_SHARE = 16, 128, 0.2
#: Seconds the live section may take before the recording stands in.
LIVE_BUDGET_S = 30.0
#: The private gateway waits long for a first token: past a knee, queues hold requests for
#: tens of seconds, and a timeout would turn waiting into failovers the experiment did not ask.
PRIVATE_TIMEOUTS = {"first_token_timeout_s": 240.0, "total_timeout_s": 480.0}


# -- the workload --------------------------------------------------------------------------------
def workload(n: int, seed: int = 0) -> Workload:
    """``n`` requests over the short_chat prompts, each short or (``LONG_SHARE``) long, seeded:
    every config and rate gets the same sequence of answers."""
    prompts = load_prompts("short_chat")
    rng = random.Random(seed)
    entries = []
    for i in range(n):
        entry = dict(prompts[i % len(prompts)])
        entry["max_tokens"] = LONG_TOKENS if rng.random() < LONG_SHARE else SHORT_TOKENS
        entries.append(entry)
    return Workload(
        entries, max_tokens=None, extra_body={"ignore_eos": True}, name="short_chat, mixed"
    )


def run_point(
    target: Target,
    config: str,
    rate: float,
    n: int,
    seed: int = 0,
    burstiness: float = 1.0,
    warmup: int = 0,
) -> list[dict]:
    """One open-loop run (Poisson arrivals at ``rate`` per second, or gamma with
    ``burstiness``; no cap in flight) of ``n`` requests; each record gets ``config`` and
    ``rate``."""
    load = Load(
        max_concurrency=None,
        request_rate=rate,
        burstiness=burstiness,
        num_requests=n,
        warmup=warmup,
        seed=seed,
    )
    run = run_sync(target, workload(max(n, warmup, 1), seed), load, progress=False)
    for record in run.records:
        record["config"], record["rate"] = config, rate
    return run.records


def rows(records: Sequence[dict]) -> pd.DataFrame:
    """One row per measured request: config, rate, sent_s (after the point's first send),
    ttft_ms, e2e_ms, output and asked tokens, ok, and the replica that answered."""
    out = []
    starts: dict[tuple, float] = {}
    measured = [r for r in records if not r.get("warmup")]
    for r in measured:
        key = (r["config"], r["rate"])
        starts[key] = min(starts.get(key, r["sent_at"]), r["sent_at"])
    for r in measured:
        good = ok(r)
        first = ttft(r) if good else None
        end = e2e(r) if good else None
        out.append(
            {
                "config": r["config"],
                "rate": float(r["rate"]),
                "request_id": r["request_id"],
                "sent_s": round(r["sent_at"] - starts[r["config"], r["rate"]], 4),
                "ttft_ms": round(1000 * first, 2) if first is not None else None,
                "e2e_ms": round(1000 * end, 2) if end is not None else None,
                "output_tokens": output_tokens(r)[0] if good else 0,
                "max_tokens": r.get("max_tokens"),
                "ok": good,
                "upstream": r.get("upstream"),
            }
        )
    return pd.DataFrame(out)


def load_requests(path: Path = RECORDING) -> pd.DataFrame:
    """The recording: one row per request (see ``rows``)."""
    if not path.exists():
        raise FileNotFoundError(f"no recording {path}; run scripts/record_lab04_replicas.py")
    return pd.read_csv(path)


def load_meta(path: Path = RECORDING) -> dict:
    """How, where and when the recording was made."""
    return json.loads(path.with_suffix(".meta.json").read_text())


# -- a private pool: two replicas and a gateway of their own -------------------------------------
def routing_table(urls: Sequence[str]) -> dict:
    """The stack's routing table with only the experiment's pools and aliases: ``one`` on the
    first replica, ``rr`` and ``ll`` on all of them (round-robin, least-load)."""
    from reference_stack.gateway.settings import HERE

    table = yaml.safe_load((HERE / "routing.yaml").read_text())
    upstream = dict(table["upstreams"]["local-llamacpp-pool"])
    model = get_settings().model
    table["source"] = "servelab.labs.lab04_replicas.routing_table (the experiment's pools)"
    table["upstreams"] = {
        "single": upstream | {"replicas": [urls[0] + "/v1"]},
        "pool": upstream | {"replicas": [u + "/v1" for u in urls]},
    }
    table["models"] = {
        "one": {"chain": [{"upstream": "single", "model": model}]},
        "rr": {"balance": "round-robin", "chain": [{"upstream": "pool", "model": model}]},
        "ll": {"balance": "least-load", "chain": [{"upstream": "pool", "model": model}]},
    }
    return table


class PrivatePool:
    """Two replicas (the cpu-replicas profile's commands, free ports) and a gateway in front.

    ``pin=True`` puts replica i on CPU i, so the two never share a core."""

    def __init__(self, replicas: int = 2, pin: bool = False) -> None:
        self.replicas = replicas
        self.pin = pin
        self.engines: list[Any] = []
        self.gateway: Any = None
        self._dir = tempfile.TemporaryDirectory(prefix="servelab-replicas-")

    def __enter__(self) -> PrivatePool:
        from reference_stack.gateway.process import GatewayProcess
        from reference_stack.stack import standalone

        try:
            for i in range(self.replicas):
                cpu = i if self.pin else None
                self.engines.append(standalone.start("cpu-replicas", f"replica-{i + 1}", cpu=cpu))
            routing = Path(self._dir.name) / "routing.yaml"
            routing.write_text(yaml.safe_dump(routing_table([e.url for e in self.engines])))
            audit = Path(self._dir.name) / "audit.jsonl"
            self.gateway = GatewayProcess(routing=routing, audit=audit, **PRIVATE_TIMEOUTS)
            self.gateway.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def target(self, config: str) -> Target:
        """Where ``config``'s requests go: this pool's own gateway, which reads the stack's
        default keys.yaml (so the local learner key, whoever runs it)."""
        return Target(
            self.gateway.base_url + "/v1", model=CONFIGS[config], api_key=LOCAL_LEARNER_KEY
        )

    def __exit__(self, *exc: object) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        for engine in self.engines:
            engine.stop()
        self._dir.cleanup()


def sweep(
    pool: PrivatePool,
    rates: Sequence[float],
    n: int | Callable[[float], int],
    configs: Sequence[str] = tuple(CONFIGS),
    seed: int = 0,
    burstiness: float = 1.0,
    say: Callable[[str], None] = print,
) -> list[dict]:
    """Every config at every rate, configs interleaved within each rate (so the machine's noise
    falls on all of them alike); the same request sequence everywhere."""
    records: list[dict] = []
    for config in configs:  # warm every path once: connections, caches, the engines' first batch
        records += run_point(pool.target(config), config, min(rates), 0, seed, warmup=2)
    for rate in rates:
        count = n(rate) if callable(n) else n
        for config in configs:
            started = time.perf_counter()
            records += run_point(pool.target(config), config, rate, count, seed, burstiness)
            took = time.perf_counter() - started
            say(f"  {config:<12} {rate:g} req/s: {count} requests, {took:.0f} s")
    return records


# -- the live section ----------------------------------------------------------------------------
def stack_replicas_up(gateway_url: str) -> bool:
    """True when the stack's gateway sees its replica pool up (cpu-replicas profile). The pool's
    state is shown to a key that may observe the gateway (any key, in local mode)."""
    headers = {"authorization": f"Bearer {gateway_key()}"}
    try:
        state = httpx.get(gateway_url + "/health", headers=headers, timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return False
    members = (state.get("replicas") or {}).values()
    return bool(members) and all(m.get("in_pool") for m in members)


def live_compare(gateway_url: str, rate: float = 3.0) -> Outcome:
    """Round-robin and load-aware on the stack's two replicas at ``rate``, one after the other;
    the recording at the nearest rate when they cannot run."""
    n = scaled(30, 12)

    def work(progress) -> pd.DataFrame:
        if not stack_replicas_up(gateway_url):
            raise RuntimeError(
                "the replicas are not up: start them with `servelab up --profile cpu-replicas`"
            )
        records = []
        for config, alias in STACK_ALIASES.items():
            if progress.stopped():
                break
            target = Target(gateway_url + "/v1", model=alias, api_key=gateway_key())
            records += run_point(target, config, rate, n)
            progress.update()
        return rows(records)

    def recorded() -> pd.DataFrame:
        table = load_requests()
        nearest = min(table.rate.unique(), key=lambda r: (abs(r - rate), r))
        return table[(table.rate == nearest) & table.config.isin(list(STACK_ALIASES))]

    return run_live(
        f"round-robin and load-aware at {rate:g} req/s",
        work,
        seconds=LIVE_BUDGET_S,
        total=len(STACK_ALIASES),
        needs=["gateway"],
        recorded=recorded,
    )


# -- pictures ------------------------------------------------------------------------------------
def plot_arrivals(requests: pd.DataFrame, rate: float, axes=None):
    """Each request's TTFT against when it was sent, at one ``rate``, a panel per config; the
    requests that asked for a long answer are marked. Queues show as TTFT climbing over time."""
    configs = list(dict.fromkeys(requests.config))
    if axes is None:
        _, axes = plt.subplots(1, len(configs), figsize=(4.2 * len(configs), 3.4), sharey=True)
    point = requests[requests.rate == rate]
    for ax, config in zip(axes, configs, strict=False):
        mine = point[(point.config == config) & point.ok.astype(bool)]
        long = mine.max_tokens >= LONG_TOKENS
        ax.scatter(mine.sent_s[~long], mine.ttft_ms[~long], s=10, label="short answer asked")
        ax.scatter(mine.sent_s[long], mine.ttft_ms[long], s=18, marker="x", label="long answer")
        ax.set_yscale("log")
        ax.set_title(f"{config}, {rate:g} req/s", fontsize=10)
        ax.set_xlabel("sent at (s)")
    axes[0].set_ylabel("TTFT (ms, log scale)")
    axes[0].legend(fontsize=8)
    return axes


def plot_tails(table: pd.DataFrame, ax=None):
    """A tail table (config, rate -> ttft_p50, ttft_p99): p99 solid, p50 dashed, per config."""
    ax = ax if ax is not None else plt.subplots(figsize=(7, 4))[1]
    for config in dict.fromkeys(table.index.get_level_values("config")):
        rows_ = table.loc[config].sort_index()
        line = ax.plot(rows_.index, rows_.ttft_p99, marker="o", label=f"{config}: p99")[0]
        ax.plot(
            rows_.index, rows_.ttft_p50, ls="--", color=line.get_color(), label=f"{config}: p50"
        )
    ax.set_yscale("log")
    ax.set_xlabel("arrival rate (requests per second, Poisson)")
    ax.set_ylabel("TTFT (ms, log scale)")
    ax.legend(fontsize=8)
    ax.set_title("one replica, or two balanced two ways")
    return ax


def plot_cdf(requests: pd.DataFrame, ax=None):
    """The share of requests with a TTFT at most x, per config (the tail is the top right)."""
    ax = ax if ax is not None else plt.subplots(figsize=(6, 3.6))[1]
    for config, group in requests[requests.ok.astype(bool)].groupby("config", sort=False):
        values = group.ttft_ms.sort_values().to_numpy()
        ax.step(values, [(i + 1) / len(values) for i in range(len(values))], label=config)
    ax.set_xscale("log")
    ax.set_xlabel("TTFT (ms, log scale)")
    ax.set_ylabel("share of requests")
    ax.legend(fontsize=8)
    return ax


def spread(requests: pd.DataFrame) -> pd.DataFrame:
    """Requests per config and replica (who answered), to see each rule's split."""
    return requests.pivot_table(
        index="config", columns="upstream", values="request_id", aggfunc="count", fill_value=0
    )
