"""servelab.labs.sizing: weights, KV cache and the bandwidth floor, on published figures."""

from __future__ import annotations

import math

import pytest

from servelab.bench.floors import itl_floor
from servelab.labs import sizing

LLAMA3_8B = sizing.MODELS["Llama 3 8B"]
H100 = sizing.GPUS["H100 SXM 80GB"]


def test_llama3_8b_kv_cache_is_128_kib_per_token():  # docs/metrics.md
    assert LLAMA3_8B.kv_bytes_per_token() == 128 * sizing.KIB


# 22.5 KiB: the comment in reference_stack/profiles/cpu.yaml
def test_smollm2_kv_cache_matches_the_cpu_profile_comment():
    assert sizing.MODELS["SmolLM2 135M"].kv_bytes_per_token() == 22.5 * sizing.KIB


def test_gqa_and_mqa_shrink_the_kv_cache():
    phi3, gemma = sizing.MODELS["Phi-3 Mini"], sizing.MODELS["Gemma 2B"]
    assert phi3.kv_bytes_per_token() == 384 * sizing.KIB  # no GQA: 32 KV heads x 96 dims
    assert gemma.kv_bytes_per_token() == 18 * sizing.KIB  # one KV head (multi-query)


def test_weights_and_the_h100_floor_match_metrics_md():
    weights = sizing.weight_bytes(LLAMA3_8B.params)
    assert math.isclose(weights, 16.06e9)
    h100_ms = itl_floor(weights, H100.bandwidth_bytes_s) * 1000
    assert math.isclose(h100_ms, 4.79, abs_tol=0.01)
    a100_ms = itl_floor(weights, sizing.GPUS["A100 40GB"].bandwidth_bytes_s) * 1000
    assert math.isclose(a100_ms, 10.33, abs_tol=0.01)


def test_four_bit_weights_take_a_quarter_of_bf16():
    assert math.isclose(sizing.weight_bytes(8e9, 4), sizing.weight_bytes(8e9) / 4)


def test_kv_sequences_that_fit():
    # (72e9 - 16.06e9) / (128 KiB x 8192) = 52.1 on an H100; 18.6 on an A100 40GB
    assert sizing.kv_sequences_that_fit(H100, LLAMA3_8B, 8192) == 52
    assert sizing.kv_sequences_that_fit(sizing.GPUS["A100 40GB"], LLAMA3_8B, 8192) == 18
    # Llama 3 70B in bf16 does not fit one GPU at all
    assert sizing.kv_sequences_that_fit(H100, sizing.MODELS["Llama 3 70B"], 1024) == 0


def test_batching_raises_modelled_throughput_but_less_than_linearly():
    one = sizing.decode_tokens_per_s(LLAMA3_8B, H100, 1, 1000)
    many = sizing.decode_tokens_per_s(LLAMA3_8B, H100, 64, 1000)
    step_bytes = 16.06e9 + 1000 * 131072
    assert math.isclose(one, 1 / itl_floor(step_bytes, H100.bandwidth_bytes_s))
    assert one * 10 < many < one * 64
    assert math.isclose(
        sizing.decode_tokens_per_s(LLAMA3_8B, H100, 64, 1000, efficiency=0.37), 0.37 * many
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: sizing.weight_bytes(0),
        lambda: sizing.weight_bytes(1e9, -4),
        lambda: sizing.kv_cache_bytes(LLAMA3_8B, -1),
        lambda: sizing.decode_tokens_per_s(LLAMA3_8B, H100, 0, 100),
    ],
)
def test_bad_input_is_refused(call):
    with pytest.raises(ValueError):
        call()
