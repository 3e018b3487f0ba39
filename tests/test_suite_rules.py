"""The test suite's own rules: no silent skips under CI, and a tally that adds up across
pytest-xdist's workers (scripts/test's closing summary: test_test_summary.py)."""

from __future__ import annotations

from types import SimpleNamespace

import suiterules
from faultreport import Tally, TestFaults


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
