"""The cpu-replicas profile: the cpu stack plus two llama-server replicas the gateway's pool
reaches, started exactly like the edge engine (same model, same sampling)."""

from __future__ import annotations

import pytest
import yaml

from reference_stack.engines import sampling
from reference_stack.gateway.routing import RoutingTable
from reference_stack.gateway.settings import HERE as GATEWAY_DIR
from reference_stack.stack import profile, standalone
from servelab_base.config import Settings

REPLICAS = ("replica-1", "replica-2")


@pytest.fixture(scope="module")
def prof() -> profile.Profile:
    return profile.load("cpu-replicas")


def argv(prof: profile.Profile, name: str, port: int | None = None) -> list[str]:
    service = prof.service(name)
    values = profile.placeholders(Settings(), service, prof)
    if port is not None:
        values["port"] = port
    return [profile.render(p, values) for p in service.command]


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_it_is_the_cpu_stack_plus_two_replicas(prof):
    cpu = profile.load("cpu")
    assert [s.name for s in prof.services] == [s.name for s in cpu.services] + list(REPLICAS)
    assert prof.service("gateway") == cpu.service("gateway")
    assert {"replica-1", "replica-2"} <= {s.name for s in prof.waves()[0]}  # with the engines


def test_the_gateway_pool_points_at_the_replicas_ports(prof, monkeypatch):
    for i in (1, 2):
        monkeypatch.delenv(f"SERVELAB_GATEWAY_REPLICA_{i}_URL", raising=False)
    table = RoutingTable.load(GATEWAY_DIR / "routing.yaml")
    urls = table.upstreams["local-llamacpp-pool"].replicas
    ports = [prof.service(name).resolved_port(Settings()) for name in REPLICAS]
    assert (
        urls
        == [f"http://127.0.0.1:{port}/v1" for port in ports]
        == [
            "http://127.0.0.1:8403/v1",
            "http://127.0.0.1:8404/v1",
        ]
    )


def test_replicas_serve_the_edge_engines_model_with_its_sampling(prof):
    edge = argv(prof, "llamacpp")
    flags = sampling.llama_server_flags()
    for name in REPLICAS:
        args = argv(prof, name)
        assert args[0] == edge[0]  # the same llama-server binary
        for same in ("--model", "--alias", "--threads"):
            assert flag(args, same) == flag(edge, same), same
        start = args.index(flags[0])
        assert args[start : start + len(flags)] == flags
        assert "--metrics" in args  # the queue the load-aware rule reads


def test_each_slot_holds_what_the_replica_aliases_allow(prof):
    table = yaml.safe_load((GATEWAY_DIR / "routing.yaml").read_text())
    for name in REPLICAS:
        args = argv(prof, name)
        per_slot = int(flag(args, "--ctx-size")) // int(flag(args, "--parallel"))
        for alias in ("smollm2-135m-replicas", "smollm2-135m-replicas-rr"):
            assert table["models"][alias]["max_output_tokens"] == per_slot


def test_a_profile_may_not_extend_itself_or_nothing(tmp_path):
    loop = tmp_path / "loop.yaml"
    loop.write_text(yaml.safe_dump({"name": "loop", "extends": str(loop), "services": []}))
    with pytest.raises(ValueError, match="without a loop"):
        profile.load(str(loop))
    missing = tmp_path / "missing.yaml"
    missing.write_text(yaml.safe_dump({"name": "m", "extends": "no-such-profile"}))
    with pytest.raises(FileNotFoundError, match="no-such-profile"):
        profile.load(str(missing))
    twice = tmp_path / "twice.yaml"
    twice.write_text(
        yaml.safe_dump(
            {
                "name": "t",
                "extends": "cpu",
                "services": [{"name": "vllm", "port": 1, "command": ["x"]}],
            }
        )
    )
    with pytest.raises(ValueError, match="duplicate service names"):
        profile.load(str(twice))


def test_a_standalone_copy_runs_the_profiles_own_command_on_another_port(prof):
    args, env = standalone.command("cpu-replicas", "replica-1", 9999)
    assert args == argv(prof, "replica-1", 9999)
    assert flag(args, "--port") == "9999"
    assert env["PYTHONUNBUFFERED"] == "1"
