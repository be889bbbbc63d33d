"""Kept answers of the course tests: tests/wrong_answers/<lab>.py and tests/right_answers/<lab>.py.

Each file holds ``WRONG`` (or ``RIGHT``): ``{solution_grade_id: {"tests": test_grade_id,
"answers": {description: source}}}``. tests/course/test_answers.py runs every one of them
through the lab's instructor checks.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def answers(kind: str, lab: str) -> dict:
    """``WRONG`` (kind "wrong") or ``RIGHT`` (kind "right") from tests/<kind>_answers/<lab>.py."""
    path = TESTS / f"{kind}_answers" / f"{lab}.py"
    spec = importlib.util.spec_from_file_location(f"{kind}_{lab}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, kind.upper())


def labs_with(kind: str, all_labs: list[str]) -> list[str]:
    return [lab for lab in all_labs if (TESTS / f"{kind}_answers" / f"{lab}.py").exists()]
