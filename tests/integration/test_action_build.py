"""The GitHub Action with a real build: run by the harness (tests/actionharness.py) as a
runner would, pybuild12 installed by the action's own setup step (pip, into a venv of its
own), on the debug build test_debug_build.py makes (no second compile: CI's budget).

The first run finds that build in its home and saves it to the stand-in Actions cache;
the second, in a fresh home at the same path (the home of the first is set aside and put
back after), restores it: a hit that installs without compiling (benchmarks/ci_restore.py measures how fast)
and puts a working debug python first on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from actionharness import Harness

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def runs(debug_build, tmp_path_factory):
    assert debug_build["proc"].returncode == 0, debug_build["proc"].stderr[-3000:]
    root = tmp_path_factory.mktemp("action")
    env = {k: v for k, v in debug_build["env"].items() if not k.startswith("GITHUB_")}
    env.pop("VIRTUAL_ENV", None)
    harness = Harness(root / "runner", root / "actions-cache", env, workspace=root / "workspace")
    inputs = {"python": "3.13.5+debug", "install-deps": "false"}
    first = harness.run(inputs)
    sys.stderr.write(first.log[-5000:])
    home = debug_build["home"]
    aside = home.with_name(home.name + ".aside")
    home.rename(aside)
    try:
        home.mkdir()
        shutil.rmtree(root / "runner" / "pybuild12" / "actions-cache", ignore_errors=True)
        second = harness.run(inputs)
        sys.stderr.write(second.log[-5000:])
        yield first, second
    finally:
        shutil.rmtree(home, ignore_errors=True)
        aside.rename(home)


def test_the_first_run_saves_the_build_it_finds(runs, debug_build):
    first, _ = runs
    assert first.ok, first.log[-3000:]
    assert first.ran == ["setup", "key", "restore", "install", "save"]
    assert first.outputs["cache-hit"] == "local" and first.outputs["name"] == "3.13.5+debug"
    receipt_key = json.loads((debug_build["prefix"] / "pybuild12.json").read_text())["artifact"]["key"]
    assert first.outputs["key"] == receipt_key  # `pybuild12 key` is the install's key


def test_a_fresh_home_restores_it_with_a_working_python_on_path(runs):
    first, second = runs
    assert second.ok, second.log[-3000:]
    assert second.outputs["cache-hit"] == "github" and second.outputs["key"] == first.outputs["key"]
    # Restored, not compiled, its verification reused (the seconds it takes are measured by
    # benchmarks/ci_restore.py, not judged on a busy machine here).
    prefix = Path(second.outputs["python-path"]).parents[1]
    receipt = json.loads((prefix / "pybuild12.json").read_text())
    assert "compile" not in receipt["timings"] and "exported" in receipt["verification"]["reused"]
    assert float(second.outputs["build-seconds"]) > 0
    path = os.pathsep.join([*second.path, os.environ["PATH"]])
    python = shutil.which("python3", path=path)
    assert python == second.outputs["python-path"].rsplit("/", 1)[0] + "/python3"
    ran = subprocess.run([python, "-c", "import sys, _interpreters; print(sys.gettotalrefcount() > 0)"],
                         capture_output=True, text=True)
    assert ran.stdout.strip() == "True", ran.stderr
