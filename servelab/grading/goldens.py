"""Goldens as data: a lab's expected values, computed from its reference solution.

``servelab course goldens LAB`` runs the reference solution (the solution notebook's first code
cell, its imports, then every answer cell) in this process, hands it as a ``learner`` to the
``@checks.cases`` function of ``solutions/LAB/instructor_checks.py`` and writes what it returns:

- ``visible`` values to the lab's goldens file (``datasets/labNN/expected.json``), which the
  learner's visible checks read too;
- ``hidden`` values to ``solutions/LAB/instructor_expected.json`` (never released).

Re-recording a dataset is then: run the record script, run this, review the diff. No notebook
is edited by hand. ``--check`` only compares, for CI: goldens that no longer follow from the
recordings and the solution fail the course tests.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import nbformat

from servelab.grading import wire
from servelab.grading.checks import HIDDEN_GOLDENS, INSTRUCTOR_FILE, LocalLearner, load


def solution_namespace(notebook: Path) -> dict[str, Any]:
    """Run the notebook's first code cell and its answer cells; return their names."""
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    chosen = code[:1] + [c for c in code[1:] if c.metadata.get("nbgrader", {}).get("solution")]
    namespace: dict[str, Any] = {"__name__": "__solution__"}
    with contextlib.redirect_stdout(io.StringIO()):  # the pre-flight report, plots' chatter
        for cell in chosen:
            code = compile(cell.source, f"{notebook.name}:{cell.get('id', '?')}", "exec")
            exec(code, namespace)
    return namespace


def compute(source_dir: Path) -> tuple[Path | None, dict[str, Any], dict[str, Any]]:
    """(visible goldens path, visible values, hidden values) for the lab in ``source_dir``."""
    checks = load(source_dir / INSTRUCTOR_FILE)
    if checks.golden_cases is None:
        return checks.goldens, {}, {}
    notebooks = sorted(source_dir.glob("*.ipynb"))
    learner = LocalLearner(solution_namespace(notebooks[0]))
    cases = checks.golden_cases(learner)
    visible = {k: wire.to_plain(v) for k, v in cases.get("visible", {}).items()}
    hidden = {k: wire.to_plain(v) for k, v in cases.get("hidden", {}).items()}
    return checks.goldens, visible, hidden


def render(values: dict[str, Any]) -> str:
    return json.dumps(values, indent=1, sort_keys=True) + "\n"


def update(source_dir: Path, check_only: bool = False) -> list[str]:
    """Write (or, with ``check_only``, compare) the lab's goldens; returns stale file names."""
    visible_path, visible, hidden = compute(source_dir)
    stale = []
    targets = [(source_dir / HIDDEN_GOLDENS, hidden)]
    if visible_path is not None:
        targets.append((visible_path, visible))
    for path, values in targets:
        if not values and not path.exists():
            continue
        text = render(values)
        if path.exists() and path.read_text() == text:
            continue
        stale.append(str(path))
        if not check_only:
            path.write_text(text)
    return stale
