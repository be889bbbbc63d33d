"""A new lab from the course template: every place a lab lives, created at once.

``servelab course new 10 levers`` writes the nbgrader source notebook, its instructor checks,
the helper module, the dataset folder and its README, the record script, the kept wrong and
right answers, a unit test and the mutation tool's list of equivalent mutants, and adds the
lab's row to README.md. The template lab is complete and graded: its one exercise passes with
the reference solution and fails untouched, so `make test` stays green while the author
replaces it (docs/adding-a-lab.md).

It never overwrites: a lab with the same number or name, or any file it would write, stops it
with a message and nothing written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

import nbformat

from servelab_base.paths import ROOT

NAME = re.compile(r"[a-z][a-z0-9_]*[a-z0-9]")


class TemplateError(ValueError):
    """The lab cannot be created; the message says why and nothing was written."""


@dataclass(frozen=True)
class LabName:
    """``10`` and ``levers`` -> folder ``10_levers``, module ``lab10_levers``, data ``lab10``."""

    number: str
    name: str

    @property
    def folder(self) -> str:
        return f"{self.number}_{self.name}"

    @property
    def module(self) -> str:
        return f"lab{self.number}_{self.name}"

    @property
    def data(self) -> str:
        return f"lab{self.number}"

    @property
    def title(self) -> str:
        return self.name.replace("_", " ").capitalize()


def parse(number: str | int, name: str) -> LabName:
    """Validate the number (0-99, written with two digits) and the snake_case name."""
    text = str(number)
    if not text.isdigit() or not 0 <= int(text) <= 99:
        raise TemplateError(f"lab number {number!r}: give a number from 00 to 99")
    if not NAME.fullmatch(name):
        raise TemplateError(
            f"lab name {name!r}: use lower-case letters, digits and underscores (e.g. levers)"
        )
    return LabName(f"{int(text):02d}", name)


def planned_files(lab: LabName, root: Path = ROOT) -> dict[Path, str]:
    """Every file the template writes, with its content."""
    values = {
        "number": lab.number,
        "name": lab.name,
        "folder": lab.folder,
        "module": lab.module,
        "data": lab.data,
        "title": lab.title,
        "upper": lab.data.upper(),
    }

    def fill(text: str) -> str:
        return Template(text).substitute(values)

    return {
        root / "solutions" / lab.folder / f"{lab.folder}.ipynb": notebook(lab),
        root / "solutions" / lab.folder / "instructor_checks.py": fill(CHECKS),
        root / "servelab" / "labs" / f"{lab.module}.py": fill(HELPER),
        root / "datasets" / lab.data / "README.md": fill(DATA_README),
        root / "datasets" / lab.data / "numbers.csv": NUMBERS,
        root / "scripts" / f"record_{lab.data}.py": fill(RECORD),
        root / "tests" / "wrong_answers" / f"{lab.folder}.py": fill(WRONG),
        root / "tests" / "right_answers" / f"{lab.folder}.py": fill(RIGHT),
        root / "tests" / "unit" / "labs" / f"test_{lab.module}.py": fill(UNIT_TEST),
        root / "benchmarks" / "mutation" / "equivalent" / f"{lab.folder}.toml": fill(EQUIVALENT),
    }


def existing_lab(lab: LabName, root: Path = ROOT) -> str | None:
    """The folder of a lab that already has this number or this name, if any."""
    for parent in (root / "solutions", root / "labs"):
        if not parent.is_dir():
            continue
        for folder in sorted(parent.iterdir()):
            number, _, name = folder.name.partition("_")
            if folder.is_dir() and (number == lab.number or name == lab.name):
                return f"{parent.name}/{folder.name}"
    return None


def new_lab(number: str | int, name: str, root: Path = ROOT) -> list[Path]:
    """Create lab ``number``/``name`` from the template; returns the paths written."""
    lab = parse(number, name)
    clash = existing_lab(lab, root)
    if clash:
        raise TemplateError(f"{clash} exists: pick another number and name (nothing written)")
    files = planned_files(lab, root)
    taken = [str(p.relative_to(root)) for p in files if p.exists()]
    if taken:
        raise TemplateError(f"already there: {', '.join(taken)} (nothing written)")
    readme = root / "README.md"
    table = readme.read_text() if readme.exists() else None
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    written = list(files)
    if table is not None:
        readme.write_text(add_table_row(table, lab))
        written.append(readme)
    return written


def add_table_row(readme: str, lab: LabName) -> str:
    """README.md with the lab's row after the last row of the table of labs (``| NN |``)."""
    lines = readme.splitlines(keepends=True)
    rows = [i for i, line in enumerate(lines) if re.match(r"\| \d\d \|", line)]
    row = f"| {lab.number} | {lab.title.lower()}: TODO one line | TODO what it runs against |\n"
    if not rows:
        return readme + ("\n" if readme and not readme.endswith("\n") else "") + row
    lines.insert(rows[-1] + 1, row)
    return "".join(lines)


def _cell(kind: str, source: str, grade_id: str, **nbgrader: object) -> nbformat.NotebookNode:
    meta = {
        "grade": False,
        "grade_id": grade_id,
        "locked": True,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    meta.update(nbgrader)
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    return make(source.strip("\n"), metadata={"nbgrader": meta})


def notebook(lab: LabName) -> str:
    """The source notebook: objectives, pre-flight, one graded exercise, a reflection."""
    cells = [
        _cell(
            "markdown",
            f"# Lab {lab.number} — {lab.title}\n\nTODO: the question this lab answers.\n\n"
            "**You will**\n1. TODO\n\nAll graded work uses recordings shipped in "
            f"`datasets/{lab.data}/` (see its `README.md` for where each number came from).",
            "intro",
        ),
        _cell(
            "code",
            "# Pre-flight: what this lab needs. Everything graded works offline from recordings.\n"
            "from servelab.doctor import preflight, verdict\n"
            f"from servelab.labs.{lab.module} import load_numbers\n\n"
            "print(verdict(preflight()))",
            "preflight",
        ),
        _cell(
            "markdown",
            "## Exercise 1 — TODO (1 point)\n\nWrite `total(numbers)`: the sum of the `value` "
            "column of `load_numbers()` (a DataFrame), as a `float`.",
            "ex1",
        ),
        _cell(
            "code",
            "def total(numbers) -> float:\n    ### BEGIN SOLUTION\n"
            "    return float(numbers.value.sum())\n    ### END SOLUTION",
            "ex1_solution",
            locked=False,
            solution=True,
        ),
        _cell(
            "code",
            'from servelab.grading.checks import run_checks\n\nrun_checks("ex1_tests")',
            "ex1_tests",
            grade=True,
            points=1,
        ),
        _cell(
            "markdown",
            "## Reflection (manually graded, 1 point)\n\nTODO: a question about a trade-off.",
            "reflection_q",
        ),
        _cell(
            "markdown",
            "### BEGIN SOLUTION\nTODO: a model answer.\n### END SOLUTION",
            "reflection",
            grade=True,
            locked=False,
            points=1,
            solution=True,
        ),
    ]
    nb = nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
    )
    return nbformat.writes(nb) + "\n"


NUMBERS = "# constructed for the template: replace with the lab's recordings\nvalue\n1.5\n2\n"

CHECKS = '''"""Lab $number's checks: the instructor's only copy (never released; labs/ gets the
visible part).

Expected values for recordings are goldens (`servelab course goldens $folder`); constructed
cases carry their expected value beside the case (docs/writing-checks.md).
"""

from __future__ import annotations

import pandas as pd

from servelab.grading.checks import Checks, close
from servelab.labs.$module import load_numbers
from servelab_base.paths import DATASETS

checks = Checks(goldens=DATASETS / "$data" / "expected.json")


# BEGIN HIDDEN CHECKS
@checks.cases
def cases(solution) -> dict:
    """Goldens: values that come from the recordings, computed by the reference solution."""
    return {"visible": {"ex1.recorded": solution.total(load_numbers())}, "hidden": {}}


# END HIDDEN CHECKS


@checks.visible("ex1_tests")
def total_of_the_recording(learner):
    "total of the recorded numbers"
    got = learner.total(load_numbers())
    assert close(got, checks.golden("ex1.recorded")), f"total = {got!r}"


# BEGIN HIDDEN CHECKS
@checks.hidden("ex1_tests")
def total_of_other_numbers(learner):
    "total of other numbers"
    other = pd.DataFrame({"value": [0.25, 0.5, 1.0]})
    assert close(learner.total(other), 1.75)  # 0.25 + 0.5 + 1.0


# END HIDDEN CHECKS
'''

HELPER = '''"""Lab $number helpers: loading the recordings, plots, live probes. Never an answer."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from servelab_base.paths import DATASETS

$upper = DATASETS / "$data"


def load_numbers(folder: Path = $upper) -> pd.DataFrame:
    """The template's recording (replace it with the lab's own)."""
    return pd.read_csv(folder / "numbers.csv", comment="#")
'''

DATA_README = """# datasets/$data — what lab $number grades on

| file | kind | source |
|---|---|---|
| `numbers.csv` | **constructed** | placeholder: replace it with recordings \
(`scripts/record_$data.py`: command, hardware, date) or cited figures |
| `expected.json` | goldens | `servelab course goldens $folder`, from the reference solution |
"""

RECORD = '''"""Record the data lab $number grades on, from the running stack.

    .venv/bin/servelab up && .venv/bin/python scripts/record_$data.py

Every file it writes says what was measured, with which command, on which hardware and when.
"""

from __future__ import annotations

import datetime as dt
import os
import platform


def meta(command: str) -> dict:
    """The provenance block every recording carries."""
    return {
        "source": "measured",
        "command": command,
        "hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "date": dt.date.today().isoformat(),
    }


if __name__ == "__main__":
    raise SystemExit("TODO: record lab $number's data")
'''

WRONG = '''"""Lab $number: typical mistakes, each of which must lose marks."""

WRONG = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "the first value only": """
def total(numbers):
    return float(numbers.value.iloc[0])
""",
            "the first two rows only (the recording has two: partial credit)": """
def total(numbers):
    return float(numbers.value.iloc[:2].sum())
""",
        },
    },
}
'''

RIGHT = '''"""Lab $number: alternative right answers, each of which must keep full marks."""

RIGHT = {
    "ex1_solution": {
        "tests": "ex1_tests",
        "answers": {
            "a loop": """
def total(numbers):
    out = 0.0
    for value in numbers.value:
        out += float(value)
    return out
""",
            "the built-in sum": """
def total(numbers):
    return float(sum(numbers["value"]))
""",
        },
    },
}
'''

UNIT_TEST = '''"""Lab $number's helper module."""

from servelab.labs.$module import load_numbers


def test_the_recording_loads():
    assert list(load_numbers().columns) == ["value"]
'''

EQUIVALENT = """# Equivalent mutants of lab $number's reference answers
# (benchmarks/mutation/equivalent/README.md)
"""
