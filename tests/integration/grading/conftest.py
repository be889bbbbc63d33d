"""One grading run shared by the grading tests: the whole test class, graded once.

The class and its readers are in grading_support.py; this file holds the session fixture, and
the environment each test that reads it gets. The course's environment and the grader's secrets
are in os.environ only while the class is graded and, through monkeypatch, during each test
that uses the run: the fixture lives to the end of the session, and a later test in the same
process (another file, under pytest-xdist) must not find OPENAI_API_KEY set or the course moved.
"""

from __future__ import annotations

import os
import uuid

import pytest
from grading_support import (
    CELL_TIMEOUT,
    GOOD,
    GRADER_SECRETS,
    SANDBOX,
    TEST_LIMITS,
    Listener,
    sha,
)
from hostile import fixture_course as fc
from hostile import notebook_tampering


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    from servelab.grading.autograde import SandboxOptions, autograde

    root = tmp_path_factory.mktemp("course")
    old_env = fc.set_course_env(root)
    forbidden, allowed = Listener(), Listener()
    if SANDBOX:
        pytest.skip(f"grading sandbox unavailable: {SANDBOX}")
    marker = "HIDDEN" + uuid.uuid4().hex  # only the hidden checks' code carries it
    input_marker = "INPUT" + uuid.uuid4().hex  # a hidden check's input
    saved_secrets = {k: os.environ.get(k) for k in GRADER_SECRETS}
    os.environ.update(GRADER_SECRETS)
    env = {**fc.course_env_values(root), **GRADER_SECRETS}
    try:
        course = fc.build_course(root, marker, input_marker)
        placeholders = {
            "SOLUTIONS": str(course.source),
            "GRADEBOOK": str(course.db_path),
            "COURSE_ROOT": str(course.root),
            "SUBMITTED": str(course.submitted),
            "AUTOGRADED": str(course.autograded),
            "MARKER": marker,
            "CANARY": "PWN" + uuid.uuid4().hex,  # markup a hostile answer injects
            "LEFTOVER": "servelab-left-" + uuid.uuid4().hex,  # files it tries to leave
            "FORBIDDEN_PORT": str(forbidden.port),
            "ALLOWED_PORT": str(allowed.port),
        }
        for student in GOOD:
            fc.submit(course, student, fc.GOOD)
        fc.submit(course, "partial", fc.PARTIAL)
        for name in fc.HOSTILE:
            fc.submit(course, name, fc.hostile_answers(name, placeholders))
        for name, tamper in notebook_tampering.TAMPERS.items():
            fc.submit_tampered(course, name, tamper)
        before = {s: sha(course.submitted / s) for s in GOOD}
        options = SandboxOptions(
            allowed_ports=(allowed.port,), limit_overrides=TEST_LIMITS, cell_timeout=CELL_TIMEOUT
        )
        results = {r.student: r for r in autograde(course, fc.LAB, jobs=2, sandbox=options)}
        from servelab.grading.feedback import generate_feedback

        feedback = generate_feedback(course, fc.LAB)
        fc.restore_env(old_env)
        fc.restore_env(saved_secrets)
        yield {
            "env": env,
            "feedback": feedback,
            "input_marker": input_marker,
            "course": course,
            "results": results,
            "before": before,
            "marker": marker,
            "forbidden": forbidden,
            "allowed": allowed,
            "placeholders": placeholders,
            "options": options,
        }
    finally:
        forbidden.close()
        allowed.close()
        fc.restore_env(old_env)
        fc.restore_env(saved_secrets)


@pytest.fixture(autouse=True)
def _graded_env(request, monkeypatch):
    """A test that uses the graded class runs with its course's environment and the secrets."""
    if "graded" in request.fixturenames:
        for key, value in request.getfixturevalue("graded")["env"].items():
            monkeypatch.setenv(key, value)
