"""Installing from git recipes: pins, --commit, receipts, bad input (fake CPython in a local repo)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fakecpython import HOST_MINOR, make_git_recipe, make_git_repo, needs_host_interpreters, passing_verifier
from gitrepos import commit, init
from pybuild12 import install as installer
from pybuild12.checks import verify as verifier
from pybuild12.core.errors import FetchError, UsageError
from pybuild12.install import InstallOptions

pytestmark = needs_host_interpreters


@pytest.fixture(autouse=True)
def fake_verifier(monkeypatch):
    monkeypatch.setattr(verifier, "run", passing_verifier)


@pytest.fixture
def repo(tmp_path):
    path = tmp_path / "upstream" / "cpython"
    shas = make_git_repo(path)
    return path, shas


def mark(paths, name):
    return (paths.prefix(name) / f"lib/python{HOST_MINOR}/build-mark.txt").read_text().strip()


def test_git_recipe_builds_the_pinned_commit(repo, tmp_path, paths):
    path, (one, two) = repo
    recipe = make_git_recipe(tmp_path, path.as_uri(), one[:7])
    outcome = installer.install(str(recipe), paths=paths)
    assert mark(paths, "fakegit") == "one"
    source = outcome.receipt.source
    assert source == {
        "kind": "git",
        "url": path.as_uri(),
        "commit_pinned": one[:7],
        "commit": one,
        "describe": source["describe"],
        "fetched_from": path.as_uri(),
    }
    assert one.startswith(source["describe"]) or source["describe"].endswith(one[:7])
    assert set(outcome.receipt.timings) >= {"fetch", "checkout", "configure", "compile", "install", "check"}
    assert not list((paths.builds).glob("*/*"))  # the worktree went with the build tree


def test_commit_option_builds_another_commit_under_its_own_name(repo, tmp_path, paths):
    path, (one, two) = repo
    recipe = make_git_recipe(tmp_path, path.as_uri(), one)
    installer.install(str(recipe), paths=paths)
    outcome = installer.install(str(recipe), InstallOptions(commit=two), paths=paths)
    assert outcome.name == f"fakegit@{two[:12]}"
    assert mark(paths, outcome.name) == "two" and mark(paths, "fakegit") == "one"
    assert outcome.receipt.source["commit"] == two


def test_commit_option_with_a_name(repo, tmp_path, paths):
    path, (one, two) = repo
    recipe = make_git_recipe(tmp_path, path.as_uri(), one)
    outcome = installer.install(str(recipe), InstallOptions(commit=two[:9], name="mine"), paths=paths)
    assert outcome.name == "mine" and outcome.receipt.source["commit_pinned"] == two[:9]


def test_commit_option_on_a_tarball_recipe_is_refused(paths):
    with pytest.raises(UsageError, match="git recipes only"):
        installer.install("3.13.5", InstallOptions(commit="abcdef1"), paths=paths)


def test_commit_option_must_be_hex(repo, tmp_path, paths):
    path, (one, _) = repo
    recipe = make_git_recipe(tmp_path, path.as_uri(), one)
    with pytest.raises(UsageError, match="7 to 40 hex"):
        installer.install(str(recipe), InstallOptions(commit="main"), paths=paths)


def test_unknown_commit_installs_nothing(repo, tmp_path, paths):
    path, _ = repo
    recipe = make_git_recipe(tmp_path, path.as_uri(), "abcdef0123")
    with pytest.raises(FetchError, match="not found"):
        installer.install(str(recipe), paths=paths)
    assert not paths.prefix("fakegit").exists()
    assert [p.name for p in paths.pythons.iterdir()] == []


def test_unreachable_remote_installs_nothing(tmp_path, paths):
    recipe = make_git_recipe(tmp_path, (tmp_path / "nowhere").as_uri(), "abcdef0123")
    with pytest.raises(FetchError, match="cannot fetch"):
        installer.install(str(recipe), paths=paths)
    assert not paths.prefix("fakegit").exists()


def test_a_repository_without_configure_is_refused(tmp_path, paths):
    path = init(tmp_path / "upstream" / "notcpython")
    sha = commit(path, {"README": "not CPython\n"}, "readme")
    recipe = make_git_recipe(tmp_path, path.as_uri(), sha)
    with pytest.raises(FetchError, match="no configure script"):
        installer.install(str(recipe), paths=paths)
    assert not paths.prefix("fakegit").exists()


def test_list_shows_the_commit_of_git_builds(repo, tmp_path, paths):
    path, (one, _) = repo
    installer.install(str(make_git_recipe(tmp_path, path.as_uri(), one)), paths=paths)
    out = subprocess.run([sys.executable, "-m", "pybuild12", "list", "--json"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    installed = json.loads(out.stdout)["installed"]
    assert installed[0]["name"] == "fakegit" and installed[0]["commit"] == one
    table = subprocess.run([sys.executable, "-m", "pybuild12", "list"], capture_output=True, text=True,
                           timeout=60).stdout
    assert one[:12] in table
