"""--ccache: the masquerade PATH, settings passed through, and a real ccache hit."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from fakecpython import make_recipe, make_tarball, needs_host_interpreters, passing_verifier
from pybuild12 import install as installer
from pybuild12.builder import ccache
from pybuild12.checks import verify as verifier
from pybuild12.core.report import Reporter
from pybuild12.core.settings import Settings
from pybuild12.install import InstallOptions

FAKE_CCACHE = r"""#!/bin/sh
[ "$(basename "$0")" = ccache ] && case "$1" in
  --version) echo "ccache version 9.9 (fake)"; exit 0;;
  --print-stats) printf 'cache_miss\t%s\ndirect_cache_hit\t0\n' "$(cat "$FAKE_CCACHE_LOG" 2>/dev/null | wc -l)"; exit 0;;
  --get-config) echo "$CCACHE_REMOTE_STORAGE"; exit 0;;
esac
echo "$(basename "$0") $* remote=$CCACHE_REMOTE_STORAGE basedir=$CCACHE_BASEDIR" >> "$FAKE_CCACHE_LOG"
"""  # noqa: E501  # the fake ccache script, kept as it runs


def test_wanted_from_flag_or_environment():
    assert Settings({"PYBUILD12_CCACHE": "1"}).ccache and Settings({"PYBUILD12_CCACHE": " yes "}).ccache
    assert not Settings({"PYBUILD12_CCACHE": "0"}).ccache and not Settings({}).ccache


@needs_host_interpreters
def test_install_compiles_through_ccache_with_its_settings(tmp_path, paths, monkeypatch):
    monkeypatch.setattr(verifier, "run", passing_verifier)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ccache").write_text(FAKE_CCACHE)
    (bindir / "ccache").chmod(0o755)
    log = tmp_path / "ccache.log"
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha)
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}", FAKE_CCACHE_LOG=str(log),
               CCACHE_REMOTE_STORAGE="http://cache.invalid/ccache", PYBUILD12_CCACHE="1")
    outcome = installer.install(str(recipe), paths=paths, settings=Settings.from_env(env))
    lines = log.read_text().splitlines()
    assert lines == [f"cc --version remote=http://cache.invalid/ccache basedir={paths.builds / 'fake'}"]
    assert outcome.receipt.ccache == {"version": "ccache version 9.9 (fake)", "remote_storage": True,
                                         "hits": 0, "misses": 1, "remote_hits": 0, "remote_errors": 0}
    assert not (paths.builds / "fake").exists()  # the link directory goes with the build tree


@needs_host_interpreters
def test_without_ccache_the_build_goes_on_with_a_warning(tmp_path, paths, monkeypatch):
    monkeypatch.setattr(verifier, "run", passing_verifier)
    monkeypatch.setattr(ccache, "setup", lambda env, directory: None)  # as when ccache is not on PATH
    tarball, sha = make_tarball(tmp_path / "src")
    warnings = []

    class Warn(Reporter):
        def warn(self, text):
            warnings.append(text)

    outcome = installer.install(str(make_recipe(tmp_path, tarball, sha)), InstallOptions(ccache=True), paths=paths,
                                reporter=Warn())
    assert outcome.receipt.ccache is None and any("ccache not found" in w for w in warnings)


@pytest.mark.skipif(shutil.which("ccache") is None or shutil.which("gcc") is None, reason="needs ccache and gcc")
def test_real_ccache_hits_across_build_directories(tmp_path):
    """Two build trees at different paths compile the same file with debug information, as
    CPython's flags ask (-g): the second is a ccache hit."""
    env = dict(os.environ, CCACHE_DIR=str(tmp_path / "ccache-dir"))
    for name in ("CCACHE_BASEDIR", "CCACHE_HASHDIR", "CCACHE_NOHASHDIR"):
        env.pop(name, None)
    tool = ccache.setup(env, tmp_path / "links")
    assert tool is not None and tool.version.startswith("ccache version")
    before = tool.stats(env)
    for tree in ("one", "two"):
        build = tmp_path / tree
        (build / "Python").mkdir(parents=True)
        (build / "Python" / "x.c").write_text("int answer(void) { return 42; }\n")
        build_env = tool.environment(env, build)
        assert shutil.which("gcc", path=build_env["PATH"]) == str(tmp_path / "links" / "gcc")
        subprocess.run(["gcc", "-g", "-O2", "-c", "Python/x.c", "-o", "Python/x.o"], cwd=build, env=build_env,
                       check=True, timeout=60)
        assert (build / "Python" / "x.o").stat().st_size > 0
    facts = ccache.summary(tool, before, tool.stats(env), env)
    assert facts["misses"] == 1 and facts["hits"] == 1


def test_setup_finds_no_ccache_on_a_path_without_it(tmp_path):
    assert ccache.setup({"PATH": str(tmp_path)}, tmp_path / "links") is None
