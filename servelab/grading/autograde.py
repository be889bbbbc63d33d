"""Autograde every submission of a lab: in parallel, sandboxed, one writer to the gradebook.

nbgrader's ``autograde`` stays the grader of record (same preprocessors, same scores), with two
changes:

- **Parallel, without sharing the gradebook.** Each submission is graded by a worker process
  against its *own copy* of the gradebook and into its own folder. Workers never write the course
  gradebook, so two of them can never lose or double each other's grades (SQLite allows one
  writer at a time and nbgrader does not retry on "database is locked").
- **One writer.** This process merges each finished worker's scores into the course gradebook,
  one student at a time, in one transaction each, then moves the graded notebook into place.
  Re-grading updates the same rows (``update_or_create``); manual scores are never touched.

The student's code itself runs in the sandbox (servelab/grading/execute.py, sandbox.py, jail.py).
"""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import shutil
import signal
import sqlite3
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servelab.grading.checks import INSTRUCTOR_FILE
from servelab.grading.coursedir import Course, check_student_id
from servelab.grading.leftovers import sweep
from servelab.grading.rebuild import rebuild_file
from servelab.grading.sandbox import UID_BASE, UID_SLOTS, check_available

# The steps nbgrader's autograde runs after sanitizing a notebook (nbgrader 0.9.6's defaults),
# with Execute replaced by the sandboxed one.
AUTOGRADE_STEPS = [
    "servelab.grading.execute.SandboxedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]


PR_SET_PDEATHSIG = 1  # linux/prctl.h
# Characters of nbgrader's log and traceback kept in a failed result (enough for the cause).
LOG_TAIL = 4000


@dataclass(frozen=True)
class SandboxOptions:
    """What a lab's kernels may reach and use, beyond the defaults of servelab.grading.limits."""

    allowed_ports: tuple[int, ...] = ()
    extra_hidden: tuple[str, ...] = ()
    limit_overrides: dict[str, Any] = field(default_factory=dict)
    #: seconds per cell (nbgrader's Execute.timeout); None keeps the course config's value
    cell_timeout: int | None = None


@dataclass
class StudentResult:
    """The outcome of grading one submission."""

    student: str
    success: bool
    score: float = 0.0
    max_score: float = 0.0
    seconds: float = 0.0
    error: str = ""
    #: what the learner changed that was not theirs to change (servelab/grading/rebuild.py)
    tampering: list[str] = field(default_factory=list)
    lab: str = ""


def snapshot_gradebook(db_path: Path, target: Path) -> None:
    """A consistent copy of the gradebook (SQLite's online backup, safe while others read)."""
    src = sqlite3.connect(db_path)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def die_with_parent() -> None:
    """Worker initializer: if the grading command dies, its workers (and their sandboxes) do too."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def protect(course: Course) -> None:
    """Gradebook and submissions readable by their owner only: a layer under the mounts."""
    if course.db_path.exists():
        course.db_path.chmod(0o600)
    for folder in (course.submitted, course.autograded, course.feedback):
        if folder.is_dir():
            folder.chmod(0o700)


def grade_in_worker(
    config_dir: str, lab: str, student: str, snapshot: str, work: str, sandbox: dict[str, Any]
) -> dict[str, Any]:
    """Run nbgrader's autograde for one student against a private gradebook copy (a worker)."""
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log
    from sqlalchemy.exc import SAWarning
    from traitlets.config import Config

    started = time.perf_counter()
    course = Course.load(Path(config_dir))
    folder = Path(work)
    folder.mkdir(parents=True)
    db = folder / "gradebook.db"
    shutil.copyfile(snapshot, db)
    submitted = folder / "submitted"
    tampering = prepare_submission(course, lab, student, submitted / student / lab)
    checks_file = course.source / lab / INSTRUCTOR_FILE
    config = Config(course.config)
    config.merge(
        Config(
            {
                "CourseDirectory": {
                    "autograded_directory": str(folder / "autograded"),
                    "submitted_directory": str(submitted),
                    "db_url": f"sqlite:///{db}",
                    "assignment_id": lab,
                    "student_id": student,
                },
                "Autograde": {"autograde_preprocessors": AUTOGRADE_STEPS},
                "SandboxedExecute": {
                    "checks_file": str(checks_file) if checks_file.exists() else ""
                },
                "SandboxedKernelManager": {
                    "hidden_paths": [*map(str, course.secret_paths()), *sandbox["extra_hidden"]],
                    "allowed_ports": list(sandbox["allowed_ports"]),
                    "limit_overrides": dict(sandbox["limit_overrides"]),
                },
            }
        )
    )
    if sandbox["cell_timeout"]:
        config.Execute.timeout = int(sandbox["cell_timeout"])
    coursedir = CourseDirectory(config=config)
    app = Autograde(coursedir=coursedir, config=config)
    app.force = True
    app.create_student = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # see merge_scores
        result = capture_log(app)
    return {
        "student": student,
        "success": bool(result["success"]),
        "error": result.get("error") or "",
        "log": result.get("log") or "",
        "db": str(db),
        "autograded": str(folder / "autograded" / student / lab),
        "seconds": time.perf_counter() - started,
        "tampering": tampering,
    }


def prepare_submission(course: Course, lab: str, student: str, target: Path) -> list[str]:
    """A private copy of one submission to grade: notebooks rebuilt from the release.

    Data files are copied as they are; every notebook of the lab is rebuilt from its released
    version (servelab/grading/rebuild.py), a missing one from the release itself (it scores
    zero). The submission time is the collector's ``timestamp.txt``: collection writes it and
    never takes the learner's own.
    """
    source = course.submitted / student / lab
    target.mkdir(parents=True)
    for path in sorted(source.iterdir()):
        if path.is_file() and not path.is_symlink() and path.suffix != ".ipynb":
            shutil.copyfile(path, target / path.name)
    tampering: list[str] = []
    for release in sorted((course.release / lab).glob("*.ipynb")):
        mine = source / release.name
        result = rebuild_file(release, mine, target / release.name)
        tampering += [f"{release.name}: {line}" for line in result.tampering]
    return tampering


def merge_scores(course: Course, lab: str, student: str, worker_db: Path) -> tuple[float, float]:
    """Copy one student's automatic scores from a worker's gradebook into the course's.

    Only automatic fields are written (auto_score, needs_manual_grade, auto_comment, late
    penalty); an instructor's manual scores and comments stay as they are.
    """
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    with (
        warnings.catch_warnings(),
        Gradebook(f"sqlite:///{worker_db}", course.course_id) as worker,
        Gradebook(course.db_url, course.course_id) as main,
    ):
        # nbgrader's add_submission reads relationships before adding the new row to the
        # session; SQLAlchemy warns, nbgrader's own autograde gets the same (harmless) warning.
        warnings.simplefilter("ignore", SAWarning)
        graded = worker.find_submission(lab, student)
        submission = main.update_or_create_submission(lab, student, timestamp=graded.timestamp)
        for nb in graded.notebooks:
            target = main.find_submission_notebook(nb.name, lab, student)
            target.late_submission_penalty = nb.late_submission_penalty
            for grade in nb.grades:
                row = main.find_grade(grade.name, nb.name, lab, student)
                row.auto_score = grade.auto_score
                row.needs_manual_grade = grade.needs_manual_grade
            for comment in nb.comments:
                row = main.find_comment(comment.name, nb.name, lab, student)
                row.auto_comment = comment.auto_comment
        main.db.commit()
        return float(submission.score), float(submission.max_score)


def install_graded_notebook(course: Course, lab: str, student: str, graded: Path) -> None:
    """Move the worker's graded folder to autograded/<student>/<lab>, replacing an old one."""
    target = course.autograded / student / lab
    target.parent.mkdir(parents=True, exist_ok=True)
    old = target.with_name(f".{lab}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    shutil.move(str(graded), target)
    shutil.rmtree(old, ignore_errors=True)


def autograde(
    course: Course,
    lab: str,
    students: list[str] | None = None,
    jobs: int = 2,
    sandbox: SandboxOptions | None = None,
    progress: Any = None,
) -> list[StudentResult]:
    """Autograde ``lab`` for ``students`` (default: every submission), ``jobs`` at a time."""
    return autograde_labs(course, {lab: students}, jobs, sandbox, progress)[lab]


def autograde_labs(
    course: Course,
    labs: dict[str, list[str] | None],
    jobs: int = 2,
    sandbox: SandboxOptions | None = None,
    progress: Any = None,
) -> dict[str, list[StudentResult]]:
    """Autograde several labs in one run (lab -> its students, None for every submission).

    One pool of workers takes every submission of every lab: an end-of-term regrade starts its
    workers once, not once per lab, and keeps them all busy to the end.
    """
    from nbgrader.api import Gradebook, MissingEntry

    check_available()
    sandbox = sandbox or SandboxOptions()
    work = {
        lab: [check_student_id(s) for s in (students or course.submitted_students(lab))]
        for lab, students in labs.items()
    }
    with Gradebook(course.db_url, course.course_id) as gb:
        for lab, students in work.items():
            try:
                gb.find_assignment(lab)
            except MissingEntry:
                raise RuntimeError(
                    f"lab {lab!r} is not in the gradebook {course.db_path}: run "
                    "`servelab course release` (nbgrader generate_assignment)"
                ) from None
            for student in students:  # created here, by the one writer, not by the workers
                gb.update_or_create_student(student)
    results: dict[str, list[StudentResult]] = {lab: [] for lab in work}
    if not any(work.values()):
        return results
    protect(course)
    with course.lock(), tempfile.TemporaryDirectory(prefix=".work-", dir=course.grading) as tmp:
        Path(tmp).chmod(0o700)
        snapshot = Path(tmp) / "snapshot.db"
        snapshot_gradebook(course.db_path, snapshot)
        options = {
            "allowed_ports": sandbox.allowed_ports,
            "extra_hidden": sandbox.extra_hidden,
            "limit_overrides": sandbox.limit_overrides,
            "cell_timeout": sandbox.cell_timeout,
        }
        context = multiprocessing.get_context("spawn")  # no inherited threads or sockets
        with ProcessPoolExecutor(
            max_workers=max(1, jobs), mp_context=context, initializer=die_with_parent
        ) as pool:
            futures = {
                pool.submit(
                    grade_in_worker,
                    str(course.config_dir),
                    lab,
                    s,
                    str(snapshot),
                    str(Path(tmp) / lab / s),
                    options,
                ): (lab, s)
                for lab, students in work.items()
                for s in students
            }
            for future in as_completed(futures):
                lab, student = futures[future]
                result = _finish(course, lab, student, future)
                result.lab = lab
                results[lab].append(result)
                if progress:
                    progress(results[lab][-1])
        left = sweep(UID_BASE, UID_SLOTS)
        for lab in work:
            write_left_behind(course, lab, left)
    return {lab: sorted(found, key=lambda r: r.student) for lab, found in results.items()}


def _finish(course: Course, lab: str, student: str, future: Any) -> StudentResult:
    try:
        out = future.result()
    except Exception as exc:  # the worker process itself failed
        return StudentResult(student, False, error=f"worker failed: {exc!r}")
    if not out["success"]:
        return StudentResult(
            student,
            False,
            seconds=out["seconds"],
            error=f"{out['log'][-LOG_TAIL:]}\n{out['error'][-LOG_TAIL:]}",
        )
    try:
        score, max_score = merge_scores(course, lab, student, Path(out["db"]))
        install_graded_notebook(course, lab, student, Path(out["autograded"]))
        write_tampering(course, lab, student, out.get("tampering", []))
    except Exception as exc:  # one bad merge must not stop the class (the transaction rolled back)
        return StudentResult(student, False, seconds=out["seconds"], error=f"merge failed: {exc!r}")
    return StudentResult(
        student, True, score, max_score, out["seconds"], tampering=out.get("tampering", [])
    )


def tampering_path(course: Course, lab: str, student: str) -> Path:
    """Where the tampering found in one graded submission is kept (for the export)."""
    return course.grading / "reports" / lab / f"{student}.json"


def left_behind_path(course: Course, lab: str) -> Path:
    """Where a run records what its sandboxes left on the host (normally nothing: no file)."""
    return course.grading / "reports" / lab / "_left_behind.json"


def write_left_behind(course: Course, lab: str, found: list[str]) -> None:
    path = left_behind_path(course, lab)
    if not found:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"lab": lab, "left_behind": found}, indent=1))
    warnings.warn(
        f"grading {lab}: sandboxes left {len(found)} things behind; see {path}", stacklevel=2
    )


def write_tampering(course: Course, lab: str, student: str, found: list[str]) -> None:
    """Record (or clear) what a submission changed that was not the learner's to change."""
    path = tampering_path(course, lab, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"lab": lab, "student": student, "tampering": found}, indent=1))
