"""Sandboxed, parallel autograde against hostile submissions (tests/hostile/), then feedback/export.

The class is graded once (conftest.py): two good learners, one partly wrong, one learner per
hostile script and per tampered notebook, 2 jobs at a time. Each test here checks one promise
of docs/instructor.md about the sandbox: the run finishes, the gradebook is intact, the others'
grades are unchanged, and each offender scores zero on the question it misbehaved in (and,
where its kernel survived, full marks on the other). test_grading_attacks.py covers the attack
classes on the verdict, the feedback and the host.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from grading_support import GOOD, feedback_page, graded_notebook, grades, sha
from hostile import fixture_course as fc
from hostile import notebook_tampering

pytestmark = pytest.mark.slow

# What stops each hostile answer (the error its ``add`` cell ends with) - the layer that worked.
EXPECTED_ERROR = {
    "infinite_loop": {"CellTimeoutError", "KeyboardInterrupt"},
    "stubborn_loop": {"SandboxLimit"},  # wall-clock limit killed the kernel
    # RLIMIT_NPROC; or, when 128 spinning copies starve the kernel, the cell timeout, or the
    # forked copies garble its output channel and the cell is failed (SandboxLimit)
    "fork_bomb": {"BlockingIOError", "SandboxLimit", "CellTimeoutError", "KeyboardInterrupt"},
    "memory_hog": {"MemoryError"},  # RLIMIT_AS
    "output_flood": {"OutputLimitExceeded"},  # output cap
    "disk_flood": {"OSError"},  # tmpfs size / RLIMIT_FSIZE
    "read_solutions": {"FileNotFoundError"},  # hidden by the mount namespace
    "read_gradebook": {"OperationalError"},
    "read_hidden_tests": {"AssertionError"},  # searched everything, found nothing
    "write_gradebook": {"OperationalError"},
    "delete_submissions": {"FileNotFoundError"},
    "network": {"ConnectionRefusedError"},  # own network namespace
}
# Offenders whose kernel was killed: nothing after the offending cell could run.
KERNEL_KILLED = {"stubborn_loop"}
# A fork bomb leaves up to RLIMIT_NPROC forked copies of the kernel behind; whether the kernel
# still answers the next cell depends on timing (they share its sockets). Either way: no points.
KERNEL_MAY_DIE = {"fork_bomb"}


def test_every_submission_is_graded(graded):
    results = graded["results"]
    assert set(results) == {*GOOD, "partial", *fc.HOSTILE, *notebook_tampering.TAMPERS}
    failed = {s: r.error[-500:] for s, r in results.items() if not r.success}
    assert not failed


def test_good_and_partial_learners_score_as_their_tests_say(graded):
    course = graded["course"]
    for student in GOOD:
        assert grades(course, student) == {"test_add": 2.0, "test_mul": 1.0, "reflection": None}
    # partial passes 2 of add's 3 checks (partial credit: 2 x 2/3) and none of mul's
    # (its reflection is the unchanged stub: nbgrader gives an unanswered question 0)
    assert grades(course, "partial") == {"test_add": 1.3333, "test_mul": 0.0, "reflection": 0.0}


@pytest.mark.parametrize("name", sorted(EXPECTED_ERROR))
def test_offender_scores_zero_where_it_misbehaved(graded, name):
    course = graded["course"]
    scores = grades(course, name)
    assert scores["test_add"] == 0.0
    if name not in KERNEL_MAY_DIE:
        assert scores["test_mul"] == (0.0 if name in KERNEL_KILLED else 1.0)
    assert add_cell_errors(course, name) & EXPECTED_ERROR[name], add_cell_errors(course, name)


def test_network_reaches_only_allowed_ports(graded):
    assert graded["forbidden"].received == []
    assert graded["allowed"].received == [b"ping\n"]
    assert grades(graded["course"], "network_allowed")["test_add"] == 2.0


def test_gradebook_is_intact(graded):
    course = graded["course"]
    db = sqlite3.connect(course.db_path)
    try:
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)
        students = len(graded["results"])
        assert db.execute("select count(*) from submitted_assignment").fetchone() == (students,)
        # one row per student and graded cell: nothing lost, nothing doubled
        assert db.execute("select count(*) from grade").fetchone() == (3 * students,)
        assert db.execute("select max(auto_score), max(manual_score) from grade").fetchone() == (
            2.0,
            None,
        )
    finally:
        db.close()


def test_other_submissions_are_untouched(graded):
    course = graded["course"]
    for student in GOOD:
        assert sha(course.submitted / student) == graded["before"][student]
        assert (course.autograded / student / fc.LAB / f"{fc.LAB}.ipynb").is_file()


def test_the_attacks_work_without_the_sandbox(graded):
    """The hostile reads are real: run as plain Python (no sandbox) they get what they want."""
    for name in ("read_solutions", "read_gradebook", "read_hidden_tests"):
        code = fc.hostile_answers(name, graded["placeholders"])["add"]
        code += "\nassert add(2, 2) == 4\n"
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, (name, proc.stderr[-500:])


def test_regrading_updates_in_place_and_keeps_manual_scores(graded):
    from nbgrader.api import Gradebook

    from servelab.grading.autograde import autograde

    course = graded["course"]
    with Gradebook(course.db_url, course.course_id) as gb:
        gb.find_grade("reflection", fc.LAB, fc.LAB, "good_one").manual_score = 1.0
        gb.db.commit()
    again = autograde(course, fc.LAB, ["good_one", "partial"], jobs=2, sandbox=graded["options"])
    assert [(r.student, r.success, r.score) for r in again] == [
        ("good_one", True, 4.0),
        ("partial", True, 1.3333),
    ]
    db = sqlite3.connect(course.db_path)
    try:
        assert db.execute("select count(*) from grade").fetchone() == (3 * len(graded["results"]),)
    finally:
        db.close()
    assert grades(course, "good_one")["test_add"] == 2.0


def test_feedback_shows_scores_and_visible_failures_but_no_hidden_tests(graded):
    course = graded["course"]
    assert all(r["success"] for r in graded["feedback"].values()), graded["feedback"]
    html = feedback_page(course, "partial")
    # a failing hidden check shows its title only; a failing visible one its message too
    assert "[FAIL] (hidden) adds negative numbers" in html
    assert "mul(2, 3) should be 6" in html
    for student in graded["results"]:
        page = feedback_page(course, student)
        if student != "read_hidden_tests":  # its own answer cell searches for the marker
            assert graded["marker"] not in page, student
        assert "add(-1, 1)" not in page and "mul(0, 5)" not in page, student


def test_export_per_student_and_per_question(graded):
    import csv

    from servelab.grading.export import export

    course = graded["course"]
    done = export(course, [fc.LAB])
    students = list(csv.DictReader(done.students_csv.open()))
    questions = list(csv.DictReader(done.questions_csv.open()))
    assert len(students) == len(graded["results"])
    assert len(questions) == 3 * len(graded["results"])
    row = next(r for r in questions if r["student"] == "good_two" and r["question"] == "test_add")
    assert (float(row["score"]), float(row["max_score"])) == (2.0, 2.0)
    assert done.plot is not None and done.plot.stat().st_size > 10_000


def test_cli_export(graded):
    out = graded["course"].grading / "cli-export"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "servelab.cli.main",
            "grade",
            "export",
            "--lab",
            fc.LAB,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "questions.csv").read_text().count("\n") == 1 + 3 * len(graded["results"])


def add_cell_errors(course, student: str) -> set[str]:
    nb = graded_notebook(course, student)
    cell = next(c for c in nb["cells"] if c.get("id") == "add")
    return {o["ename"] for o in cell["outputs"] if o["output_type"] == "error"}
