"""The GPU path's engine configuration, read from the GPU profiles, checked without a GPU.

The profile's ``vllm serve`` line is parsed twice: by servelab.batch.gpu (into the engine
arguments Ray's vLLM stage gets) and by vLLM's own CLI parser into its EngineArgs, the way
``vllm serve`` builds its engine; every argument must agree. Ray's config then validates
(pydantic) with the replicas and accelerator the profile implies.
"""

from __future__ import annotations

import dataclasses

import pytest

from reference_stack.stack import profile as profiles
from servelab.batch import gpu
from servelab_base.config import Settings

GPU_PROFILES = [
    "h100-llama3-8b",
    "a100-80gb-llama3-8b",
    "a100-40gb-llama3-8b",
    "4xa100-40gb-llama3-70b-awq",
]


@pytest.fixture(scope="module")
def vllm_engine_args():
    """``vllm serve ARGS`` -> vLLM's EngineArgs, by vLLM's own parser (no GPU needed)."""
    from vllm.engine.arg_utils import AsyncEngineArgs

    from reference_stack.engines.vllm_launcher import serve_parser

    parser = serve_parser()

    def parse(prof: profiles.Profile):
        service = prof.service("vllm")
        values = profiles.placeholders(Settings(), service, prof)
        argv = [profiles.render(part, values) for part in service.command]
        args = parser.parse_args(argv[1:])
        assert args.model_tag == prof.model.hf_id
        # `vllm serve MODEL` makes MODEL the engine's model; with HF_HUB_OFFLINE set, vLLM looks
        # a hub id up in the local cache, so the profile's shipped config folder stands in
        args.model = str(profiles.PROFILES_DIR / prof.model.dummy_config)
        return AsyncEngineArgs.from_cli_args(args)

    return parse


@pytest.mark.parametrize("name", GPU_PROFILES)
def test_engine_kwargs_are_what_vllm_serve_would_use(vllm_engine_args, name):
    prof = profiles.load(name)
    kwargs = gpu.engine_kwargs(prof)
    engine = vllm_engine_args(prof)
    fields = {f.name for f in dataclasses.fields(engine)}
    assert set(kwargs) <= fields, f"not vLLM engine arguments: {set(kwargs) - fields}"
    for key, value in kwargs.items():
        assert getattr(engine, key) == value, (key, value, getattr(engine, key))
    assert {"dtype", "max_model_len", "gpu_memory_utilization", "max_num_seqs"} <= set(kwargs)


@pytest.mark.parametrize(
    ("name", "gpus", "replicas", "tp"),
    [
        ("h100-llama3-8b", None, 1, 1),  # the profile's own card
        ("h100-llama3-8b", 8, 8, 1),  # 8 H100s: 8 replicas of one GPU
        ("4xa100-40gb-llama3-70b-awq", None, 1, 4),  # 4 x A100 40GB, tensor parallel 4
        ("4xa100-40gb-llama3-70b-awq", 8, 2, 4),  # 8 A100s: 2 replicas of 4
    ],
)
def test_replicas_follow_gpus_and_tensor_parallelism(name, gpus, replicas, tp):
    from ray.data.llm import vLLMEngineProcessorConfig

    config = gpu.engine_config(name, gpus=gpus)
    assert isinstance(config, vLLMEngineProcessorConfig)
    assert config.concurrency == (replicas, replicas)
    assert config.engine_kwargs.get("tensor_parallel_size", 1) == tp
    assert config.model_source == profiles.load(name).model.hf_id
    assert config.get_concurrency() == {"min_size": replicas, "max_size": replicas}


@pytest.mark.parametrize("name", GPU_PROFILES)
def test_accelerator_type_is_one_ray_knows(name):
    import ray.util.accelerators.accelerators as known

    names = {v for k, v in vars(known).items() if k.startswith("NVIDIA_")}
    config = gpu.engine_config(name)
    assert config.accelerator_type in names
    card = profiles.load(name).gpu.name
    assert config.accelerator_type.split("-")[0] in card  # "A100-40G" for "...A100-SXM4-40GB"


def test_gpus_that_do_not_make_whole_replicas_are_refused():
    with pytest.raises(ValueError, match="whole number of replicas"):
        gpu.engine_config("4xa100-40gb-llama3-70b-awq", gpus=6)
    with pytest.raises(ValueError, match="whole number of replicas"):
        gpu.engine_config("4xa100-40gb-llama3-70b-awq", gpus=2)


def test_the_cpu_profile_is_not_a_gpu_profile():
    with pytest.raises(ValueError, match="not a GPU profile"):
        gpu.engine_config("cpu")


def test_switches_and_values_are_read_apart():
    prof = profiles.load("h100-llama3-8b").model_copy(deep=True)
    prof.services[0].command += [
        "--enable-prefix-caching",
        "--max-num-batched-tokens",
        "8192",
        "--kv-cache-dtype=fp8",
        "--swap-space",
    ]
    kwargs = gpu.engine_kwargs(prof)
    assert kwargs["enable_prefix_caching"] is True
    assert kwargs["max_num_batched_tokens"] == 8192
    assert kwargs["kv_cache_dtype"] == "fp8"
    assert kwargs["swap_space"] is True  # last on the line: a switch
    assert kwargs["gpu_memory_utilization"] == 0.9
    assert "port" not in kwargs and "served_model_name" not in kwargs
