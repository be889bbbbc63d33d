"""The class list: one row per learner, as an instructor exports it from the LMS.

roster.csv has a header row. ``username`` is required: the learner's login on the course server,
which is also their nbgrader student id and the name of their gateway key. Everything else is
optional and only used where it is needed:

| column | used for |
|---|---|
| ``first_name``, ``last_name`` | the LMS exports (Canvas "Student", Moodle's name columns) |
| ``email`` | Moodle's "Email address" (a way Moodle matches users on import) |
| ``student_number`` | the institution's id: Canvas "SIS User ID", Moodle "ID number" |
| ``canvas_id`` | Canvas's own user id ("ID" in a Canvas gradebook export) |
| ``section`` | Canvas "Section" |
| ``requests_per_minute``, ``tokens_per_minute`` | this learner's gateway quota (else the class's) |

A bad file is refused as a whole, with every problem and its line number: a roster that is
half read would issue keys to half a class.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from servelab.grading.coursedir import STUDENT_ID

#: Linux user names (useradd's default rule, NAME_REGEX): lower case, digits, _ and -, at most
#: 32 characters, not starting with a digit or '-'. Every one is also a valid nbgrader student id.
USERNAME = r"^[a-z_][a-z0-9_-]{0,31}$"
COLUMNS = (
    "username",
    "first_name",
    "last_name",
    "email",
    "student_number",
    "canvas_id",
    "section",
    "requests_per_minute",
    "tokens_per_minute",
)


class RosterError(ValueError):
    """The roster cannot be used; the message lists every problem found."""


@dataclass(frozen=True)
class Learner:
    """One row of the roster."""

    username: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    student_number: str = ""
    canvas_id: str = ""
    section: str = ""
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    @property
    def sortable_name(self) -> str:
        """ "Last, First" as Canvas writes its Student column (the username when unnamed)."""
        if self.last_name or self.first_name:
            return ", ".join(p for p in (self.last_name, self.first_name) if p)
        return self.username


def _quota(value: str, column: str, line: int, problems: list[str]) -> int | None:
    if not value.strip():
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        problems.append(f"line {line}: {column} must be a whole number above 0, not {value!r}")
        return None
    return number


def read_roster(path: Path) -> list[Learner]:
    """The learners of ``path``, in file order; RosterError lists every problem found."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel writes a byte-order mark
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(f"roster {path}: {exc}") from exc
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    if "username" not in header:
        raise RosterError(f"roster {path}: the header row has no 'username' column ({header})")
    unknown = sorted(set(header) - set(COLUMNS))
    if unknown:
        raise RosterError(f"roster {path}: unknown columns {unknown}; known: {', '.join(COLUMNS)}")
    problems: list[str] = []
    learners: list[Learner] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(row.values()):
            continue  # a blank line
        name = row.get("username", "")
        if not re.match(USERNAME, name) or not STUDENT_ID.match(name):
            problems.append(
                f"line {line}: username {name!r} is not a valid login (lower-case letters, "
                "digits, '_' and '-', at most 32, starting with a letter or '_')"
            )
            continue
        if name in seen:
            problems.append(f"line {line}: username {name!r} repeats line {seen[name]}")
            continue
        seen[name] = line
        learners.append(
            Learner(
                username=name,
                first_name=row.get("first_name", ""),
                last_name=row.get("last_name", ""),
                email=row.get("email", ""),
                student_number=row.get("student_number", ""),
                canvas_id=row.get("canvas_id", ""),
                section=row.get("section", ""),
                requests_per_minute=_quota(
                    row.get("requests_per_minute", ""), "requests_per_minute", line, problems
                ),
                tokens_per_minute=_quota(
                    row.get("tokens_per_minute", ""), "tokens_per_minute", line, problems
                ),
            )
        )
    if problems:
        raise RosterError(f"roster {path}:\n  " + "\n  ".join(problems))
    if not learners:
        raise RosterError(f"roster {path}: no learners")
    return learners
