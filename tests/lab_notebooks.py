"""Notebooks the browser and course tests run: a lab as released, and the same lab solved.

The "solved copy" is what a learner who got everything right has: the released notebook (its
checks.py beside it, visible checks only) with each answer cell's source replaced by the
solution's, matched by nbgrader grade id. Nothing of the instructor's (hidden tests, hidden
checks) is in it.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from servelab_base.paths import LABS, SOLUTIONS

SOLVED_SUFFIX = "_solved"


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_answer(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def solved_copy(lab: str, labs: Path = LABS, solutions: Path = SOLUTIONS):
    """The released ``lab`` with every answer cell taken from the solution (by grade id)."""
    released = nbformat.read(labs / lab / f"{lab}.ipynb", as_version=4)
    solution = nbformat.read(solutions / lab / f"{lab}.ipynb", as_version=4)
    answers = {grade_id(c): c.source for c in solution.cells if is_answer(c)}
    missing = []
    for cell in released.cells:
        if is_answer(cell):
            if grade_id(cell) not in answers:
                missing.append(grade_id(cell))
            else:
                cell.source = answers[grade_id(cell)]
    if missing:
        raise LookupError(f"{lab}: answer cells without a solution: {missing} (run `make release`)")
    return released


def write_solved(lab: str, folder: Path) -> Path:
    """Write the solved copy of ``lab`` into ``folder`` (the lab's working copy); its path."""
    path = folder / f"{lab}{SOLVED_SUFFIX}.ipynb"
    nbformat.write(solved_copy(lab), path)
    return path
