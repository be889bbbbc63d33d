"""servelab.bench next to `vllm bench serve`: same server, same load, both tables.

For each concurrency, runs `vllm bench serve` (closed loop: ``--request-rate inf
--max-concurrency C``, offline with the local SmolLM2 tokenizer) and then servelab.bench with the
same load against the same server, and prints both tools' TTFT / TPOT / ITL / E2E percentiles
and their ratio. Without ``--base-url`` it starts the scripted upstream (known timing).

    .venv/bin/python benchmarks/bench_vs_vllm.py [--base-url http://127.0.0.1:8401]
        [--model smollm2-135m-instruct] [--concurrency 1,4,16] [--num-prompts 100]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from reference_stack.scripted import ScriptedUpstream, truth  # noqa: E402
from servelab.bench import Load, Target, Workload, load_prompts, metrics, run_sync  # noqa: E402
from servelab.bench.loadgen import hardware  # noqa: E402
from servelab_base.paths import CACHE  # noqa: E402

PERCENTILES = (50, 90, 99)
METRICS = (("ttft", "ttft"), ("tpot", "tpot"), ("itl", "itl"), ("e2e", "e2el"))


def run_vllm(
    base_url: str,
    model: str,
    concurrency: int,
    n: int,
    input_len: int,
    output_len: int,
    tokenizer: Path,
) -> dict:
    """One `vllm bench serve` run; returns its saved result JSON."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [
            sys.executable,
            "-m",
            "reference_stack.engines.vllm_launcher",
            "bench",
            "serve",
            "--backend",
            "openai-chat",
            "--endpoint",
            "/v1/chat/completions",
            "--base-url",
            base_url,
            "--model",
            model,
            "--tokenizer",
            str(tokenizer),
            "--dataset-name",
            "random",
            "--random-input-len",
            str(input_len),
            "--random-output-len",
            str(output_len),
            "--num-prompts",
            str(n),
            "--max-concurrency",
            str(concurrency),
            "--request-rate",
            "inf",
            "--ignore-eos",
            "--percentile-metrics",
            "ttft,tpot,itl,e2el",
            "--metric-percentiles",
            ",".join(map(str, PERCENTILES)),
            "--disable-tqdm",
            "--save-result",
            "--result-dir",
            out,
            "--result-filename",
            "vllm.json",
        ]
        env = os.environ | {"HF_HUB_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1"}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800)
        if done.returncode != 0:
            raise RuntimeError(
                f"vllm bench serve failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return json.loads((Path(out) / "vllm.json").read_text()) | {"command": " ".join(cmd)}


def run_servelab(base_url: str, model: str, concurrency: int, n: int, output_len: int) -> tuple:
    target = Target(base_url.rstrip("/") + "/v1", model)
    workload = Workload(
        load_prompts("short_chat"), max_tokens=output_len, extra_body={"ignore_eos": True}
    )
    run = run_sync(
        target, workload, Load(max_concurrency=concurrency, num_requests=n), progress=False
    )
    return metrics.summarize(run.records, percentiles=PERCENTILES), run


def truth_percentiles(server_records: list[dict], n: int) -> dict:
    """What the scripted server really did for the last ``n`` requests (ms percentiles)."""
    recs = sorted(server_records, key=lambda r: r["seq"])[-n:]
    values = {
        "ttft": [truth.ttft(r) for r in recs],
        "itl": [g for r in recs for g in truth.itls(r)],
        "e2e": [truth.e2e(r) for r in recs],
        "tpot": [
            (truth.e2e(r) - truth.ttft(r)) / (r["completion_tokens"] - 1)
            for r in recs
            if r["completion_tokens"] > 1
        ],
    }
    return {
        f"{k}_p{p}": 1000 * float(np.percentile(v, p))
        for k, v in values.items()
        for p in PERCENTILES
    }


def side_by_side(vllm: dict, ours: pd.DataFrame, truths: tuple[dict, dict] | None) -> pd.DataFrame:
    rows = []
    for our_name, vllm_name in METRICS:
        for p in PERCENTILES:
            v, s = vllm[f"p{p}_{vllm_name}_ms"], ours.loc[our_name, f"p{p}"]
            row = {
                "metric": f"{our_name} p{p}",
                "vllm_bench_ms": v,
                "servelab_ms": s,
                "servelab/vllm": s / v if v else float("nan"),
            }
            if truths:  # the server's truth during each tool's own run
                row["truth_in_vllm_run"] = truths[0][f"{our_name}_p{p}"]
                row["truth_in_servelab_run"] = truths[1][f"{our_name}_p{p}"]
            rows.append(row)
    run = ours.attrs["run"]
    rows.append(
        {
            "metric": "completed / failed",
            "vllm_bench_ms": f"{vllm['completed']} / {vllm['failed']}",
            "servelab_ms": f"{run['completed']} / {run['failed']}",
        }
    )
    rows.append(
        {
            "metric": "output tok/s",
            "vllm_bench_ms": vllm["output_throughput"],
            "servelab_ms": ours.attrs["run"]["output_throughput"],
            "servelab/vllm": ours.attrs["run"]["output_throughput"] / vllm["output_throughput"],
        }
    )
    return pd.DataFrame(rows).set_index("metric")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base-url", help="server root (no /v1); default: start the scripted one")
    ap.add_argument("--model", default="scripted")
    ap.add_argument("--concurrency", default="1,4,16")
    ap.add_argument("--num-prompts", type=int, default=100)
    ap.add_argument("--input-len", type=int, default=32)
    ap.add_argument("--output-len", type=int, default=32)
    ap.add_argument("--ttft-ms", type=float, default=50)
    ap.add_argument("--itl-ms", type=float, default=10)
    ap.add_argument("--tokenizer", type=Path, default=CACHE / "models" / "smollm2-135m-instruct")
    args = ap.parse_args()
    scripted = None
    if not args.base_url:  # tokens = max_tokens: give the script enough chunks
        scripted = ScriptedUpstream(
            ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, chunks=args.output_len, keep=1_000_000
        ).start()
        args.base_url = scripted.base_url
    print(f"# server {args.base_url} model {args.model}; client host {hardware()}")
    try:
        for c in [int(x) for x in args.concurrency.split(",")]:
            truths = []
            if scripted:
                scripted.clear()
            vllm = run_vllm(
                args.base_url,
                args.model,
                c,
                args.num_prompts,
                args.input_len,
                args.output_len,
                args.tokenizer,
            )
            if scripted:
                truths.append(truth_percentiles(scripted.records(clear=True), args.num_prompts))
            ours, _ = run_servelab(args.base_url, args.model, c, args.num_prompts, args.output_len)
            if scripted:
                truths.append(truth_percentiles(scripted.records(clear=True), args.num_prompts))
            print(
                f"\n## closed loop, concurrency {c}, {args.num_prompts} requests, "
                f"{args.output_len} output tokens (ignore_eos)"
            )
            print(side_by_side(vllm, ours, tuple(truths) or None).round(2).to_string(), flush=True)
    finally:
        if scripted:
            scripted.stop()


if __name__ == "__main__":
    main()
