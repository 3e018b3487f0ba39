"""The verifier against real interpreters: pyenv's 3.12.1 and 3.13.0 when present, the test
runner's own Python (older than 3.12 here, or not), and copies of a build with parts removed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pybuild12.checks import verify

CHECKS_1_TO_7 = ["modules", "high-level API", "test.support helper", "lifecycle", "messages", "threads", "clean exit"]
SHAPE = {"python", "version", "api", "build", "ok", "checks"}
CHECK_SHAPE = {"name", "status", "reason", "figures"}


def pyenv_python(version: str) -> Path:
    try:
        prefix = subprocess.run(["pyenv", "prefix", version], capture_output=True, text=True, timeout=60).stdout.strip()
    except OSError:
        prefix = ""
    python = Path(prefix) / "bin" / f"python{version.rsplit('.', 1)[0]}"
    if not prefix or not python.exists():
        pytest.skip(f"pyenv's CPython {version} is not on this machine")
    return python


def by_name(report: verify.Report) -> dict[str, verify.Check]:
    return {c.name: c for c in report.checks}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybuild12", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def report_312():
    return verify.run(pyenv_python("3.12.1"))


@pytest.fixture(scope="module")
def report_313():
    return verify.run(pyenv_python("3.13.0"))


@pytest.mark.timing
def test_312_passes_through_the_312_api(report_312):
    checks = by_name(report_312)
    assert report_312.api == {"low_level": "_xxsubinterpreters", "high_level": "test.support.interpreters"}
    assert [n for n in CHECKS_1_TO_7 if checks[n].status != "passed"] == []
    assert "_testcapi" in checks["test.support helper"].reason
    assert "channels" in checks["messages"].reason
    assert checks["parallelism"].status in ("passed", "inconclusive")
    assert report_312.ok


@pytest.mark.timing
def test_313_passes_through_the_313_api(report_313):
    checks = by_name(report_313)
    assert report_313.api == {"low_level": "_interpreters", "high_level": "test.support.interpreters"}
    assert [n for n in CHECKS_1_TO_7 if checks[n].status != "passed"] == []
    assert "_testinternalcapi" in checks["test.support helper"].reason
    assert "channels" in checks["messages"].reason and "queues" in checks["messages"].reason
    assert report_313.ok


@pytest.mark.timing
def test_parallelism_reports_every_figure(report_313):
    figures = by_name(report_313)["parallelism"].figures
    if by_name(report_313)["parallelism"].status == "skipped":
        pytest.skip("one CPU")
    for key in ("interpreters_speedup", "threads_speedup", "processes_speedup"):
        assert figures[key] > 0
    assert figures["workers"] == min(os.cpu_count(), 4)


def test_json_shape_is_stable():
    # One worker: the parallelism check is skipped (its timing is tested elsewhere), the shape stays.
    out = cli("verify", "--python", str(pyenv_python("3.13.0")), "--json", "--workers", "1")
    data = json.loads(out.stdout)
    assert set(data) == SHAPE
    assert all(set(c) == CHECK_SHAPE for c in data["checks"])
    assert [c["name"] for c in data["checks"]] == ["variant", *verify.CHECK_NAMES]
    assert data["build"] == {"freethreaded": False, "debug": False, "jit": False, "tsan": False, "asan": False,
                             "ubsan": False}
    assert out.returncode == (0 if data["ok"] else 7)


def test_a_build_that_is_not_the_variant_asked_for_fails():
    report = verify.run(pyenv_python("3.13.0"), expect=("freethreaded", "jit"), workers=1)
    checks = by_name(report)
    assert checks["variant"].status == "failed"
    assert checks["variant"].reason == "expected freethreaded+jit, but this is a default build"
    assert checks["jit"].status == "failed" and "not available" in checks["jit"].reason
    assert "free-threading" not in checks  # only a free-threaded build gets the GIL scan
    assert not report.ok


@pytest.mark.timing
def test_a_default_build_passes_as_one(report_313):
    checks = by_name(report_313)
    assert checks["variant"].status == "passed" and checks["variant"].reason == "default build"
    assert "thread parallelism" not in checks


def test_python_before_312_gets_a_sentence_not_a_traceback():
    if sys.version_info >= (3, 12):
        pytest.skip("the test runner's Python has per-interpreter GILs")
    out = cli("verify", "--python", sys.executable)
    assert out.returncode == 7
    assert "no per-interpreter GIL before 3.12" in " ".join(out.stdout.split())  # the table wraps
    assert "Traceback" not in out.stdout + out.stderr


def test_not_a_python_is_an_error(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho hello\n")
    fake.chmod(0o755)
    out = cli("verify", "--python", str(fake))
    assert out.returncode == 2 and "is not a Python interpreter (it printed 'hello')" in out.stderr


PYENV_SHIM = """#!/bin/sh
echo "pyenv: python3.13: command not found" >&2
echo >&2
echo "The \\`python3.13' command exists in these Python versions:" >&2
echo "  3.13.0" >&2
echo >&2
echo "Note: See 'pyenv help global' for tips on allowing both" >&2
echo "      python2 and python3 to be found." >&2
exit 127
"""


def test_a_shim_that_cannot_run_python_is_heard(tmp_path, monkeypatch):
    """pyenv's shim, with no version selected that has python3.13, explains itself on stderr."""
    shim = tmp_path / "shims" / "python3.13"
    shim.parent.mkdir()
    shim.write_text(PYENV_SHIM)
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(verify.UsageError) as info:
        verify.interpreter("python3.13")
    message = info.value.message
    assert message.startswith(f"--python python3.13: {shim} is not a Python interpreter (exit code 127); on stderr:")
    assert "\n  pyenv: python3.13: command not found\n" in message
    assert "\n  The `python3.13' command exists in these Python versions:\n    3.13.0\n" in message
    out = subprocess.run([sys.executable, "-m", "pybuild12", "verify", "--python", "python3.13"], capture_output=True,
                         text=True, env={**os.environ}, timeout=60)
    assert out.returncode == 2 and "these Python versions:" in out.stderr and "3.13.0" in out.stderr
    assert "Traceback" not in out.stderr


def test_what_a_program_says_on_stderr_is_cut_and_made_printable():
    said = verify._first_lines("\n".join(f"line {i}\x1b[2J" for i in range(20)) + "\n")
    assert said.splitlines() == [f"  line {i}?[2J" for i in range(8)] + ["  ..."]
    assert verify._first_lines("") == ""


def test_unknown_build_name_exit_8():
    assert cli("verify", "3.13.5").returncode == 8


def copy_without(python: Path, dest: Path, *, drop: tuple[str, ...]) -> Path:
    """A copy of a CPython prefix (bin + lib) with some of its stdlib removed."""
    prefix = python.parent.parent
    minor = python.name.removeprefix("python")
    shutil.copytree(prefix / "bin", dest / "bin", symlinks=True)
    lib = prefix / "lib"
    shutil.copytree(lib / f"python{minor}", dest / "lib" / f"python{minor}", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "site-packages", "idlelib", "tkinter", "ensurepip"))
    for so in lib.glob("libpython*"):
        shutil.copy2(so, dest / "lib" / so.name)
    for name in drop:
        target = dest / "lib" / f"python{minor}" / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            for match in target.parent.glob(target.name):
                match.unlink()
    return dest / "bin" / python.name


def test_build_without_test_package_names_what_is_missing(tmp_path):
    python = copy_without(pyenv_python("3.13.0"), tmp_path / "stripped", drop=("test",))
    report = verify.run(python)
    checks = by_name(report)
    assert checks["modules"].status == "passed" and checks["clean exit"].status == "passed"
    assert checks["high-level API"].status == "failed"
    assert "test.support.interpreters" in checks["high-level API"].reason
    assert "test package is missing" in checks["high-level API"].reason
    assert checks["test.support helper"].status == "failed"
    assert "test package is missing" in checks["test.support helper"].reason
    for name in ("lifecycle", "messages", "threads", "parallelism"):
        assert checks[name].status == "failed" and "cannot be imported" in checks[name].reason
    assert not report.ok


def test_build_without_testcapi_names_it(tmp_path):
    python = copy_without(pyenv_python("3.12.1"), tmp_path / "no-testcapi", drop=("lib-dynload/_testcapi*.so",))
    checks = by_name(verify.run(python, workers=1))
    assert checks["test.support helper"].status == "failed"
    assert "_testcapi is missing" in checks["test.support helper"].reason
    assert checks["lifecycle"].status == "passed"


def test_full_runs_cpythons_own_tests():
    report = verify.run(pyenv_python("3.12.1"), full=True, workers=1)
    regression = by_name(report)["regression tests"]
    assert regression.status == "passed", regression.reason
    assert regression.figures["run"] > 100
    assert "test__xxsubinterpreters" in regression.reason


# ------------------------------------------------ the parallelism verdict


def verify_interp():
    import importlib.util
    from importlib import resources

    path = resources.files("pybuild12").joinpath("resources/verify_interp.py")
    spec = importlib.util.spec_from_file_location("verify_interp_under_test", str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_round(interp_cpu, proc_cpu, interp_speedup=1.0):
    return {"interpreters": {"speedup": interp_speedup, "cpu_per_wall": interp_cpu},
            "threads": {"speedup": 1.0, "cpu_per_wall": 1.0},
            "processes": {"speedup": proc_cpu, "cpu_per_wall": proc_cpu}}


@pytest.mark.parametrize("rounds, expected", [
    ([one_round(1.97, 1.98, 1.9)], "passed"),  # idle machine
    ([one_round(0.9, 1.0), one_round(1.6, 1.2)], "passed"),  # a busy round, then proof
    ([one_round(0.95, 0.99, 1.8)] * 6, "inconclusive"),  # busy throughout: even a 1.8x speedup proves nothing
    ([one_round(1.0, 1.97)] * 2, "inconclusive"),  # serial while processes scaled, but only twice
    ([one_round(1.0, 1.97)] * 3, "failed"),  # three rounds: the interpreters never overlapped
    ([one_round(1.0, 1.97)] * 3 + [one_round(1.0, 1.97, 1.4)], "inconclusive"),  # one round not clearly serial
])
def test_parallelism_verdict_rests_on_cpu_time_not_speedups(rounds, expected):
    assert verify_interp().verdict(rounds, "interpreters", 2) == expected


def test_parallelism_beside_two_busy_processes_is_inconclusive_not_failed():
    """The check that once failed (and deleted) finished builds on a busy machine."""
    python = pyenv_python("3.13.0")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU")
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count())]
    try:
        report = verify.run(python)
    finally:
        for b in burners:
            b.kill()
            b.wait(timeout=10)
    check = by_name(report)["parallelism"]
    assert check.status == "inconclusive", check
    assert "a busy machine?" in check.reason and check.figures["rounds"] == verify_interp().ROUNDS
    assert report.ok  # inconclusive never fails a verification


def test_a_required_module_that_does_not_import_fails_by_name():
    """pyenv's 3.13.0 was built without ndbm.h: dbm.ndbm (_dbm) is not there."""
    python = pyenv_python("3.13.0")
    missing = verify.required_modules_check(python, ["json", "dbm.ndbm"])
    assert missing.status == verify.FAILED
    assert "dbm.ndbm (ModuleNotFoundError: No module named '_dbm')" in missing.reason and "json" not in missing.reason
    fine = verify.required_modules_check(python, ["json", "ssl"])
    assert fine.status == verify.PASSED and fine.reason == "imported json, ssl"
