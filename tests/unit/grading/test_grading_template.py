"""`servelab course new`: the template creates every place a lab lives, and never overwrites."""

from __future__ import annotations

import ast

import nbformat
import pytest

from servelab.grading import template
from servelab.grading.template import TemplateError, new_lab

README = (
    "# course\n\n| lab | topic | runs against |\n|---|---|---|\n| 00 | a | b |\n| 01 | c | d |\n"
    "\nend\n"
)


LAB, DATA = "07_levers", "lab07"  # the lab these tests create in a temporary course


def rel(*parts: str) -> str:
    """A path inside the temporary course (built, so it is not read as a path of this repo)."""
    return "/".join(parts)


@pytest.fixture
def root(tmp_path):
    (tmp_path / "solutions" / "00_first").mkdir(parents=True)
    (tmp_path / "solutions" / "00_first" / "00_first.ipynb").write_text("{}")
    (tmp_path / "README.md").write_text(README)
    return tmp_path


def test_creates_every_place_a_lab_lives(root):
    written = {p.relative_to(root).as_posix() for p in new_lab("7", "levers", root)}
    assert written == {
        rel("solutions", LAB, LAB + ".ipynb"),
        rel("solutions", LAB, "instructor_checks.py"),
        rel("servelab", "labs", DATA + "_levers.py"),
        rel("datasets", DATA, "README.md"),
        rel("datasets", DATA, "numbers.csv"),
        rel("scripts", "record_" + DATA + ".py"),
        rel("tests", "wrong_answers", LAB + ".py"),
        rel("tests", "right_answers", LAB + ".py"),
        rel("tests", "unit", "labs", "test_" + DATA + "_levers.py"),
        rel("benchmarks", "mutation", "equivalent", LAB + ".toml"),
        "README.md",
    }
    for path in written:
        assert (root / path).read_text(), path
        if path.endswith(".py"):
            ast.parse((root / path).read_text())  # valid Python, placeholders all filled
            assert "$" not in (root / path).read_text().replace("$number", ""), path


def test_the_notebook_carries_nbgrader_metadata_and_a_check_cell(root):
    new_lab("07", "levers", root)
    nb = nbformat.read(root / rel("solutions", LAB, LAB + ".ipynb"), as_version=4)
    nbformat.validate(nb)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells]
    assert len(ids) == len(set(ids))
    graded = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if c.metadata.nbgrader.grade}
    assert set(graded) == {"ex1_tests", "reflection"}
    assert 'run_checks("ex1_tests")' in graded["ex1_tests"].source
    checks = (root / rel("solutions", LAB, "instructor_checks.py")).read_text()
    assert '@checks.visible("ex1_tests")' in checks and "# BEGIN HIDDEN CHECKS" in checks
    answers = (root / rel("tests", "wrong_answers", LAB + ".py")).read_text()
    assert '"tests": "ex1_tests"' in answers


def test_adds_the_row_after_the_last_lab_of_the_table(root):
    new_lab("02", "levers", root)
    lines = (root / "README.md").read_text().splitlines()
    assert lines[5:8] == [
        "| 01 | c | d |",
        "| 02 | levers: TODO one line | TODO what it runs against |",
        "",
    ]


@pytest.mark.parametrize("number, name", [("07", "other"), ("08", "first"), ("0", "x_y")])
def test_refuses_a_lab_that_exists_by_number_or_name(root, number, name):
    new_lab("07", "levers", root)
    before = sorted(p for p in root.rglob("*"))
    readme = (root / "README.md").read_text()
    with pytest.raises(TemplateError, match="exists"):
        new_lab(number, name if name != "x_y" else "first", root)
    assert sorted(p for p in root.rglob("*")) == before
    assert (root / "README.md").read_text() == readme


def test_refuses_to_overwrite_a_file_left_from_another_lab(root):
    script = rel("scripts", "record_" + DATA + ".py")
    (root / "scripts").mkdir()
    (root / script).write_text("keep me")
    with pytest.raises(TemplateError, match=script):
        new_lab("07", "levers", root)
    assert (root / script).read_text() == "keep me"
    assert not (root / "solutions" / LAB).exists()


@pytest.mark.parametrize(
    "number, name", [("100", "x"), ("-1", "x"), ("ab", "x"), ("07", "Levers"), ("07", "a b")]
)
def test_bad_numbers_and_names_get_a_clear_error(root, number, name):
    with pytest.raises(TemplateError, match="lab (number|name)"):
        template.parse(number, name)
