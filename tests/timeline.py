"""Where a test run's time went: one JSON line per test, and one per real build.

With PYBUILD12_TEST_TIMELINE=DIR (scripts/test sets it to its results directory),
each test appends to DIR/tests-<worker>.jsonl: its node id, the xdist worker that
ran it (its lane), its xdist group, the run's name (PYBUILD12_TEST_RUN: "unit",
"integration"...), its start and end (wall clock, setup to teardown) and the CPU
seconds spent meanwhile, by this process and by the children it waited for (a
build run through subprocess is one). Each process writes its own file, with one
write() per line on a file opened for appending, so workers never interleave.
`record_build` adds one line per real build to DIR/builds-<worker>.jsonl.
scripts/test-summary reads both.

Loaded by tests/conftest.py (`pytest_plugins`); tests/ is on sys.path for every
test below it, so an integration fixture imports `from timeline import record_build`.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DIR_ENV = "PYBUILD12_TEST_TIMELINE"
RUN_ENV = "PYBUILD12_TEST_RUN"


def worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _append(directory: str, kind: str, record: dict) -> None:
    os.makedirs(directory, exist_ok=True)
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(Path(directory) / f"{kind}-{worker()}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


@dataclass
class Timed:
    """What `record_build` measured: filled in when its block ends."""

    name: str
    start: float = 0.0
    end: float = 0.0
    cpu: float = 0.0

    @property
    def wall(self) -> float:
        return self.end - self.start


@contextlib.contextmanager
def record_build(name: str) -> Iterator[Timed]:
    """Time one real build: wall clock, and the CPU of the children waited for meanwhile.

    Wrap the one blocking call that builds (`subprocess.run([... "pybuild12", "install" ...])`):
    RUSAGE_CHILDREN counts a child, and everything it waited for, once the child is
    waited for. Children of other threads that end during the block count too, so
    do not wrap builds that run concurrently in one process. Without PYBUILD12_TEST_TIMELINE
    it only times (the yielded `Timed`); with it, it appends
    {"build", "worker", "start", "end", "cpu", "ok"} to DIR/builds-<worker>.jsonl,
    also when the block raises (ok false).
    """
    timed = Timed(name, start=time.time())
    cpu_before = _cpu(resource.RUSAGE_CHILDREN)
    ok = False
    try:
        yield timed
        ok = True
    finally:
        timed.end = time.time()
        timed.cpu = _cpu(resource.RUSAGE_CHILDREN) - cpu_before
        directory = os.environ.get(DIR_ENV)
        if directory:
            _append(directory, "builds", {"build": name, "worker": worker(), "start": timed.start,
                                          "end": timed.end, "cpu": round(timed.cpu, 3), "ok": ok})


def _group(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("xdist_group")
    if marker is None:
        return None
    return str(marker.kwargs.get("name", marker.args[0] if marker.args else "")) or None


def _outcome(reports: list[pytest.TestReport]) -> str:
    """One word for the item, from its setup, call and teardown reports."""
    outcome = "passed"
    for report in reports:
        xfail = hasattr(report, "wasxfail")
        if report.failed:
            return "failed" if report.when == "call" else "error"
        if report.skipped:
            outcome = "xfailed" if xfail else "skipped"
        elif report.when == "call" and xfail:
            outcome = "xpassed"
    return outcome


# Read once, when pytest starts: a test that sets the variables for a pytest of its own
# changes nothing here.
_run: dict[str, str] = {}
_reports: dict[str, list[pytest.TestReport]] = {}


def pytest_configure(config: pytest.Config) -> None:
    _run.update(directory=os.environ.get(DIR_ENV, ""), name=os.environ.get(RUN_ENV, ""))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _run.get("directory"):
        _reports.setdefault(report.nodeid, []).append(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    if not _run.get("directory"):
        yield
        return
    start, own, children = time.time(), _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    yield
    end = time.time()
    cpu = _cpu(resource.RUSAGE_SELF) - own + _cpu(resource.RUSAGE_CHILDREN) - children
    _append(_run["directory"], "tests", {"nodeid": item.nodeid, "worker": worker(), "group": _group(item),
                                         "run": _run["name"], "start": start, "end": end, "cpu": round(cpu, 3),
                                         "outcome": _outcome(_reports.pop(item.nodeid, []))})
