"""Local git repositories with fixed identities and dates, so their hashes are stable."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

FIXED = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str, date: str = "2023-05-10T12:00:00+00:00", **kwargs) -> str:
    env = {**os.environ, **FIXED, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
           "HOME": str(repo.parent)}  # no user config leaks in (signing, hooks)
    kwargs.setdefault("timeout", 60)
    out = subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True, text=True,
                         **kwargs)
    return out.stdout.strip()


def init(repo: Path) -> Path:
    repo.mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    return repo


def commit(repo: Path, files: dict[str, str], message: str, *, day: int = 10,
           modes: dict[str, int] | None = None) -> str:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if modes and name in modes:
            path.chmod(modes[name])
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message, date=f"2023-05-{day:02d}T12:00:00+00:00")
    return git(repo, "rev-parse", "HEAD")


def many_commits(repo: Path, count: int) -> None:
    """`count` empty-tree commits in one go through git fast-import (fast, deterministic)."""
    lines = []
    for i in range(count):
        lines.append("commit refs/heads/many")
        lines.append(f"committer Test <t@example.invalid> {1683720000 + i} +0000")
        message = f"commit {i}"
        lines.append(f"data {len(message)}")
        lines.append(message)
        if i == 0:
            lines.append("deleteall")
        lines.append("")
    git(repo, "fast-import", "--quiet", input="\n".join(lines) + "\n")


def colliding_prefix(repo: Path, ref: str = "many", length: int = 7) -> tuple[str, list[str]] | None:
    seen: dict[str, list[str]] = {}
    for sha in git(repo, "rev-list", ref).split():
        seen.setdefault(sha[:length], []).append(sha)
    for prefix, shas in sorted(seen.items()):
        if len(shas) > 1:
            return prefix, shas
    return None
