"""tests/suite_schedule.py: how `make test` shares the suite between its two workers."""

from __future__ import annotations

from suite_schedule import FIRST, JOINED, SPLIT, order, shares

from servelab_base.paths import ROOT

IDS = [
    "tests/browser/test_labs.py::test_lab[00]",
    "tests/browser/test_labs.py::test_lab[01]",
    "tests/browser/test_labs.py::test_lab[02]",
    "tests/integration/grading/test_grading_attacks.py::test_a",
    "tests/integration/grading/test_grading_sandbox.py::test_b",
    "tests/unit/base/test_clock.py::test_1",
    "tests/unit/base/test_clock.py::test_2",
    "tests/course/test_course.py::test_c",
]


def test_every_file_the_table_names_exists():
    """A renamed file would silently leave the table (and its fixture be built twice)."""
    named = set(JOINED) | SPLIT | {s.split(" #")[0] for s in FIRST if s.startswith("tests/")}
    assert [p for p in sorted(named) if not (ROOT / p).is_file()] == []
    assert all(s in set(JOINED.values()) or s.startswith("tests/") for s in FIRST)


def test_joined_files_are_one_share_and_a_split_file_two():
    of = shares(IDS)
    assert of[IDS[3]] == of[IDS[4]] == "hostile class"
    assert of[IDS[0]] == of[IDS[2]] != of[IDS[1]]
    assert of[IDS[5]] == of[IDS[6]] == "tests/unit/base/test_clock.py"


def test_the_costliest_shares_come_first_and_each_share_stays_together():
    ordered = order(IDS)
    assert sorted(ordered) == sorted(IDS)
    assert ordered[:5] == [IDS[0], IDS[2], IDS[1], IDS[3], IDS[4]]
    of = shares(IDS)
    runs = [of[n] for n in ordered]
    assert len({s for s in runs}) == len(
        [s for i, s in enumerate(runs) if i == 0 or runs[i - 1] != s]
    )


def test_a_split_file_is_balanced_by_weight(monkeypatch):
    import suite_schedule

    path = "tests/browser/test_labs.py"
    monkeypatch.setattr(suite_schedule, "WEIGHTS_S", {"a": 90, "b": 50, "c": 45, "d": 10})
    of = shares([f"{path}::{n}" for n in "abcd"])
    halves = {of[f"{path}::a"], of[f"{path}::b"]}
    assert len(halves) == 2  # the two longest never share a half
    assert of[f"{path}::b"] == of[f"{path}::c"] != of[f"{path}::a"] == of[f"{path}::d"]
