"""Every lab's own solution scores full automatic marks when graded in the sandbox.

A lab that reads a file the sandbox hides, or needs the network during its graded cells, fails
here (and would give every learner zero): the sandbox's limits must fit the real labs.
"""

from __future__ import annotations

import shutil

import pytest
from hostile import fixture_course as fc

from servelab.grading.sandbox import SandboxUnavailable, check_available
from servelab.paths import ROOT

try:
    check_available()
except SandboxUnavailable as exc:
    pytest.skip(f"grading sandbox unavailable: {exc}", allow_module_level=True)

LABS = sorted(p.name for p in (ROOT / "solutions").iterdir()
              if p.is_dir() and any(p.glob("*.ipynb")))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log
    from traitlets.config import Config

    from servelab.grading.course import Course

    root = tmp_path_factory.mktemp("labs-course")
    old = fc.set_course_env(root)
    try:
        shutil.copytree(ROOT / "solutions", root / "solutions",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        (root / "labs").mkdir()
        (root / "grading").mkdir(mode=0o700)
        course = Course.load(fc.REPO_CONFIG)
        for lab in LABS:
            config = Config(course.config)
            config.CourseDirectory.assignment_id = lab
            app = GenerateAssignment(coursedir=CourseDirectory(config=config), config=config)
            app.force = True
            result = capture_log(app)
            assert result["success"], result.get("log")
            shutil.copytree(course.source / lab, course.submitted / "reference" / lab)
        yield course
    finally:
        fc.restore_env(old)


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_solution_gets_full_automatic_marks_in_the_sandbox(course, lab):
    from nbgrader.api import Gradebook

    from servelab.grading.autograde import autograde

    [result] = autograde(course, lab, ["reference"], jobs=1)
    assert result.success, result.error[-2000:]
    with Gradebook(course.db_url, course.course_id) as gb:
        # autograded tests (manually graded answers wait for a person: needs_manual_grade)
        nb_grades = [g for nb in gb.find_submission(lab, "reference").notebooks
                     for g in nb.grades if g.cell.cell_type == "code" and not g.needs_manual_grade]
        lost = {g.name: (g.auto_score, g.max_score) for g in nb_grades
                if g.auto_score != g.max_score}
    assert nb_grades and not lost
