"""Shared fixtures. No test touches the user's home: PYBUILD12_HOME is a temp dir."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from faultreport import TALLY, TestFaults
from pybuild12.core.paths import Paths
from pybuild12.core.settings import Settings
from suiterules import fail_skip_in_ci

# Where the run's time went (PYBUILD12_TEST_TIMELINE): one line per test, per real build.
pytest_plugins = ["timeline"]


def pytest_addoption(parser):
    parser.addoption("--heavy", action="store_true",
                     help="also run the tests marked heavy (real builds beyond CI's time budget)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--heavy"):
        return
    heavy = [item for item in items if item.get_closest_marker("heavy")]
    if heavy:
        config.hook.pytest_deselected(items=heavy)
        items[:] = [item for item in items if not item.get_closest_marker("heavy")]


# pytest-timeout's default (pyproject.toml) is a unit test's. An integration test that names
# no timeout of its own (tests/integration/conftest.py gives them theirs) gets this one:
# a real build takes minutes, and CI's whole run has 90.
INTEGRATION_TIMEOUT = 3600


def pytest_collection_finish(session):
    """After every conftest's pytest_collection_modifyitems, so a marker added there wins."""
    for item in session.items:
        if item.get_closest_marker("integration") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(INTEGRATION_TIMEOUT))


def pytest_configure(config):
    # Started in the background by a shell without job control (`... &`), the suite
    # inherits SIGINT ignored, and so would every pybuild12 it starts: the tests that
    # press Ctrl-C need it back. A handled signal is reset to its default across exec.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    fail_skip_in_ci(report)
    marker = item.get_closest_marker("fault")
    if marker is not None and report.when == "call":
        report.user_properties.append(("fault", (marker.args[0], report.passed)))


def pytest_runtest_logreport(report):
    if report.when == "call":
        TALLY.add(report.user_properties)


def pytest_terminal_summary(terminalreporter):
    lines = TALLY.lines()
    if lines:
        terminalreporter.section("fault suite")
        for line in lines:
            terminalreporter.write_line(line)
    TALLY.write()


@pytest.fixture
def faults(request) -> TestFaults:
    """What this test adds to the fault suite's tally (see faultreport.py)."""
    return TestFaults(request.node)


@pytest.fixture(autouse=True)
def pybuild12_home(tmp_path_factory, monkeypatch) -> Path:
    home = tmp_path_factory.mktemp("pybuild12-home")
    # None of the developer's own settings (a team's shared store, a mirror, options) may
    # reach the tests: only the test harness's own variables stay.
    for var in list(os.environ):
        if var.startswith("PYBUILD12_") and not var.startswith(("PYBUILD12_TEST_", "PYBUILD12_FAULT_")):
            monkeypatch.delenv(var)
    monkeypatch.setenv("PYBUILD12_HOME", str(home))
    return home


@pytest.fixture
def refused_url() -> Iterator[Callable[..., str]]:
    """refused_url(path="") -> a loopback URL on which a connection is refused. Its port stays
    bound, never listening, until the test ends: a port found free and closed again could be
    taken meanwhile by another xdist worker's server, which would then answer."""
    held: list[socket.socket] = []

    def url(path: str = "") -> str:
        sock = socket.socket()
        held.append(sock)
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}{path}"

    yield url
    for sock in held:
        sock.close()


@pytest.fixture
def paths(pybuild12_home) -> Paths:
    return Settings.from_env().paths


@pytest.fixture
def recipe_file(tmp_path):
    """Write a recipe TOML file and return its path."""

    def write(text: str, name: str = "custom.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write

