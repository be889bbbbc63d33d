"""The test suite's own layout: pytest imports test modules by file name (no packages), so two
test files with the same name in different folders break the whole run."""

from __future__ import annotations

from collections import Counter

from servelab_base.paths import ROOT


def test_no_two_test_files_share_a_name():
    names = Counter(p.name for p in (ROOT / "tests").rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []


def test_no_test_imports_a_conftest():
    """Every conftest.py is imported as the module `conftest`; which one a test gets depends on
    the order pytest collects them, so `from conftest import ...` works alone and breaks in the
    whole run. Helpers live in plainly named *_support.py modules."""
    offenders = []
    for path in (ROOT / "tests").rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.lstrip().startswith(("from conftest import", "import conftest")):
                offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == []
