"""A real build from a git source pinned by an abbreviated commit.

The CPython 3.13.5 sources, committed as one commit to a local repository
(file:// stands in for GitHub), built by a recipe that pins the commit the way
the `main` recipe pins 22f3425c3d: ten hex digits, resolved by pybuild12.
The recipe leaves out the optimizations (a plain build, a third of the time):
the build steps do not depend on where the sources came from, and the session's
real build covers PGO and LTO.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from realbuild import RECIPE, TARBALL, sources_dir

pytestmark = pytest.mark.integration

FIXED = {
    "GIT_AUTHOR_NAME": "CPython Sources", "GIT_AUTHOR_EMAIL": "sources@example.invalid",
    "GIT_COMMITTER_NAME": "CPython Sources", "GIT_COMMITTER_EMAIL": "sources@example.invalid",
    "GIT_AUTHOR_DATE": "2025-06-11T12:00:00+00:00", "GIT_COMMITTER_DATE": "2025-06-11T12:00:00+00:00",
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **FIXED, "HOME": str(repo.parent), "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="session")
def git_build(mirror_server, tmp_path_factory):
    work = tmp_path_factory.mktemp("git-build")
    with tarfile.open(sources_dir() / TARBALL) as tar:
        tar.extractall(work, filter="data")
    repo = work / "cpython"
    (work / f"Python-{RECIPE}").rename(repo)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", f"CPython {RECIPE} sources")
    full = git(repo, "rev-parse", "HEAD")
    pinned = full[:10]
    recipe = work / "cpython-git.toml"
    recipe.write_text(
        f'version = "{RECIPE}"\nsummary = "CPython {RECIPE} from a local git repository"\n\n'
        f'[source]\nkind = "git"\nurl = "{repo.as_uri()}"\ncommit = "{pinned}"\n\n'
        '[build]\noptimizations = false\n'
    )
    home = tmp_path_factory.mktemp("git-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYBUILD12_")}
    env["PYBUILD12_HOME"] = str(home)
    proc = subprocess.run([sys.executable, "-m", "pybuild12", "install", str(recipe)], env=env,
                          capture_output=True, text=True, timeout=3600)
    sys.stderr.write(proc.stderr)
    prefix = home / "data" / "pythons" / "cpython-git"
    return {"proc": proc, "full": full, "pinned": pinned, "prefix": prefix, "env": env, "url": repo.as_uri()}


def test_git_install_succeeds(git_build):
    assert git_build["proc"].returncode == 0, git_build["proc"].stderr[-3000:]
    assert "✓ checkout" in git_build["proc"].stderr


def test_receipt_records_the_pin_and_its_resolution(git_build):
    receipt = json.loads((git_build["prefix"] / "pybuild12.json").read_text())
    source = receipt["source"]
    assert source["kind"] == "git" and source["url"] == git_build["url"]
    assert source["commit_pinned"] == git_build["pinned"]
    assert source["commit"] == git_build["full"]
    assert git_build["full"].startswith(source["describe"][:7]) or git_build["full"][:7] in source["describe"]
    assert receipt["configure_args"] == [f"--prefix={git_build['prefix']}"]


def test_sys_version_names_the_pinned_commit(git_build):
    code = "import sys, sysconfig; print(sys._git[2]); print(sys.version); print(sysconfig.get_config_var('CONFIG_ARGS'))"
    out = subprocess.run([str(git_build["prefix"] / "bin/python3.13"), "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    revision, version, config_args = out.stdout.splitlines()
    assert len(revision) >= 7 and git_build["full"].startswith(revision)
    assert version.startswith(f"{RECIPE} (") and revision in version
    assert config_args == f"'--prefix={git_build['prefix']}'"


def test_list_shows_the_commit(git_build):
    out = subprocess.run([sys.executable, "-m", "pybuild12", "list", "--json"], env=git_build["env"],
                         capture_output=True, text=True)
    installed = {b["name"]: b for b in json.loads(out.stdout)["installed"]}
    assert installed["cpython-git"]["commit"] == git_build["full"]
