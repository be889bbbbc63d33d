"""Turn a solution notebook's test cells into check cells (one-off migration helper).

    .venv/bin/python scripts/convert_test_cells.py solutions/NN_lab/NN_lab.ipynb

Each autograded test cell's source becomes ``run_checks("<grade_id>")``: the checks themselves
live in the lab's ``instructor_checks.py`` (see docs/writing-checks.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

CELL = 'from servelab.grading.checks import run_checks\n\nrun_checks("{grade_id}")'


def convert(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    done = []
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] == "code" and meta.get("grade") and not meta.get("solution"):
            source = CELL.format(grade_id=meta["grade_id"])
            lines = source.split("\n")
            cell["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]
            done.append(meta["grade_id"])
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return done


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(arg, convert(Path(arg)))
