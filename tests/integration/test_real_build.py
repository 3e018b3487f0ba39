"""`pybuild12 install 3.13.5 --no-lto` for real: an --enable-optimizations build from a local mirror."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from realbuild import RECIPE, TARBALL, QuietHandler

pytestmark = pytest.mark.integration


def run_python(build, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(build.prefix / "bin/python3.13"), "-c", code], capture_output=True, text=True)


def test_install_succeeds_and_prints_the_python(real_build):
    assert real_build.install.returncode == 0, real_build.install.stderr[-3000:]
    assert real_build.install.stdout.strip().splitlines()[-1] == str(real_build.prefix / "bin/python3.13")


def test_source_came_from_the_mirror(real_build):
    receipt = real_build.receipt
    fetched = receipt["source"]["fetched_from"]
    assert fetched in (f"{real_build.mirror}/{TARBALL}", "cache")
    if not os.environ.get("PYBUILD12_TEST_HOME"):
        assert fetched == f"{real_build.mirror}/{TARBALL}"
        assert f"/{TARBALL}" in QuietHandler.requests_seen


def test_phases_are_shown_with_times(real_build):
    if "already installed" in real_build.install.stderr:
        pytest.skip("build reused from PYBUILD12_TEST_HOME")
    err = real_build.install.stderr
    for phase in ("fetch", "extract", "configure", "compile with PGO", "install", "check", "verify"):
        assert f"✓ {phase}" in err
    assert "PGO 2/3: training run" in err


def test_installed_python_is_the_pinned_optimized_release(real_build):
    proc = run_python(real_build, "import sys, sysconfig; print(sys.version.split()[0]); "
                                  "print(sysconfig.get_config_var('CONFIG_ARGS')); "
                                  "print(sysconfig.get_config_var('CONFIGURE_CFLAGS_NODIST'))")
    assert proc.returncode == 0, proc.stderr
    version, config_args, cflags_nodist = proc.stdout.splitlines()
    assert version == RECIPE
    assert "'--enable-optimizations'" in config_args and "--with-lto" not in config_args
    assert "-flto" not in cflags_nodist.split()  # --no-lto (the LTO default: test_lto_build.py)
    assert f"'--prefix={real_build.prefix}'" in config_args


def test_subinterpreter_modules_import_and_run(real_build):
    code = (
        "import _interpreters, test.support.interpreters as interpreters\n"
        "interp = interpreters.create()\n"
        "interp.exec('x = 40 + 2')\n"
        "print(len(interpreters.list_all()))\n"
        "interp.close()\n"
        "print(len(interpreters.list_all()))\n"
    )
    proc = run_python(real_build, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["2", "1"]


def test_required_stdlib_modules_are_there(real_build):
    proc = run_python(real_build, "import ssl, zlib, ctypes, sqlite3, bz2, lzma; print(ssl.OPENSSL_VERSION)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("OpenSSL")


def test_every_optional_module_the_official_images_have_is_built(real_build):
    """scripts/install-build-deps installs what each one needs: _dbm (libgdbm-compat-dev),
    _gdbm, _tkinter, _curses, readline, _uuid ... CPython's build names none it lacks."""
    assert real_build.receipt["modules"] == {}, real_build.receipt["modules"]
    proc = run_python(real_build, "import dbm.ndbm, dbm.gnu, curses, readline, uuid, _uuid, _tkinter, decimal")
    assert proc.returncode == 0, proc.stderr


def test_receipt_is_complete(real_build):
    receipt = real_build.receipt
    assert receipt["name"] == RECIPE and receipt["recipe"]["version"] == RECIPE
    assert receipt["source"]["sha256"] == "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"
    assert receipt["source"]["url"].endswith(f"/{RECIPE}/{TARBALL}")
    assert receipt["configure_args"] == [f"--prefix={real_build.prefix}", "--enable-optimizations"]
    assert "configure_env" not in receipt  # the per-object seed is for LTO builds only
    assert len(receipt["recipe"]["content_sha256"]) == 64
    assert receipt["compiler"].split()[0] in ("gcc", "cc", "clang") or "gcc" in receipt["compiler"]
    assert set(receipt["timings"]) == {"fetch", "extract", "configure", "compile", "install", "bytecode", "check",
                                       "verify", "manifest", "profile", "cache"}
    assert receipt["timings"]["compile"] > 60  # a PGO build of CPython is minutes, not seconds
    assert receipt["host"]["machine"] and receipt["pybuild12_version"]
    assert os.path.isfile(receipt["log"])


def test_list_and_which(real_build):
    listed = real_build.cli("list", "--json")
    assert listed.returncode == 0
    data = json.loads(listed.stdout)
    assert [b["name"] for b in data["installed"]] == [RECIPE]
    assert data["installed"][0]["version"] == RECIPE
    which = real_build.cli("which", RECIPE)
    assert which.stdout.strip() == str(real_build.prefix / "bin/python3.13")


def test_nothing_left_behind(real_build):
    pythons = real_build.home / "data" / "pythons"
    assert sorted(p.name for p in pythons.iterdir()) == [RECIPE]
    assert not (real_build.home / "cache" / "build" / RECIPE).exists()


def test_interrupted_rebuild_keeps_the_install(real_build):
    """Ctrl-C during a real --force rebuild: exit 130, the installed build still runs."""
    receipt_before = (real_build.prefix / "pybuild12.json").read_text()
    proc = subprocess.Popen([sys.executable, "-m", "pybuild12", "install", RECIPE, "--force", "--no-cache"],
                            env=real_build.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    logs = real_build.home / "logs"
    start_count = len(list(logs.glob("*.log")))
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the rebuild ended before configure started:\n{proc.stderr.read()}")
        newest = sorted(logs.glob("*.log"), key=os.path.getmtime)
        if len(newest) > start_count and "$ ./configure" in newest[-1].read_text():
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.terminate()  # a rebuild left running would hold the build's lock for the later tests
            proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert (real_build.prefix / "pybuild12.json").read_text() == receipt_before
    assert run_python(real_build, "print('alive')").stdout == "alive\n"
    pythons = real_build.home / "data" / "pythons"
    assert sorted(p.name for p in pythons.iterdir()) == [RECIPE]


def test_uninstall_removes_only_that_build(real_build):
    pythons = real_build.home / "data" / "pythons"
    copy = pythons / "scratch-copy"
    shutil.copytree(real_build.prefix, copy, symlinks=True)
    proc = real_build.cli("uninstall", "scratch-copy")
    assert proc.returncode == 0, proc.stderr
    assert not copy.exists() and real_build.prefix.is_dir()
    again = real_build.cli("uninstall", "scratch-copy")
    assert again.returncode == 8 and "no build named" in again.stderr
