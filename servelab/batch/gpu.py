"""The GPU path of the corpus job: Ray's vLLM engine processor, configured from a GPU profile.

A GPU profile (reference_stack/profiles/*.yaml) already holds the exact ``vllm serve`` line for
its card: dtype, context length, memory share, batch limit, quantization, tensor parallelism.
``engine_config`` reads those flags into vLLM's engine arguments, so a batch replica runs the same
engine as the profile's online server, and sizes the pool: one replica per ``tensor_parallel_size
x pipeline_parallel_size`` GPUs. On a cluster with 8 H100s, ``engine_config("h100-llama3-8b",
gpus=8)`` is 8 replicas of one GPU; ``engine_config("4xa100-40gb-llama3-70b-awq", gpus=8)`` is 2
replicas of 4.

Tensor parallelism is for GPUs only: vLLM's Ray executor refuses the CPU platform, so on CPUs a
job scales out with replicas (``ray_pipeline.http_config(workers=N)``), never with TP.
"""

from __future__ import annotations

from typing import Any

from reference_stack.stack import profile as profiles
from servelab_base.config import get_settings

#: ``vllm serve`` flags that configure the HTTP server, not the engine
SERVER_FLAGS = {"host", "port", "served_model_name", "disable_uvicorn_access_log", "api_key"}


def _value(text: str) -> int | float | str:
    """A flag's value as vLLM's parser would type it: an int, a float, or the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def engine_kwargs(prof: profiles.Profile) -> dict[str, Any]:
    """vLLM engine arguments from the profile's ``vllm serve MODEL --flag value ...`` line.

    Templates are filled as ``servelab up`` fills them; server flags (host, port, ...) are left
    out. ``--flag value`` and ``--flag=value`` both work; a flag followed by another flag (or by
    nothing) is a switch: True.
    """
    service = prof.service("vllm")
    values = profiles.placeholders(get_settings(), service, prof)
    argv = [profiles.render(part, values) for part in service.command]
    if argv[:2] != ["vllm", "serve"]:
        raise ValueError(f"profile {prof.name!r}: its vllm service is not a `vllm serve` line")
    kwargs: dict[str, Any] = {}
    args = argv[3:]  # after `vllm serve MODEL`
    i = 0
    while i < len(args):
        flag = args[i]
        if not flag.startswith("--"):
            raise ValueError(f"profile {prof.name!r}: {flag!r} follows no flag")
        name, eq, inline = flag[2:].partition("=")
        name = name.replace("-", "_")
        if eq:  # --flag=value
            value: Any = _value(inline)
            i += 1
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            value = _value(args[i + 1])
            i += 2
        else:
            value = True
            i += 1
        if name not in SERVER_FLAGS:
            kwargs[name] = value
    return kwargs


def engine_config(
    name: str,
    gpus: int | None = None,
    batch_size: int = 64,
    max_concurrent_batches: int = 8,
):
    """Ray's vLLM engine processor config for profile ``name`` on ``gpus`` GPUs.

    ``gpus`` defaults to the profile's own card count (one replica). ``batch_size`` rows go to a
    replica per call; ``max_concurrent_batches`` of them overlap in its engine, so a replica keeps
    ``batch_size x max_concurrent_batches`` requests for vLLM's scheduler to batch.
    """
    from ray.data.llm import vLLMEngineProcessorConfig

    prof = profiles.load(name)
    if prof.gpu is None or prof.model is None:
        raise ValueError(f"profile {name!r} is not a GPU profile (it has no gpu: and model:)")
    kwargs = engine_kwargs(prof)
    per_replica = int(kwargs.get("tensor_parallel_size", 1)) * int(
        kwargs.get("pipeline_parallel_size", 1)
    )
    gpus = prof.gpu.count if gpus is None else gpus
    if gpus < per_replica or gpus % per_replica:
        raise ValueError(
            f"profile {name!r} runs one replica on {per_replica} GPU(s); {gpus} GPU(s) is not a "
            "whole number of replicas"
        )
    replicas = gpus // per_replica
    return vLLMEngineProcessorConfig(
        model_source=prof.model.hf_id,
        engine_kwargs=kwargs,
        concurrency=(replicas, replicas),  # a fixed pool: every replica loads once, up front
        batch_size=batch_size,
        max_concurrent_batches=max_concurrent_batches,
        accelerator_type=prof.gpu.accelerator_type,
    )
