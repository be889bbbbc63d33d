"""Feedback a learner can read without learning the hidden tests.

nbgrader's ``generate_feedback`` renders the graded notebook as HTML with the score of every
question. Its ClearHiddenTests step removes the hidden tests' *source*, but a failing hidden test
still shows its lines in the traceback, and anything the learner's code printed in a test cell
(which could include what it read of the hidden tests while they ran) is shown too. Before
ClearHiddenTests, RedactHiddenTests rewrites the outputs:

- in a cell with hidden tests, only the verdict is kept: a failing visible test shows its error
  and its (visible) line; a failing hidden test shows "a hidden test failed" and the error's type,
  never its message, line or traceback; other output of the cell is dropped;
- in every other cell, any line of hidden-test source found in an output is replaced.
"""

from __future__ import annotations

import re
from typing import Any

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Hidden-test lines shorter than this ("else:", "pass") are too common to be worth redacting.
MIN_REDACTED_LINE = 8
REDACTED = "[hidden test]"


def split_hidden(source: str) -> tuple[set[int], list[str]]:
    """Line numbers (1-based) inside hidden-test blocks, and their stripped text."""
    numbers, lines, inside = set(), [], False
    for number, line in enumerate(source.splitlines(), start=1):
        if BEGIN in line:
            inside = True
        if inside:
            numbers.add(number)
            if len(line.strip()) >= MIN_REDACTED_LINE:
                lines.append(line.strip())
        if END in line:
            inside = False
    return numbers, lines


def failing_line(output: NotebookNode, execution_count: int | None) -> int | None:
    """The line of the test cell itself where an error was raised (outermost frame)."""
    if execution_count is None:
        return None
    pattern = re.compile(rf"Cell In\[{execution_count}\], line (\d+)")
    for entry in output.get("traceback", []):
        match = pattern.search(ANSI.sub("", entry))
        if match:
            return int(match.group(1))
    return None


def verdict(cell: NotebookNode, hidden_numbers: set[int]) -> list[NotebookNode]:
    """The only outputs a test cell with hidden tests keeps in feedback."""
    errors = [o for o in cell.outputs if o.output_type == "error"]
    if not errors:
        return []
    error = errors[0]
    line = failing_line(error, cell.get("execution_count"))
    source_lines = cell.source.splitlines()
    if line is not None and line not in hidden_numbers and line <= len(source_lines):
        text = [
            f"{error.ename}: {error.evalue}",
            f"failing visible test, line {line}: {source_lines[line - 1].strip()}",
        ]
        return [new_output("error", ename=error.ename, evalue=error.evalue, traceback=text)]
    text = f"A hidden test failed ({error.ename})."
    return [new_output("error", ename=error.ename, evalue="hidden test", traceback=[text])]


def redact_text(text: str, hidden: list[str]) -> str:
    for line in hidden:
        text = text.replace(line, REDACTED)
    return text


def redact_output(output: NotebookNode, hidden: list[str]) -> NotebookNode:
    """``output`` with every hidden-test line replaced, whatever its type."""
    if "text" in output:
        output.text = redact_text(output.text, hidden)
    if "evalue" in output:
        output.evalue = redact_text(output.evalue, hidden)
    if "traceback" in output:
        output.traceback = [redact_text(t, hidden) for t in output.traceback]
    for mime, value in output.get("data", {}).items():
        if isinstance(value, str):
            output.data[mime] = redact_text(value, hidden)
    return output


class RedactHiddenTests(NbGraderPreprocessor):
    """Remove every trace of hidden tests from a graded notebook's outputs (see module doc)."""

    def preprocess(self, nb: NotebookNode, resources: Any) -> tuple[NotebookNode, Any]:
        hidden: list[str] = []
        hidden_cells: dict[int, set[int]] = {}
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code" and BEGIN in cell.source:
                numbers, lines = split_hidden(cell.source)
                hidden_cells[index] = numbers
                hidden.extend(lines)
        hidden.sort(key=len, reverse=True)  # longest first: no partial replacements
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if index in hidden_cells:
                cell.outputs = verdict(cell, hidden_cells[index])
            cell.outputs = [redact_output(o, hidden) for o in cell.outputs]
        return nb, resources


# The steps of nbgrader's generate_feedback, with the redaction before ClearHiddenTests.
FEEDBACK_STEPS = [
    "nbgrader.preprocessors.GetGrades",
    "servelab.grading.feedback.RedactHiddenTests",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]


def generate_feedback(course: Any, lab: str, students: list[str] | None = None) -> dict:
    """Write feedback/<student>/<lab>/*.html for every autograded submission of ``lab``."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log
    from traitlets.config import Config

    config = Config(course.config)
    config.merge(
        Config(
            {
                "GenerateFeedback": {"preprocessors": FEEDBACK_STEPS},
                "HTMLExporter": {"template_name": "feedback"},
                "CourseDirectory": {"assignment_id": lab},
            }
        )
    )
    results = {}
    for student in students or ["*"]:
        config.CourseDirectory.student_id = student
        app = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
        app.force = True
        results[student] = capture_log(app)
    return results
