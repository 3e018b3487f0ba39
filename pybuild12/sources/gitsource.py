"""Git sources: one exact commit of any repository, through a cached bare repository.

A full 40-hex commit is fetched alone (`git fetch --depth 1 <url> <sha>`);
servers that refuse unadvertised commits get a blobless fetch of the history
instead. An abbreviated commit cannot be asked of a remote at all, so it is
resolved in the history (blobless: commits and trees only, blobs arrive on
checkout) with `git rev-parse`, and refused when unknown or ambiguous.

One bare repository per URL lives in the download cache; later installs fetch
into it, so a second commit costs only the difference. Source trees are git
worktrees of it, so the CPython build finds a `.git` and records the commit in
`sys.version`, and the blobs a checkout needs are fetched lazily from the
remote that served the history.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import urlparse

import filelock

from pybuild12.core import http, runner
from pybuild12.core.errors import BuildError, FetchError
from pybuild12.core.settings import MIRROR_ENV
from pybuild12.request.recipes import GitSource

FULL_HASH = re.compile(r"^[0-9a-f]{40}$")
LOCK_TIMEOUT = 3600  # another install may be fetching the same repository


@dataclass(frozen=True)
class Resolved:
    commit: str  # the full hash
    fetched_from: str  # "cache" or the URL it came from


@dataclass(frozen=True)
class Checkout:
    tree: Path
    commit: str
    describe: str


def repo_dir(cache: Path, url: str) -> Path:
    """<cache>/git/<name>-<hash of url>.git: one bare repository per URL."""
    name = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "repo"
    return cache / "git" / f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:12]}.git"


def mirror_url(url: str, mirror: str | None) -> str | None:
    """The mirror's copy of `url`: <mirror>/<name>.git or <mirror>/<name>.

    For a directory or file:// mirror only an existing repository counts; an
    http(s) mirror is asked for <name>.git.
    """
    if not mirror:
        return None
    name = _name_of(url)
    base = mirror.rstrip("/")
    parsed = urlparse(base)
    if parsed.scheme in ("http", "https"):
        return f"{base}/{name}.git"
    root = Path(parsed.path if parsed.scheme == "file" else base).expanduser().absolute()
    for candidate in (root / f"{name}.git", root / name):
        if (candidate / "HEAD").is_file() or (candidate / ".git").exists():
            return candidate.as_uri()
    return None


def _name_of(url: str) -> str:
    """The repository's name in its URL: cpython for https://github.com/python/cpython.git."""
    return url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")


def git(repo: Path, *args: str) -> list[str]:
    return ["git", f"--git-dir={repo}", *args]


def _env(env: Mapping[str, str]) -> dict[str, str]:
    # Never stop to ask for credentials: an unreachable or private remote must fail, not hang.
    return {**env, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "LC_ALL": "C"}


def resolve(
    source: GitSource,
    cache: Path,
    *,
    log_path: Path,
    env: Mapping[str, str],
    mirror: str | None = None,
    on_line: Callable[[str], None] | None = None,
    timeout: float | None = None,
) -> Resolved:
    """Make sure the pinned commit is in the cached repository; return its full hash."""
    repo = repo_dir(cache, source.url)
    env = _env(env)
    repo.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(repo) + ".lock", timeout=LOCK_TIMEOUT):
        if not (repo / "HEAD").is_file():
            shutil.rmtree(repo, ignore_errors=True)
            runner.call(["git", "init", "--quiet", "--bare", str(repo)], phase="fetch", log_path=log_path, env=env)
        remotes = [("mirror", u) for u in [mirror_url(source.url, mirror)] if u] + [("origin", source.url)]
        for name, url in remotes:
            _set_remote(repo, name, url, log_path, env)

        found = _lookup(repo, source.commit, log_path, env)
        if found:
            return Resolved(found, "cache")

        failures: list[str] = []  # "<url>: <why it could not be fetched>"
        lacking: list[str] = []  # the URLs fetched whose history has no such commit
        for name, url in remotes:
            if FULL_HASH.match(source.commit):
                try:
                    _fetch(repo, ["--depth", "1", name, source.commit], log_path, env, on_line, timeout)
                except FetchError as exc:
                    failures.append(f"{url}: {exc.message}")  # refused, or unreachable: try the history
                found = _lookup(repo, source.commit, log_path, env)
                if found:
                    return Resolved(found, url)
            try:
                _fetch_history(repo, name, log_path, env, on_line, timeout)
            except FetchError as exc:
                failures.append(f"{url}: {exc.message}")
                continue
            found = _lookup(repo, source.commit, log_path, env)
            if found:
                return Resolved(found, url)
            lacking.append(url)

    if lacking:
        others = [f for f in dict.fromkeys(failures) if not f.startswith(tuple(f"{u}: " for u in lacking))]
        raise FetchError(f"commit {source.commit} not found in {', '.join(lacking)}"
                         + "".join(f"; {f}" for f in others),
                         hint="check the commit (git log of the repository shows it)")
    raise FetchError("cannot fetch " + "; ".join(dict.fromkeys(failures)), hint=_offline_hint(source, mirror))


def history(source: GitSource, cache: Path, *, log_path: Path, env: Mapping[str, str], mirror: str | None = None,
            on_line: Callable[[str], None] | None = None, timeout: float | None = None) -> tuple[Path, str]:
    """The cached repository of `source` with its history (branches and tags, blobless),
    fetched from the first remote that answers (the mirror first). Offline, a repository
    that has a history already is used as it is. Returns (repository, where it came from)."""
    repo = repo_dir(cache, source.url)
    env = _env(env)
    repo.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(repo) + ".lock", timeout=LOCK_TIMEOUT):
        if not (repo / "HEAD").is_file():
            shutil.rmtree(repo, ignore_errors=True)
            runner.call(["git", "init", "--quiet", "--bare", str(repo)], phase="fetch", log_path=log_path, env=env)
        remotes = [("mirror", u) for u in [mirror_url(source.url, mirror)] if u] + [("origin", source.url)]
        failures = []
        for name, url in remotes:
            _set_remote(repo, name, url, log_path, env)
        for name, url in remotes:
            try:
                _fetch_history(repo, name, log_path, env, on_line, timeout)
                return repo, url
            except FetchError as exc:
                failures.append(f"{url}: {exc.message}")
        has_commits = runner.capture(git(repo, "rev-list", "-n", "1", "--all"), log_path=log_path, env=env)
        if has_commits.returncode == 0 and has_commits.stdout.strip():
            return repo, "cache (offline: " + "; ".join(failures) + ")"
    raise FetchError("cannot fetch the history of " + source.url + ": " + "; ".join(dict.fromkeys(failures)),
                     hint=_offline_hint(source, mirror))


def rev(repo: Path, name: str, *, log_path: Path, env: Mapping[str, str]) -> str | None:
    """The full hash of a commit, tag or branch `name` in the cached repository (its
    branches are the remotes': mirror's first, then origin's); None when there is none."""
    env = _env(env)
    if name.startswith("-"):
        return None
    for candidate in (name, f"refs/remotes/mirror/{name}", f"refs/remotes/origin/{name}"):
        found = _lookup(repo, candidate, log_path, env)
        if found:
            return found
    return None


def _offline_hint(source: GitSource, mirror: str | None) -> str:
    """What to try when no remote answered; with PYBUILD12_MIRROR set, what it is set to and
    what it lacked, rather than advice to set it."""
    first = ("check the network; offline, point git at a local copy with "
             f"`git config --global url.<local-url>.insteadOf {source.url}`")
    if not mirror:
        return f"{first}, or set {MIRROR_ENV} to a directory holding the repository (see the README)"
    name = _name_of(source.url)
    shown = http.shown(mirror)
    if mirror_url(source.url, mirror) is None:
        return (f"{first}; {MIRROR_ENV} is set to {shown}, which holds no {name}.git or {name} repository: "
                "put a copy of the repository there (git clone --mirror)")
    return (f"{first}; {MIRROR_ENV} is set to {shown}, and its {name}.git could not be fetched either "
            "(the message says why): check that the mirror serves the repository")


def _set_remote(repo: Path, name: str, url: str, log_path: Path, env: Mapping[str, str]) -> None:
    current = runner.capture(git(repo, "config", "--get", f"remote.{name}.url"), log_path=log_path, env=env)
    if current.returncode != 0:
        runner.call(git(repo, "remote", "add", name, url), phase="fetch", log_path=log_path, env=env)
    elif current.stdout.strip() != url:
        runner.call(git(repo, "remote", "set-url", name, url), phase="fetch", log_path=log_path, env=env)


def _lookup(repo: Path, commit: str, log_path: Path, env: Mapping[str, str]) -> str | None:
    """The full hash of `commit` if the repository has exactly one such commit."""
    proc = runner.capture(git(repo, "rev-parse", "--verify", "--end-of-options", f"{commit}^{{commit}}"),
                          log_path=log_path, env=env)
    if proc.returncode == 0:
        return proc.stdout.strip()
    if "ambiguous" in proc.stderr:
        candidates = re.findall(r"^hint:\s+([0-9a-f]{4,40}) commit", proc.stderr, flags=re.M)
        raise FetchError(
            f"commit {commit} is ambiguous: more than one commit starts with it"
            + (f" ({', '.join(candidates)})" if candidates else ""),
            hint="give more hex digits of the commit, or all 40",
        )
    return None


def _fetch(repo: Path, args: list[str], log_path: Path, env: Mapping[str, str], on_line,
           timeout: float | None = None) -> None:
    try:
        runner.call(git(repo, "fetch", "--progress", "--no-tags", *args), phase="fetch", log_path=log_path,
                    timeout=timeout, env=env, on_line=on_line)
    except BuildError as exc:
        last = [line for line in (exc.log_tail or "").splitlines() if line.startswith(("fatal:", "error:"))]
        raise FetchError(last[-1] if last else exc.message) from None


def _fetch_history(repo: Path, remote: str, log_path: Path, env: Mapping[str, str], on_line,
                   timeout: float | None = None) -> None:
    """All branches and tags, without blobs. Unshallows a repository a --depth 1 fetch made."""
    args = ["--filter=blob:none", remote, f"+refs/heads/*:refs/remotes/{remote}/*", "+refs/tags/*:refs/tags/*"]
    if (repo / "shallow").exists():
        args.insert(0, "--unshallow")
    # A partial fetch needs the remote marked as a promisor of the missing blobs.
    runner.capture(git(repo, "config", f"remote.{remote}.promisor", "true"), log_path=log_path, env=env)
    runner.capture(git(repo, "config", f"remote.{remote}.partialclonefilter", "blob:none"), log_path=log_path, env=env)
    _fetch(repo, args, log_path, env, on_line, timeout)


def checkout(
    source: GitSource, resolved: Resolved, cache: Path, dest: Path, *, log_path: Path, env: Mapping[str, str]
) -> Checkout:
    """A worktree of the cached repository at exactly `resolved.commit`, at `dest`."""
    repo = repo_dir(cache, source.url)
    env = _env(env)
    with filelock.FileLock(str(repo) + ".lock", timeout=LOCK_TIMEOUT):
        runner.capture(git(repo, "worktree", "prune"), log_path=log_path, env=env)
        try:
            runner.call(git(repo, "worktree", "add", "--force", "--detach", str(dest), resolved.commit),
                        phase="checkout", log_path=log_path, env=env)
        except BuildError as exc:
            raise FetchError(
                f"cannot check out {resolved.commit}: {exc.log_tail.splitlines()[-1] if exc.log_tail else exc.message}",
                hint="the blobs of a blobless fetch come from the remote on checkout: check the network",
            ) from None
    head = runner.capture(["git", "-C", str(dest), "rev-parse", "HEAD"], log_path=log_path, env=env).stdout.strip()
    if head != resolved.commit:
        raise FetchError(f"checkout of {source.url} is at {head or 'nothing'}, not the pinned {resolved.commit}",
                         hint="the cached repository may be damaged: delete it and try again: " + str(repo))
    describe = runner.capture(["git", "-C", str(dest), "describe", "--tags", "--always", "--long"],
                              log_path=log_path, env=env).stdout.strip()
    return Checkout(dest, head, describe)


def remove_checkout(source: GitSource, cache: Path, tree: Path, *, log_path: Path, env: Mapping[str, str]) -> None:
    shutil.rmtree(tree, ignore_errors=True)
    repo = repo_dir(cache, source.url)
    if repo.is_dir():
        runner.capture(git(repo, "worktree", "prune"), log_path=log_path, env=_env(env))
