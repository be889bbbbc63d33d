"""The test suite's own layout: pytest imports test modules by file name (no packages), so two
test files with the same name in different folders break the whole run."""

from __future__ import annotations

from collections import Counter

from servelab_base.paths import ROOT


def test_no_two_test_files_share_a_name():
    names = Counter(p.name for p in (ROOT / "tests").rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
