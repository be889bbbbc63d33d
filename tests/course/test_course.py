"""The nbgrader course: labs/ is generated from solutions/, solutions pass, untouched labs fail,
and an autograde round trip in a temporary copy of the course scores both as it should."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from jupyter_support import chromium_path
from nbgrader.validator import Validator
from traitlets.config import Config

from servelab.grading import release as course
from servelab_base.paths import ROOT

#: SERVELAB_TEST_LABS=01_managed_api,02_cloud_platform narrows a run to some labs (development).
ONLY = {lab for lab in os.environ.get("SERVELAB_TEST_LABS", "").split(",") if lab}
LABS = [lab for lab in course.lab_names() if not ONLY or lab in ONLY]
EXECUTE_TIMEOUT_S = 120  # same ceiling as grading/nbgrader_config.py
GRADE_TIMEOUT_S = 1800  # one lab, two sandboxed submissions, on a busy 2-core machine


def validator() -> Validator:
    # `nbgrader validate` exits 0 even when validation fails: use the API and read its result.
    return Validator(config=Config({"Execute": {"timeout": EXECUTE_TIMEOUT_S}}))


def notebook(folder: str, lab: str) -> Path:
    return ROOT / folder / lab / f"{lab}.ipynb"


def test_there_is_at_least_one_lab():
    assert "00_inference_path" in course.lab_names()


@pytest.fixture(scope="module")
def course_copy(tmp_path_factory) -> Path:
    """A temporary copy of the course with labs/ freshly released from solutions/ (every lab;
    it also registers them in the copy's gradebook): compared with labs/, then graded."""
    root = tmp_path_factory.mktemp("course")
    for folder in ("solutions", "datasets"):
        shutil.copytree(
            ROOT / folder, root / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
        )
    (root / "labs").mkdir()
    course.release(root)
    return root


def test_labs_are_exactly_a_fresh_release_of_solutions(course_copy):
    stale = course.differences(course_copy / "labs", ROOT / "labs")
    assert stale == [], f"labs/ is stale ({stale[:5]}): run `make release` and commit labs/"


#: tests/browser/test_labs.py runs every lab in JupyterLab and clicks Validate on the solved and
#: the untouched copy: with a browser, that is each notebook's one execution in the suite, and
#: the two tests below (the same validations without a browser) run only where it cannot.
NO_BROWSER = pytest.mark.skipif(
    chromium_path() is not None, reason="validated in the browser (tests/browser/test_labs.py)"
)


@pytest.mark.slow
@NO_BROWSER
@pytest.mark.parametrize("lab", LABS)
def test_solution_executes_and_validates(lab, stack):
    result = validator().validate(str(notebook("solutions", lab)))
    assert result == {}, result


@pytest.mark.slow
@NO_BROWSER
@pytest.mark.parametrize("lab", LABS)
def test_untouched_release_fails_validation(lab):
    result = validator().validate(str(notebook("labs", lab)))
    assert result.get("failed"), f"the released {lab} passes untouched: its tests prove nothing"


def grade_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    """The instructor's `servelab grade ...`, run against the course at ``root``."""
    exe = Path(sys.executable).parent / "servelab"
    return subprocess.run(
        [str(exe), "grade", *args],
        cwd=root,
        env=course.nbgrader_env(root),
        capture_output=True,
        text=True,
        timeout=GRADE_TIMEOUT_S,
    )


@pytest.fixture(scope="module")
def graded_course(course_copy) -> Path:
    """The course copy graded as an instructor would at the end of a term: alice submits the
    solutions, bob the untouched labs, in an LMS-style export with one folder per lab; one
    `servelab grade all LAB ...` collects, autogrades every lab in the sandbox (two at a time,
    one pool of workers), writes feedback and exports the grades."""
    root = course_copy
    export = root / "lms-export"
    for lab in LABS:
        lms = export / lab
        lms.mkdir(parents=True)
        shutil.copy(root / "solutions" / lab / f"{lab}.ipynb", lms / f"alice_{lab}.ipynb")
        shutil.copy(root / "labs" / lab / f"{lab}.ipynb", lms / f"bob_{lab}.ipynb")
    out = grade_cli(root, "all", *LABS, "--from", str(export), "--jobs", "2", "--allow-stack")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return root


def exported_questions(root: Path) -> list[dict[str, str]]:
    out = grade_cli(root, "export")
    assert out.returncode == 0, out.stderr
    path = root / "grading" / "exports" / "questions.csv"
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
@pytest.mark.timeout(3600)  # every lab, two submissions each, on 2 cores
def test_autograde_gives_the_solution_full_marks_and_the_untouched_lab_zero(graded_course, stack):
    rows = exported_questions(graded_course)
    for lab in LABS:
        mine = [r for r in rows if r["lab"] == lab]
        # autograded questions: the solution's manual answers wait for a person
        alice = {
            r["question"]: (float(r["score"]), float(r["max_score"]))
            for r in mine
            if r["student"] == "alice" and r["needs_manual_grade"] == "False"
        }
        bob = {
            r["question"]: float(r["score"])
            for r in mine
            if r["student"] == "bob" and r["question"] in alice
        }
        assert len(alice) >= 3, f"{lab} needs at least three autograded exercises: {alice}"
        assert all(score == top > 0 for score, top in alice.values()), (lab, alice)
        assert set(bob) == set(alice) and not any(bob.values()), (lab, bob)


@pytest.mark.slow
def test_feedback_never_shows_hidden_tests(graded_course, stack):
    for lab in LABS:
        nb = nbformat.read(ROOT / "solutions" / lab / f"{lab}.ipynb", as_version=4)
        hidden, shown = set(), set()
        for cell in nb.cells:
            for i, part in enumerate(cell.source.split("### BEGIN HIDDEN TESTS")):
                inside, _, after = part.partition("### END HIDDEN TESTS")
                lines = {x.strip() for x in inside.splitlines() if len(x.strip()) > 25}
                (hidden if i else shown).update(lines)
                shown.update(x.strip() for x in after.splitlines())
        checks_file = ROOT / "solutions" / lab / "instructor_checks.py"
        if checks_file.exists():  # hidden checks: every line of the hidden blocks
            source = checks_file.read_text()
            for i, part in enumerate(source.split("# BEGIN HIDDEN CHECKS")):
                inside, _, _after = part.partition("# END HIDDEN CHECKS")
                if i:
                    hidden.update(x.strip() for x in inside.splitlines() if len(x.strip()) > 25)
        hidden -= shown  # a line also written in the visible part may rightly appear
        pages = list((graded_course / "grading" / "feedback").glob(f"*/{lab}/*.html"))
        assert pages, f"no feedback for {lab}"
        for html in pages:
            # as a reader sees it: highlighting splits code into <span>s, entities escape quotes
            text = BeautifulSoup(html.read_text(), "html.parser").get_text()
            lines = {x.strip() for x in text.splitlines()}
            visible = {x for x in shown if len(x) > 25}
            assert visible & lines, f"{html}: the check cannot see code in the page"
            leaked = sorted(hidden & lines)
            assert not leaked, f"{html} shows hidden test lines: {leaked[:3]}"
