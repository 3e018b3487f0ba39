"""Run from several threads at once by pytest-run-parallel (--parallel-threads)."""

import racy


def test_bump():
    for _ in range(20):
        assert racy.bump() > 0


def test_bump_atomic():
    for _ in range(20):
        assert racy.bump_atomic() > 0
