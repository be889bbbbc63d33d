"""Measure what a GPU host offers the reference stack, and save it with the hardware's identity.

Run on an H100 / A100 host (PyTorch with CUDA required; transformers for the decode test; vLLM
used when installed):

    python scripts/gpu_check.py [--out datasets/gpu/] [--decode-tokens 128] [--skip-vllm]

It measures:
  1. memory bandwidth: device-to-device copies of a 4 GiB buffer (bytes read + written / time),
     next to the datasheet figure of the matching profile in reference_stack/profiles/;
  2. single-stream decode of a Llama-3-8B-shaped model with RANDOM weights (transformers,
     bf16, the real config.json from reference_stack/profiles/configs/): time per output token
     next to the bandwidth floor (weight bytes / bandwidth, see docs/metrics.md#physical-floors).
     Random weights read exactly as many bytes as real ones, so the timing is true;
  3. if vLLM is installed: the same shapes through vLLM (`load_format="dummy"`), which is what
     the profiles serve.
and writes datasets/gpu/<gpu>-<date>.json (source, command, date, GPU, driver, versions).

Without a CUDA GPU it stops at once with exit code 2 and says so.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONFIG = ROOT / "reference_stack" / "profiles" / "configs" / "llama3-8b-instruct" / "config.json"
OUT_DIR = ROOT / "datasets" / "gpu"
#: 4 GiB per buffer: far beyond any L2 cache (50 MB on H100), so the copy streams HBM
BANDWIDTH_BUFFER_BYTES = 4 * 1024**3
BANDWIDTH_REPEATS = 20
PROMPT_TOKENS = 128
#: decode steps excluded from the timing: the first calls warm up kernels and allocators
WARMUP_TOKENS = 8
EXIT_NO_GPU = 2


class NoGpu(RuntimeError):
    pass


def require_cuda():
    """Import torch and check that a CUDA device is visible, or raise NoGpu saying why."""
    try:
        import torch
    except ImportError as e:
        raise NoGpu(
            f"PyTorch is not installed ({e}); install the GPU stack with `pip install -e '.[gpu]'`"
        ) from None
    if not torch.cuda.is_available():
        raise NoGpu(
            f"no CUDA GPU visible to PyTorch {torch.__version__} (CUDA build: "
            f"{torch.version.cuda or 'none, this is a CPU build'}). Run this script on "
            "the H100 / A100 host; check `nvidia-smi` there."
        )
    return torch


def profile_for(gpu_name: str) -> str | None:
    """The reference profile sized for this GPU model (Llama 3 8B on one card)."""
    name = gpu_name.upper()
    if "H100" in name:
        return "h100-llama3-8b"
    if "A100" in name:
        return "a100-80gb-llama3-8b" if "80GB" in name.replace(" ", "") else "a100-40gb-llama3-8b"
    return None


def hardware(torch) -> dict:
    props = torch.cuda.get_device_properties(0)
    info = {
        "gpu": props.name,
        "gpu_count": torch.cuda.device_count(),
        "memory_gib": round(props.total_memory / 2**30, 2),
        "compute_capability": f"{props.major}.{props.minor}",
        "multiprocessors": props.multi_processor_count,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for package in ("transformers", "vllm"):
        try:
            info[package] = __import__(package).__version__
        except Exception:  # noqa: BLE001 - any failure means "not usable here"
            info[package] = None
    try:
        smi = subprocess.run(
            [
                "nvidia-smi",
                "--query-gpu=name,driver_version,memory.total,clocks.max.memory,power.limit",
                "--format=csv,noheader",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        info["nvidia_smi"] = smi.stdout.strip().splitlines()
    except (OSError, subprocess.SubprocessError):
        info["nvidia_smi"] = None
    return info


def measure_bandwidth(torch) -> dict:
    """Device-to-device copy: each copy reads and writes the buffer once."""
    n = BANDWIDTH_BUFFER_BYTES // 2
    src = torch.empty(n, dtype=torch.bfloat16, device="cuda")
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(BANDWIDTH_REPEATS):
        dst.copy_(src)
    end.record()
    torch.cuda.synchronize()
    seconds = start.elapsed_time(end) / 1000
    moved = 2 * BANDWIDTH_BUFFER_BYTES * BANDWIDTH_REPEATS
    del src, dst
    torch.cuda.empty_cache()
    return {
        "method": f"torch copy_ of {BANDWIDTH_BUFFER_BYTES / 2**30:.0f} GiB bf16, "
        f"{BANDWIDTH_REPEATS} repeats, read+write counted",
        "tb_s": round(moved / seconds / 1e12, 3),
    }


def measure_decode_transformers(torch, tokens: int) -> dict:
    """Greedy single-stream decode of the Llama 3 8B shapes with random bf16 weights."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from reference_stack.engines.llama_shapes import LlamaShapes

    config = LlamaConfig(**json.loads(CONFIG.read_text()))
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    model = model.to_empty(device="cuda").to(torch.bfloat16)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02)
    model.eval()
    ids = torch.randint(0, config.vocab_size, (1, PROMPT_TOKENS), device="cuda")
    gaps = []
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True)
        past, next_id = out.past_key_values, out.logits[:, -1:].argmax(-1)
        torch.cuda.synchronize()
        for step in range(tokens + WARMUP_TOKENS):
            t0 = time.perf_counter()
            out = model(input_ids=next_id, past_key_values=past, use_cache=True)
            past, next_id = out.past_key_values, out.logits[:, -1:].argmax(-1)
            torch.cuda.synchronize()
            if step >= WARMUP_TOKENS:
                gaps.append(time.perf_counter() - t0)
    gaps.sort()
    result = {
        "engine": "transformers eager (HF LlamaForCausalLM), bf16, random weights",
        "prompt_tokens": PROMPT_TOKENS,
        "decode_tokens": tokens,
        "weight_bytes": LlamaShapes.from_config(CONFIG).weight_bytes,
        "ms_per_token_p50": round(gaps[len(gaps) // 2] * 1000, 3),
        "ms_per_token_min": round(gaps[0] * 1000, 3),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
    }
    del model, past, out
    torch.cuda.empty_cache()
    return result


def measure_decode_vllm(tokens: int) -> dict:
    """The same shapes through vLLM with --load-format dummy (what the profiles serve)."""
    from vllm import LLM, SamplingParams

    from reference_stack.engines import dummy_model

    folder = dummy_model.checkpoint_dir("configs/llama3-8b-instruct")
    llm = LLM(
        model=str(folder),
        load_format="dummy",
        dtype="bfloat16",
        max_model_len=2048,
        gpu_memory_utilization=0.85,
    )
    params = SamplingParams(max_tokens=tokens, ignore_eos=True, temperature=0)
    prompt = {"prompt_token_ids": list(range(1000, 1000 + PROMPT_TOKENS))}
    llm.generate([prompt], params)  # warm-up
    started = time.perf_counter()
    out = llm.generate([prompt], params)[0]
    seconds = time.perf_counter() - started
    produced = len(out.outputs[0].token_ids)
    metrics = out.metrics
    return {
        "engine": "vLLM offline LLM, load_format=dummy, bf16, CUDA graphs",
        "decode_tokens": produced,
        "ms_per_token_incl_prefill": round(seconds / produced * 1000, 3),
        "request_metrics": str(metrics) if metrics is not None else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="measure a GPU host for the reference stack")
    parser.add_argument("--out", default=str(OUT_DIR))
    parser.add_argument("--decode-tokens", type=int, default=128)
    parser.add_argument("--skip-vllm", action="store_true")
    args = parser.parse_args(argv)
    try:
        torch = require_cuda()
    except NoGpu as e:
        print(f"gpu_check: {e}", file=sys.stderr)
        return EXIT_NO_GPU

    from reference_stack.engines.llama_shapes import LlamaShapes, itl_floor_ms
    from reference_stack.stack import profile

    result: dict = {
        "source": "measured by scripts/gpu_check.py",
        "command": " ".join(["python", "scripts/gpu_check.py", *(argv or sys.argv[1:])]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "hardware": hardware(torch),
    }
    weight_bytes = LlamaShapes.from_config(CONFIG).weight_bytes
    name = profile_for(result["hardware"]["gpu"])
    if name:
        prof = profile.load(name)
        result["profile"] = {
            "name": name,
            "gpu": prof.gpu.name,
            "datasheet_tb_s": prof.gpu.bandwidth_tb_s,
            "datasheet_floor_ms": prof.expected.itl_floor_ms,
        }
    print("measuring memory bandwidth ...", flush=True)
    result["bandwidth"] = measure_bandwidth(torch)
    result["bandwidth"]["floor_ms_llama3_8b"] = round(
        itl_floor_ms(weight_bytes, result["bandwidth"]["tb_s"]), 3
    )
    print(result["bandwidth"], flush=True)
    try:
        print("decoding with transformers (Llama 3 8B shapes, random weights) ...", flush=True)
        result["decode_transformers"] = measure_decode_transformers(torch, args.decode_tokens)
        print(result["decode_transformers"], flush=True)
    except Exception as e:  # noqa: BLE001 - record it and go on to what else can be measured
        result["decode_transformers"] = {"error": f"{type(e).__name__}: {e}"}
    if not args.skip_vllm and result["hardware"].get("vllm"):
        try:
            print("decoding with vLLM (load_format=dummy) ...", flush=True)
            result["decode_vllm"] = measure_decode_vllm(args.decode_tokens)
            print(result["decode_vllm"], flush=True)
        except Exception as e:  # noqa: BLE001
            result["decode_vllm"] = {"error": f"{type(e).__name__}: {e}"}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", result["hardware"]["gpu"].lower()).strip("-")
    path = out / f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
