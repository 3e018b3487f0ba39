"""File locks between pybuild12 processes, and who holds them.

A second process that needs a lock someone holds waits for it and says so, naming
the holder, instead of failing: two terminals running `install 3.13` at once end
with one build and two happy users. The locks are flock(2) locks (through
filelock), so a holder killed with SIGKILL releases its lock with its last breath.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import filelock

from pybuild12.core.paths import Paths
from pybuild12.core.report import Reporter

POLL = 0.2  # seconds between attempts while waiting


def holder(lock_path: Path) -> str:
    """Who holds the lock, as its holder wrote it down ("pid 123: pybuild12 install 3.13")."""
    try:
        return _owner_file(lock_path).read_text("utf-8").strip() or "another pybuild12 process"
    except OSError:
        return "another pybuild12 process"


@contextmanager
def hold(lock_path: Path, waiting: Callable[[str], None] | None = None, *, timeout: float = -1) -> Iterator[None]:
    """Hold the lock at `lock_path`; if taken, tell `waiting` who has it, then wait
    (for ever, or `timeout` seconds before filelock.Timeout)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        if waiting is not None:
            waiting(holder(lock_path))
        lock.acquire(timeout=timeout, poll_interval=POLL)
    try:
        _owner_file(lock_path).write_text(f"pid {os.getpid()}: {_command()} (since {time.strftime('%H:%M:%S')})\n",
                                          "utf-8")
        yield
    finally:
        lock.release()


def _owner_file(lock_path: Path) -> Path:
    return lock_path.with_name(lock_path.name + ".owner")


def _command() -> str:
    argv = [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv and sys.argv[0] else ["pybuild12"]
    return " ".join(argv)[:200]


@contextmanager
def for_build(paths: Paths, name: str, reporter: Reporter = Reporter()) -> Iterator[None]:
    """One pybuild12 process at a time per build name; the next one waits its turn."""
    def waiting(holder_text: str) -> None:
        reporter.info(f"waiting for {holder_text} to finish with {name!r} (Ctrl-C to give up)")

    with hold(paths.locks / f"{name}.lock", waiting):
        yield
