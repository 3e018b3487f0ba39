"""The default build, for real: `pybuild12 install 3.13.5` with PGO and LTO.

What every user's `pybuild12 install` builds, but about 15 minutes more than the
session's shared PGO build on 2 cores, so it is marked `heavy` and run by hand
(`scripts/test --heavy`; the last run is recorded in NOTES.md). It proves that LTO
reaches configure, that each object gets its own seed (GCC's LTO sections in
libpython3.13.a are otherwise named at random, and two builds differ), and that
the build passes every check.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from realbuild import RECIPE, install_apart

pytestmark = [pytest.mark.integration, pytest.mark.heavy]
NAME = "3.13.5-lto"


@pytest.fixture(scope="module")
def lto_build(mirror_server, tmp_path_factory):
    home = tmp_path_factory.mktemp("lto-home")
    proc, _ = install_apart(home, RECIPE, "--name", NAME, mirror=mirror_server)
    return proc, home / "data" / "pythons" / NAME


def test_the_default_build_is_pgo_and_lto_with_a_seed_per_object(lto_build):
    proc, prefix = lto_build
    assert proc.returncode == 0, proc.stderr[-3000:]
    receipt = json.loads((prefix / "pybuild12.json").read_text())
    assert receipt["configure_args"] == [f"--prefix={prefix}", "--enable-optimizations", "--with-lto"]
    assert receipt["configure_env"] == {"CFLAGS_NODIST": "-frandom-seed=$@"}
    assert receipt["verification"]["ok"] is True
    ran = subprocess.run([str(prefix / "bin/python3.13"), "-c",
                          "import sysconfig; print(sysconfig.get_config_var('CONFIG_ARGS')); "
                          "print(sysconfig.get_config_var('CONFIGURE_CFLAGS_NODIST'))"],
                         capture_output=True, text=True)
    config_args, cflags_nodist = ran.stdout.splitlines()
    assert "'--enable-optimizations' '--with-lto'" in config_args
    assert "-flto" in cflags_nodist.split() and "-frandom-seed=$@" in cflags_nodist.split()
