"""Every autograded exercise discriminates: typical wrong answers (tests/wrong_answers/) fail it.

For each lab, the solution notebook runs once in a live kernel; then each wrong answer replaces
its solution cell, the exercise's test cell (hidden checks included: in solutions/ the test cell
runs the instructor's checks) runs and must fail, and the right solution is restored before the
next one.
"""

from __future__ import annotations

import pytest
from lab_kernel import answers, graded_cells, labs_with, solved_lab

from servelab.grading.release import lab_names

LABS = labs_with("wrong", lab_names())


def test_every_lab_keeps_wrong_answers():
    missing = sorted(set(lab_names()) - set(LABS))
    assert not missing, f"labs without tests/wrong_answers/<lab>.py: {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_wrong_answers_lose_marks(lab, stack):
    wrong = answers("wrong", lab)
    with solved_lab(lab) as (kernel, cells):
        tested = {entry["tests"] for entry in wrong.values()}
        missing = graded_cells(cells) - tested
        assert not missing, f"autograded cells without wrong answers: {missing}"
        for solution_id, entry in wrong.items():
            assert len(entry["answers"]) >= 2, f"{solution_id}: keep at least two wrong answers"
            for description, source in entry["answers"].items():
                ok, err = kernel.run(source)
                assert ok, f"wrong answer {description!r} must itself run, got {err}"
                passed, _ = kernel.run(cells[entry["tests"]].source)
                assert not passed, f"{lab}/{entry['tests']} gives full marks to: {description}"
                ok, err = kernel.run(cells[solution_id].source)
                assert ok, err
