"""Physical floors: the fastest a single stream can decode, set by memory bandwidth.

Each decode step reads every weight once, so one stream's time between tokens cannot beat
``bytes of weights / memory bandwidth``. Batching shares that read among streams (which is why
throughput rises with load) but no stream gets below the floor. The GPU numbers are MODELLED
from published peak bandwidths (NVIDIA data sheets, as tabulated in docs/metrics.md),
not measured; `measure_memory_bandwidth` measures the machine you are on.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

#: Peak memory bandwidth, bytes/s, from NVIDIA's published data sheets (table in docs/metrics.md).
GPU_BANDWIDTH = {
    "H100 SXM": 3.35e12,
    "A100 80GB SXM": 2.039e12,
    "A100 80GB PCIe": 1.935e12,
    "A100 40GB": 1.555e12,
}

#: Bytes of weights read per decode step. Llama 3 8B bf16: 16.06 GB (docs/metrics.md); Llama 3 70B
#: AWQ with fp16 embeddings and head: about 39.5 GB (docs/metrics.md); SmolLM2-135M bf16: 134.5 M
#: parameters x 2 bytes (the checkpoint `make setup` converts; docs/platform.md).
MODEL_BYTES = {
    "Llama 3 8B bf16": 16.06e9,
    "Llama 3 70B AWQ": 39.5e9,
    "SmolLM2-135M bf16": 134.5e6 * 2,
}

#: vLLM v0.6.0 (Sept 2024) reported Llama 3 8B on one H100 at "1 token every 13 ms under light
#: load" (docs/metrics.md): a published measurement, for comparison with the 4.79 ms floor.
PUBLISHED_H100_LLAMA3_8B_ITL_S = 0.013


def itl_floor(model_bytes: float, bandwidth: float, tensor_parallel: int = 1) -> float:
    """Single-stream ITL floor in seconds: weights per GPU / bandwidth (collectives ignored)."""
    if model_bytes <= 0 or bandwidth <= 0 or tensor_parallel < 1:
        raise ValueError("model_bytes and bandwidth must be > 0, tensor_parallel >= 1")
    return model_bytes / tensor_parallel / bandwidth


def floor_table() -> pd.DataFrame:
    """Floors (ms) for the course's models on docs/metrics.md's GPUs (modelled, not measured)."""
    rows = []
    for gpu, bw in GPU_BANDWIDTH.items():
        rows.append(
            {
                "gpu": gpu,
                "bandwidth_TB_s": bw / 1e12,
                "llama3_8b_bf16_ms": 1000 * itl_floor(MODEL_BYTES["Llama 3 8B bf16"], bw),
            }
        )
    return pd.DataFrame(rows).set_index("gpu")


def measure_memory_bandwidth(size_mb: int = 256, repeats: int = 5) -> float:
    """Best-of-``repeats`` copy bandwidth of this machine (bytes/s), counting read + write.

    A rough STREAM-style copy with numpy, single-threaded: an engine using every core may reach
    more, so treat a floor computed from it as indicative.
    """
    src = np.ones(size_mb * 2**20 // 8)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return 2 * src.nbytes / best
