"""A real JIT build: CPython 3.14.10 with --enable-experimental-jit=yes-off (PEP 744).

Plain (no PGO): the JIT's stencils are compiled by clang 19 whatever compiles the
rest, and PGO is covered by the session's real build. Needs the 3.14.10 tarball
(scripts/fetch-test-sources fetches it where python.org or Debian's python3.14
source package can be reached) and LLVM 19's clang and llvm-readobj
(scripts/test installs clang-19 and llvm-19 when the tarball is there); skips,
saying which, without them.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from realbuild import install_apart, sources_dir

pytestmark = pytest.mark.integration
VERSION = "3.14.10"
NAME = f"{VERSION}+jit"


@pytest.fixture(scope="session")
def jit_build(mirror_server, tmp_path_factory):
    if not (sources_dir() / f"Python-{VERSION}.tar.xz").is_file():
        pytest.skip(f"Python-{VERSION}.tar.xz is not in {sources_dir()}: neither python.org nor Debian's "
                    "python3.14 source package could be reached when scripts/fetch-test-sources ran")
    from pybuild12.builder import preflight
    from pybuild12.request import variants

    missing = [c.name for c in preflight.jit_toolchain(variants.llvm_major(VERSION)) if not c.ok]
    if missing:
        pytest.skip(f"no {', '.join(missing)} here (apt-get install clang-19 llvm-19)")
    home = tmp_path_factory.mktemp("jit-home")
    proc, env = install_apart(home, "3.14+jit", "--no-pgo", mirror=mirror_server)
    return {"proc": proc, "prefix": home / "data" / "pythons" / NAME, "env": env}


def test_jit_install_succeeds_and_verifies_the_jit(jit_build):
    assert jit_build["proc"].returncode == 0, jit_build["proc"].stderr[-3000:]
    receipt = json.loads((jit_build["prefix"] / "pybuild12.json").read_text())
    assert receipt["variants"] == ["jit"]
    assert "--enable-experimental-jit=yes-off" in receipt["configure_args"]
    assert "--enable-optimizations" not in receipt["configure_args"]
    checks = {c["name"]: c for c in receipt["verification"]["checks"]}
    assert checks["variant"]["status"] == "passed"
    assert checks["jit"]["status"] == "passed", checks["jit"]
    assert checks["jit"]["figures"]["api"] == "sys._jit"


def test_the_jit_is_off_until_python_jit_turns_it_on(jit_build):
    python = jit_build["prefix"] / "bin" / "python3.14"
    probe = "import sys; print(sys._jit.is_available(), sys._jit.is_enabled())"
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_JIT"}
    off = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, env=env)
    on = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, env={**env, "PYTHON_JIT": "1"})
    assert off.stdout.split() == ["True", "False"], off.stderr
    assert on.stdout.split() == ["True", "True"], on.stderr
