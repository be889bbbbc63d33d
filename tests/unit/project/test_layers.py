"""The layers import one way: servelab_base <- reference_stack <- servelab.

``servelab_base`` (paths, ports, settings, catalog) imports nothing of the project; the
reference stack (what serves) imports only the base, so the gateway can be read and lifted out
alone; ``servelab`` (bench, grading, CLI, lab helpers) may import both. The check reads every
import statement, including those inside functions, so a lazy import cannot hide a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from servelab_base.paths import ROOT

PROJECT = ("servelab_base", "reference_stack", "servelab")
#: which project packages each package may import (itself included)
ALLOWED = {
    "servelab_base": {"servelab_base"},
    "reference_stack": {"servelab_base", "reference_stack"},
    "servelab": {"servelab_base", "reference_stack", "servelab"},
}


def imported_packages(source: str) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def violations(root: Path) -> list[str]:
    """Every import under ``root`` that goes against ALLOWED, as 'file:line: a imports b'."""
    bad = []
    for package, allowed in ALLOWED.items():
        for path in sorted((root / package).rglob("*.py")):
            for line, target in imported_packages(path.read_text()):
                if target in PROJECT and target not in allowed:
                    bad.append(f"{path.relative_to(root)}:{line}: {package} imports {target}")
    return bad


def test_layers_import_one_way():
    assert violations(ROOT) == []


@pytest.mark.parametrize(
    ("package", "planted", "expected"),
    [
        (
            "servelab_base",
            "from reference_stack.gateway import app\n",
            "1: servelab_base imports reference_stack",
        ),
        (
            "reference_stack",
            "def later():\n    import servelab.bench\n",
            "2: reference_stack imports servelab",
        ),
    ],
)
def test_a_planted_violation_is_caught(tmp_path, package, planted, expected):
    for name in PROJECT:
        (tmp_path / name).mkdir()
    (tmp_path / package / "planted.py").write_text(planted)
    assert violations(tmp_path) == [f"{package}/planted.py:{expected}"]
