"""Rules the whole test suite follows (used by conftest.py; a plain module, so tests can import it)."""

from __future__ import annotations

import os

# Under CI=true a skip is a failure: CI installs everything the suite needs, so a
# test that finds something missing (an interpreter, sources, a tool) must say so
# loudly. Only these skips stay skips there, each a thing CI cannot or need not give:
SKIPS_ALLOWED_IN_CI = (
    "neither python.org nor Debian's",  # 3.14+ sources: unobtainable in this workplace (REFERENCE.md)
    "the test runner's Python has per-interpreter GILs",  # a test of Pythons older than 3.12
    "build reused from PYBUILD12_TEST_HOME",  # a development run that keeps its real build
)


def fail_skip_in_ci(report) -> None:
    """Turn a skip into a failure under CI=true, unless SKIPS_ALLOWED_IN_CI names its reason."""
    if not (os.environ.get("CI") and report.skipped) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if not any(allowed in reason for allowed in SKIPS_ALLOWED_IN_CI):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where everything it needs must be present: {reason}"
