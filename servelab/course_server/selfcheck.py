"""A learner's check before submitting (like ``otter check``): which exercises are unanswered,
and what the visible checks say.

    servelab check ~/00_inference_path/00_inference_path.ipynb          # runs it, then the summary
    servelab check --no-run ~/00_inference_path/00_inference_path.ipynb # only: what is unanswered

From the notebook, nbgrader's **Validate** button runs the same visible checks. Both run the
notebook in the learner's own kernel with the released ``checks.py``: the grader runs these and
the hidden checks again, outside the kernel, so passing here is necessary, not sufficient.

An exercise is the answer cells up to a test cell (nbgrader's grade ids); a written answer (a
manually graded cell) is an exercise of its own. An answer cell is unanswered while its text is
exactly what was released (nbgrader's checksum of the released cell).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

#: Seconds per cell, as in the course's grading config (grading/nbgrader_config.py).
CELL_TIMEOUT_S = 120
STUBS = ("raise NotImplementedError", "YOUR ANSWER HERE")


@dataclass
class Exercise:
    """One graded exercise of a notebook and what the check found."""

    grade_id: str
    points: float
    manual: bool
    answers: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    error: str = ""
    ran: bool = False

    @property
    def answered(self) -> bool:
        return not self.unanswered

    @property
    def failed(self) -> bool:
        return bool(self.error) or any(line.startswith("[FAIL]") for line in self.checks)


def _meta(cell: Any) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_unanswered(cell: Any) -> bool:
    """Is this answer cell still as released?"""
    from nbgrader.utils import compute_checksum

    meta = _meta(cell)
    if "checksum" in meta:
        return compute_checksum(cell) == meta["checksum"]
    return any(stub in cell.source for stub in STUBS)


def exercises(nb: Any) -> list[Exercise]:
    """The notebook's exercises, in order: answer cells grouped with the test cell after them."""
    out: list[Exercise] = []
    pending: list[Any] = []
    for cell in nb.cells:
        meta = _meta(cell)
        if meta.get("solution") and meta.get("grade"):  # a written answer, graded by a person
            ex = Exercise(meta["grade_id"], float(meta.get("points", 0)), manual=True)
            ex.answers = [meta["grade_id"]]
            ex.unanswered = [meta["grade_id"]] if is_unanswered(cell) else []
            out.append(ex)
        elif meta.get("solution"):
            pending.append(cell)
        elif meta.get("grade") and cell.cell_type == "code":
            ex = Exercise(meta["grade_id"], float(meta.get("points", 0)), manual=False)
            ex.answers = [_meta(c)["grade_id"] for c in pending]
            ex.unanswered = [_meta(c)["grade_id"] for c in pending if is_unanswered(c)]
            out.append(ex)
            pending = []
    return out


def _outputs(cell: Any) -> tuple[list[str], str]:
    lines: list[str] = []
    error = ""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            lines += [x for x in output.get("text", "").splitlines() if x.startswith("[")]
        elif output.get("output_type") == "error":
            error = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
    return lines, error


def check(path: Path, run: bool = True, timeout: int = CELL_TIMEOUT_S) -> list[Exercise]:
    """The exercises of the notebook at ``path``; with ``run``, after running it in a kernel.

    The notebook runs on a copy in memory, in its own folder (where ``checks.py`` is); the file
    itself is never changed.
    """
    nb = nbformat.read(path, as_version=4)
    found = exercises(nb)
    if not found:
        raise ValueError(f"{path} has no graded cells: is it a released lab notebook?")
    if not run:
        return found
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        allow_errors=True,
        kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
        resources={"metadata": {"path": str(path.resolve().parent)}},
    )
    client.execute()
    by_id = {ex.grade_id: ex for ex in found}
    for cell in nb.cells:
        ex = by_id.get(_meta(cell).get("grade_id", ""))
        if ex is not None and not ex.manual:
            ex.checks, ex.error = _outputs(cell)
            if ex.error and any(line.startswith("[FAIL]") for line in ex.checks):
                ex.error = ""  # the checks' own summary error: the [FAIL] lines say it all
            ex.ran = True
    return found


def summary(path: Path, found: list[Exercise]) -> str:
    """The report a learner reads: one block per exercise, then what to do."""
    lines = [f"{path.name}:"]
    for ex in found:
        kind = "written answer, graded by your instructor" if ex.manual else "checked"
        mark = "x" if ex.answered and not ex.failed else " "
        lines.append(f"  [{mark}] {ex.grade_id} ({ex.points:g} pts, {kind})")
        if ex.unanswered:
            lines.append(f"        unanswered: {', '.join(ex.unanswered)}")
        lines += [f"        {line}" for line in ex.checks]
        if ex.error:
            lines.append(f"        error: {ex.error}")
    unanswered = [ex.grade_id for ex in found if not ex.answered]
    failing = [ex.grade_id for ex in found if ex.failed]
    if unanswered:
        lines.append(f"{len(unanswered)} of {len(found)} exercises unanswered: {unanswered}")
    if failing:
        lines.append(f"visible checks fail in: {failing}")
    if not unanswered and not failing:
        ran = any(ex.ran for ex in found)
        lines.append(
            "every exercise answered"
            + (", visible checks pass" if ran else "")
            + " (hidden checks run when graded)"
        )
    return "\n".join(lines)
