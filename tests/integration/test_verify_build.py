"""The verifier on the real build: run by install, and on demand with --full."""

from __future__ import annotations

import json
import subprocess
import sys

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


def test_verify_checks_the_modules_the_recipe_requires(real_build):
    data = json.loads(real_build.cli("verify", RECIPE, "--json").stdout)
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["required modules"]["status"] == "passed"
    assert checks["required modules"]["reason"] == "imported ssl, zlib, ctypes, sqlite3, bz2, lzma"


def test_suite_on_a_selection_of_cpythons_own_tests(real_build):
    """A passing file, one that fails when PYTHONUNBUFFERED=1 reaches it (test_cmd_line: the
    suite unsets it and says why), one for another platform, one for a resource not enabled."""
    env = {**real_build.env, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run([sys.executable, "-m", "pybuild12", "verify", RECIPE, "--suite", "--json", "--suite-args",
                           "test_int test_cmd_line test_winreg test_tkinter"], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    assert data["counts"] == {"passed": 2, "failed": 0, "skipped": 2, "environment": 0, "env changed": 0}
    assert data["skipped"] == {"platform": {"winreg": ["test_winreg"]},
                               "resource not enabled": {"gui": ["test_tkinter"]}}
    assert set(data["unset"]) >= {"PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
    assert "of 4 files" in proc.stderr  # the progress line
    # Ground truth: the same file, run by CPython's regrtest with PYTHONUNBUFFERED=1 left in.
    python = real_build.prefix / "bin" / "python3.13"
    raw = subprocess.run([str(python), "-m", "test", "test_cmd_line"], env=env, capture_output=True, text=True,
                         timeout=900)
    assert raw.returncode != 0 and "test_cmd_line failed" in raw.stdout, raw.stdout[-2000:]


def test_suite_names_a_failing_test_and_exits_7(real_build, tmp_path):
    (tmp_path / "test_broken.py").write_text("import unittest\nclass T(unittest.TestCase):\n"
                                             "    def test_sum(self):\n        self.assertEqual(sum([1, 1]), 3)\n")
    proc = real_build.cli("verify", RECIPE, "--suite", "--suite-args", f"--testdir {tmp_path}", timeout=900)
    assert proc.returncode == 7, proc.stdout + proc.stderr
    assert "failed test_broken: failed (1 failure): test_broken.T.test_sum" in " ".join(proc.stdout.split())
    assert "0 of 1 files passed, 1 failed" in proc.stdout
