"""Memory arithmetic of a Llama-architecture model, from its config.json alone.

Decode is memory-bandwidth bound: every generated token reads every weight once, so the
single-stream inter-token floor is weight bytes / memory bandwidth
(see docs/metrics.md#physical-floors).
The KV cache stores, per token, a key and a value vector for every layer and KV head.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

GIB = 1024**3
DTYPE_BYTES = {"bfloat16": 2, "float16": 2, "float32": 4}


@dataclass(frozen=True)
class LlamaShapes:
    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    tied: bool
    dtype_bytes: int
    awq_bits: int | None = None  # 4 for an AWQ checkpoint
    awq_group: int = 128

    @classmethod
    def from_config(cls, config: dict | str | Path) -> LlamaShapes:
        if not isinstance(config, dict):
            config = json.loads(Path(config).read_text())
        quant = config.get("quantization_config") or {}
        heads = config["num_attention_heads"]
        return cls(
            vocab=config["vocab_size"],
            hidden=config["hidden_size"],
            intermediate=config["intermediate_size"],
            layers=config["num_hidden_layers"],
            heads=heads,
            kv_heads=config.get("num_key_value_heads", heads),
            head_dim=config.get("head_dim") or config["hidden_size"] // heads,
            tied=bool(config.get("tie_word_embeddings", False)),
            dtype_bytes=DTYPE_BYTES[config.get("torch_dtype") or config.get("dtype", "bfloat16")],
            awq_bits=quant.get("bits") if quant.get("quant_method") == "awq" else None,
            awq_group=quant.get("group_size", 128),
        )

    @property
    def linear_params(self) -> int:
        """Parameters of the projection matrices (what AWQ quantizes)."""
        q_o = 2 * self.hidden * self.heads * self.head_dim
        k_v = 2 * self.hidden * self.kv_heads * self.head_dim
        mlp = 3 * self.hidden * self.intermediate  # gate, up, down
        return self.layers * (q_o + k_v + mlp)

    @property
    def embedding_params(self) -> int:
        """Input embedding plus the output head (once when tied)."""
        return self.vocab * self.hidden * (1 if self.tied else 2)

    @property
    def norm_params(self) -> int:
        return (2 * self.layers + 1) * self.hidden

    @property
    def params(self) -> int:
        return self.linear_params + self.embedding_params + self.norm_params

    @property
    def weight_bytes(self) -> float:
        """Bytes of weights (all GPUs together). AWQ: packed int4 + fp16 scale and int4 zero
        per group of ``awq_group`` weights; embeddings, head and norms stay in 16 bits."""
        if self.awq_bits is None:
            return self.params * self.dtype_bytes
        per_weight = self.awq_bits / 8 + (2 + self.awq_bits / 8) / self.awq_group
        return self.linear_params * per_weight + (self.embedding_params + self.norm_params) * 2

    @property
    def kv_bytes_per_token(self) -> int:
        """K and V, every layer, every KV head, in the model's 16-bit dtype."""
        return 2 * self.layers * self.kv_heads * self.head_dim * self.dtype_bytes


def itl_floor_ms(weight_bytes_per_gpu: float, bandwidth_tb_s: float) -> float:
    """Single-stream inter-token floor: each GPU reads its share of the weights per token."""
    return weight_bytes_per_gpu / (bandwidth_tb_s * 1e12) * 1e3
