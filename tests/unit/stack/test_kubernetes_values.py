"""The production-stack Helm values (deploy/kubernetes/production-stack/) against the chart and
against the GPU profile they are generated from (scripts/kubernetes_values.py).

Offline, in process: the values keep the project's contract with the chart (chart_contract.yaml
there: the keys, types, choices and defaults of the chart our values rely on, written down from
the chart's repository at the commit it names; nothing of the chart is copied), each way of
breaking it is caught, and the chart starts the same `vllm serve` as `servelab up --profile
NAME`, judged by vLLM's real argument parser. What the chart does with a modelSpec is read from
its template (pinned commit, linked below). A Helm render of the real chart
(scripts/kubernetes_render.py, by hand, into the gitignored .cache/) is compared when present.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import re
import sys

import pytest
import yaml

from reference_stack.engines.vllm_launcher import serve_parser
from reference_stack.stack import profile
from servelab_base.config import Settings
from servelab_base.paths import ROOT

HERE = ROOT / "deploy" / "kubernetes" / "production-stack"
GPU_PROFILES = [
    "h100-llama3-8b",
    "a100-80gb-llama3-8b",
    "a100-40gb-llama3-8b",
    "4xa100-40gb-llama3-70b-awq",
]
REGENERATE = "stale: run `.venv/bin/python scripts/kubernetes_values.py`"


def _script(name: str):
    """A module of scripts/, registered under its own name (as the scripts import each other)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


kv = _script("kubernetes_values")
cc = _script("chart_contract")


def chart_argv(model_spec: dict, container_port: int = 8000) -> list[str]:
    """The engine command the chart builds from one modelSpec entry.

    A transcription of the container `command` in helm/templates/deployment-vllm-multi.yaml at
    https://github.com/vllm-project/production-stack/blob/a6c01db05f65f556235413ba8dbcfb0c01132fff/helm/templates/deployment-vllm-multi.yaml
    (the branches our values can reach; Helm quotes every value, hence str()).
    """
    argv = ["vllm", "serve", model_spec["modelURL"], "--host", "0.0.0.0"]
    argv += ["--port", str(container_port)]
    if model_spec.get("enableLoRA"):
        argv.append("--enable-lora")
    config = model_spec.get("vllmConfig", {})
    if "enableChunkedPrefill" in config:
        on = config["enableChunkedPrefill"]
        argv.append("--enable-chunked-prefill" if on else "--no-enable-chunked-prefill")
    on = config.get("enablePrefixCaching")
    argv.append("--enable-prefix-caching" if on else "--no-enable-prefix-caching")
    for key, flag in [
        ("maxModelLen", "--max-model-len"),
        ("dtype", "--dtype"),
        ("tensorParallelSize", "--tensor-parallel-size"),
        ("maxNumSeqs", "--max-num-seqs"),
        ("gpuMemoryUtilization", "--gpu_memory_utilization"),
        ("maxLoras", "--max_loras"),
    ]:
        if key in config:
            argv += [flag, str(config[key])]
    argv += [str(a) for a in config.get("extraArgs", [])]
    return argv


@pytest.fixture(scope="module")
def parser():
    return serve_parser()


@pytest.fixture(scope="module")
def contract():
    return kv.load_contract()


@pytest.fixture(scope="module")
def values():
    return yaml.safe_load(kv.output_path(kv.DEFAULT_PROFILE).read_text())


def profile_args(parser, prof: profile.Profile):
    service = prof.service("vllm")
    placeholders = profile.placeholders(Settings(), service, prof)
    argv = [profile.render(p, placeholders) for p in service.command]
    return parser.parse_args(argv[1:])


def prefix_caching_default() -> bool:
    """vLLM's own default, which a profile without the flag relies on."""
    from vllm.config import CacheConfig

    return CacheConfig.__dataclass_fields__["enable_prefix_caching"].default


def test_committed_values_are_generated_from_the_profile():
    expected = kv.render(kv.values_for(kv.DEFAULT_PROFILE), kv.DEFAULT_PROFILE)
    assert kv.output_path(kv.DEFAULT_PROFILE).read_text() == expected, REGENERATE


def test_values_keep_the_chart_contract(contract, values):
    assert cc.check(values, contract) == []
    assert contract.chart["repository"] == "https://github.com/vllm-project/production-stack"
    assert len(contract.chart["commit"]) == 40


DROP = object()


def _engine(key: str, value, in_vllm_config: bool = False):
    """A change to the first modelSpec entry (or its vllmConfig): set `key`, or DROP it."""

    def change(values):
        node = values["servingEngineSpec"]["modelSpec"][0]
        node = node["vllmConfig"] if in_vllm_config else node
        if value is DROP:
            del node[key]
        else:
            node[key] = value

    return change


def _router(value):
    def change(values):
        values["routerSpec"]["routingLogic"] = value

    return change


ENGINE = "servingEngineSpec.modelSpec[0]"
BREAKAGES = {
    "a misspelt key the chart would ignore": (
        _engine("maxModelLength", 8192, in_vllm_config=True),
        f"{ENGINE}.vllmConfig.maxModelLength: not a key the contract knows",
        "did you mean maxModelLen?",
    ),
    "a string where the chart wants an integer": (
        _engine("maxModelLen", "8192", in_vllm_config=True),
        f"{ENGINE}.vllmConfig.maxModelLen: '8192' is of type string, the contract says integer",
        "",
    ),
    "a routing rule the router does not have": (
        _router("leastloaded"),
        "routerSpec.routingLogic: 'leastloaded' is not one of 'roundrobin'",
        "",
    ),
    "a key the template requires, left out": (
        _engine("requestMemory", DROP),
        f"{ENGINE}.requestMemory: required, and not set",
        "must be defined",
    ),
    "a memory fraction above one": (
        _engine("gpuMemoryUtilization", 1.5, in_vllm_config=True),
        f"{ENGINE}.vllmConfig.gpuMemoryUtilization: 1.5 is above the maximum 1",
        "",
    ),
    "a name Kubernetes refuses": (
        _engine("name", "H100_llama"),
        f"{ENGINE}.name: 'H100_llama' does not match",
        "",
    ),
    "the Hugging Face token itself in the values": (
        _engine("hf_token", "hf_not_a_real_token"),
        f"{ENGINE}.hf_token: 'hf_not_a_real_token' is of type string, the contract says map",
        "",
    ),
}


@pytest.mark.parametrize("what", BREAKAGES)
def test_the_contract_check_catches(contract, values, what):
    change, message, also = BREAKAGES[what]
    broken = copy.deepcopy(values)
    change(broken)
    problems = cc.check(broken, contract)
    assert len(problems) == 1 and message in problems[0] and also in problems[0], problems


def test_the_dtype_choices_are_vllms(parser, contract):
    """The contract's dtype choices are those of the vLLM the `gpu` extra pins."""
    serve = next(a for a in parser._actions if a.dest == "subparser").choices["serve"]
    (dtype,) = [a for a in serve._actions if "--dtype" in a.option_strings]
    allowed = contract.entries["servingEngineSpec.modelSpec[].vllmConfig.dtype"].values
    assert sorted(allowed) == sorted(dtype.choices)


@pytest.mark.parametrize("name", GPU_PROFILES)
def test_the_chart_starts_the_profiles_engine(parser, contract, name):
    """Same model and flags as `servelab up --profile NAME`, parsed by vLLM's own parser."""
    prof = profile.load(name)
    values = kv.values_for(name)
    assert cc.check(values, contract) == []
    spec = values["servingEngineSpec"]["modelSpec"][0]
    ours = vars(parser.parse_args(chart_argv(spec)[1:]))
    theirs = vars(profile_args(parser, prof))
    for where in ("host", "port"):  # the chart listens on 0.0.0.0:8000, the profile on loopback
        ours.pop(where), theirs.pop(where)
    if theirs["enable_prefix_caching"] is None:
        theirs["enable_prefix_caching"] = prefix_caching_default()
    assert ours == theirs
    assert ours["model_tag"] == prof.model.hf_id
    assert ours["tensor_parallel_size"] == prof.gpu.count == spec["requestGPU"]
    assert spec["vllmConfig"]["maxModelLen"] == theirs["max_model_len"]
    assert spec["vllmConfig"]["gpuMemoryUtilization"] == theirs["gpu_memory_utilization"]
    assert spec["vllmConfig"]["dtype"] == theirs["dtype"]
    env = prof.service("vllm").env
    assert all({"name": k, "value": v} in spec["env"] for k, v in env.items())


def test_every_kind_of_flag_survives_the_translation(parser, contract):
    """Switches, `--flag=value` and flags the chart has no field for reach vLLM unchanged."""
    prof = profile.load(kv.DEFAULT_PROFILE).model_copy(deep=True)
    prof.service("vllm").command += [
        "--no-enable-prefix-caching",
        "--enable-chunked-prefill",
        "--kv-cache-dtype=fp8",
        "--max-loras",
        "2",
        "--enable-lora",
    ]
    values = kv.values_for(prof=prof)
    assert cc.check(values, contract) == []
    spec = values["servingEngineSpec"]["modelSpec"][0]
    ours = vars(parser.parse_args(chart_argv(spec)[1:]))
    theirs = vars(profile_args(parser, prof))
    for where in ("host", "port"):
        ours.pop(where), theirs.pop(where)
    assert ours == theirs
    assert spec["vllmConfig"]["enablePrefixCaching"] is False
    assert spec["vllmConfig"]["maxLoras"] == 2


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--chat-template", "{model_dir}/t.jinja"], "placeholder"),
        (["--max-model-len"], "needs a value"),
        (["stray"], "positional"),
    ],
)
def test_a_flag_the_chart_cannot_carry_is_refused(extra, message):
    prof = profile.load(kv.DEFAULT_PROFILE).model_copy(deep=True)
    prof.service("vllm").command += extra
    with pytest.raises(ValueError, match=message):
        kv.values_for(prof=prof)


def test_only_gpu_profiles_and_at_least_one_replica():
    with pytest.raises(ValueError, match="not a GPU profile"):
        kv.values_for("cpu")
    with pytest.raises(ValueError, match="at least 1"):
        kv.values_for(replicas=0)
    assert kv.values_for(replicas=3)["servingEngineSpec"]["modelSpec"][0]["replicaCount"] == 3


def test_image_is_the_vllm_release_the_gpu_extra_pins(values):
    pyproject = (ROOT / "pyproject.toml").read_text()
    pinned = re.search(r'^gpu = \["vllm==([^"]+)"\]', pyproject, re.M).group(1)
    spec = values["servingEngineSpec"]["modelSpec"][0]
    assert (spec["repository"], spec["tag"]) == ("vllm/vllm-openai", f"v{pinned}")


def test_startup_probe_waits_as_long_as_the_profile_allows(values, contract):
    """Helm merges the probe key by key: the delay we leave out is the chart's recorded default."""
    ours = values["servingEngineSpec"]["startupProbe"]
    assert "initialDelaySeconds" not in ours
    delay = contract.default("servingEngineSpec.startupProbe.initialDelaySeconds")
    patience = delay + ours["periodSeconds"] * ours["failureThreshold"]
    timeout = profile.load(kv.DEFAULT_PROFILE).service("vllm").startup_timeout_s
    assert timeout <= patience < timeout + delay + ours["periodSeconds"]


def test_check_mode_reports_a_stale_file_and_leaves_it(tmp_path, capsys):
    stale = tmp_path / "values.yaml"
    stale.write_text("servingEngineSpec: {}\n")
    assert kv.main(["--check", "--output", str(stale)]) == 1
    assert stale.read_text() == "servingEngineSpec: {}\n"
    assert kv.main(["--check"]) == 0
    assert kv.main(["--profile", "no-such-profile", "--output", "-"]) == 2
    assert "no profile 'no-such-profile'" in capsys.readouterr().err


def test_the_generator_refuses_values_that_break_the_contract(tmp_path, monkeypatch, capsys):
    narrowed = tmp_path / "chart_contract.yaml"
    text = kv.CONTRACT.read_text()
    narrowed.write_text(text.replace("values: [roundrobin, session,", "values: [session,"))
    monkeypatch.setattr(kv, "CONTRACT", narrowed)
    out = tmp_path / "values.yaml"
    assert kv.main(["--output", str(out)]) == 2
    assert not out.exists()
    assert (
        "routerSpec.routingLogic: 'roundrobin' is not one of 'session'" in capsys.readouterr().err
    )


def test_compare_finds_where_the_contract_and_a_chart_disagree(tmp_path):
    """scripts/chart_contract.py compare, run by hand when the pin moves, can fail.

    The chart here is a made-up one of four keys, not production-stack's.
    """
    contract_file = tmp_path / "contract.yaml"
    contract_file.write_text(
        "chart: {repository: https://example.org/chart, commit: abc}\n"
        "fields:\n"
        "  spec: {type: map}\n"
        "  spec.port: {type: integer, default: 8000}\n"
        "  spec.mode: {type: string, values: [fast, slow]}\n"
        "  spec.size: {type: string}\n"
        "  spec.typo: {type: string}\n"
    )
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "port": {"type": "integer"},
                    "mode": {"type": "string", "enum": ["fast"]},
                    "size": {"type": "integer"},
                },
            }
        },
    }
    defaults = {"spec": {"name": "x", "port": 9000}}
    contract = cc.load(contract_file)
    wrong, _ = cc.compare(contract, schema, defaults)
    assert sorted(wrong) == [
        "spec.mode: the chart does not accept ['slow']",
        "spec.name: the chart requires it; the contract omits it",
        "spec.port: chart default 9000, the contract says 8000",
        "spec.size: the contract says string, the chart ['integer']",
        "spec.typo: the chart's schema refuses this key",
    ]
    fixed = {"spec": {**defaults["spec"], "port": 8000}}
    schema["properties"]["spec"]["properties"]["mode"]["enum"] = ["fast", "slow"]
    schema["properties"]["spec"]["properties"]["size"]["type"] = "string"
    schema["properties"]["spec"]["properties"]["typo"] = {}
    schema["properties"]["spec"]["required"] = []
    assert cc.compare(contract, schema, fixed)[0] == []


def test_helm_rendered_the_command_this_test_expects(values):
    """The real chart (Helm v4, scripts/kubernetes_render.py) built exactly chart_argv().

    The render is Helm's output from the chart's templates, so it is never committed: the
    script writes it into the gitignored .cache/ when run by hand (README beside the values).
    """
    rendered = _script("kubernetes_render").RENDERED
    if not rendered.exists():
        pytest.skip(
            f"no Helm render in {rendered.relative_to(ROOT)}: run scripts/kubernetes_render.py"
        )
    text = rendered.read_text()
    values_file = kv.output_path(kv.DEFAULT_PROFILE)
    digest = hashlib.sha256(values_file.read_bytes()).hexdigest()
    if f"sha256 {digest}" not in text.splitlines()[1]:
        pytest.skip("rendered from older values: rerun scripts/kubernetes_render.py (README)")
    objects = list(yaml.safe_load_all(text))
    (engine,) = [
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-deployment-vllm")
    ]
    spec = values["servingEngineSpec"]["modelSpec"][0]
    container = engine["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == chart_argv(spec)
    assert engine["spec"]["replicas"] == spec["replicaCount"]
    assert container["image"] == f"{spec['repository']}:{spec['tag']}"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == str(spec["requestGPU"])
    assert {"name": "VLLM_NO_USAGE_STATS", "value": "1"} in container["env"]
