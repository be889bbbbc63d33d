"""Where the course's grading state lives, read from grading/nbgrader_config.py.

nbgrader's configuration is the single source of truth for the folders (solutions/, labs/,
grading/submitted, grading/autograded, grading/feedback) and the gradebook; this module only
reads it, so `servelab grade` and a plain `nbgrader` command always agree.
"""

from __future__ import annotations

import fcntl
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from servelab_base.paths import GRADING

CONFIG_FILE = "nbgrader_config.py"
# nbgrader's default exchange; a course may set Exchange.root instead.
DEFAULT_EXCHANGE = "/srv/nbgrader/exchange"
# A student id becomes a folder name: letters, digits and . _ - only, no leading dot.
# nbgrader's own defaults for folders a config leaves unset.
NBGRADER_DEFAULTS = {
    "source_directory": "source",
    "release_directory": "release",
    "submitted_directory": "submitted",
    "autograded_directory": "autograded",
    "feedback_directory": "feedback",
}
STUDENT_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


def config_dir() -> Path:
    """The folder holding nbgrader_config.py: the first JUPYTER_CONFIG_PATH entry with one."""
    for entry in os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep):
        if entry and (Path(entry) / CONFIG_FILE).is_file():
            return Path(entry)
    return GRADING


def ensure_venv_on_path() -> None:
    """Put this Python's bin folder on PATH: nbgrader runs the `alembic` command when it creates
    a gradebook, and `make test` runs .venv/bin/python without activating the venv."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def check_student_id(student: str) -> str:
    """``student`` if it is safe as a folder name, else ValueError (no path tricks)."""
    if not STUDENT_ID.match(student) or student in {".", ".."}:
        raise ValueError(f"invalid student id {student!r}: use letters, digits, '.', '_', '-'")
    return student


@dataclass(frozen=True)
class Course:
    """The course's folders and gradebook, as nbgrader's config says."""

    config: Config
    config_dir: Path

    @classmethod
    def load(cls, directory: Path | None = None) -> Course:
        """Read nbgrader_config.py (it honours SERVELAB_COURSE_ROOT / SERVELAB_GRADING_DIR)."""
        directory = directory or config_dir()
        ensure_venv_on_path()
        if not (directory / CONFIG_FILE).is_file():
            raise FileNotFoundError(f"no {CONFIG_FILE} in {directory}")
        return cls(PyFileConfigLoader(CONFIG_FILE, path=str(directory)).load_config(), directory)

    def _dir(self, trait: str) -> Path:
        return self.root / self.config.CourseDirectory.get(trait, NBGRADER_DEFAULTS[trait])

    @property
    def root(self) -> Path:
        return Path(self.config.CourseDirectory.root)

    @property
    def course_id(self) -> str:
        return str(self.config.CourseDirectory.course_id)

    @property
    def source(self) -> Path:
        return self._dir("source_directory")

    @property
    def release(self) -> Path:
        return self._dir("release_directory")

    @property
    def submitted(self) -> Path:
        return self._dir("submitted_directory")

    @property
    def autograded(self) -> Path:
        return self._dir("autograded_directory")

    @property
    def feedback(self) -> Path:
        return self._dir("feedback_directory")

    @property
    def db_url(self) -> str:
        return str(self.config.CourseDirectory.db_url)

    @property
    def db_path(self) -> Path:
        return Path(self.db_url.removeprefix("sqlite:///"))

    @property
    def grading(self) -> Path:
        """The instructor's private folder: the gradebook's folder."""
        return self.db_path.parent

    @property
    def exports(self) -> Path:
        return self.grading / "exports"

    @property
    def exchange(self) -> Path:
        root = self.config.Exchange.get("root") if "Exchange" in self.config else None
        return Path(root or DEFAULT_EXCHANGE)

    def secret_paths(self) -> list[Path]:
        """What learner code must never read or write: gradebook, solutions, submissions..."""
        return [
            self.source,
            self.grading,
            self.submitted,
            self.autograded,
            self.feedback,
            self.db_path,
            self.exchange,
            self.root / ".git",
            self.root / ".env",
        ]

    def submitted_students(self, lab: str) -> list[str]:
        """Students with a submission of ``lab`` in the submitted folder, sorted."""
        if not self.submitted.is_dir():
            return []
        return sorted(
            p.name
            for p in self.submitted.iterdir()
            if (p / lab).is_dir() and STUDENT_ID.match(p.name)
        )

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Only one grading command at a time changes this course's gradebook and folders."""
        self.grading.mkdir(parents=True, exist_ok=True)
        with open(self.grading / ".grade.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RuntimeError(
                    f"another `servelab grade` command is running on {self.grading}"
                ) from None
            yield
