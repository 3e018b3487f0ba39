"""`pybuild12 bisect` on real CPython builds: a history made from the 3.13.5 release tree
(the tarball the other integration tests fetch) and four small commits: a harmless one,
one that does not compile, its fix, and the one that breaks something a user's code sees
(colorsys.rgb_to_hsv), which is --bad. git tests the broken commit first (the middle of
four), then one or two that build. Bisect names the breaking commit, skips the broken one,
and a second bisect over the same range builds nothing. Each step is a quick build (no
PGO, no LTO) through ccache; the steps are free-threaded builds, as the git build of the
same tree (test_git_build.py) is, and share its CCACHE_DIR: whichever runs second
compiles from the first's cache, as a bisect of `main` after a day's work on it would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile

import pytest

from gitrepos import commit, git
from realbuild import TARBALL, sources_dir
from timeline import record_build

pytestmark = pytest.mark.integration
CHECK = ["python3", "-c", "import colorsys, sys; sys.exit(0 if colorsys.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0) "
         "else 1)"]


@pytest.fixture(scope="module")
def history(mirror_server, tmp_path_factory, ccache_dir):
    root = tmp_path_factory.mktemp("bisect")
    with tarfile.open(sources_dir() / TARBALL) as tar:
        tar.extractall(root, filter="data")
    repo = root / TARBALL.removesuffix(".tar.xz")
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "Python 3.13.5")
    git(repo, "tag", "v3.13.5")
    colorsys = (repo / "Lib" / "colorsys.py").read_text()
    ceval = (repo / "Python" / "ceval.c").read_text()
    shas = [git(repo, "rev-parse", "HEAD")]
    shas.append(commit(repo, {"Lib/this.py": (repo / "Lib/this.py").read_text() + "\n# a harmless change\n"},
                       "Tidy Lib/this.py", day=11))
    shas.append(commit(repo, {"Python/ceval.c": "#error this commit does not compile\n" + ceval},
                       "Break the build of ceval.c", day=12))
    shas.append(commit(repo, {"Python/ceval.c": ceval}, "Fix the build of ceval.c", day=13))
    broken = colorsys + "\n\ndef rgb_to_hsv(r, g, b):\n    return (0.0, 0.0, 0.0)\n"
    shas.append(commit(repo, {"Lib/colorsys.py": broken}, "Speed up colorsys.rgb_to_hsv", day=14))
    recipe = root / "cpython-local.toml"
    recipe.write_text(f'version = "3.13.5"\nsummary = "3.13.5 with a few commits"\n\n[source]\nkind = "git"\n'
                      f'url = "{repo.as_uri()}"\ncommit = "{shas[0]}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYBUILD12_")}
    env.update(PYBUILD12_HOME=str(root / "home"), CCACHE_DIR=str(ccache_dir))
    return {"repo": repo, "shas": shas, "recipe": recipe, "env": env, "root": root}


def _bisect(history) -> subprocess.CompletedProcess:
    work = history["root"] / "project"
    work.mkdir(exist_ok=True)
    argv = ["bisect", f"{history['recipe']}+freethreaded", "--good", "v3.13.5", "--bad", history["shas"][-1][:12],
            "--json", "--", *CHECK]
    proc = subprocess.run([sys.executable, "-m", "pybuild12", *argv], env=history["env"], cwd=work,
                          capture_output=True, text=True, timeout=3600)
    sys.stderr.write(proc.stderr)
    return proc


@pytest.fixture(scope="module")
def first_run(history):
    with record_build("bisect: 3.13.5+freethreaded steps over 4 commits"):
        return _bisect(history)


def test_bisect_names_the_commit_that_broke_colorsys(history, first_run):
    assert first_run.returncode == 0, first_run.stderr[-4000:]
    answer = json.loads(first_run.stdout)
    assert answer["first_bad"] == history["shas"][4] and answer["subject"] == "Speed up colorsys.rgb_to_hsv"
    assert "first bad commit:" in first_run.stderr and "step 1 of about" in first_run.stderr


def test_the_commit_that_does_not_compile_is_skipped_not_blamed(history, first_run):
    answer = json.loads(first_run.stdout)
    assert history["shas"][2] in answer["skipped"]
    step = next(s for s in answer["steps"] if s["commit"] == history["shas"][2])
    assert step["result"] == "skip" and step["build"].startswith("does not build")


def test_a_second_bisect_builds_nothing(history, first_run):
    assert first_run.returncode == 0, first_run.stderr[-4000:]
    again = _bisect(history)
    assert again.returncode == 0, again.stderr[-4000:]
    answer = json.loads(again.stdout)
    assert answer["first_bad"] == history["shas"][4]
    assert answer["steps"] and all(s["cached"] for s in answer["steps"])  # the broken commit is not tried again
    listed = subprocess.run([sys.executable, "-m", "pybuild12", "list", "--json"], env=history["env"],
                            capture_output=True, text=True)
    assert json.loads(listed.stdout)["installed"] == []  # the steps' builds are not installed builds
