"""The nbgrader course: labs/ is generated from solutions/, solutions pass, untouched labs fail,
and an autograde round trip in a temporary copy of the course scores both as it should."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nbgrader.api import Gradebook
from nbgrader.validator import Validator
from traitlets.config import Config

from servelab import course
from servelab.paths import ROOT

LABS = course.lab_names()
EXECUTE_TIMEOUT_S = 120  # same ceiling as grading/nbgrader_config.py


def validator() -> Validator:
    # `nbgrader validate` exits 0 even when validation fails: use the API and read its result.
    return Validator(config=Config({"Execute": {"timeout": EXECUTE_TIMEOUT_S}}))


def notebook(folder: str, lab: str) -> Path:
    return ROOT / folder / lab / f"{lab}.ipynb"


def test_there_is_at_least_one_lab():
    assert "00_inference_path" in LABS


def test_labs_are_exactly_a_fresh_release_of_solutions():
    assert course.stale_files() == [], "labs/ is stale: run `make release` and commit labs/"


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_solution_executes_and_validates(lab, stack):
    result = validator().validate(str(notebook("solutions", lab)))
    assert result == {}, result


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_untouched_release_fails_validation(lab):
    result = validator().validate(str(notebook("labs", lab)))
    assert result.get("failed"), f"the released {lab} passes untouched: its tests prove nothing"


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory) -> Path:
    """A temporary course copy: alice submits the solutions, bob the untouched labs."""
    root = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "solutions", root / "solutions")
    (root / "labs").mkdir()
    course.release(root)  # also registers every lab in the temporary gradebook
    for lab in LABS:
        for student, src in [("alice", root / "solutions"), ("bob", root / "labs")]:
            dest = root / "grading" / "submitted" / student / lab
            dest.mkdir(parents=True)
            shutil.copy(src / lab / f"{lab}.ipynb", dest / f"{lab}.ipynb")
        course.nbgrader(["autograde", lab, "--create"], root)
    return root


def per_question(root: Path) -> dict[tuple[str, str, str], tuple[float, float]]:
    """(student, lab, question) -> (score, max) for every autograded test cell."""
    out = {}
    with Gradebook(f"sqlite:///{root / 'grading' / 'gradebook.db'}") as gb:
        for lab in LABS:
            for student in ["alice", "bob"]:
                sub = gb.find_submission(lab, student)
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        if grade.cell.cell_type == "code":  # autograded tests
                            out[(student, lab, grade.name)] = (grade.score, grade.max_score)
    return out


@pytest.mark.slow
def test_autograde_gives_the_solution_full_marks_and_the_untouched_lab_zero(graded_course, stack):
    grades = per_question(graded_course)
    for lab in LABS:
        alice = {q: s for (st, lb, q), s in grades.items() if st == "alice" and lb == lab}
        bob = {q: s for (st, lb, q), s in grades.items() if st == "bob" and lb == lab}
        assert len(alice) >= 3, f"{lab} needs at least three autograded exercises"
        assert all(score == top > 0 for score, top in alice.values()), alice
        assert all(score == 0 for score, _ in bob.values()), bob
