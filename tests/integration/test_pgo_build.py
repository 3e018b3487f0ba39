"""PGO profile reuse with the real build: export its profile, build again with it.

The second build compiles straight with `-fprofile-use`: no instrumented build,
no training run. It is installed under another name (another prefix, so no
artifact matches), over an earlier build there, and must pass the same
verification. That second build is `heavy` (run by hand: `scripts/test --heavy`):
CI's time budget has no room for it; CI checks the profile the session's build recorded.
"""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from realbuild import RECIPE, SESSION_OPTS

pytestmark = pytest.mark.integration
NAME = "pgo-reused"


@pytest.fixture(scope="module")
def reused(real_build, tmp_path_factory):
    exported = tmp_path_factory.mktemp("profile") / "3.13.5.profile.tar.zst"
    export = real_build.cli("profile", "export", RECIPE, str(exported))
    assert export.returncode == 0, export.stderr
    # An earlier build of the same release at this name, with the same pip, to be replaced:
    # the build tree's python sees its site-packages while `make install` runs.
    prefix = real_build.home / "data" / "pythons" / NAME
    shutil.copytree(real_build.prefix, prefix, symlinks=True)
    proc = real_build.cli("install", RECIPE, *SESSION_OPTS, "--name", NAME, "--force", "--pgo-profile", str(exported),
                          timeout=3600)
    sys.stderr.write(proc.stderr)
    receipt_path = prefix / "pybuild12.json"
    yield proc, exported, json.loads(receipt_path.read_text()) if receipt_path.exists() else {}
    real_build.cli("uninstall", NAME)


def test_the_real_build_recorded_its_profile(real_build):
    listed = json.loads(real_build.cli("profile", "list", "--json").stdout)
    assert [p["key"] for p in listed] == [real_build.receipt["pgo_profile"]["key"]]
    assert listed[0]["source"] == real_build.receipt["source"]["sha256"]
    assert listed[0]["files"] > 300  # one .gcda per object file of the interpreter and its modules


@pytest.mark.heavy
def test_build_with_the_profile_skips_training_and_passes_verification(real_build, reused):
    proc, exported, receipt = reused
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert receipt["pgo_profile"] == {"key": real_build.receipt["pgo_profile"]["key"], "origin": "file",
                                      "file": str(exported)}
    assert receipt["artifact"]["from_cache"] is False
    assert receipt["verification"]["ok"] is True
    log = open(receipt["log"], encoding="utf-8", errors="replace").read()
    assert "Building with support for profile generation" not in log
    assert "Running code to generate profile data" not in log
    assert "Rebuilding with profile guided optimizations" in log and "-fprofile-use" in log
    # GCC found a .gcda for every object but _testembed, which the training run never runs (as in a fresh build)
    missing = [line for line in log.splitlines() if "profile count data file not found" in line]
    assert all("_testembed" in line for line in missing)
    assert "✓ profile" in proc.stderr and "✓ compile with the recorded PGO profile" in proc.stderr


@pytest.mark.heavy
def test_the_reused_build_is_the_same_python(real_build, reused):
    ran = real_build.cli("run", NAME, "--", "-c",
                         "import sys, sysconfig, _interpreters; i = _interpreters.create();"
                         "_interpreters.destroy(i); "
                         "print(sys.version.split()[0], sysconfig.get_config_var('CONFIG_ARGS'))")
    version, config_args = ran.stdout.split(maxsplit=1)
    assert ran.returncode == 0 and version == RECIPE and "--enable-optimizations" in config_args


@pytest.mark.heavy
def test_the_build_that_replaced_another_has_its_own_pip(real_build, reused):
    # Inside `make install`, ensurepip would find the replaced build's pip "already satisfied"
    # and install none: pybuild12 installs it apart, ignoring what the prefix has.
    proc, _, receipt = reused
    assert proc.returncode == 0, proc.stderr[-3000:]
    prefix = real_build.home / "data" / "pythons" / NAME
    assert (prefix / "bin" / "pip3").is_file()
    assert (prefix / "bin" / "pip3").read_text().splitlines()[0] == f"#!{prefix}/bin/python3.13"
    ran = real_build.cli("run", NAME, "--", "-m", "pip", "--version")
    assert ran.returncode == 0 and f"{prefix}/lib/python3.13/site-packages/pip" in ran.stdout, ran.stderr
    assert real_build.cli("verify", "--files", NAME).returncode == 0
