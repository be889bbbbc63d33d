"""Back-of-the-envelope sizing: weights, KV cache, and the memory-bandwidth floor of decode.

Three facts decide whether a model runs on a device, and how fast:

- **weights** take ``parameters x bits_per_weight / 8`` bytes (quantization lowers the bits);
- the **KV cache** takes ``2 (K and V) x layers x kv_heads x head_dim x bytes`` per token of
  context, per sequence in flight;
- **decode** reads every weight once per generated token, so one stream cannot beat
  ``bytes read per token / memory bandwidth`` per token (the ITL floor, docs/metrics.md).

Model shapes below are copied from each model's published ``config.json`` (linked); GPU
bandwidths and the floor itself come from ``servelab.bench.floors`` (the datasheet figures
of docs/metrics.md). Everything here is arithmetic on published figures: a number it returns is
*modelled*, never measured.
"""

from __future__ import annotations

from dataclasses import dataclass

from servelab.bench.floors import GPU_BANDWIDTH, itl_floor

KIB = 2**10
MIB = 2**20
GIB = 2**30
GB = 10**9  # vendors quote memory bandwidth in decimal units (TB/s = 10^12 bytes/s)

#: bf16 / fp16 store one value in two bytes: the default for weights on a GPU and for the KV cache
BYTES_FP16 = 2
BITS_FP16 = 16


@dataclass(frozen=True)
class ModelShape:
    """The numbers of a decoder-only transformer that sizing needs (from its config.json)."""

    name: str
    params: float  # total parameters, embeddings included
    layers: int  # num_hidden_layers
    kv_heads: int  # num_key_value_heads (GQA / MQA share K and V across query heads)
    head_dim: int  # hidden_size / num_attention_heads unless config.json says head_dim
    max_context: int  # max_position_embeddings
    source: str

    def kv_bytes_per_token(self, bytes_per_value: float = BYTES_FP16) -> float:
        """KV cache bytes one token of context takes: K and V, every layer, every KV head."""
        return 2 * self.layers * self.kv_heads * self.head_dim * bytes_per_value


MODELS: dict[str, ModelShape] = {
    shape.name: shape
    for shape in [
        # 8.03B parameters; 32 layers, 8 KV heads (GQA), head_dim 4096/32 = 128 -> 128 KiB/token
        ModelShape(
            "Llama 3 8B",
            8.03e9,
            32,
            8,
            128,
            8192,
            "https://huggingface.co/meta-llama/Meta-Llama-3-8B/blob/main/config.json",
        ),
        # 70.6B parameters; 80 layers, 8 KV heads, head_dim 8192/64 = 128 -> 320 KiB/token
        ModelShape(
            "Llama 3 70B",
            70.6e9,
            80,
            8,
            128,
            8192,
            "https://huggingface.co/meta-llama/Meta-Llama-3-70B/blob/main/config.json",
        ),
        # 7.24B parameters; 32 layers, 8 KV heads, head_dim 4096/32 = 128 -> 128 KiB/token
        ModelShape(
            "Mistral 7B",
            7.24e9,
            32,
            8,
            128,
            32768,
            "https://huggingface.co/mistralai/Mistral-7B-v0.1/blob/main/config.json",
        ),
        # 3.82B parameters; 32 layers, 32 KV heads (no GQA), head_dim 3072/32 = 96 -> 384 KiB/token
        ModelShape(
            "Phi-3 Mini",
            3.82e9,
            32,
            32,
            96,
            4096,
            "https://huggingface.co/microsoft/Phi-3-mini-4k-instruct/blob/main/config.json",
        ),
        # 2.51B parameters; 18 layers, 1 KV head (multi-query), head_dim 256 -> 18 KiB/token
        ModelShape(
            "Gemma 2B",
            2.51e9,
            18,
            1,
            256,
            8192,
            "https://huggingface.co/google/gemma-2b/blob/main/config.json",
        ),
        # 134.5M parameters (counted on the converted checkpoint); 30 layers, 3 KV heads,
        # head_dim 576/9 = 64 -> 22.5 KiB/token: the embedded model of this course
        ModelShape(
            "SmolLM2 135M",
            134.5e6,
            30,
            3,
            64,
            8192,
            "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/blob/main/config.json",
        ),
    ]
}


@dataclass(frozen=True)
class Accelerator:
    """A device's memory size and bandwidth, as its vendor publishes them."""

    name: str
    memory_bytes: float
    bandwidth_bytes_s: float
    source: str
    peak_flops: float = 0.0  # dense bf16 FLOP/s (datasheets quote twice this "with sparsity")


#: Datacenter GPUs of the course (docs/metrics.md), vendor datasheet figures.
GPUS: dict[str, Accelerator] = {
    gpu.name: gpu
    for gpu in [
        Accelerator(
            "H100 SXM 80GB",
            80 * GB,
            GPU_BANDWIDTH["H100 SXM"],
            "https://www.nvidia.com/en-us/data-center/h100/ (datasheet: 80 GB, 3.35 TB/s, "
            "1,979 bf16 TFLOPS with sparsity)",
            989e12,
        ),
        Accelerator(
            "A100 80GB SXM",
            80 * GB,
            GPU_BANDWIDTH["A100 80GB SXM"],
            "https://www.nvidia.com/en-us/data-center/a100/ (datasheet: 80 GB HBM2e, "
            "2,039 GB/s, "
            "312 bf16 TFLOPS)",
            312e12,
        ),
        Accelerator(
            "A100 40GB",
            40 * GB,
            GPU_BANDWIDTH["A100 40GB"],
            "https://www.nvidia.com/en-us/data-center/a100/ (datasheet: 40 GB HBM2, "
            "1,555 GB/s, "
            "312 bf16 TFLOPS)",
            312e12,
        ),
    ]
}

#: vLLM's default share of GPU memory it may take (``--gpu-memory-utilization 0.9``)
VLLM_GPU_MEMORY_UTILIZATION = 0.9


def weight_bytes(params: float, bits_per_weight: float = BITS_FP16) -> float:
    """Bytes the weights take at ``bits_per_weight`` (16 for bf16, about 4.5 for 4-bit GGUF)."""
    if params <= 0 or bits_per_weight <= 0:
        raise ValueError("params and bits_per_weight must be positive")
    return params * bits_per_weight / 8


def kv_cache_bytes(
    shape: ModelShape, context_tokens: int, sequences: int = 1, bytes_per_value: float = BYTES_FP16
) -> float:
    """KV cache for ``sequences`` streams that each hold ``context_tokens`` tokens."""
    if context_tokens < 0 or sequences < 0:
        raise ValueError("context_tokens and sequences cannot be negative")
    return shape.kv_bytes_per_token(bytes_per_value) * context_tokens * sequences


def kv_sequences_that_fit(
    gpu: Accelerator,
    shape: ModelShape,
    context_tokens: int,
    bits_per_weight: float = BITS_FP16,
    utilization: float = VLLM_GPU_MEMORY_UTILIZATION,
) -> int:
    """How many full-context sequences the KV cache holds once the weights are loaded.

    Ignores activations and CUDA graphs (vLLM profiles them and takes a few GB more), so the
    true number is somewhat lower: an upper bound to compare devices, not a promise.
    """
    free = gpu.memory_bytes * utilization - weight_bytes(shape.params, bits_per_weight)
    if free <= 0:
        return 0
    return int(free // kv_cache_bytes(shape, context_tokens))


def decode_tokens_per_s(
    shape: ModelShape,
    gpu: Accelerator,
    batch: int,
    context_tokens: int,
    bits_per_weight: float = BITS_FP16,
    efficiency: float = 1.0,
) -> float:
    """Bandwidth-bound decode throughput of ``batch`` streams (a roofline, not a measurement).

    One decode step reads the weights once (shared by the batch) and each stream's KV cache,
    then emits one token per stream. ``efficiency`` is the share of the floor a real engine
    reaches (docs/metrics.md: vLLM 0.6.0 reached about 37% on Llama 3 8B / H100 at light load).
    Compute limits are ignored: past a few hundred streams this overestimates.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    step_bytes = weight_bytes(shape.params, bits_per_weight) + kv_cache_bytes(
        shape, context_tokens, batch
    )
    return batch * efficiency / itl_floor(step_bytes, gpu.bandwidth_bytes_s)
