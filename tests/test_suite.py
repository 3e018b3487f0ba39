"""`pybuild12 verify --suite`: reading regrtest's output, and real runs of pyenv's 3.13.0
regrtest on a directory of hand-made test files (`--testdir`): one that passes, one that
fails, one for a module the build lacks, one for a resource not enabled, one for another
platform, one whose failure is a known machine failure, and one that fails when
PYTHONUNBUFFERED is set, as CPython's test_cmd_line does. The whole suite on a real
build is in tests/integration/test_suite_build.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pybuild12.checks import suite
from pybuild12.core.report import Reporter
from test_compat import pyenv_python

FILES = {
    "test_passes.py": ("import unittest\nclass T(unittest.TestCase):\n"
                       "    def test_ok(self):\n        self.assertTrue(True)\n"),
    "test_fails.py": ("import unittest\nclass T(unittest.TestCase):\n    def test_ok(self):\n        pass\n"
                      "    def test_broken(self):\n        self.assertEqual(1, 2)\n"),
    "test_nomodule.py": "from test.support import import_helper\nimport_helper.import_module('_pybuild12_absent')\n",
    "test_gui.py": "from test import support\nsupport.requires('gui')\n",
    "test_winonly.py": "from test.support import import_helper\nimport_helper.import_module('winreg')\n",
    # As CPython's own test_socket where a vsock device has no listener.
    "test_socket.py": ("import unittest\nclass ThreadedVSOCKSocketStreamTest(unittest.TestCase):\n"
                       "    def testStream(self):\n        raise TimeoutError('timed out')\n"),
    # As test_cmd_line: stdout is buffered unless PYTHONUNBUFFERED says otherwise.
    "test_buffered.py": ("import os, unittest\nclass T(unittest.TestCase):\n    def test_env(self):\n"
                         "        self.assertNotIn('PYTHONUNBUFFERED', os.environ)\n"),
}


@pytest.fixture(scope="module")
def testdir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("suite-tests")
    for name, text in FILES.items():
        (directory / name).write_text(text)
    return directory


ALWAYS = (suite.Known("test_socket", r"VSOCK", "no vsock listener here"),)


@pytest.fixture(scope="module")
def result(testdir, tmp_path_factory):
    python = pyenv_python("3.13.0")
    log = tmp_path_factory.mktemp("log") / "suite.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONFOO": "x"}
    return suite.run(python, workers=2, timeout=120, args=["--testdir", str(testdir)], log_path=log, env=env,
                     known=ALWAYS)


def by_name(result: suite.SuiteResult) -> dict[str, suite.TestFile]:
    return {f.name: f for f in result.files}


def test_each_file_gets_its_category(result):
    found = by_name(result)
    assert set(found) == {Path(n).stem for n in FILES} and result.total == len(FILES)
    assert found["test_passes"].status == "passed"
    assert found["test_fails"].status == "failed" and found["test_fails"].cases == ["test_fails.T.test_broken"]
    assert (found["test_nomodule"].status, found["test_nomodule"].category, found["test_nomodule"].subject) == \
        ("skipped", "missing module", "_pybuild12_absent")
    assert (found["test_gui"].category, found["test_gui"].subject) == ("resource not enabled", "gui")
    assert found["test_winonly"].category == "platform"
    assert result.skipped() == {"missing module": {"_pybuild12_absent": ["test_nomodule"]},
                                "resource not enabled": {"gui": ["test_gui"]}, "platform": {"winreg": ["test_winonly"]}}
    assert not result.ok  # test_fails


def test_a_known_machine_failure_is_environment_not_the_builds(result):
    found = by_name(result)
    assert found["test_socket"].status == "environment"
    assert found["test_socket"].cases == ["test_socket.ThreadedVSOCKSocketStreamTest.testStream"]
    assert result.machine == ["test_socket: no vsock listener here"]


def test_the_variables_that_change_outcomes_are_unset_and_named(result):
    assert by_name(result)["test_buffered"].status == "passed"  # PYTHONUNBUFFERED=1 was set for pybuild12
    assert result.unset["PYTHONUNBUFFERED"].startswith("test_cmd_line checks")
    assert "test_compileall" in result.unset["PYTHONDONTWRITEBYTECODE"]
    assert result.unset["PYTHONFOO"] == suite.GENERIC


def test_the_same_run_without_the_cleaning_fails_the_buffering_test(testdir, tmp_path):
    """Ground truth for the cleaning: regrtest itself, with PYTHONUNBUFFERED=1 left in."""
    python = pyenv_python("3.13.0")
    proc = subprocess.run([str(python), "-m", "test", "--testdir", str(testdir), "test_buffered"], cwd=tmp_path,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"}, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "test_buffered failed" in proc.stdout


def test_a_machine_failure_elsewhere_stays_a_failure():
    files = {"test_socket": suite.TestFile("test_socket", "failed", "failed (2 errors)")}
    cases = ["test.test_socket.ThreadedVSOCKSocketStreamTest.testStream", "test.test_socket.GeneralModuleTests.test_x"]
    assert suite.attribute(files, cases, ALWAYS) == []
    assert files["test_socket"].status == "failed" and len(files["test_socket"].cases) == 2
    never = (suite.Known("test_socket", r"VSOCK", "why", lambda: False),)
    only_vsock = {"test_socket": suite.TestFile("test_socket", "failed", "")}
    assert suite.attribute(only_vsock, cases[:1], never) == [] and only_vsock["test_socket"].status == "failed"


def test_regrtest_lines_are_read_as_regrtest_prints_them():
    lines = [
        "0:00:00 load avg: 4.18 Run 6 tests in parallel using 2 worker processes "
        "(timeout: 2 min, worker timeout: 3 min)",
        "0:00:00 load avg: 4.18 [1/6] test_tkinter skipped (resource denied)",
        "test_tkinter skipped -- Use of the 'gui' resource not enabled",
        "0:00:01 load avg: 4.18 [2/6] test_winreg skipped",
        "test_winreg skipped -- No module named 'winreg'",
        "0:00:51 load avg: 4.31 [3/6/1] test_socket failed (2 errors) (51.4 sec)",
        "0:01:51 load avg: 4.31 [4/6/2] test_slow timed out (20 min 0 sec)",
        "0:01:52 load avg: 4.31 [5/6/2] test_threading failed (env changed)",
        "0:01:53 load avg: 4.31 [6/6/2] test_kqueue skipped",
        "test_kqueue skipped -- test works only on BSD",
        "Total tests: run=93 skipped=7",
    ]
    found, total, tests = suite.parse_output(lines)
    assert total == 6 and tests == "run=93 skipped=7"
    assert {n: f.status for n, f in found.items()} == {
        "test_tkinter": "skipped", "test_winreg": "skipped", "test_socket": "failed", "test_slow": "failed",
        "test_threading": "env changed", "test_kqueue": "skipped"}
    assert found["test_kqueue"].category == "platform" and found["test_tkinter"].subject == "gui"


def test_cli_json_and_exit_code(testdir, tmp_path):
    python = pyenv_python("3.13.0")
    env = {**os.environ, "PYBUILD12_HOME": str(tmp_path)}
    ran = subprocess.run([sys.executable, "-m", "pybuild12", "verify", "--python", str(python), "--suite", "--json",
                          "--suite-args", f"--testdir {testdir} test_passes test_gui"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert ran.returncode == 0, ran.stderr
    data = json.loads(ran.stdout)
    assert data["ok"] and data["counts"]["passed"] == 1
    assert data["skipped"] == {"resource not enabled": {"gui": ["test_gui"]}}
    assert "1 of 2 files" in ran.stderr or "2 of 2 files" in ran.stderr  # the progress line
    failing = subprocess.run([sys.executable, "-m", "pybuild12", "verify", "--python", str(python), "--suite",
                              "--suite-args", f"--testdir {testdir} test_fails"],
                             capture_output=True, text=True, env=env, timeout=300)
    assert failing.returncode == 7, failing.stderr
    assert "failed test_fails: failed (1 failure): test_fails.T.test_broken" in " ".join(failing.stdout.split())


@pytest.mark.parametrize("args", [["--suite", "--files"], ["--suite", "--full"], ["--suite-args", "x"],
                                  ["--suite", "--suite-args", "'unclosed"]])
def test_suite_options_that_cannot_mean_anything(args, tmp_path):
    python = pyenv_python("3.13.0")
    ran = subprocess.run([sys.executable, "-m", "pybuild12", "verify", "--python", str(python), *args],
                         capture_output=True, text=True, env={**os.environ, "PYBUILD12_HOME": str(tmp_path)},
                         timeout=60)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr


def test_a_test_file_the_build_does_not_have_is_no_verdict_on_the_build(testdir, tmp_path):
    """A typo in --suite-args is a usage error; a test package without its files is named."""
    python = pyenv_python("3.13.0")
    typo = subprocess.run([sys.executable, "-m", "pybuild12", "verify", "--python", str(python), "--suite",
                           "--suite-args", f"--testdir {testdir} test_passes test_passess"], capture_output=True,
                          text=True, env={**os.environ, "PYBUILD12_HOME": str(tmp_path)}, timeout=300)
    assert typo.returncode == 2, typo.stdout + typo.stderr
    # refused before the suite runs (regrtest itself would run test_passes first)
    assert "the suite has no test file named test_passess" in typo.stderr and "Traceback" not in typo.stderr
    assert "suite:" not in typo.stderr
    lines = ["0:00:00 load avg: 1.0 [1/2/1] test_gone failed (uncaught exception)",
             "ModuleNotFoundError: No module named 'test.test_gone'",
             "0:00:00 load avg: 1.0 [2/2/1] test_passes passed"]
    found, _, _ = suite.parse_output(lines)
    assert found["test_gone"].status == "not found" and found["test_passes"].status == "passed"
    with pytest.raises(suite.CheckError) as info:
        suite._refuse_absent(python, found, [], lines, tmp_path / "log", False)
    assert "1 of the suite's 2 test files are not there (test_gone)" in info.value.message


# ---------------------------------------------------------------- the progress line and the summary

class Shown(Reporter):
    """What the user sees of a suite run: its status lines and its end line."""

    def __init__(self):
        self.statuses: list[str] = []
        self.outcome: tuple[str, bool] | None = None

    def status(self, text):
        self.statuses.append(text)

    def phase_outcome(self, text, ok=True):
        self.outcome = (text, ok)


def fake_regrtest(directory: Path, lines: list[str], failing: tuple[str, ...] = (), code: int = 0) -> Path:
    """A `python` whose `-m test` prints `lines` as regrtest would, writes a JUnit XML in which
    the `failing` test cases errored, and exits with `code`."""
    cases = "".join(f'<testcase name="{c}"><error message="x"/></testcase>' for c in failing)
    junit = f"<testsuites><testsuite>{cases}</testsuite></testsuites>"
    python = directory / "python3"
    python.write_text(f"#!{sys.executable}\nimport sys\n"
                      f"open(sys.argv[sys.argv.index('--junit-xml') + 1], 'w').write({junit!r})\n"
                      f"print({chr(10).join(lines)!r}, flush=True)\nsys.exit({code})\n")
    python.chmod(0o755)
    return python


def run_shown(python: Path, tmp_path: Path, known=ALWAYS) -> tuple[suite.SuiteResult, Shown]:
    shown = Shown()
    result = suite.run(python, workers=2, log_path=tmp_path / "suite.log", reporter=shown, env={}, known=known)
    return result, shown


def counts(result: suite.SuiteResult) -> dict[str, int]:
    return result.as_json()["counts"]


def test_an_env_changed_file_is_not_counted_as_failed_while_the_suite_runs(tmp_path):
    """regrtest's own count ("[2/3/1]") adds "env changed" files to the failed ones; the
    summary does not, and so neither does the progress line."""
    python = fake_regrtest(tmp_path, [
        "0:00:00 load avg: 1.0 [1/3] test_a passed",
        "0:00:01 load avg: 1.0 [2/3/1] test_threading failed (env changed)",
        "0:00:02 load avg: 1.0 [3/3/1] test_b passed",
        "Total tests: run=30",
        "Result: SUCCESS"])
    result, shown = run_shown(python, tmp_path)
    assert result.ok and counts(result)["failed"] == 0 and counts(result)["env changed"] == 1
    assert not any("1 failed" in s for s in shown.statuses), shown.statuses
    assert shown.statuses[-1] == "3 of 3 files, 0 failed, 1 env changed (last: test_b)"
    assert shown.outcome == ("suite: 3 of 3 files, 2 passed, 0 failed, 1 env changed", True)


def test_a_machine_failure_ends_counted_as_the_summary_counts_it(tmp_path):
    python = fake_regrtest(tmp_path, [
        "0:00:00 load avg: 1.0 [1/2] test_a passed",
        "0:00:09 load avg: 1.0 [2/2/1] test_socket failed (1 error)",
        "Total tests: run=300 failures=1",
        "Result: FAILURE"], failing=("test.test_socket.ThreadedVSOCKSocketStreamTest.testStream",), code=2)
    result, shown = run_shown(python, tmp_path)
    assert result.ok and counts(result)["failed"] == 0 and counts(result)["environment"] == 1
    assert shown.statuses[-1] == "2 of 2 files, 1 failed (last: test_socket)"  # the JUnit XML is read at the end
    assert shown.outcome == ("suite: 2 of 2 files, 1 passed, 0 failed, 1 failed because of the machine", False)


def test_a_file_that_passes_when_re_run_counts_once_and_as_passed(tmp_path):
    """`--suite-args --rerun`: regrtest runs the failed files again, counting from 1 of 1."""
    python = fake_regrtest(tmp_path, [
        "0:00:00 load avg: 1.0 [1/3] test_a passed",
        "0:00:01 load avg: 1.0 [2/3/1] test_flaky failed (1 failure)",
        "0:00:02 load avg: 1.0 [3/3/1] test_b passed",
        "Re-running 1 failed tests in verbose mode in subprocesses",
        "0:00:03 load avg: 1.0 [1/1] test_flaky passed",
        "Total tests: run=31 failures=1",
        "Result: FAILURE then SUCCESS"])
    result, shown = run_shown(python, tmp_path)
    flaky = {f.name: f for f in result.files}["test_flaky"]
    assert result.total == 3 and flaky.status == "passed" and "re-run" in flaky.detail
    assert result.ok and counts(result) == {"passed": 3, "failed": 0, "skipped": 0, "environment": 0, "env changed": 0}
    assert "3 of 3 files, 1 failed, re-running it" in shown.statuses
    assert shown.statuses[-1] == "3 of 3 files, 0 failed (re-run: test_flaky passed)"
    assert shown.outcome == ("suite: 3 of 3 files, 3 passed, 0 failed", True)


def test_a_file_that_fails_again_when_re_run_stays_failed(tmp_path):
    python = fake_regrtest(tmp_path, [
        "0:00:00 load avg: 1.0 [1/2/1] test_broken failed (1 failure)",
        "0:00:01 load avg: 1.0 [2/2/1] test_b passed",
        "Re-running 1 failed tests in verbose mode in subprocesses",
        "0:00:03 load avg: 1.0 [1/1/1] test_broken failed (1 failure)",
        "1 test failed again:",
        "    test_broken",
        "Result: FAILURE then FAILURE"], failing=("test.test_broken.T.test_x",) * 2, code=2)  # once a pass
    result, shown = run_shown(python, tmp_path)
    assert result.total == 2 and not result.ok and counts(result)["failed"] == 1
    assert result.by_status("failed")[0].cases == ["test.test_broken.T.test_x"]
    assert shown.statuses[-1] == "2 of 2 files, 1 failed (re-run: test_broken failed (1 failure))"
    assert shown.outcome == ("suite: 2 of 2 files, 1 passed, 1 failed", False)
