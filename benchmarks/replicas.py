"""One replica or two, balanced round-robin or by load: open-loop TTFT at several arrival rates.

Two llama-server replicas started from the cpu-replicas profile's own command lines (free
ports; `--pin` puts each on its own CPU) behind a gateway of their own with three aliases: one
replica (a pool of one), both round-robin, both least-load (reference_stack/gateway/balance.py).
At each arrival rate (Poisson, `--burstiness` for gamma) every config gets the same request
sequence (servelab.labs.lab04_replicas.workload: most answers 16 tokens, a fifth 128), one after
the other, configs in a rotated order each round, so the machine's noise falls on all alike.

    .venv/bin/python benchmarks/replicas.py                          # 3 rates, 1 round
    .venv/bin/python benchmarks/replicas.py --rates 1,2,3 --requests 60 --rounds 2

Reported per rate and config: TTFT p50 and p99 (ms, as the client saw it), failures, the split
between replicas, and as ratios within the same round: p99 / load-aware's p99 and p50 /
load-aware's p50 (the machine is shared and noisy: compare ratios, not absolute times). Raw
numbers go to benchmarks/results/<date>/replicas.json, and one row per request to
replicas.csv beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from servelab.bench.loadgen import hardware, versions  # noqa: E402
from servelab.labs import lab04_replicas as replicas  # noqa: E402

CONFIGS = list(replicas.CONFIGS)
BASELINE = "load-aware"


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Per round, rate and config: requests, failures, TTFT p50 / p99, and each as a ratio to
    load-aware's in the same round and rate."""
    out = []
    for (round_no, rate, config), group in frame.groupby(["round", "rate", "config"]):
        good = group[group.ok.astype(bool)].ttft_ms.to_numpy(dtype=float)
        p50, p99 = np.percentile(good, [50, 99]) if len(good) else (np.nan, np.nan)
        split = group.upstream.value_counts().to_dict()
        out.append(
            {
                "round": round_no,
                "rate": rate,
                "config": config,
                "requests": len(group),
                "failed": int((~group.ok.astype(bool)).sum()),
                "ttft_p50_ms": float(p50),
                "ttft_p99_ms": float(p99),
                "split": split,
            }
        )
    table = pd.DataFrame(out)
    base = table[table.config == BASELINE].set_index(["round", "rate"])
    for col in ("ttft_p50_ms", "ttft_p99_ms"):
        ref = table.set_index(["round", "rate"]).index.map(base[col])
        table[col.replace("_ms", "_vs_load_aware")] = table[col].to_numpy() / np.asarray(ref)
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1.5,3,4.5", help="arrival rates, requests/s")
    parser.add_argument("--requests", type=int, default=100, help="requests per rate and config")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--burstiness", type=float, default=1.0, help="1: Poisson; gamma shape")
    parser.add_argument("--pin", action="store_true", help="replica i on CPU i")
    parser.add_argument(
        "--out", type=Path, default=None, help="default: the date's folder of results"
    )
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    started = dt.datetime.now(dt.UTC)
    out = args.out or ROOT / "benchmarks" / "results" / started.date().isoformat()
    out.mkdir(parents=True, exist_ok=True)
    load_avg = [os.getloadavg()[0]]
    frames = []
    with replicas.PrivatePool(pin=args.pin) as pool:
        for round_no in range(args.rounds):
            order = CONFIGS[round_no % 3 :] + CONFIGS[: round_no % 3]
            print(f"round {round_no + 1}: configs in the order {order}", flush=True)
            # warm-up once, then every rate with the configs one after the other
            records = replicas.sweep(
                pool, rates, args.requests, order, round_no, args.burstiness, say=print
            )
            frame = replicas.rows(records)
            frame.insert(0, "round", round_no + 1)
            frames.append(frame)
            load_avg.append(os.getloadavg()[0])
    frame = pd.concat(frames, ignore_index=True)
    table = summarize(frame)
    pd.set_option("display.width", 160)
    shown = table.drop(columns=["split"]).round(2)
    print(shown.to_string(index=False))
    medians = table.groupby(["rate", "config"])[
        ["ttft_p50_ms", "ttft_p99_ms", "ttft_p50_vs_load_aware", "ttft_p99_vs_load_aware"]
    ].median()
    print("\nmedian over rounds:\n" + medians.round(2).to_string())
    result = {
        "command": "python benchmarks/replicas.py " + " ".join(sys.argv[1:]),
        "started_at": started.isoformat(timespec="seconds"),
        "hardware": hardware(),
        "load_avg_1m": load_avg,
        "versions": versions(),
        "rates": rates,
        "requests_per_point": args.requests,
        "burstiness": args.burstiness,
        "pinned": args.pin,
        "workload": {
            "prompts": "short_chat",
            "short_tokens": replicas.SHORT_TOKENS,
            "long_tokens": replicas.LONG_TOKENS,
            "long_share": replicas.LONG_SHARE,
        },
        "table": json.loads(table.to_json(orient="records")),
    }
    (out / "replicas.json").write_text(json.dumps(result, indent=2) + "\n")
    frame.to_csv(out / "replicas.csv", index=False)
    print(f"\nwrote {out / 'replicas.json'} and {out / 'replicas.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
