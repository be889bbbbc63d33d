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

Then EscapeLearnerContent makes every string the learner controls inert: the learner's markdown
and raw cells (answers, added cells) are shown as plain text; outputs keep only plain text, PNG
and JPEG images, and HTML cleaned by bleach (tables, emphasis, links to http(s) only); output
metadata (nbconvert writes image sizes into unquoted attributes) and any other mime type
(JavaScript, SVG, LaTeX, widget views, markdown) are dropped. A feedback page therefore runs no
script and loads nothing a learner wrote, whatever the kernel sent.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import bleach
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


#: Output data a feedback page shows as it is (text is escaped by the template; images are
#: base64 data, never markup).
KEPT_AS_IS = ("text/plain", "image/png", "image/jpeg")
#: HTML outputs (pandas tables, styled text) kept after bleach removes everything else.
HTML_TAGS = sorted(
    set(bleach.ALLOWED_TAGS)
    | {"table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "div", "span", "p"}
    | {"br", "pre", "h1", "h2", "h3", "h4", "sub", "sup", "hr"}
)
HTML_ATTRIBUTES = {"a": ["href", "title"], "th": ["colspan", "rowspan"], "td": ["colspan"]}
STREAMS = ("stdout", "stderr")


def trusted(cell: NotebookNode) -> bool:
    """A cell the instructor wrote: locked in the release and not an answer."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("locked")) and not meta.get("solution")


def as_plain_text(text: str) -> str:
    """Markdown that shows ``text`` verbatim: a fence longer than any backtick run inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def clean_output(output: NotebookNode) -> NotebookNode | None:
    """One output with nothing left that a browser would run or load (None: drop it)."""
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name") if output.get("name") in STREAMS else "stdout"
        return new_output("stream", name=name, text=str(output.get("text", "")))
    if kind == "error":
        return new_output(
            "error",
            ename=str(output.get("ename", "")),
            evalue=str(output.get("evalue", "")),
            traceback=[str(t) for t in output.get("traceback", [])],
        )
    if kind not in ("display_data", "execute_result"):
        return None
    data = {}
    for mime, value in output.get("data", {}).items():
        text = "".join(value) if isinstance(value, list) else value
        if not isinstance(text, str):
            continue
        if mime in KEPT_AS_IS:
            data[mime] = text
        elif mime == "text/html":
            data[mime] = bleach.clean(text, tags=HTML_TAGS, attributes=HTML_ATTRIBUTES)
    if not data:
        return None
    if kind == "execute_result":
        count = output.get("execution_count")
        return new_output(kind, data=data, execution_count=count if type(count) is int else None)
    return new_output(kind, data=data)


class EscapeLearnerContent(NbGraderPreprocessor):
    """Make every learner-controlled string in a feedback page inert (see module doc)."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: Any, index: int
    ) -> tuple[NotebookNode, Any]:
        if cell.cell_type in ("markdown", "raw") and not trusted(cell):
            cell.source = as_plain_text(cell.source)
            cell.cell_type = "markdown"
            cell.pop("attachments", None)
            cell.metadata.pop("format", None)
            cell.metadata.pop("raw_mimetype", None)
        elif cell.cell_type == "code":
            outputs = [clean_output(o) for o in cell.get("outputs", [])]
            cell.outputs = [o for o in outputs if o is not None]
        return cell, resources


# The steps of nbgrader's generate_feedback, with the redaction before ClearHiddenTests and
# the learner's content made inert last.
FEEDBACK_STEPS = [
    "nbgrader.preprocessors.GetGrades",
    "servelab.grading.feedback.RedactHiddenTests",
    "nbgrader.preprocessors.ClearHiddenTests",
    "servelab.grading.feedback.EscapeLearnerContent",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]


def generate_feedback(course: Any, lab: str, students: list[str] | None = None) -> dict:
    """Write feedback/<student>/<lab>/*.html for every autograded submission of ``lab``.

    Each student is a separate nbgrader run, so a page that fails to render (whatever its
    notebook holds) fails that student alone; the result says which.
    """
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
    if students is None:  # one nbgrader call per student: one broken page spoils no other
        graded = Path(course.autograded)
        students = sorted(p.parent.name for p in graded.glob(f"*/{lab}") if p.is_dir())
    results = {}
    for student in students:
        config.CourseDirectory.student_id = student
        app = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
        app.force = True
        results[student] = capture_log(app)
    return results
