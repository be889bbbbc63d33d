"""Bring submissions into grading/submitted/<student>/<lab>/, where autograde reads them.

Two sources:

- **nbgrader's exchange** (JupyterHub courses): nbgrader's collect, with the step that refuses
  submissions in another learner's name (docs/course-server.md).
- **a folder of files** (an LMS export, an email inbox): either one sub-folder per student
  (``export/alice/00_inference_path.ipynb``) or flat files whose name starts with the student id
  (``export/alice_00_inference_path.ipynb``, ``--pattern`` for other layouts). Every notebook is
  renamed to the lab's notebook name. Student ids are checked (letters, digits, ``._-``) so a file
  name cannot write outside the submitted folder.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servelab.grading.coursedir import Course, check_student_id

# Flat LMS files: the student id is everything before the first "_" (Canvas-style
# ``<student>_<ids>_<original name>.ipynb`` exports work with it).
DEFAULT_PATTERN = r"^(?P<student>[A-Za-z0-9][A-Za-z0-9.-]*)_"
# A submission is small: notebooks and a few data files. Bigger folders are refused.
MAX_SUBMISSION_BYTES = 64 * 2**20
#: nbgrader's submission-time file; collection writes it, from the export's file times
TIMESTAMP = "timestamp.txt"


@dataclass
class Collected:
    students: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def lab_notebooks(course: Course, lab: str) -> list[str]:
    """Names of the lab's notebooks, from its release folder."""
    names = sorted(p.name for p in (course.release / lab).glob("*.ipynb"))
    if not names:
        raise FileNotFoundError(f"no released notebook in {course.release / lab}")
    return names


def _target_name(filename: str, notebooks: list[str]) -> str | None:
    """Which of the lab's notebooks a submitted file is (a single-notebook lab takes any)."""
    for name in notebooks:
        if filename.endswith(name):
            return name
    return notebooks[0] if len(notebooks) == 1 else None


def _install(course: Course, lab: str, student: str, files: dict[str, Path]) -> None:
    size = sum(p.stat().st_size for p in files.values())
    if size > MAX_SUBMISSION_BYTES:
        raise ValueError(f"submission of {student} is {size} bytes (limit {MAX_SUBMISSION_BYTES})")
    target = course.submitted / student / lab
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name, source in files.items():
        if name == TIMESTAMP:
            continue  # the learner's own claim of when it was submitted: never taken
        shutil.copyfile(source, target / name)  # copies content, never a link
    # The submission time is the collector's: the newest notebook's time in the export.
    newest = max(p.stat().st_mtime for n, p in files.items() if n.endswith(".ipynb"))
    stamp = dt.datetime.fromtimestamp(newest, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    (target / TIMESTAMP).write_text(stamp)


def collect_folder(
    course: Course, lab: str, folder: Path, pattern: str = DEFAULT_PATTERN
) -> Collected:
    """Copy submissions of ``lab`` from ``folder`` (per-student folders or flat files)."""
    notebooks = lab_notebooks(course, lab)
    regex = re.compile(pattern)
    out = Collected()
    by_student: dict[str, dict[str, Path]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():
            out.skipped.append(f"{entry.name}: symbolic link")
        elif entry.is_dir():
            files = {}
            for path in sorted(entry.rglob("*")):
                if path.is_file() and not path.is_symlink() and path.suffix == ".ipynb":
                    name = _target_name(path.name, notebooks)
                    if name:
                        files[name] = path
                elif path.is_file() and not path.is_symlink() and path.parent == entry:
                    files[path.name] = path  # a data file beside the notebook
            if any(n.endswith(".ipynb") for n in files):
                by_student[entry.name] = files
            else:
                out.skipped.append(f"{entry.name}/: no notebook of {lab}")
        elif entry.suffix == ".ipynb":
            match = regex.match(entry.name)
            name = _target_name(entry.name, notebooks)
            if not match or not name:
                out.skipped.append(f"{entry.name}: no student id or lab notebook in the name")
                continue
            by_student.setdefault(match.group("student"), {})[name] = entry
        else:
            out.skipped.append(f"{entry.name}: not a notebook")
    for student, files in sorted(by_student.items()):
        try:
            check_student_id(student)
            _install(course, lab, student, files)
        except ValueError as exc:
            out.skipped.append(str(exc))
            continue
        out.students.append(student)
    return out


def collect_exchange(course: Course, lab: str) -> dict[str, Any]:
    """nbgrader's collect from its exchange (Exchange.root in the course config), with the
    course config's collect step: servelab/course_server/exchange.py's VerifiedCollect."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    api = NbGraderAPI(coursedir=CourseDirectory(config=course.config), config=course.config)
    return api.collect(lab, update=True)
