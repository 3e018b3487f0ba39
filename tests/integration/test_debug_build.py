"""A real debug build: `pybuild12 install 3.13.5+debug` (--with-pydebug, the build
CPython's own developers work with).

A debug build goes without PGO and LTO (about 2 minutes on 2 cores), so it is
cheap to build for real: it proves that the variant reaches configure, that the
installed interpreter is a Py_DEBUG one, and that sub-interpreters with their own
GIL pass every check on it too. It is also the build made without one library's
headers (configure is told it found no gdbm.h, as on a machine without libgdbm-dev):
the receipt, `list` and the install's warnings name the _gdbm module it lacks, and
CPython's test suite skips test_dbm_gnu for that module.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration
NAME = "3.13.5+debug"  # the debug_build fixture (conftest.py) installs it


def test_debug_install_is_plain_and_verified(debug_build):
    assert debug_build["proc"].returncode == 0, debug_build["proc"].stderr[-3000:]
    receipt = json.loads((debug_build["prefix"] / "pybuild12.json").read_text())
    assert receipt["variants"] == ["debug"]
    assert receipt["configure_args"] == [f"--prefix={debug_build['prefix']}", "--with-pydebug"]
    assert "pgo_profile" not in receipt  # no training run for a debug build
    checks = {c["name"]: c for c in receipt["verification"]["checks"]}
    assert checks["variant"]["status"] == "passed" and checks["debug build"]["status"] == "passed"
    for name in ("modules", "high-level API", "test.support helper", "lifecycle", "messages", "threads",
                 "clean exit"):
        assert checks[name]["status"] == "passed", checks[name]
    assert checks["parallelism"]["status"] != "failed", checks["parallelism"]


def test_the_interpreter_counts_references(debug_build):
    python = debug_build["prefix"] / "bin" / "python3.13"
    out = subprocess.run([str(python), "-c", "import sys; print(sys.gettotalrefcount() > 0, sys.abiflags)"],
                         capture_output=True, text=True)
    assert out.stdout.split() == ["True", "d"], out.stderr


def test_the_module_the_build_lacks_is_named_everywhere(debug_build):
    assert debug_build["proc"].returncode == 0, debug_build["proc"].stderr[-3000:]
    receipt = json.loads((debug_build["prefix"] / "pybuild12.json").read_text())
    assert "_gdbm" in receipt["modules"]["missing"]
    assert "_ssl" not in receipt["modules"].get("missing", [])
    warned = " ".join(debug_build["proc"].stderr.split())
    assert "the build lacks the _gdbm module (its headers were not found; libgdbm-dev provide(s) them)" in warned
    listed = subprocess.run([sys.executable, "-m", "pybuild12", "list", "--json"], env=debug_build["env"],
                            capture_output=True, text=True)
    build = next(b for b in json.loads(listed.stdout)["installed"] if b["name"] == NAME)
    assert "_gdbm" in build["lacking"]["missing"]
    # What a user of the build sees: the module is not there, and CPython's own suite skips its tests.
    python = debug_build["prefix"] / "bin" / "python3.13"
    assert "No module named '_gdbm'" in subprocess.run([str(python), "-c", "import dbm.gnu"], capture_output=True,
                                                        text=True).stderr
    suite = subprocess.run([sys.executable, "-m", "pybuild12", "verify", NAME, "--suite", "--json",
                            "--suite-args", "test_dbm_gnu"], env=debug_build["env"], capture_output=True, text=True,
                           timeout=600)
    assert suite.returncode == 0, suite.stdout + suite.stderr
    assert json.loads(suite.stdout)["skipped"] == {"missing module": {"_gdbm": ["test_dbm_gnu"]}}
