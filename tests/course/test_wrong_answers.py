"""Every autograded exercise discriminates: typical wrong answers (tests/wrong_answers/) fail it.

For each lab, the solution notebook runs once in a live kernel; then each wrong answer replaces
its solution cell, the exercise's test cell (hidden tests included, as at autograde) runs and
must fail, and the right solution is restored before the next one.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel

from servelab.grading.release import lab_names
from servelab_base.paths import ROOT

HERE = Path(__file__).resolve().parents[1] / "wrong_answers"
CELL_TIMEOUT_S = 120


def wrong_answers(lab: str) -> dict:
    path = HERE / f"{lab}.py"
    spec = importlib.util.spec_from_file_location(f"wrong_{lab}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WRONG


class Kernel:
    """A Python kernel that runs cell sources and says whether each raised."""

    def __init__(self, cwd: Path):
        self.manager, self.client = start_new_kernel(kernel_name="python3", cwd=str(cwd))

    def run(self, source: str) -> tuple[bool, str]:
        errors: list[str] = []

        def on_output(msg):
            if msg["msg_type"] == "error":
                errors.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

        reply = self.client.execute_interactive(
            source, timeout=CELL_TIMEOUT_S, output_hook=on_output
        )
        return reply["content"]["status"] == "ok", "; ".join(errors)

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


LABS = [lab for lab in lab_names() if (HERE / f"{lab}.py").exists()]


def test_every_lab_keeps_wrong_answers():
    missing = sorted(set(lab_names()) - set(LABS))
    assert not missing, f"labs without tests/wrong_answers/<lab>.py: {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_wrong_answers_lose_marks(lab, stack):
    path = ROOT / "solutions" / lab / f"{lab}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    graded = [
        gid
        for gid, c in cells.items()
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
    ]
    wrong = wrong_answers(lab)
    tested = {entry["tests"] for entry in wrong.values()}
    assert set(graded) <= tested, f"autograded cells without wrong answers: {set(graded) - tested}"

    kernel = Kernel(path.parent)
    try:
        for cell in nb.cells:
            if cell.cell_type == "code":
                ok, err = kernel.run(cell.source)
                gid = cell.metadata.get("nbgrader", {}).get("grade_id")
                assert ok, f"solution cell {gid} failed: {err}"
        for solution_id, entry in wrong.items():
            assert len(entry["answers"]) >= 2, f"{solution_id}: keep at least two wrong answers"
            for description, source in entry["answers"].items():
                ok, err = kernel.run(source)
                assert ok, f"wrong answer {description!r} must itself run, got {err}"
                passed, _ = kernel.run(cells[entry["tests"]].source)
                assert not passed, f"{lab}/{entry['tests']} gives full marks to: {description}"
                ok, err = kernel.run(cells[solution_id].source)
                assert ok, err
    finally:
        kernel.close()
