"""How close does servelab.bench measure to the truth, from 1 to 256 concurrent streams?

Runs the load generator (closed loop) against the scripted upstream, which records when it really
sent each chunk, joins client and server records on ``x-request-id`` and compares medians:

    TTFT truth = first chunk written - request fully read          (server clock)
    ITL truth  = gaps between content chunks as written            (server clock)

Both processes read CLOCK_MONOTONIC (``time.perf_counter`` on Linux), so the request's trip
(client send -> server read) and each chunk's trip (server write -> client stamp) are measured
too: they are where the client's own overhead shows.

    .venv/bin/python benchmarks/bench_accuracy.py [--levels 1,2,4,...] [--itl-ms 10] [--out F]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reference_stack.scripted import ScriptedUpstream, truth  # noqa: E402
from servelab.bench import Load, Target, Workload, load_prompts, metrics, run_sync  # noqa: E402
from servelab.bench.loadgen import hardware  # noqa: E402


def compare(client_records: list[dict], server_records: list[dict]) -> dict:
    """Medians of client-measured vs true TTFT and ITL, plus the two trips, in ms."""
    by_id = {r["client_request_id"]: r for r in server_records}
    rows = []
    for c in client_records:
        s = by_id.get(c["request_id"])
        if s is None or not metrics.ok(c):
            continue
        sent = [ch["sent_perf"] for ch in s["chunks"] if ch["kind"] in ("role", "content")]
        arrived = [ch["t"] for ch in c["chunks"]]
        rows.append(
            {
                "ttft": metrics.ttft(c),
                "ttft_true": truth.ttft(s),
                "itls": metrics.itls(c),
                "itls_true": truth.itls(s),
                "request_trip": s["received_perf"] - c["sent_at"],
                "chunk_trips": [a - b for a, b in zip(arrived, sent, strict=False)],
            }
        )
    ms = lambda xs: 1000 * float(np.median(xs)) if len(xs) else float("nan")  # noqa: E731
    itl = [x for r in rows for x in r["itls"]]
    itl_true = [x for r in rows for x in r["itls_true"]]
    trips = [x for r in rows for x in r["chunk_trips"]]
    return {
        "requests": len(rows),
        "ttft_p50": ms([r["ttft"] for r in rows]),
        "ttft_true_p50": ms([r["ttft_true"] for r in rows]),
        "itl_p50": ms(itl),
        "itl_true_p50": ms(itl_true),
        "itl_p99": 1000 * float(np.percentile(itl, 99)) if itl else float("nan"),
        "itl_true_p99": 1000 * float(np.percentile(itl_true, 99)) if itl_true else float("nan"),
        "request_trip_p50": ms([r["request_trip"] for r in rows]),
        "chunk_trip_p50": ms(trips),
        "chunk_trip_p99": 1000 * float(np.percentile(trips, 99)) if trips else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", default="1,2,4,8,16,32,64,128,256")
    ap.add_argument("--ttft-ms", type=float, default=50)
    ap.add_argument("--itl-ms", type=float, default=10)
    ap.add_argument("--chunks", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3, help="requests per stream at each level")
    ap.add_argument("--out", help="write the table as CSV here")
    args = ap.parse_args()
    rows = []
    prompts = load_prompts("short_chat")
    with ScriptedUpstream(
        ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, chunks=args.chunks, keep=1_000_000
    ) as up:
        target = Target(up.base_url + "/v1", "scripted")
        for n in [int(x) for x in args.levels.split(",")]:
            up.clear()
            load = Load(max_concurrency=n, num_requests=max(32, args.rounds * n), warmup=n)
            run = run_sync(target, Workload(prompts, max_tokens=None), load, progress=False)
            time.sleep(0.2)  # let the last records land
            row = {"concurrency": n} | compare(run.records, up.records())
            client = run.meta["client"]
            row["client_cpu_per_request_ms"] = client["cpu_per_request_ms"]
            row["client_cpu_util"] = client["cpu_util_of_one_core"]
            row["ttft_err"] = row["ttft_p50"] - row["ttft_true_p50"]
            row["itl_err"] = row["itl_p50"] - row["itl_true_p50"]
            rows.append(row)
            print(
                json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}),
                flush=True,
            )
    table = pd.DataFrame(rows).set_index("concurrency")
    print(
        f"\n# scripted upstream ttft {args.ttft_ms} ms, itl {args.itl_ms} ms, "
        f"{args.chunks} chunks; client and server on {hardware()}"
    )
    print(table.round(3).to_string())
    if args.out:
        table.to_csv(args.out)


if __name__ == "__main__":
    main()
