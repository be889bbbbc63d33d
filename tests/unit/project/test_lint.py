"""ruff over the code and the notebooks (pyproject's [tool.ruff] includes *.ipynb)."""

from __future__ import annotations

import subprocess
import sys

from servelab_base.paths import ROOT


def test_ruff_is_clean():
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_is_applied():
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, "run `make lint` (ruff format):\n" + out.stdout + out.stderr
