"""Write the vLLM production-stack Helm values for a GPU profile, or check that they are current.

    .venv/bin/python scripts/kubernetes_values.py            # rewrite the committed values file
    .venv/bin/python scripts/kubernetes_values.py --check    # exit 1 if it differs from the profile
    .venv/bin/python scripts/kubernetes_values.py --profile 4xa100-40gb-llama3-70b-awq --output -

The profile (reference_stack/profiles/NAME.yaml) stays the one place the engine is configured:
its `vllm serve` line is translated into the chart's `servingEngineSpec.modelSpec` entry, so the
model, context length, memory fraction, dtype and tensor parallelism cannot drift between the
single host (`servelab up --profile ...`) and the cluster (`helm install ... -f values.yaml`).
Flags the chart has a field for go to that field (`vllmConfig.maxModelLen` ...); every other flag
goes to `vllmConfig.extraArgs` unchanged, so no flag is lost. The chart is vLLM production-stack's
`vllm-stack` (deploy/kubernetes/production-stack/README.md says which commit and why). The
values are checked against the project's contract with that chart (chart_contract.yaml there,
through scripts/chart_contract.py) before they are written; the unit test
tests/unit/stack/test_kubernetes_values.py does the same for every GPU profile and parses the
engine command the chart would build with vLLM's real argument parser.
"""

from __future__ import annotations

import argparse
import math
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # chart_contract, beside this script

import chart_contract  # noqa: E402

from reference_stack.stack import profile as profiles  # noqa: E402
from servelab_base.paths import ROOT  # noqa: E402

CHART_DIR = ROOT / "deploy" / "kubernetes" / "production-stack"
#: the project's note of what the chart accepts, and the chart defaults our values rely on
CONTRACT = CHART_DIR / "chart_contract.yaml"
DEFAULT_PROFILE = "h100-llama3-8b"
#: copies of the profile's engine behind the chart's router: the course's "N replicas behind a
#: gateway", with N = 2 as in lab 04's one-vs-two-replica comparison
DEFAULT_REPLICAS = 2

#: `vllm serve` flags the chart sets a field for, and the field (the `vllmConfig` branch of
#: helm/templates/deployment-vllm-multi.yaml at the pinned commit turns each back into the flag)
CHART_FIELDS: dict[str, tuple[str, type]] = {
    "--max-model-len": ("maxModelLen", int),
    "--dtype": ("dtype", str),
    "--tensor-parallel-size": ("tensorParallelSize", int),
    "--max-num-seqs": ("maxNumSeqs", int),
    "--gpu-memory-utilization": ("gpuMemoryUtilization", float),
    "--max-loras": ("maxLoras", int),
}
#: on/off flags the chart has a boolean field for
CHART_SWITCHES = {
    "enable-prefix-caching": "enablePrefixCaching",
    "enable-chunked-prefill": "enableChunkedPrefill",
}
#: the chart writes these itself (0.0.0.0 and the container port)
CHART_OWNED = {"--host", "--port"}
#: vLLM's default for prefix caching (CacheConfig.enable_prefix_caching). The chart passes
#: --no-enable-prefix-caching when the field is absent or false, so a profile that relies on the
#: default must say true here; the test reads the default from the installed vLLM.
VLLM_PREFIX_CACHING_DEFAULT = True
#: vLLM's default tensor parallel size, when a profile does not set one
VLLM_TENSOR_PARALLEL_DEFAULT = 1

#: Pod requests the profile has no say in, taken from the chart's own Llama 3.1 8B example
#: (tutorials/assets/values-02-basic-config.yaml at the pinned commit): 10 CPUs, 16 GiB.
REQUEST_CPU = 10
REQUEST_MEMORY = "16Gi"
#: the secret holding the Hugging Face token (Llama 3 is gated): created by hand, never here
HF_TOKEN_SECRET = {"secretName": "hf-token", "secretKey": "token"}


def vllm_image_tag(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """`v` + the vLLM release the `gpu` extra pins: the official image of that same release."""
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    for requirement in extras["gpu"]:
        name, _, version = requirement.partition("==")
        if name.strip() == "vllm" and version:
            return f"v{version.strip()}"
    raise ValueError(f"{pyproject}: the `gpu` extra pins no vllm==VERSION")


def split_flags(argv: list[str]) -> list[tuple[str, str | None]]:
    """`--flag value` / `--flag=value` / `--switch` pairs of a command line after the model."""
    pairs: list[tuple[str, str | None]] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("--"):
            raise ValueError(f"unexpected positional argument {token!r} in the vllm serve line")
        flag, eq, value = token.partition("=")
        if eq:
            pairs.append((flag, value))
            i += 1
        elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            pairs.append((flag, argv[i + 1]))
            i += 2
        else:
            pairs.append((flag, None))
            i += 1
    return pairs


def vllm_config(flags: list[tuple[str, str | None]]) -> dict[str, Any]:
    """The chart's `vllmConfig` for these flags: typed fields first, the rest in `extraArgs`."""
    config: dict[str, Any] = {"enablePrefixCaching": VLLM_PREFIX_CACHING_DEFAULT}
    extra: list[str] = []
    for flag, value in flags:
        switch = flag.removeprefix("--no-").removeprefix("--")
        if flag in CHART_OWNED:
            continue
        if value is not None and "{" in value:
            raise ValueError(
                f"{flag} {value!r} is a servelab placeholder; the chart cannot fill it"
            )
        if flag in CHART_FIELDS:
            field, kind = CHART_FIELDS[flag]
            if value is None:
                raise ValueError(f"{flag} needs a value")
            config[field] = kind(value)
        elif value is None and switch in CHART_SWITCHES:
            config[CHART_SWITCHES[switch]] = not flag.startswith("--no-")
        else:
            extra += [flag] if value is None else [flag, value]
    config.setdefault("tensorParallelSize", VLLM_TENSOR_PARALLEL_DEFAULT)
    if extra:
        config["extraArgs"] = extra
    return config


def startup_probe(timeout_s: float, contract: chart_contract.Contract) -> dict[str, Any]:
    """The engine's startup probe, patient for as long as the profile allows a start to take.

    The chart's default probe (about 10 minutes) would restart a pod still downloading 16 GB
    of weights; the profile's ``startup_timeout_s`` is how long `servelab up` waits. The
    chart's period is kept (the contract records it) and the number of tries set.
    """
    period = contract.default("servingEngineSpec.startupProbe.periodSeconds")
    return {"failureThreshold": math.ceil(timeout_s / period), "periodSeconds": period}


def values_for(
    name: str = DEFAULT_PROFILE,
    replicas: int = DEFAULT_REPLICAS,
    prof: profiles.Profile | None = None,
) -> dict[str, Any]:
    """Helm values for the `vllm-stack` chart that run the profile's engine `replicas` times."""
    if replicas < 1:
        raise ValueError(f"replicas must be at least 1, not {replicas}")
    prof = prof or profiles.load(name)
    if prof.gpu is None or prof.model is None:
        raise ValueError(f"profile {prof.name!r} is not a GPU profile (no gpu: / model: section)")
    service = prof.service("vllm")
    command = service.command
    if command[:2] != ["vllm", "serve"] or len(command) < 3:
        raise ValueError(f"profile {prof.name!r}: the vllm service must run `vllm serve MODEL`")
    if service.unset_env:
        raise ValueError(f"profile {prof.name!r}: unset_env has no equivalent in the chart")
    for key, value in service.env.items():
        if "{" in value:
            raise ValueError(f"env {key}={value!r} is a servelab placeholder")
    model_spec: dict[str, Any] = {
        "name": prof.name,
        "repository": "vllm/vllm-openai",
        "tag": vllm_image_tag(),
        "modelURL": command[2],
        "replicaCount": replicas,
        "requestCPU": REQUEST_CPU,
        "requestMemory": REQUEST_MEMORY,
        "requestGPU": prof.gpu.count,
        "vllmConfig": vllm_config(split_flags(command[3:])),
        "env": [{"name": key, "value": value} for key, value in service.env.items()],
        "hf_token": dict(HF_TOKEN_SECRET),
    }
    return {
        "servingEngineSpec": {
            "startupProbe": startup_probe(service.startup_timeout_s, load_contract()),
            "modelSpec": [model_spec],
        },
        # round-robin, the chart's default and the course gateway's baseline; docs/kubernetes.md
        # lists the chart's other routing rules (session, prefixaware, kvaware ...)
        "routerSpec": {"routingLogic": "roundrobin"},
    }


def render(values: dict[str, Any], name: str) -> str:
    """The values as YAML, under a header saying where they come from."""
    header = (
        f"# GENERATED by scripts/kubernetes_values.py from reference_stack/profiles/{name}.yaml:\n"
        "# edit the profile and rerun the script, never this file (a unit test compares them).\n"
        "# Helm values for vLLM production-stack's `vllm-stack` chart: the profile's `vllm serve`\n"
        "# line as modelSpec, replicated behind the chart's router. How to install it and what\n"
        "# was checked offline: deploy/kubernetes/production-stack/README.md.\n"
    )
    return header + yaml.safe_dump(values, sort_keys=False, width=100)


def load_contract() -> chart_contract.Contract:
    """The chart contract the values must keep."""
    return chart_contract.load(CONTRACT)


def output_path(name: str) -> Path:
    """Where the committed values file of a profile lives."""
    return CHART_DIR / f"values-{name}.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=DEFAULT_PROFILE, help="a GPU profile's name")
    parser.add_argument("--replicas", type=int, default=DEFAULT_REPLICAS)
    parser.add_argument("--output", help="file to write, or - for stdout (default: committed)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    try:
        values = values_for(args.profile, args.replicas)
        problems = chart_contract.check(values, load_contract())
    except (ValueError, FileNotFoundError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if problems:
        print(f"error: the values break {CONTRACT.name}:", *problems, sep="\n  ", file=sys.stderr)
        return 2
    text = render(values, args.profile)
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    path = Path(args.output) if args.output else output_path(args.profile)
    if args.check:
        if not path.exists() or path.read_text() != text:
            print(f"{path} is stale: run scripts/kubernetes_values.py", file=sys.stderr)
            return 1
        print(f"{path} matches reference_stack/profiles/{args.profile}.yaml")
        return 0
    path.write_text(text)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
