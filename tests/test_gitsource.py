"""Git sources against local repositories (file:// URLs stand in for GitHub)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from gitrepos import colliding_prefix, commit, git, init, many_commits
from pybuild12.core.errors import FetchError
from pybuild12.request.recipes import GitSource
from pybuild12.sources import gitsource

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def upstream(tmp_path):
    repo = init(tmp_path / "upstream" / "cpython")
    first = commit(repo, {"configure": "#!/bin/sh\necho one\n", "README": "one\n"}, "one", day=8)
    git(repo, "tag", "-a", "v3.12.0a7", "-m", "release")
    second = commit(repo, {"README": "two\n"}, "two", day=10)
    return repo, first, second


@pytest.fixture
def ctx(tmp_path):
    return {"cache": tmp_path / "cache", "log": tmp_path / "log.txt", "env": dict(os.environ)}


def resolve(ctx, url, commit_, **kw):
    return gitsource.resolve(GitSource(url, commit_), ctx["cache"], log_path=ctx["log"], env=ctx["env"], **kw)


def checkout(ctx, url, resolved, dest):
    return gitsource.checkout(GitSource(url, resolved.commit), resolved, ctx["cache"], dest, log_path=ctx["log"],
                              env=ctx["env"])


def test_hashes_are_stable(upstream, tmp_path):
    """Fixed identities and dates: building the same history twice gives the same hashes."""
    repo, first, second = upstream
    again = init(tmp_path / "again")
    assert commit(again, {"configure": "#!/bin/sh\necho one\n", "README": "one\n"}, "one", day=8) == first


def test_full_hash_is_fetched_alone_and_checked_out(upstream, ctx, tmp_path):
    repo, first, second = upstream
    url = repo.as_uri()
    resolved = resolve(ctx, url, first)
    assert resolved == gitsource.Resolved(first, url)
    assert "--depth 1" in ctx["log"].read_text()
    co = checkout(ctx, url, resolved, tmp_path / "tree")
    assert co.commit == first and (co.tree / "README").read_text() == "one\n"
    assert co.describe.startswith("v3.12.0a7-0-g") or co.describe == first[:7] or first.startswith(co.describe)


def test_abbreviated_hash_is_resolved_in_the_history(upstream, ctx, tmp_path):
    repo, first, second = upstream
    resolved = resolve(ctx, repo.as_uri(), second[:7])
    assert resolved.commit == second
    assert "--filter=blob:none" in ctx["log"].read_text()
    co = checkout(ctx, repo.as_uri(), resolved, tmp_path / "tree")
    assert (co.tree / "README").read_text() == "two\n"
    assert co.describe.startswith("v3.12.0a7-1-g")


@pytest.mark.parametrize("which", ["full", "abbreviated"])
def test_unknown_commit_is_refused(upstream, ctx, which):
    repo, _, _ = upstream
    missing = "0123456789abcdef0123456789abcdef01234567" if which == "full" else "0123abc"
    with pytest.raises(FetchError) as info:
        resolve(ctx, repo.as_uri(), missing)
    assert info.value.message == f"commit {missing} not found in {repo.as_uri()}"  # each fact said once


def test_ambiguous_prefix_is_refused(tmp_path, ctx):
    repo = init(tmp_path / "upstream" / "ambiguous")
    commit(repo, {"configure": "x"}, "base")
    many_commits(repo, 60000)
    found = colliding_prefix(repo)
    assert found is not None, "60000 commits should share at least one 7-hex prefix"
    prefix, shas = found
    with pytest.raises(FetchError) as info:
        resolve(ctx, repo.as_uri(), prefix)
    assert "ambiguous" in info.value.message
    assert all(s[:7] in info.value.message for s in shas)
    assert "more hex digits" in info.value.hint


def test_a_repository_that_moved_on_still_gives_the_pin(upstream, ctx, tmp_path):
    repo, first, second = upstream
    commit(repo, {"README": "three\n"}, "three", day=12)
    git(repo, "commit", "--amend", "--quiet", "-m", "rewritten")  # history moved and was rewritten
    resolved = resolve(ctx, repo.as_uri(), first[:10])
    co = checkout(ctx, repo.as_uri(), resolved, tmp_path / "tree")
    assert co.commit == first and (co.tree / "README").read_text() == "one\n"


def test_second_install_reuses_the_cached_repository(upstream, ctx, tmp_path):
    repo, first, second = upstream
    url = repo.as_uri()
    resolve(ctx, url, second[:8])
    cached = gitsource.repo_dir(ctx["cache"], url)
    assert (cached / "HEAD").is_file()
    moved = repo.parent / "gone"
    repo.rename(moved)  # the remote is unreachable from now on
    again = resolve(ctx, url, first[:8])
    assert again == gitsource.Resolved(first, "cache")
    assert list((ctx["cache"] / "git").glob("*.git")) == [cached]


def test_new_commits_are_fetched_into_the_same_repository(upstream, ctx):
    repo, first, second = upstream
    url = repo.as_uri()
    resolve(ctx, url, first)
    third = commit(repo, {"README": "three\n"}, "three", day=12)
    assert resolve(ctx, url, third[:9]).commit == third
    assert len(list((ctx["cache"] / "git").glob("*.git"))) == 1


def test_server_refusing_a_bare_hash_falls_back_to_history(upstream, ctx):
    repo, first, _ = upstream
    # Protocol v0 without allowReachableSHA1InWant refuses unadvertised commits, as some servers do.
    ctx["env"].update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="protocol.version", GIT_CONFIG_VALUE_0="0")
    resolved = resolve(ctx, repo.as_uri(), first)
    assert resolved.commit == first
    log = ctx["log"].read_text()
    assert "--depth 1" in log and "--filter=blob:none" in log


def test_unreachable_remote_names_the_offline_options(ctx, tmp_path):
    url = (tmp_path / "nowhere" / "cpython").as_uri()
    with pytest.raises(FetchError) as info:
        resolve(ctx, url, "22f3425c3d")
    assert f"cannot fetch {url}" in info.value.message and info.value.message.count(url) == 1
    assert "insteadOf" in info.value.hint and "PYBUILD12_MIRROR" in info.value.hint


def test_mirror_directory_serves_the_repository(upstream, ctx):
    repo, first, _ = upstream
    github = "https://github.invalid/python/cpython"
    resolved = resolve(ctx, github, first[:7], mirror=str(repo.parent))
    assert resolved == gitsource.Resolved(first, repo.as_uri())


def test_insteadof_redirects_the_remote(upstream, ctx, tmp_path):
    repo, first, _ = upstream
    github = "https://github.invalid/python/cpython"
    ctx["env"].update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0=f"url.{repo.as_uri()}.insteadOf",
                      GIT_CONFIG_VALUE_0=github)
    resolved = resolve(ctx, github, first[:7])
    co = checkout(ctx, github, resolved, tmp_path / "tree")
    assert co.commit == first


def test_checkout_refuses_a_head_that_is_not_the_pin(upstream, ctx, tmp_path, monkeypatch):
    repo, first, second = upstream
    resolved = resolve(ctx, repo.as_uri(), first)
    lying = gitsource.Resolved(second, resolved.fetched_from)
    resolve(ctx, repo.as_uri(), second)
    real_capture = gitsource.runner.capture

    def capture(argv, **kw):  # make rev-parse HEAD report the other commit
        if argv[-2:] == ["rev-parse", "HEAD"]:
            return subprocess.CompletedProcess(argv, 0, first + "\n", "")
        return real_capture(argv, **kw)

    monkeypatch.setattr(gitsource.runner, "capture", capture)
    with pytest.raises(FetchError, match="not the pinned"):
        checkout(ctx, repo.as_uri(), lying, tmp_path / "tree")


def test_remove_checkout_forgets_the_worktree(upstream, ctx, tmp_path):
    repo, first, _ = upstream
    url = repo.as_uri()
    co = checkout(ctx, url, resolve(ctx, url, first), tmp_path / "tree")
    gitsource.remove_checkout(GitSource(url, first), ctx["cache"], co.tree, log_path=ctx["log"], env=ctx["env"])
    assert not co.tree.exists()
    listed = git(gitsource.repo_dir(ctx["cache"], url), "worktree", "list")
    assert str(co.tree) not in listed


def test_repo_dir_is_per_url(tmp_path):
    a = gitsource.repo_dir(tmp_path, "https://github.com/python/cpython")
    b = gitsource.repo_dir(tmp_path, "https://example.com/fork/cpython.git")
    assert a != b and a.name.startswith("cpython-") and b.name.startswith("cpython-")


def test_a_mirror_directory_without_the_repository_is_named(ctx, tmp_path):
    url = (tmp_path / "nowhere" / "cpython").as_uri()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with pytest.raises(FetchError) as info:
        resolve(ctx, url, "22f3425c3d", mirror=str(mirror))
    hint = info.value.hint
    assert f"PYBUILD12_MIRROR is set to {mirror}, which holds no cpython.git or cpython repository" in hint
    assert "set PYBUILD12_MIRROR to" not in hint and "git clone --mirror" in hint


def test_an_http_mirror_that_fails_is_named_without_its_credentials(ctx, tmp_path, refused_url):
    url = (tmp_path / "nowhere" / "cpython").as_uri()
    down = refused_url()
    with pytest.raises(FetchError) as info:
        resolve(ctx, url, "22f3425c3d", mirror=down.replace("//", "//ci:s3cret@") + "/git")
    hint = info.value.hint
    assert f"PYBUILD12_MIRROR is set to {down}/git, and its cpython.git could not be fetched" in hint
    assert "s3cret" not in hint and "set PYBUILD12_MIRROR to" not in hint
