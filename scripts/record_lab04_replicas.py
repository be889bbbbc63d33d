"""Record lab 04's replica experiment: TTFT against arrival rate for one replica and for two,
balanced round-robin and by load.

    .venv/bin/python scripts/record_lab04_replicas.py          # about 10 minutes on 2 cores

Starts its own two llama-server replicas (the cpu-replicas profile's command lines on free
ports) and its own gateway (servelab.labs.lab04_replicas.PrivatePool): the running stack is not
touched and need not be up. At each rate of ``RATES`` the three configs run one after the other,
a different one first at each rate (open loop, Poisson arrivals, the same seeded request
sequence: most answers 16 tokens, a fifth 128), each for about ``POINT_S`` seconds of arrivals
(at least ``MIN_REQUESTS``).

Writes (MEASURED on this machine):

- ``datasets/lab04/replicas.csv``: one row per request: config, rate, request_id, sent_s,
  ttft_ms, e2e_ms, output_tokens, max_tokens, ok, upstream (the replica that answered);
- ``datasets/lab04/replicas.meta.json``: command, date, hardware, 1-minute load average before
  and after every point, versions, the replicas' command line, the workload.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reference_stack.engines.llamacpp_build import STAMP  # noqa: E402
from reference_stack.stack import standalone  # noqa: E402
from servelab.bench.loadgen import hardware, versions  # noqa: E402
from servelab.labs import lab04_replicas as replicas  # noqa: E402

#: Arrival rates (requests per second): from where one replica idles to past where two are
#: full. On the 2-core recording machine both configs saturate between 2 and 4 req/s (a
#: first recording at 1, 2, 4, 6, 8 and 10 req/s had every config overloaded from 4 on), so
#: the rates are dense there.
RATES = (1.0, 2.0, 2.5, 3.0, 3.5, 4.0)
#: Seconds of arrivals per point, and the fewest requests a point may have (its p99 is then
#: about its worst request: the recording keeps every request, so any percentile can be read).
POINT_S, MIN_REQUESTS = 20.0, 60


def requests_at(rate: float) -> int:
    return max(MIN_REQUESTS, round(POINT_S * rate))


def portable(argv: list[str]) -> list[str]:
    """A command line without this checkout's location or the run's free port."""
    out = [a.replace(str(ROOT) + "/", "") for a in argv]
    out[out.index("--port") + 1] = "PORT"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=replicas.RECORDING)
    parser.add_argument("--rates", default=",".join(f"{r:g}" for r in RATES))
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    started = dt.datetime.now(dt.UTC)
    points = []
    records: list[dict] = []
    with replicas.PrivatePool() as pool:
        for config in replicas.CONFIGS:  # warm every path: connections, the engines' first batch
            records += replicas.run_point(pool.target(config), config, rates[0], 0, warmup=2)
        configs = list(replicas.CONFIGS)
        for k, rate in enumerate(rates):
            n = requests_at(rate)
            # a different config first at each rate: the machine's drift falls on all alike
            for config in configs[k % 3 :] + configs[: k % 3]:
                before, t0 = os.getloadavg()[0], time.perf_counter()
                records += replicas.run_point(pool.target(config), config, rate, n)
                took, after = time.perf_counter() - t0, os.getloadavg()[0]
                points.append(
                    {
                        "config": config,
                        "rate": rate,
                        "requests": n,
                        "seconds": round(took, 1),
                        "load_avg_1m_before": before,
                        "load_avg_1m_after": after,
                    }
                )
                print(f"  {config:<12} {rate:g} req/s: {n} requests in {took:.0f} s", flush=True)
        command, _ = standalone.command("cpu-replicas", "replica-1", 0)
    frame = replicas.rows(records)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    meta = {
        "kind": "measured",
        "command": "python scripts/record_lab04_replicas.py"
        + (f" --rates {args.rates}" if args.rates != parser.get_default("rates") else ""),
        "recorded_at": started.isoformat(timespec="seconds"),
        "hardware": hardware(),
        "versions": versions(),
        "llama_server_build": json.loads(STAMP.read_text()) if STAMP.exists() else None,
        "replica_command": portable(command),
        "gateway": "reference_stack/gateway, aliases one / rr / ll of "
        "servelab.labs.lab04_replicas.routing_table, default settings but "
        + json.dumps(replicas.PRIVATE_TIMEOUTS),
        "load": "open loop, Poisson arrivals, no cap in flight (servelab.bench.Load)",
        "workload": {
            "prompts": "datasets/prompts/short_chat.jsonl",
            "short_tokens": replicas.SHORT_TOKENS,
            "long_tokens": replicas.LONG_TOKENS,
            "long_share": replicas.LONG_SHARE,
            "ignore_eos": True,
            "seed": 0,
        },
        "points": points,
    }
    args.out.with_suffix(".meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {args.out} ({len(frame)} requests) and its .meta.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
