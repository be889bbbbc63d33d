"""Attack class: editing the submitted notebook's JSON instead of answering.

Each entry of TAMPERS turns a RIGHT submission's notebook into a tampered one. Graded from the
instructor's release (servelab/grading/rebuild.py), every one must score exactly what its
answers earn (full marks: the answers are right), never more, and be reported as tampering.
"""

from __future__ import annotations

import copy


def _cell(nb: dict, grade_id: str) -> dict:
    return next(
        c
        for c in nb["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id
    )


def many_edits(nb: dict) -> dict:
    """Everything an editor of the JSON can change, at once."""
    nb["cells"] = [c for c in nb["cells"] if c.get("id") != "helper"]  # delete the locked helper
    add = _cell(nb, "test_add")
    add["metadata"]["nbgrader"]["points"] = 100  # inflate a test cell's points
    add["source"] = "pass"  # empty its check
    mul = _cell(nb, "test_mul")
    mul["metadata"]["nbgrader"]["checksum"] = "0" * 32
    mul["metadata"]["nbgrader"]["grade_id"] = "test_mul_renamed"  # rename a grade cell
    twin = copy.deepcopy(add)  # duplicate a grade cell
    twin["id"] = "twin"
    nb["cells"].append(twin)
    nb["cells"].append(  # a new grade cell claiming points
        {
            "cell_type": "code",
            "id": "bonus",
            "metadata": {
                "nbgrader": {
                    "grade": True,
                    "grade_id": "bonus",
                    "points": 50,
                    "solution": False,
                    "locked": True,
                    "schema_version": 3,
                }
            },
            "source": "50",
            "outputs": [],
            "execution_count": None,
        }
    )
    nb["metadata"]["kernelspec"] = {"name": "bash", "display_name": "Bash", "language": "bash"}
    _cell(nb, "add")["metadata"]["nbgrader"]["points"] = 7  # points on an answer cell
    return nb


def test_cells_turned_to_markdown(nb: dict) -> dict:
    """Test cells become markdown (nothing to fail), schema version changed."""
    for grade_id in ("test_add", "test_mul"):
        cell = _cell(nb, grade_id)
        cell["cell_type"] = "markdown"
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
        cell["metadata"]["nbgrader"]["schema_version"] = 1
    return nb


def not_json(nb: dict) -> str:
    """Not a notebook at all."""
    return '{"cells": [' + "x" * 1000


TAMPERS = {
    "tamper_many_edits": many_edits,
    "tamper_test_cells_to_markdown": test_cells_turned_to_markdown,
    "tamper_not_json": not_json,
}
