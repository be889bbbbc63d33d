"""The grading pieces that need no sandbox: ids, collect, redaction, output guard, env, export."""

from __future__ import annotations

import io
import os

import nbformat
import pytest
from hostile import fixture_course as fc
from nbformat.v4 import new_code_cell, new_notebook, new_output

from servelab.grading import sandbox
from servelab.grading.collect import collect_folder
from servelab.grading.coursedir import Course, check_student_id
from servelab.grading.export import student_rows
from servelab.grading.feedback import RedactHiddenTests
from servelab.grading.guard import CappedStream, OutputLimitExceeded, _Budget
from servelab.grading.limits import Limits


@pytest.mark.parametrize("bad", ["../etc", ".hidden", "a/b", "", "x" * 200, "a b", "é"])
def test_student_ids_that_could_escape_are_refused(bad):
    with pytest.raises(ValueError):
        check_student_id(bad)


def test_student_ids_accepted():
    assert check_student_id("alice.smith_2-b") == "alice.smith_2-b"


@pytest.fixture
def course(tmp_path):
    old = fc.set_course_env(tmp_path)
    try:
        course = Course.load(fc.REPO_CONFIG)
        (course.release / fc.LAB).mkdir(parents=True)
        nbformat.write(fc.source_notebook("x"), course.release / fc.LAB / f"{fc.LAB}.ipynb")
        yield course
    finally:
        fc.restore_env(old)


def test_collect_from_an_lms_export(course, tmp_path):
    export = tmp_path / "export"
    (export / "alice").mkdir(parents=True)
    nbformat.write(new_notebook(), export / "alice" / "my_copy.ipynb")
    (export / "alice" / "data.csv").write_text("a,b\n")
    nbformat.write(new_notebook(), export / "bob_123_456_hostile_lab.ipynb")
    nbformat.write(new_notebook(), export / "..evil_hostile_lab.ipynb")
    (export / "notes.txt").write_text("not a notebook")
    (export / "link").symlink_to(tmp_path)
    got = collect_folder(course, fc.LAB, export)
    assert got.students == ["alice", "bob"]
    assert sorted(p.name for p in (course.submitted / "alice" / fc.LAB).iterdir()) == [
        "data.csv",
        f"{fc.LAB}.ipynb",
        "timestamp.txt",  # written by the collector, from the export's file time
    ]
    assert (course.submitted / "bob" / fc.LAB / f"{fc.LAB}.ipynb").is_file()
    assert len(got.skipped) == 3  # the bad name, the text file, the link
    assert sorted(p.name for p in course.submitted.iterdir()) == ["alice", "bob"]


def _failed(cell, ename, evalue, line):
    cell.execution_count = 7
    cell.outputs = [
        new_output("stream", name="stdout", text="printed during the tests\n"),
        new_output(
            "error",
            ename=ename,
            evalue=evalue,
            traceback=[
                "\x1b[31m---------\x1b[0m",
                f"Cell \x1b[32mIn[7], line {line}\x1b[0m\n  secret",
                f"{ename}: {evalue}",
            ],
        ),
    ]
    return cell


#: nbgrader-style test cells with hidden tests in the cell (labs not yet converted to checks)
LEGACY_TESTS = {
    2: "assert add(1, 2) == 3, 'add(1, 2) should be 3'\n### BEGIN HIDDEN TESTS\n"
    "assert add(-1, 1) == 0, 'MARK add of negatives'\n### END HIDDEN TESTS",
    4: "assert mul(2, 3) == 6, 'mul(2, 3) should be 6'\n### BEGIN HIDDEN TESTS\n"
    "assert mul(0, 5) == 0, 'MARK mul by zero'\n### END HIDDEN TESTS",
}


def test_redaction_keeps_visible_failures_and_hides_hidden_ones():
    nb = fc.source_notebook("MARK")
    for index, source in LEGACY_TESTS.items():
        nb.cells[index].source = source
    hidden_fail = _failed(nb.cells[2], "AssertionError", "MARK add of negatives", 3)
    visible_fail = _failed(nb.cells[4], "AssertionError", "mul(2, 3) should be 6", 1)
    leak = new_code_cell(
        "print(stolen)",
        outputs=[
            new_output("stream", name="stdout", text="assert mul(0, 5) == 0, 'MARK mul by zero'\n")
        ],
    )
    nb.cells.append(leak)
    RedactHiddenTests().preprocess(nb, {})
    assert [o.traceback for o in hidden_fail.outputs] == [
        ["A hidden test failed (AssertionError)."]
    ]
    assert visible_fail.outputs[0].evalue == "mul(2, 3) should be 6"
    assert "line 1: assert mul(2, 3) == 6" in visible_fail.outputs[0].traceback[1]
    assert "MARK" not in str(nb.cells[2].outputs) + str(nb.cells[4].outputs)
    assert leak.outputs[0].text == "[hidden test]\n"


def test_output_guard_raises_at_the_print_that_crosses_the_limit():
    out = io.StringIO()
    budget = _Budget(10)
    stream = CappedStream(out, budget)
    stream.write("12345")
    with pytest.raises(OutputLimitExceeded):
        stream.write("1234567")
    budget.reset()
    stream.write("ok")
    assert out.getvalue() == "12345ok"


def test_kernel_environment_is_an_allow_list():
    grader = {
        "OPENAI_API_KEY": "sk-x",
        "SERVELAB_CLOUD_KEY": "k",
        "SERVELAB_GRADING_DIR": "/srv/grading",  # not a stack setting: a path of the grader's
        "SERVELAB_VLLM_PORT": "9",
        "AWS_SECRET_ACCESS_KEY": "s",
        "GITHUB_PAT": "ghp_x",  # a secret whose name no deny-list would guess
        "PYTHONPATH": "/srv/instructor",
        "LD_PRELOAD": "/srv/x.so",
        "NBGRADER_EXECUTION": "autograde",
        "HOME": "/root",
    }
    env = sandbox.kernel_env(grader)
    assert env["SERVELAB_VLLM_PORT"] == "9" and env["NBGRADER_EXECUTION"] == "autograde"
    assert env["HOME"] == sandbox.WORKDIR
    passed = {k for k in grader if env.get(k) == grader[k]}
    assert passed == {"SERVELAB_VLLM_PORT", "NBGRADER_EXECUTION"}


def test_paths_python_needs_are_never_hidden(tmp_path):
    import sys
    from pathlib import Path

    site = Path(sys.prefix) / "lib"
    ancestor = Path(sys.prefix).resolve().parent
    got = sandbox.hideable_paths(
        [str(site), str(ancestor), str(tmp_path / "missing"), str(tmp_path)]
    )
    assert str(site.resolve()) not in got  # inside the Python installation
    assert str(ancestor) in got  # an ancestor: covered, Python put back by the jail
    assert got.count(str(tmp_path.resolve())) == 1


def test_limits_refuse_nonsense():
    with pytest.raises(AssertionError):
        Limits(memory_bytes=2**20)
    with pytest.raises(AssertionError):
        Limits(output_kept_bytes=10, output_interrupt_bytes=5)


def test_student_rows_sum_questions():
    rows = student_rows(
        [
            {
                "student": "a",
                "lab": "l",
                "score": 2.0,
                "max_score": 2.0,
                "needs_manual_grade": False,
            },
            {
                "student": "a",
                "lab": "l",
                "score": None,
                "max_score": 1.0,
                "needs_manual_grade": True,
            },
        ]
    )
    assert rows == [
        {
            "student": "a",
            "lab": "l",
            "score": 2.0,
            "max_score": 3.0,
            "needs_manual_grade": True,
            "percent": 66.7,
        }
    ]


def test_the_sweep_removes_what_idle_sandbox_uids_left_and_spares_running_ones(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to give files to sandbox uids")
    from servelab.grading import leftovers
    from servelab.grading.sandbox import UID_BASE, UID_SLOTS, try_lease

    slot = UID_SLOTS - 1
    left = tmp_path / "left-behind"
    left.write_text("x")
    os.chown(left, UID_BASE + slot, UID_BASE + slot)
    fd = try_lease(slot)
    assert fd is not None, "the last slot is in use by another grading run"
    try:  # a sandbox "running" as that uid: its files are its own business
        assert leftovers.sweep(UID_BASE, UID_SLOTS, roots=(str(tmp_path),)) == []
        assert left.exists()
    finally:
        os.close(fd)
    report = leftovers.sweep(UID_BASE, UID_SLOTS, roots=(str(tmp_path),))
    assert report == [f"{left} (removed)"] and not left.exists()
