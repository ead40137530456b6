"""The test tree's one rule pytest does not check itself: test files have distinct names (tests/ has no
__init__.py, so pytest imports each test file by its basename and two of the same name break collection)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def test_test_file_names_are_unique():
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert [name for name, n in names.items() if n > 1] == []
