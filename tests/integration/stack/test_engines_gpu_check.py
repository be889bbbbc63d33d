"""scripts/gpu_check.py is ready for a GPU host: it imports, and without a GPU it stops clearly."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from servelab_base.paths import ROOT

SCRIPT = ROOT / "scripts" / "gpu_check.py"


def load_module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_it_imports_and_knows_the_profiles():
    gpu_check = load_module()
    assert gpu_check.CONFIG.exists()
    assert gpu_check.profile_for("NVIDIA H100 80GB HBM3") == "h100-llama3-8b"
    assert gpu_check.profile_for("NVIDIA A100-SXM4-80GB") == "a100-80gb-llama3-8b"
    assert gpu_check.profile_for("NVIDIA A100-SXM4-40GB") == "a100-40gb-llama3-8b"
    assert gpu_check.profile_for("NVIDIA L4") is None


def test_without_a_gpu_it_fails_clearly(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the script would measure it")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "no CUDA GPU visible" in result.stderr and "nvidia-smi" in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing half-written
