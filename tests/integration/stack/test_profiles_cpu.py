"""The embedded cpu profile and the profile schema other services plug into."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from reference_stack.engines import llamacpp_build
from reference_stack.engines.vllm_launcher import serve_parser
from reference_stack.stack import profile
from servelab_base.config import Settings


@pytest.fixture(scope="module")
def cpu() -> profile.Profile:
    return profile.load("cpu")


def rendered(prof: profile.Profile, name: str, settings: Settings | None = None) -> list[str]:
    service = prof.service(name)
    values = profile.placeholders(settings or Settings(), service, prof)
    return [profile.render(p, values) for p in service.command]


def test_engines_start_first_on_their_configured_ports(cpu):
    first_wave = {s.name for s in cpu.waves()[0]}
    assert {"vllm", "llamacpp"} <= first_wave
    settings = Settings()
    assert cpu.service("vllm").resolved_port(settings) == settings.vllm_port == 8401
    assert cpu.service("llamacpp").resolved_port(settings) == 8402
    # a SERVELAB_* override reaches the command line
    argv = rendered(cpu, "vllm", Settings(vllm_port=9401))
    assert argv[argv.index("--port") + 1] == "9401"


def test_vllm_flags_parse_with_the_real_parser(cpu):
    argv = rendered(cpu, "vllm")
    assert argv[1:4] == ["-m", "reference_stack.engines.vllm_launcher", "serve"]
    args = serve_parser().parse_args(argv[3:])
    assert args.served_model_name == [Settings().model]
    assert args.enforce_eager and args.kv_cache_memory_bytes == 256 * 1024**2
    service = cpu.service("vllm")
    assert service.env["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0"
    assert service.env["HF_HUB_OFFLINE"] == "1"
    assert "VLLM_CPU_KVCACHE_SPACE" in service.unset_env


def test_llama_server_flags_exist_in_the_built_binary(cpu):
    argv = rendered(cpu, "llamacpp")
    assert argv[0] == str(llamacpp_build.LLAMA_SERVER)
    assert argv[argv.index("--alias") + 1] == Settings().model
    help_text = subprocess.run(
        [argv[0], "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    for flag in [a for a in argv[1:] if a.startswith("--")]:
        assert f"{flag} " in help_text or f"{flag}," in help_text, flag


def write(tmp_path, data) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def svc(name, after=(), **kw):
    return {"name": name, "port": 1, "command": ["x"], "after": list(after), **kw}


@pytest.mark.parametrize(
    "services, message",
    [
        ([svc("a", ["b"]), svc("b", ["a"])], "cycle"),
        ([svc("a", ["nope"])], "unknown"),
        ([svc("a"), svc("a")], "duplicate"),
        ([svc("a", health="health")], "health must be a URL path"),
        ([svc("A")], "pattern"),
    ],
)
def test_schema_errors_are_named(tmp_path, services, message):
    with pytest.raises(ValueError, match=message):
        profile.load(write(tmp_path, {"name": "t", "services": services}))


def test_start_order_follows_after(tmp_path):
    prof = profile.load(
        write(
            tmp_path,
            {
                "name": "t",
                "services": [
                    svc("gateway", ["vllm", "standin"]),
                    svc("standin", ["vllm"]),
                    svc("vllm"),
                ],
            },
        )
    )
    assert [[s.name for s in wave] for wave in prof.waves()] == [["vllm"], ["standin"], ["gateway"]]


def test_unknown_placeholder_and_port_setting(tmp_path):
    prof = profile.load(
        write(
            tmp_path,
            {
                "name": "t",
                "services": [svc("a", command=["{pyhton}"]), {**svc("b"), "port": "no_such_port"}],
            },
        )
    )
    values = profile.placeholders(Settings(), prof.service("a"), None)
    with pytest.raises(ValueError, match="unknown placeholder 'pyhton'"):
        profile.render(prof.service("a").command[0], values)
    with pytest.raises(ValueError, match="not a Settings field"):
        prof.service("b").resolved_port(Settings())
