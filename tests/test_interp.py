"""checks/interp.py: a resource script run in the interpreter under test, its answer read."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pybuild12.checks import interp
from pybuild12.core import runner


def test_the_answer_is_the_last_json_line(tmp_path):
    answer = interp.run(Path(sys.executable), "smoke.py", ["-", "json"], timeout=60)
    assert answer.clean and answer.returncode == 0
    assert {c["name"] for c in answer.data["checks"]} >= {"module json"}


def test_a_crash_is_no_answer_with_its_tail(tmp_path):
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\necho 'partial output'\necho 'Fatal Python error: Segmentation fault' >&2\nexit 139\n")
    python.chmod(0o755)
    answer = interp.run(python, "smoke.py", timeout=60)
    assert answer.data is None and not answer.clean and answer.returncode == 139
    assert answer.tail(1) == "Fatal Python error: Segmentation fault"


def test_json_beside_a_fatal_error_is_read_but_not_clean(tmp_path):
    python = tmp_path / "python"
    python.write_text('#!/bin/sh\necho \'{"checks": []}\'\necho "Fatal Python error: at exit" >&2\n')
    python.chmod(0o755)
    answer = interp.run(python, "smoke.py", timeout=60)
    assert answer.data == {"checks": []} and not answer.clean


def test_a_missing_interpreter_and_a_timeout_reach_the_caller(tmp_path):
    with pytest.raises(OSError):
        interp.run(tmp_path / "none", "smoke.py", timeout=60)
    slow = tmp_path / "slow"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    with pytest.raises(runner.TimedOut):
        interp.run(slow, "smoke.py", timeout=0.5)
