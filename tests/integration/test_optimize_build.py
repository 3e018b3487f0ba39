"""A real `pybuild12 install 3.13.5 --optimize max`: clang 19, ThinLTO, PGO and BOLT.

It takes about as long as the session's shared GCC build and needs LLVM 19's clang,
lld, llvm and bolt (Debian: clang-19 llvm-19 lld-19 bolt-19). To keep CI's time in
bounds it is marked `heavy`: left out unless asked for (`scripts/test --heavy`, which
also installs the toolchain); run by hand, it skips without LLVM 19, saying what to
install. With them it proves that the toolchain reaches configure,
that llvm-bolt rewrote the interpreter, that its sub-interpreters pass every check,
and that the build passes CPython's own sub-interpreter tests (`verify --full`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pybuild12.builder import optimize
from realbuild import install_apart

pytestmark = [pytest.mark.integration, pytest.mark.heavy]
NAME = "3.13.5-max"


@pytest.fixture(scope="session")
def max_build(mirror_server, tmp_path_factory):
    toolchain, absent = optimize.find(os.environ)
    if toolchain is None:
        debian, _ = optimize.packages()
        pytest.skip(f"LLVM {optimize.LLVM} lacks {', '.join(absent)} here (apt-get install {' '.join(debian)})")
    home = tmp_path_factory.mktemp("max-home")
    proc, env = install_apart(home, "3.13.5", "--optimize", "max", "--name", NAME, mirror=mirror_server)
    return {"proc": proc, "prefix": home / "data" / "pythons" / NAME, "env": env, "toolchain": toolchain}


def test_the_build_is_clang_thinlto_pgo_and_bolt(max_build):
    assert max_build["proc"].returncode == 0, max_build["proc"].stderr[-3000:]
    receipt = json.loads((max_build["prefix"] / "pybuild12.json").read_text())
    assert receipt["optimize"]["level"] == "max" and receipt["optimize"]["bolt"] is True
    assert receipt["optimize"]["llvm"] == max_build["toolchain"].version
    assert receipt["compiler"].startswith(("Debian clang version 19", "clang version 19"))
    args = receipt["configure_args"]
    assert {"--enable-optimizations", "--with-lto=thin", "--enable-bolt"} <= set(args)
    python = max_build["prefix"] / "bin" / "python3.13"
    assert optimize.bolted(python)
    cc = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_config_var('CC'))"],
                        capture_output=True, text=True, check=True).stdout.strip()
    assert cc == "clang"


def test_every_sub_interpreter_check_passes_on_it(max_build):
    receipt = json.loads((max_build["prefix"] / "pybuild12.json").read_text())
    checks = {c["name"]: c for c in receipt["verification"]["checks"]}
    for name in ("modules", "high-level API", "test.support helper", "lifecycle", "messages", "threads",
                 "clean exit"):
        assert checks[name]["status"] == "passed", checks[name]
    assert checks["parallelism"]["status"] != "failed", checks["parallelism"]


def test_cpythons_own_sub_interpreter_tests_pass_on_it(max_build):
    out = subprocess.run([sys.executable, "-m", "pybuild12", "verify", NAME, "--full", "--json"],
                         env=max_build["env"], capture_output=True, text=True, timeout=1800)
    report = json.loads(out.stdout)
    full = next(c for c in report["checks"] if c["name"] == "regression tests")
    assert out.returncode == 0 and full["status"] == "passed", full
