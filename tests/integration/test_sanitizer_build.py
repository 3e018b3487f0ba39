"""A real ThreadSanitizer build finds a real race: `pybuild12 install 3.13.5t+tsan`
(free-threaded, clang 19 with its compiler-rt, no PGO, no LTO), verified under the
sanitizer; then a C extension (racy/) installed with pip into a venv of that build,
compiled with the build's own CC and -fsanitize=thread from its sysconfig, whose tests
run from several threads at once by pytest-run-parallel: the racing function is
reported by name and the run fails; the same function made atomic passes clean.

The AddressSanitizer build (a use-after-free reported with its stack) is marked heavy:
CI's budget holds one sanitizer build.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from realbuild import apart_env, completed, install_apart, once, run_of

pytestmark = pytest.mark.integration
NAME = "3.13.5+freethreaded+tsan"
RACY = Path(__file__).parent / "racy"
PIP_TIMEOUT = 1800  # pip runs under ThreadSanitizer: several times slower than plain


def _sanitizer_toolchain_or_skip() -> None:
    from pybuild12.builder import preflight

    missing = [c for c in preflight.sanitizer_toolchain(("tsan", "asan"), dict(os.environ)) if not c.ok]
    if missing:
        message = "; ".join(f"{c.name}: {c.detail}" for c in missing)
        if os.environ.get("CI"):
            pytest.fail(f"the sanitizer toolchain is missing under CI: {message}")
        pytest.skip(f"no sanitizer toolchain here ({message}): apt-get install clang-19 libclang-rt-19-dev")


@pytest.fixture(scope="module")
def tsan_build(mirror_server, shared_dir, ccache_dir):
    _sanitizer_toolchain_or_skip()
    home = shared_dir / "tsan-home"
    extra = {"CCACHE_DIR": str(ccache_dir)}

    def make() -> dict:
        proc, _ = install_apart(home, "3.13.5t+tsan", "--ccache", mirror=mirror_server, extra_env=extra)
        return completed(proc)

    made = once(shared_dir, "tsan-build", make)
    return {"proc": run_of(made), "prefix": home / "data" / "pythons" / NAME,
            "env": apart_env(home, mirror=mirror_server, extra_env=extra), "home": home}


def _venv_with_racy(build, directory: Path) -> Path:
    """A venv of the build with pytest, pytest-run-parallel and racy/ installed by pip."""
    made = subprocess.run([sys.executable, "-m", "pybuild12", "venv", NAME, str(directory)], env=build["env"],
                          capture_output=True, text=True, timeout=PIP_TIMEOUT)
    assert made.returncode == 0, made.stderr[-3000:]
    source = directory.parent / "racy-src"
    shutil.copytree(RACY, source)
    pip = subprocess.run([str(directory / "bin" / "python"), "-m", "pip", "install", "-q",
                          "--disable-pip-version-check", "pytest", "pytest-run-parallel", str(source)],
                         env=_activated(directory, build["env"]), capture_output=True, text=True, timeout=PIP_TIMEOUT)
    assert pip.returncode == 0, (pip.stdout + pip.stderr)[-5000:]
    return source


def _activated(venv: Path, env: dict) -> dict:
    """`env` as `source venv/bin/activate` leaves it (read back from a shell that did)."""
    out = subprocess.run(["bash", "-c", f'source "{venv}/bin/activate" && env -0'], env=env, capture_output=True,
                         check=True)
    return dict(item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)


@pytest.fixture(scope="module")
def racy_venv(tsan_build, tmp_path_factory):
    assert tsan_build["proc"].returncode == 0, tsan_build["proc"].stderr[-3000:]
    venv = tmp_path_factory.mktemp("racy") / "venv"
    source = _venv_with_racy(tsan_build, venv)
    return {"venv": venv, "source": source, "env": _activated(venv, tsan_build["env"])}


def _pytest_in_parallel(racy_venv, test: str) -> subprocess.CompletedProcess:
    # --capture=sys: pytest's default (fd) capture would swallow a report written while a
    # test that passes runs, leaving only TSan's exit code and its last line.
    return subprocess.run([str(racy_venv["venv"] / "bin" / "python"), "-m", "pytest", "-p", "no:cacheprovider",
                           "--capture=sys", "--parallel-threads=4", f"test_racy.py::{test}"], cwd=racy_venv["source"],
                          env=racy_venv["env"], capture_output=True, text=True, timeout=PIP_TIMEOUT)


def test_the_tsan_build_is_made_with_clang_and_verified_under_the_sanitizer(tsan_build):
    assert tsan_build["proc"].returncode == 0, tsan_build["proc"].stderr[-3000:]
    prefix = tsan_build["prefix"]
    receipt = json.loads((prefix / "pybuild12.json").read_text())
    assert receipt["variants"] == ["freethreaded", "tsan"]
    assert "--with-thread-sanitizer" in receipt["configure_args"]
    assert "--disable-gil" in receipt["configure_args"]
    assert "--enable-optimizations" not in receipt["configure_args"]  # no PGO, no LTO
    assert "clang version 19" in receipt["compiler"]
    checks = {c["name"]: c for c in receipt["verification"]["checks"]}
    assert checks["sanitizer"]["status"] == "passed", checks["sanitizer"]
    assert checks["variant"]["status"] == "passed", checks["variant"]
    assert checks["free-threading"]["status"] == "passed", checks["free-threading"]
    suppressions = prefix / "share" / "pybuild12" / "sanitizers" / "tsan" / "suppressions_free_threading.txt"
    text = suppressions.read_text()
    assert text.count("race_top:") > 20  # CPython 3.13.5's own file, installed with the build,
    assert text.rstrip().endswith("race_top:run_eval_code_obj")  # with pybuild12's known 3.13 race after it
    cc = subprocess.run([str(prefix / "bin" / "python3.13t"), "-c", "import sysconfig; "
                         "print(sysconfig.get_config_var('CC')); print(sysconfig.get_config_var('CFLAGS'))"],
                        capture_output=True, text=True, env={**tsan_build["env"], "TSAN_OPTIONS": "handle_segv=0"})
    assert cc.returncode == 0, cc.stderr[-2000:]
    compiler, cflags = cc.stdout.splitlines()
    assert os.path.isabs(compiler) and "clang" in compiler  # extensions are compiled with the same clang
    assert "-fsanitize=thread" in cflags


def test_run_sets_the_builds_options_before_the_users_own(tsan_build):
    assert tsan_build["proc"].returncode == 0, tsan_build["proc"].stderr[-3000:]
    env = {**tsan_build["env"], "TSAN_OPTIONS": "verbosity=0"}
    out = subprocess.run([sys.executable, "-m", "pybuild12", "run", NAME, "--", "-c",
                          "import os; print(os.environ['TSAN_OPTIONS'])"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    installed = tsan_build["prefix"] / "share" / "pybuild12" / "sanitizers"
    suppressions = installed / "tsan" / "suppressions_free_threading.txt"
    marker = json.loads((installed / "sanitizers.json").read_text())
    symbolizer = f":external_symbolizer_path={marker['symbolizer']}" if marker["symbolizer"] else ""
    assert out.stdout.strip() == f"handle_segv=0:suppressions={suppressions}{symbolizer}:verbosity=0"


def test_a_race_in_a_c_extension_is_reported_by_name_and_fails_the_run(racy_venv):
    assert racy_venv["env"]["TSAN_OPTIONS"].startswith("handle_segv=0:suppressions=")  # the activate script's
    out = _pytest_in_parallel(racy_venv, "test_bump")
    report = out.stdout + out.stderr
    assert "WARNING: ThreadSanitizer: data race" in report, report[-4000:]
    assert re.search(r"#0 bump \S*racy\.c:\d+", report), report[-4000:]  # the racing function, by name and line
    assert out.returncode == 66, report[-2000:]  # ThreadSanitizer's exit code: the run fails


def test_the_same_function_made_atomic_reports_nothing(racy_venv):
    out = _pytest_in_parallel(racy_venv, "test_bump_atomic")
    report = out.stdout + out.stderr
    assert out.returncode == 0, report[-4000:]
    assert "ThreadSanitizer" not in report
    assert "4 threads" in report or "passed" in report


def test_compat_names_the_module_whose_import_races(racy_venv, tsan_build):
    python = racy_venv["venv"] / "bin" / "python"
    # Ground truth first: the import, as a user would run it under the build's options, reports the race.
    truth = subprocess.run([str(python), "-c", "import racy_import"], env=racy_venv["env"], capture_output=True,
                           text=True, timeout=300)
    assert "WARNING: ThreadSanitizer: data race" in truth.stderr and truth.returncode == 66, truth.stderr[-3000:]
    scanned = subprocess.run([sys.executable, "-m", "pybuild12", "compat", "--venv", str(racy_venv["venv"]),
                              "-m", "racy_import", "-m", "racy", "--json", "--timeout", "120"],
                             env=tsan_build["env"], capture_output=True, text=True, timeout=900)
    answer = json.loads(scanned.stdout)
    found = {m["name"]: m for m in answer["modules"]}
    assert found["racy_import"]["main"] == "crash" and found["racy_import"]["verdict"] == "crashes on import", found
    assert "the sanitizer reported: WARNING: ThreadSanitizer: data race" in found["racy_import"]["detail"], found
    assert "count" in found["racy_import"]["detail"]  # the racing function, from the report's stack
    assert found["racy"]["main"] == "ok", found  # importing the other module races on nothing
    package = next(p for p in answer["packages"] if p["name"] == "racy")
    assert package["verdict"] == "crashes" and package["module"] == "racy_import", package


@pytest.mark.heavy
def test_asan_reports_a_use_after_free_with_its_stack(mirror_server, tmp_path_factory, ccache_dir):
    _sanitizer_toolchain_or_skip()
    home = tmp_path_factory.mktemp("asan-home")
    proc, env = install_apart(home, "3.13.5+asan", "--ccache", mirror=mirror_server,
                              extra_env={"CCACHE_DIR": str(ccache_dir)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    build = {"env": env}
    venv = tmp_path_factory.mktemp("uaf") / "venv"
    made = subprocess.run([sys.executable, "-m", "pybuild12", "venv", "3.13.5+asan", str(venv)], env=env,
                          capture_output=True, text=True, timeout=PIP_TIMEOUT)
    assert made.returncode == 0, made.stderr[-3000:]
    source = venv.parent / "racy-src"
    shutil.copytree(RACY, source)
    activated = _activated(venv, build["env"])
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(source)], env=activated,
                         capture_output=True, text=True, timeout=PIP_TIMEOUT)
    assert pip.returncode == 0, (pip.stdout + pip.stderr)[-5000:]
    out = subprocess.run([str(venv / "bin" / "python"), "-c", "import racy; racy.use_after_free()"], env=activated,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode != 0
    assert "ERROR: AddressSanitizer: heap-use-after-free" in out.stderr, out.stderr[-4000:]
    assert re.search(r"#\d+ \S+ in use_after_free \S*racy\.c:\d+", out.stderr), out.stderr[-4000:]
