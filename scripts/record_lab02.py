"""Record what lab 02 grades on: latency per region and deployment type of the cloud stand-in.

    .venv/bin/python scripts/record_lab02.py

Starts one cloud-platform stand-in per region (reference_stack/providers/cloud, Azure OpenAI wire
format) in-process on free loopback ports, with the seeded scripted token source, and streams
``CALLS`` chat completions to every deployment of ``MODEL`` in every region with
``openai.AzureOpenAI``. Writes datasets/lab02/latency_samples.csv: one row per call, with the
time to the first chunk carrying choices (TTFT) and to the last chunk with text (E2E).

The delays are the catalog's MODELLED profiles (datasets/providers/latency.csv: network path
from a client in Paris, queueing on shared capacity for serverless, none for provisioned); the
timestamps are measured on this machine, so its own overhead (a few ms) is included.
Managed-compute deployments are left out: their timing is the local engine's own, which the
lab measures live instead.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import platform
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import openai

from reference_stack.providers.testing import CLOUD_KEY, cloud_standin
from servelab.labs.lab02_cloud_platform import LAB02
from servelab_base.catalog import load

SEED = 202
MODEL = "gpt-4.1-mini"  # served serverless in all four regions and provisioned in three
CALLS = 30
CONCURRENCY = 4  # per region; four regions in parallel on a 2-core machine
API_VERSION = "2024-10-21"
TYPES = ("serverless", "provisioned")
PROMPT = [
    {"role": "user", "content": "Summarise our leave policy for a new employee in two lines."}
]


def cpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def one_call(client: openai.AzureOpenAI, deployment: str, i: int) -> dict:
    sent = time.perf_counter()
    first = last_text = None
    usage = None
    stream = client.chat.completions.create(
        model=deployment,
        messages=PROMPT,
        max_tokens=40,
        seed=i,
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        now = time.perf_counter()
        if chunk.choices and first is None:
            first = now
        if chunk.choices and chunk.choices[0].delta.content:
            last_text = now
        usage = chunk.usage or usage
    return {
        "ttft_ms": round(1000 * (first - sent), 2),
        "e2e_ms": round(1000 * (last_text - sent), 2),
        "completion_tokens": usage.completion_tokens if usage else None,
    }


def record_region(region: str) -> list[dict]:
    catalog = load()
    rec = catalog.region("azure-openai", region)
    deployments = [
        d
        for d in catalog.deployments("azure-openai", region)
        if d.model == MODEL and d.deployment_type in TYPES
    ]
    rows = []
    with cloud_standin(region, seed=SEED, latency_scale=1.0) as (url, _):
        client = openai.AzureOpenAI(
            azure_endpoint=url, api_key=CLOUD_KEY, api_version=API_VERSION, max_retries=0
        )
        for d in deployments:
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                results = list(pool.map(lambda i, d=d: one_call(client, d.name, i), range(CALLS)))
            for i, r in enumerate(results):
                rows.append(
                    {
                        "region": region,
                        "jurisdiction": rec.jurisdiction,
                        "deployment_type": d.deployment_type,
                        "deployment": d.name,
                        "call": i,
                        **r,
                    }
                )
    return rows


def main() -> None:
    regions = [r.region for r in load().regions("azure-openai") if r.standin_port]
    with ThreadPoolExecutor(len(regions)) as pool:
        rows = [row for part in pool.map(record_region, regions) for row in part]
    LAB02.mkdir(parents=True, exist_ok=True)
    path = LAB02 / "latency_samples.csv"
    with path.open("w", newline="") as f:
        f.write(
            "# source: recorded from the cloud-platform stand-in "
            "(reference_stack/providers/cloud), not from Azure; delays are the catalog's "
            "MODELLED profiles (datasets/providers/latency.csv), timestamps measured\n"
        )
        f.write(
            "# command: python scripts/record_lab02.py (scripted token source, "
            f"seed {SEED}, openai {openai.__version__})\n"
        )
        f.write(f"# hardware: {cpu_model()}, {os.cpu_count()} cores, no GPU\n")
        f.write(f"# date: {dt.date.today().isoformat()}\n")
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {path}: {len(rows)} calls")


if __name__ == "__main__":
    main()
