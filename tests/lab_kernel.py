"""A live notebook kernel for answer tests: run a lab's solution, swap one answer cell, grade.

Used by tests/course/test_wrong_answers.py (each kept wrong answer must fail its exercise) and
tests/course/test_right_answers.py (each kept alternative correct answer must pass it).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat
from jupyter_client.manager import start_new_kernel

from servelab_base.paths import ROOT

TESTS = Path(__file__).resolve().parent
CELL_TIMEOUT_S = 120


def answers(kind: str, lab: str) -> dict:
    """``WRONG`` (kind "wrong") or ``RIGHT`` (kind "right") from tests/<kind>_answers/<lab>.py."""
    path = TESTS / f"{kind}_answers" / f"{lab}.py"
    spec = importlib.util.spec_from_file_location(f"{kind}_{lab}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, kind.upper())


def labs_with(kind: str, all_labs: list[str]) -> list[str]:
    return [lab for lab in all_labs if (TESTS / f"{kind}_answers" / f"{lab}.py").exists()]


class Kernel:
    """A Python kernel that runs cell sources and says whether each raised."""

    def __init__(self, cwd: Path):
        self.manager, self.client = start_new_kernel(kernel_name="python3", cwd=str(cwd))

    def run(self, source: str) -> tuple[bool, str]:
        errors: list[str] = []

        def on_output(msg):
            if msg["msg_type"] == "error":
                errors.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")
            elif msg["msg_type"] == "stream":
                errors.append(msg["content"]["text"][-500:])

        reply = self.client.execute_interactive(
            source, timeout=CELL_TIMEOUT_S, output_hook=on_output
        )
        return reply["content"]["status"] == "ok", "".join(errors)[-2000:]

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@contextmanager
def solved_lab(lab: str) -> Iterator[tuple[Kernel, dict]]:
    """A kernel that has run every code cell of the lab's solution; yields it and the cells."""
    path = ROOT / "solutions" / lab / f"{lab}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    kernel = Kernel(path.parent)
    try:
        for cell in nb.cells:
            if cell.cell_type == "code":
                ok, err = kernel.run(cell.source)
                gid = cell.metadata.get("nbgrader", {}).get("grade_id")
                assert ok, f"solution cell {gid} failed: {err}"
        yield kernel, cells
    finally:
        kernel.close()


def graded_cells(cells: dict) -> set[str]:
    return {
        gid
        for gid, c in cells.items()
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
    }
