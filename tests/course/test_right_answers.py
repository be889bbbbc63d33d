"""No exercise rejects a right answer: alternative correct answers (tests/right_answers/) keep
full marks.

The mirror of test_wrong_answers.py: each alternative (numpy instead of loops, int instead of
float where equivalent, another tie-break the text allows) replaces its solution cell and the
exercise's test cell, hidden checks included, must pass.
"""

from __future__ import annotations

import pytest
from lab_kernel import answers, graded_cells, labs_with, solved_lab

from servelab.grading.release import lab_names

LABS = labs_with("right", lab_names())


@pytest.mark.slow
@pytest.mark.parametrize("lab", LABS)
def test_right_answers_keep_full_marks(lab, stack):
    right = answers("right", lab)
    with solved_lab(lab) as (kernel, cells):
        tested = {entry["tests"] for entry in right.values()}
        missing = graded_cells(cells) - tested
        assert not missing, f"autograded cells without alternative right answers: {missing}"
        for solution_id, entry in right.items():
            assert len(entry["answers"]) >= 2, f"{solution_id}: keep at least two right answers"
            for description, source in entry["answers"].items():
                ok, err = kernel.run(source)
                assert ok, f"right answer {description!r} must itself run, got {err}"
                passed, out = kernel.run(cells[entry["tests"]].source)
                assert passed, f"{lab}/{entry['tests']} rejects: {description}\n{out}"
                ok, err = kernel.run(cells[solution_id].source)
                assert ok, err
