"""The test suite's own rules: no silent skips under CI, a tally that adds up across
pytest-xdist's workers, and scripts/test's closing summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import suiterules
from faultreport import Tally, TestFaults

ROOT = Path(__file__).resolve().parent.parent


def skipped(reason: str) -> SimpleNamespace:
    return SimpleNamespace(skipped=True, outcome="skipped", longrepr=("file.py", 1, f"Skipped: {reason}"))


def test_a_skip_under_ci_fails_saying_what_is_missing(monkeypatch):
    monkeypatch.setenv("CI", "true")
    report = skipped("pyenv's CPython 3.13.0 is not on this machine")
    suiterules.fail_skip_in_ci(report)
    assert report.outcome == "failed"
    assert "skipped under CI=true" in report.longrepr and "3.13.0 is not on this machine" in report.longrepr


def test_documented_skips_stay_skips_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    report = skipped("Python-3.14.10.tar.xz is not in .test-sources: neither python.org nor Debian's pool has it")
    suiterules.fail_skip_in_ci(report)
    assert report.outcome == "skipped"


def test_outside_ci_a_skip_is_a_skip(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    report = skipped("nginx is not installed")
    suiterules.fail_skip_in_ci(report)
    assert report.outcome == "skipped"


def test_the_tally_adds_up_from_reports():
    node = SimpleNamespace(user_properties=[])
    faults = TestFaults(node)
    faults.tried(3)
    faults.lost("3.13.5")
    node.user_properties.append(("fault", ("sigkill", True)))
    tally = Tally()
    tally.add(node.user_properties)
    tally.add([("fault", ["sigkill", False]), ("other", 1)])  # as xdist sends it: lists, and others' properties
    data = tally.as_json()
    assert data["bad_inputs_tried"] == 3 and data["lost"] == ["3.13.5"]
    assert data["by_kind"] == {"sigkill": {"injected": 2, "survived": 1}}


def test_the_summary_shows_phases_outcomes_and_the_slowest_tests(tmp_path):
    (tmp_path / "phases").write_text("apt (build dependencies) 65\nunit tests (pytest -n auto) 200\n")
    (tmp_path / "unit.xml").write_text(
        '<testsuites><testsuite>'
        '<testcase classname="tests.test_a" name="test_fast" time="0.5"/>'
        '<testcase classname="tests.integration.test_b" name="test_slow" time="905.2"/>'
        '<testcase classname="tests.test_c" name="test_bad" time="2"><failure message="x"/></testcase>'
        '<testcase classname="tests.test_d" name="test_skip" time="0"><skipped message="y"/></testcase>'
        '</testsuite></testsuites>')
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "test-summary"), str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert "1m05.0s  apt (build dependencies)" in out and "4m25.0s  in all" in out
    assert "  tests: 2 passed, 1 failed, 1 skipped" in lines
    slowest = lines[lines.index(next(line for line in lines if "slowest" in line)) + 1:]
    assert slowest[0].split() == ["15m05.2s", "test_b::test_slow"]
    assert [line.split()[-1] for line in slowest[1:]] == ["tests.test_c::test_bad", "tests.test_a::test_fast",
                                                          "tests.test_d::test_skip"]
