"""A tiny nbgrader course for the grading tests, and the hostile submissions graded in it.

The lab ``hostile_lab`` has two autograded questions (``add``: 2 points, ``mul``: 1 point), each
with visible and hidden tests, and one manually graded reflection. A hostile submission puts one
of the scripts of this folder in the ``add`` answer cell: the misbehaviour comes first and the
right answer after it, so ``add`` scores only if the misbehaviour *succeeded* (the sandbox let it
through), and ``mul`` shows whether the rest of the notebook was graded normally.

The hidden tests carry a marker made at run time (never written in this repository), so a search
of the sandbox's whole file system for it finds only what the sandbox failed to hide. A second
run-time secret, the INPUT marker, is a hidden check's *input*: it must reach the learner's
``mul`` (that is what a hidden input is for) but never leave the sandbox.

Two kinds of hostile submission live here:

- ``<name>.py`` (every script but this file and ``notebook_tampering.py``): the answer of the
  ``add`` cell, optionally with ``<name>.reflection.md`` as the reflection answer;
- ``notebook_tampering.py``: edits of the submitted notebook's JSON, one submission each.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

LAB = "hostile_lab"
HERE = Path(__file__).resolve().parent
NOT_ANSWERS = {"fixture_course", "notebook_tampering", "decode"}
HOSTILE = sorted(p.stem for p in HERE.glob("*.py") if p.stem not in NOT_ANSWERS)
ADD_POINTS, MUL_POINTS = 2.0, 1.0
REPO_CONFIG = HERE.parent.parent / "grading"


def _meta(
    grade_id: str,
    *,
    grade: bool = False,
    solution: bool = False,
    locked: bool = False,
    points: float | None = None,
) -> dict:
    meta = {
        "grade": grade,
        "solution": solution,
        "locked": locked,
        "task": False,
        "grade_id": grade_id,
        "schema_version": 3,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


CHECK_CELL = 'from servelab.grading.checks import run_checks\n\nrun_checks("{cell}")'


def instructor_checks(marker: str, input_marker: str = "INPUT") -> str:
    """The lab's checks: one visible and some hidden per question; hidden ones carry ``marker``.

    The marker sits in the hidden checks' code and messages, never in their titles, so any
    trace of it in a kernel or in feedback means hidden checks leaked.
    """
    return f'''from servelab.grading.checks import Checks

checks = Checks()


@checks.visible("test_add")
def add_small_numbers(learner):
    "add(1, 2) is 3"
    got = learner.add(1, 2)
    assert got == 3, f"add(1, 2) should be 3, got {{got!r}}"


@checks.visible("test_mul")
def mul_small_numbers(learner):
    "mul(2, 3) is 6"
    assert learner.mul(2, 3) == 6, "mul(2, 3) should be 6"


# BEGIN HIDDEN CHECKS
@checks.hidden("test_add")
def add_negatives(learner):
    "adds negative numbers"
    assert learner.add(-1, 1) == 0, "{marker} add of negatives"


@checks.hidden("test_add")
def add_tens(learner):
    "adds tens"
    assert learner.add(10, 5) == 15, "{marker} add of tens"


@checks.hidden("test_mul")
def mul_by_zero(learner):
    "multiplies by zero"
    assert learner.mul(0, 5) == 0, "{marker} mul by zero"


@checks.hidden("test_mul")
def mul_repeats_a_string(learner):
    "repeats a string"
    got = learner.mul("{input_marker}", 1)
    assert got == "{input_marker}", "{marker} mul of a string"
# END HIDDEN CHECKS
'''


def source_notebook(marker: str) -> nbformat.NotebookNode:
    """The instructor's notebook of the lab (solutions, visible and hidden tests)."""
    cells = [
        new_markdown_cell("# Hostile lab\nTwo functions and a reflection.", id="intro"),
        new_code_cell(
            "OFFSET = 0  # a locked helper cell",
            id="helper",
            metadata=_meta("helper", locked=True),
        ),
        new_code_cell(
            "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
            id="add",
            metadata=_meta("add", solution=True),
        ),
        new_code_cell(
            CHECK_CELL.format(cell="test_add"),
            id="test_add",
            metadata=_meta("test_add", grade=True, locked=True, points=ADD_POINTS),
        ),
        new_code_cell(
            "def mul(a, b):\n    ### BEGIN SOLUTION\n    return a * b\n    ### END SOLUTION",
            id="mul",
            metadata=_meta("mul", solution=True),
        ),
        new_code_cell(
            CHECK_CELL.format(cell="test_mul"),
            id="test_mul",
            metadata=_meta("test_mul", grade=True, locked=True, points=MUL_POINTS),
        ),
        new_markdown_cell(
            "### BEGIN SOLUTION\nAddition is commutative.\n### END SOLUTION",
            id="reflection",
            metadata=_meta("reflection", grade=True, solution=True, points=1),
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def course_env_values(root: Path) -> dict[str, str]:
    """The environment that points grading/nbgrader_config.py at the course in ``root``."""
    return {
        "SERVELAB_COURSE_ROOT": str(root),
        "SERVELAB_GRADING_DIR": str(root / "grading"),
        "JUPYTER_CONFIG_PATH": str(REPO_CONFIG),
    }


def set_course_env(root: Path) -> dict[str, str | None]:
    """Point grading/nbgrader_config.py at ``root``; returns the previous values to restore."""
    values = course_env_values(root)
    old = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    return old


def restore_env(old: dict[str, str | None]) -> None:
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def build_course(root: Path, marker: str, input_marker: str = "INPUT"):
    """Write solutions/, generate labs/ and the gradebook with nbgrader (in this process)."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log
    from traitlets.config import Config

    from servelab.grading.coursedir import Course
    from servelab.grading.release import release_checks

    (root / "solutions" / LAB).mkdir(parents=True)
    (root / "labs").mkdir()
    (root / "grading").mkdir(mode=0o700)
    nbformat.write(source_notebook(marker), root / "solutions" / LAB / f"{LAB}.ipynb")
    (root / "solutions" / LAB / "instructor_checks.py").write_text(
        instructor_checks(marker, input_marker)
    )
    course = Course.load(REPO_CONFIG)
    config = Config(course.config)
    config.CourseDirectory.assignment_id = LAB
    app = GenerateAssignment(coursedir=CourseDirectory(config=config), config=config)
    app.force = True
    result = capture_log(app)
    assert result["success"], f"{result.get('log')}\n{result.get('error')}"
    release_checks(root / "solutions" / LAB, root / "labs" / LAB)
    return course


def submission(course, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The released notebook with answer cells (by grade_id) filled in."""
    nb = nbformat.read(course.release / LAB / f"{LAB}.ipynb", as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


GOOD = {
    "add": "def add(a, b):\n    return a + b",
    "mul": "def mul(a, b):\n    return a * b",
    "reflection": "Order does not matter.",
}
# passes the visible tests of add and fails its hidden ones; fails the visible test of mul
PARTIAL = {
    "add": "def add(a, b):\n    return a + b if a > 0 else 99",
    "mul": "def mul(a, b):\n    return a + b",
}


def hostile_answers(name: str, placeholders: dict[str, str]) -> dict[str, str]:
    """The answers of the hostile submission ``name``: its script as ``add``, a right ``mul``."""

    def fill(text: str) -> str:
        for key, value in placeholders.items():
            text = text.replace("{" + key + "}", value)
        return text

    answers = {**GOOD, "add": fill((HERE / f"{name}.py").read_text())}
    reflection = HERE / f"{name}.reflection.md"
    if reflection.exists():
        answers["reflection"] = fill(reflection.read_text())
    return answers


def submit(course, student: str, answers: dict[str, str]) -> Path:
    """Write ``student``'s submission where nbgrader's collect would put it."""
    folder = course.submitted / student / LAB
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(submission(course, answers), folder / f"{LAB}.ipynb")
    (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
    return folder


def notebook_json(path: Path) -> dict:
    return json.loads(path.read_text())


def submit_tampered(course, student: str, tamper) -> Path:
    """A right submission whose notebook JSON ``tamper`` (dict -> dict or str) then edits."""
    folder = course.submitted / student / LAB
    folder.mkdir(parents=True, exist_ok=True)
    nb = json.loads(nbformat.writes(submission(course, GOOD)))
    edited = tamper(nb)
    text = edited if isinstance(edited, str) else json.dumps(edited, indent=1)
    (folder / f"{LAB}.ipynb").write_text(text)
    (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
    return folder
