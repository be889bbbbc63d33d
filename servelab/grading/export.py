"""Grades out of the gradebook: one CSV per student and lab, one per question, and a plot.

``nbgrader export`` gives one row per student and lab only; per-question scores come from the
gradebook's Grade rows (nbgrader.api.Gradebook), which is what an instructor needs to see which
question the class found hard.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STUDENT_COLUMNS = [
    "student",
    "lab",
    "score",
    "max_score",
    "percent",
    "needs_manual_grade",
    "tampering",
]
QUESTION_COLUMNS = [
    "student",
    "lab",
    "notebook",
    "question",
    "score",
    "max_score",
    "auto_score",
    "manual_score",
    "needs_manual_grade",
]


@dataclass
class Export:
    """Where the export wrote its files, and how many rows each has."""

    students_csv: Path
    questions_csv: Path
    plot: Path | None
    student_rows: int
    question_rows: int


def question_rows(course: Any, labs: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per student, lab, notebook and graded cell that has a submission."""
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(course.db_url, course.course_id) as gb:
        for assignment in gb.assignments:
            if labs and assignment.name not in labs:
                continue
            for submission in assignment.submissions:
                for nb in submission.notebooks:
                    for grade in nb.grades:
                        rows.append(
                            {
                                "student": submission.student.id,
                                "lab": assignment.name,
                                "notebook": nb.name,
                                "question": grade.name,
                                "score": grade.score,
                                "max_score": grade.max_score,
                                "auto_score": grade.auto_score,
                                "manual_score": grade.manual_score,
                                "needs_manual_grade": grade.needs_manual_grade,
                            }
                        )
    return sorted(rows, key=lambda r: (r["lab"], r["student"], r["notebook"], r["question"]))


def student_rows(questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per student and lab: the sum of its questions."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for q in questions:
        row = totals.setdefault(
            (q["student"], q["lab"]),
            {
                "student": q["student"],
                "lab": q["lab"],
                "score": 0.0,
                "max_score": 0.0,
                "needs_manual_grade": False,
            },
        )
        row["score"] += q["score"] or 0.0
        row["max_score"] += q["max_score"] or 0.0
        row["needs_manual_grade"] |= bool(q["needs_manual_grade"])
    for row in totals.values():
        row["percent"] = round(100 * row["score"] / row["max_score"], 1) if row["max_score"] else 0
    return sorted(totals.values(), key=lambda r: (r["lab"], r["student"]))


def tampering(course: Any, lab: str, student: str) -> str:
    """What autograde found changed in the submission that was not the learner's ("" if none)."""
    path = Path(course.grading) / "reports" / lab / f"{student}.json"
    try:
        found = json.loads(path.read_text()).get("tampering", [])
    except (OSError, ValueError):
        return ""
    return "; ".join(str(line) for line in found)


def plot_questions(questions: list[dict[str, Any]], path: Path) -> Path:
    """Per lab and question, the class's scores as a share of the question's points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels: list[str] = []
    shares: list[list[float]] = []
    for q in questions:
        if not q["max_score"]:
            continue
        label = f"{q['lab']}\n{q['question']}"
        if label not in labels:
            labels.append(label)
            shares.append([])
        shares[labels.index(label)].append((q["score"] or 0.0) / q["max_score"])
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(labels)), 4.5))
    ax.boxplot(shares, showmeans=True)
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=60, ha="right", fontsize=8)
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("score / points")
    counts = {len(s) for s in shares}
    ax.set_title(
        f"Class scores per question ({'/'.join(map(str, sorted(counts)))} learners; triangle: mean)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def export(course: Any, labs: list[str] | None = None, out_dir: Path | None = None) -> Export:
    """Write students.csv, questions.csv and questions.png to grading/exports/ (or ``out_dir``)."""
    out = out_dir or course.exports
    out.mkdir(parents=True, exist_ok=True)
    questions = question_rows(course, labs)
    students = student_rows(questions)
    for row in students:
        row["tampering"] = tampering(course, row["lab"], row["student"])
    paths = out / "students.csv", out / "questions.csv"
    for path, rows, columns in (
        (paths[0], students, STUDENT_COLUMNS),
        (paths[1], questions, QUESTION_COLUMNS),
    ):
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    plot = plot_questions(questions, out / "questions.png") if questions else None
    return Export(paths[0], paths[1], plot, len(students), len(questions))


# --- grades for the LMS --------------------------------------------------------------------
# Canvas's gradebook import (Grades > Import) matches students by its identity columns and
# creates an assignment for every column it does not know ("<name> (<id>)" updates assignment
# <id>); Moodle's CSV grade import maps one chosen column to a user field (email address, ID
# number or username) and each grade column to a grade item. docs/course-server.md cites the
# public documentation of both.

#: Canvas's identity columns, in the order of Canvas's own gradebook export.
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
#: Moodle's user columns, as its grade export names them (Username added: a mapping target).
MOODLE_IDENTITY = ["First name", "Last name", "ID number", "Email address", "Username"]
LMS_FORMATS = ("canvas", "moodle")


def lab_points(course: Any, labs: list[str]) -> dict[str, float]:
    """Each lab's points, from the gradebook (what a full score is)."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        return {lab: float(gb.find_assignment(lab).max_score) for lab in labs}


def _number(value: float) -> str:
    """A score as the LMS reads it: 9 not 9.0, at most 2 decimals."""
    return f"{round(value, 2):g}"


def lms_table(
    kind: str,
    students: list[dict[str, Any]],
    points: dict[str, float],
    roster: list[Any] | None = None,
    canvas_ids: dict[str, str] | None = None,
    missing: str = "",
) -> list[list[str]]:
    """The rows (header first) of a Canvas or Moodle import file, one learner per row.

    ``students`` are student_rows(); ``roster`` (servelab.course_server.roster.Learner) gives
    names and LMS ids, in its order; graded students not on it follow with their username only.
    A lab a learner did not submit gets ``missing`` (blank: the LMS leaves the grade unset).
    """
    if kind not in LMS_FORMATS:
        raise ValueError(f"unknown LMS format {kind!r}: use one of {', '.join(LMS_FORMATS)}")
    labs = list(points)
    scores = {(r["student"], r["lab"]): r["score"] for r in students}
    people = {p.username: p for p in roster or []}
    order = [p.username for p in roster or []]
    order += sorted({r["student"] for r in students} - set(order))
    canvas_ids = canvas_ids or {}
    if kind == "canvas":
        header = CANVAS_IDENTITY + [
            f"{lab} ({canvas_ids[lab]})" if lab in canvas_ids else lab for lab in labs
        ]
        table = [header, ["Points Possible", "", "", "", ""] + [_number(points[x]) for x in labs]]
    else:
        table = [MOODLE_IDENTITY + labs]
    for username in order:
        person = people.get(username)
        if kind == "canvas":
            name = person.sortable_name if person else username
            identity = [
                name,
                person.canvas_id if person else "",
                person.student_number if person else "",
                username,
                person.section if person else "",
            ]
        else:
            identity = [
                person.first_name if person else "",
                person.last_name if person else "",
                person.student_number if person else "",
                person.email if person else "",
                username,
            ]
        cells = [
            _number(scores[(username, lab)]) if (username, lab) in scores else missing
            for lab in labs
        ]
        table.append(identity + cells)
    return table


def export_lms(
    course: Any,
    kinds: list[str],
    labs: list[str] | None = None,
    roster: list[Any] | None = None,
    out_dir: Path | None = None,
    canvas_ids: dict[str, str] | None = None,
    missing: str = "",
) -> dict[str, Path]:
    """Write ``canvas.csv`` and/or ``moodle.csv`` (UTF-8, comma-separated) for ``labs``."""
    out = out_dir or course.exports
    out.mkdir(parents=True, exist_ok=True)
    students = student_rows(question_rows(course, labs))
    labs = labs or sorted({r["lab"] for r in students})
    points = lab_points(course, labs)
    written = {}
    for kind in kinds:
        path = out / f"{kind}.csv"
        table = lms_table(kind, students, points, roster, canvas_ids, missing)
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(table)
        written[kind] = path
    return written
