"""Run from several threads at once by pytest-run-parallel (--parallel-threads).

Enough calls that the threads' calls overlap even on a loaded machine: with 20, a thread
could finish before the next one started, and a lock the interpreter takes in between
(its output capture) then ordered the accesses, so that ThreadSanitizer saw no race
(a CI rehearsal at load 7 on 2 cores).
"""

import racy

CALLS = 5000


def test_bump():
    for _ in range(CALLS):
        assert racy.bump() > 0


def test_bump_atomic():
    for _ in range(CALLS):
        assert racy.bump_atomic() > 0
