"""Every exercise tells right from wrong, checked in process against the instructor's checks.

For each lab: the reference solution's answer cells run once in this process (the namespace
`servelab course goldens` uses); then each kept answer replaces its solution cell and the
exercise's checks, hidden ones included, score it exactly as the grader would
(servelab.grading.checks.run_check and score):

- every wrong answer in tests/wrong_answers/<lab>.py must lose marks;
- every alternative right answer in tests/right_answers/<lab>.py must keep full marks;
- the reference solution itself scores full marks on every cell;
- partial credit works: at least one kept wrong answer per lab earns some points but not all.

No kernel, no stack: a lab's checks drive plain functions, so this takes seconds. The graded
round trip through the sandboxed kernel is tests/course/test_course.py's.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import nbformat
import pytest
from kept_answers import answers, labs_with

from servelab.grading import checks as api
from servelab.grading.goldens import solution_namespace
from servelab.grading.release import lab_names
from servelab_base.paths import SOLUTIONS

LABS = lab_names()
CONVERTED = [lab for lab in LABS if (SOLUTIONS / lab / api.INSTRUCTOR_FILE).exists()]


def notebook(lab: str) -> Path:
    return SOLUTIONS / lab / f"{lab}.ipynb"


def test_every_lab_is_graded_from_outside_the_kernel():
    missing = sorted(set(LABS) - set(CONVERTED))
    assert not missing, f"labs still graded by test cells in the kernel: {missing}"


def test_every_lab_keeps_wrong_and_right_answers():
    for kind in ("wrong", "right"):
        missing = sorted(set(LABS) - set(labs_with(kind, LABS)))
        assert not missing, f"labs without tests/{kind}_answers/<lab>.py: {missing}"


class Lab:
    """One lab's reference namespace, its grade cells and the instructor's checks."""

    def __init__(self, lab: str) -> None:
        self.name = lab
        nb = nbformat.read(notebook(lab), as_version=4)
        self.cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
        self.points = {
            gid: float(c.metadata["nbgrader"].get("points", 0))
            for gid, c in self.cells.items()
            if c.cell_type == "code"
            and c.metadata.get("nbgrader", {}).get("grade")
            and not c.metadata["nbgrader"].get("solution")
        }
        self.checks = api.load(SOLUTIONS / lab / api.INSTRUCTOR_FILE)
        self.reference = solution_namespace(notebook(lab))

    def score(self, cell: str, source: str | None = None) -> tuple[float, list[str]]:
        """Points the cell's checks give the reference with ``source`` run over it."""
        namespace = dict(self.reference)
        if source is not None:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(source, f"<answer for {cell}>", "exec"), namespace)
        learner = api.LocalLearner(namespace)
        results = [api.run_check(c, learner) for c in self.checks.for_cell(cell)]
        assert results, f"{self.name}: no checks for {cell}"
        return api.score(results, self.points[cell]), [r.line() for r in results]


@pytest.fixture(scope="module", params=CONVERTED)
def lab(request) -> Lab:
    return Lab(request.param)


def test_the_reference_solution_scores_full_marks(lab):
    for cell, points in lab.points.items():
        got, lines = lab.score(cell)
        assert got == points, f"{lab.name}/{cell}: {got} of {points}\n" + "\n".join(lines)


def kept(kind: str, lab: Lab) -> list[tuple[str, str, str]]:
    """(test cell, description, source) of every kept answer of ``kind`` for the lab."""
    entries = answers(kind, lab.name)
    tested = {entry["tests"] for entry in entries.values()}
    missing = set(lab.points) - tested
    assert not missing, f"{lab.name}: autograded cells without {kind} answers: {missing}"
    out = []
    for solution_id, entry in entries.items():
        assert len(entry["answers"]) >= 2, f"{solution_id}: keep at least two {kind} answers"
        out += [(entry["tests"], d, s) for d, s in entry["answers"].items()]
    return out


def test_wrong_answers_lose_marks(lab):
    survivors = []
    partial = []
    for cell, description, source in kept("wrong", lab):
        got, _ = lab.score(cell, source)
        if got >= lab.points[cell]:
            survivors.append(f"{cell}: {description}")
        elif got > 0:
            partial.append(f"{cell}: {description} ({got:g} of {lab.points[cell]:g})")
    assert not survivors, f"{lab.name} gives full marks to: {survivors}"
    assert partial, f"{lab.name}: no kept wrong answer earns partial credit"


def test_right_answers_keep_full_marks(lab):
    rejected = []
    for cell, description, source in kept("right", lab):
        got, lines = lab.score(cell, source)
        if got != lab.points[cell]:
            failed = [line for line in lines if line.startswith("[FAIL]")]
            rejected.append(f"{cell}: {description} ({got:g}): {failed[:2]}")
    assert not rejected, f"{lab.name} rejects right answers: {rejected}"
