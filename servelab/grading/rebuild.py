"""Score a submission from the instructor's notebook: only the learner's answers come from theirs.

A submitted notebook is JSON the learner can edit. Before it is graded, it is rebuilt from the
released notebook (``labs/<lab>/<notebook>``): every locked cell, test cell, markdown cell,
point value, grade id, checksum, kernelspec and the notebook's metadata come from the release;
from the submission come only the *answers* (the source of each answer cell, found by its
grade id) and cells the learner added (kept, in place, as plain cells with no nbgrader
metadata). Whatever else the learner changed is ignored and listed as tampering, for the
instructor's export. A notebook that is not even JSON is graded as an untouched lab.

Bounds: answers and added cells together may hold MAX_SOURCE_CHARS characters and at most
MAX_ADDED_CELLS added cells; beyond that the rest is dropped (and reported), so a notebook of
ten thousand tiny cells costs the grader no more than a normal one.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

MAX_SOURCE_CHARS = 1_000_000
MAX_ADDED_CELLS = 200


@dataclass
class Rebuilt:
    """The notebook to grade and what the learner changed that was not theirs to change."""

    notebook: NotebookNode
    tampering: list[str] = field(default_factory=list)
    answers_found: int = 0


def _nbgrader(cell: Any) -> dict[str, Any]:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    found = meta.get("nbgrader") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else {}


def _source(cell: Any) -> str:
    raw = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(raw, list):
        return "".join(part for part in raw if isinstance(part, str))
    return raw if isinstance(raw, str) else ""


def read_cells(path: Path, release: NotebookNode | None = None) -> tuple[list[dict], list[str]]:
    """The submission's cells, read leniently (never raises): (cells, problems).

    Changes to what the release fixes for the whole notebook (its format version, the kernel
    it runs in) are problems too: they are ignored, and reported.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError, RecursionError) as exc:
        return [], [f"the notebook could not be read ({type(exc).__name__}); graded as untouched"]
    cells = data.get("cells") if isinstance(data, dict) else None
    if not isinstance(cells, list):
        return [], ["the notebook has no list of cells; graded as untouched"]
    problems = []
    if release is not None:
        meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        spec = meta.get("kernelspec") if isinstance(meta.get("kernelspec"), dict) else {}
        if spec.get("name") != release.metadata.get("kernelspec", {}).get("name"):
            problems.append(f"the kernel was changed to {str(spec.get('name'))[:40]!r}; ignored")
        if (data.get("nbformat"), data.get("nbformat_minor")) != (
            release.nbformat,
            release.nbformat_minor,
        ):
            problems.append("the notebook format version was changed; ignored")
    return [c for c in cells if isinstance(c, dict)], problems


def rebuild(release: NotebookNode, submitted: Path) -> Rebuilt:
    """The release with the learner's answers (and added cells) put in; see the module doc."""
    cells, tampering = read_cells(submitted, release)
    release_ids = {_nbgrader(c).get("grade_id") for c in release.cells} - {None}
    answer_ids = {_nbgrader(c)["grade_id"] for c in release.cells if _nbgrader(c).get("solution")}
    release_cells = {_nbgrader(c).get("grade_id"): c for c in release.cells}
    answers: dict[str, dict[str, Any]] = {}
    added_after: dict[str | None, list[dict[str, Any]]] = {}
    anchor: str | None = None
    budget = MAX_SOURCE_CHARS
    added = 0
    for cell in cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in release_ids:
            anchor = grade_id
            if grade_id in answer_ids:
                if grade_id in answers:
                    tampering.append(f"answer cell {grade_id!r} appears twice; the first is used")
                else:
                    answers[grade_id] = cell
            else:
                tampering += _locked_changes(cell, release_cells[grade_id])
            continue
        if _nbgrader(cell):
            what = "grade" if _nbgrader(cell).get("grade") else "nbgrader"
            tampering.append(f"a cell claims {what} metadata ({str(grade_id)[:40]!r}); ignored")
        if cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue
        added += 1
        if added > MAX_ADDED_CELLS:
            continue
        added_after.setdefault(anchor, []).append(cell)
    if added > MAX_ADDED_CELLS:
        tampering.append(f"{added} added cells; only the first {MAX_ADDED_CELLS} were run")

    out = copy.deepcopy(release)
    new_cells: list[NotebookNode] = [_plain(c) for c in added_after.get(None, [])]
    found = 0
    for cell in out.cells:
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id")
        if meta.get("solution") and grade_id in answers:
            mine = answers[grade_id]
            theirs = _nbgrader(mine)
            for key in ("grade", "solution", "locked", "points", "task"):
                if key in meta and theirs.get(key) != meta.get(key):
                    tampering.append(f"answer cell {grade_id!r}: nbgrader {key!r} was changed")
            if mine.get("cell_type") != cell.cell_type:
                tampering.append(f"answer cell {grade_id!r}: cell type was changed")
            source = _source(mine)
            if len(source) > budget:
                tampering.append(f"answer cell {grade_id!r} cut to the size limit")
                source = source[: max(budget, 0)]
            budget -= len(source)
            cell.source = source
            cell.outputs = [] if cell.cell_type == "code" else cell.get("outputs")
            found += 1
        elif meta.get("solution"):
            tampering.append(f"answer cell {grade_id!r} is missing; graded as unanswered")
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        new_cells.append(cell)
        for extra in added_after.get(grade_id, []) if grade_id else []:
            plain = _plain(extra)
            budget -= len(plain.source)
            if budget < 0:
                tampering.append("added cells beyond the size limit were dropped")
                break
            new_cells.append(plain)
    missing_locked = [
        _nbgrader(c)["grade_id"]
        for c in release.cells
        if _nbgrader(c).get("grade_id")
        and not _nbgrader(c).get("solution")
        and _nbgrader(c)["grade_id"] not in {_nbgrader(x).get("grade_id") for x in cells}
    ]
    if cells and missing_locked:
        tampering.append(
            f"{len(missing_locked)} locked or test cells were deleted (restored from the "
            f"release): {', '.join(map(str, missing_locked[:5]))}"
        )
    out.cells = new_cells
    return Rebuilt(out, sorted(set(tampering), key=tampering.index), found)


#: nbgrader's metadata of a cell that decides how it is graded.
GRADING_KEYS = ("grade", "solution", "locked", "points", "task", "schema_version", "checksum")


def _locked_changes(mine: dict[str, Any], released: Any) -> list[str]:
    """What the learner changed in a locked or test cell (each is ignored: the release's wins)."""
    grade_id = _nbgrader(released).get("grade_id")
    found = []
    if _source(mine) != _source(released):
        found.append(f"locked cell {grade_id!r} was edited; the release's is used")
    if mine.get("cell_type") != released.get("cell_type"):
        found.append(f"locked cell {grade_id!r}: cell type was edited; the release's is used")
    theirs, ours = _nbgrader(mine), _nbgrader(released)
    changed = [k for k in GRADING_KEYS if theirs.get(k) != ours.get(k)]
    if changed:
        found.append(f"locked cell {grade_id!r}: nbgrader {', '.join(changed)} edited; ignored")
    return found


def _plain(cell: dict[str, Any]) -> NotebookNode:
    """A learner's own cell, as a fresh cell with no nbgrader metadata and no outputs."""
    source = _source(cell)
    if cell.get("cell_type") == "code":
        return nbformat.v4.new_code_cell(source)
    if cell.get("cell_type") == "raw":
        return nbformat.v4.new_raw_cell(source)
    return nbformat.v4.new_markdown_cell(source)


def rebuild_file(release_path: Path, submitted: Path, target: Path) -> Rebuilt:
    """Rebuild ``submitted`` against ``release_path`` and write the result to ``target``."""
    release = nbformat.read(release_path, as_version=4)
    result = rebuild(release, submitted)
    nbformat.write(result.notebook, target)
    return result
