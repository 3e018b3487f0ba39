"""The verifier on the real build: run by install, and on demand with --full."""

from __future__ import annotations

import json

import pytest

from realbuild import RECIPE

pytestmark = pytest.mark.integration


def test_install_recorded_a_passing_verification(real_build):
    verification = real_build.receipt["verification"]
    assert verification["ok"] is True
    statuses = {c["name"]: c["status"] for c in verification["checks"]}
    assert all(statuses[n] == "passed" for n in ("modules", "high-level API", "test.support helper", "lifecycle",
                                                  "messages", "threads", "clean exit"))
    assert statuses["parallelism"] in ("passed", "inconclusive")
    assert verification["api"] == {"low_level": "_interpreters", "high_level": "test.support.interpreters"}


def test_verify_full_runs_cpythons_subinterpreter_tests(real_build):
    out = real_build.cli("verify", RECIPE, "--full", "--json")
    data = json.loads(out.stdout)
    checks = {c["name"]: c for c in data["checks"]}
    regression = checks["regression tests"]
    assert regression["status"] == "passed", regression["reason"]
    assert regression["figures"]["run"] > 200  # 296 tests in 3.13's three modules
    assert out.returncode == (0 if data["ok"] else 7)
    assert data["version"] == RECIPE
