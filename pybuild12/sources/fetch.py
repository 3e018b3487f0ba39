"""Getting a recipe's source tree into the build directory: tarball or git.

Both kinds end the same way: a source tree with a `configure` script at its
top, and the facts about where it came from for the receipt.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from pybuild12.core import runner
from pybuild12.core.errors import FetchError
from pybuild12.core.paths import Paths
from pybuild12.core.runlog import Run
from pybuild12.core.settings import Settings
from pybuild12.request.recipes import GitSource, Recipe, TarballSource
from pybuild12.sources import archive, download, gitsource


@dataclass(frozen=True)
class SourceTree:
    path: Path
    facts: dict[str, Any]  # the receipt's "source" entry


def pin(recipe: Recipe, *, paths: Paths, settings: Settings, run: Run) -> tuple[str, Any]:
    """What exactly will be built, before anything is downloaded: the tarball's sha256,
    or the full hash of the git commit (resolving it may fetch). Returns (pin, resolution)."""
    if isinstance(recipe.source, TarballSource):
        return recipe.source.sha256, None
    source = recipe.source

    def on_line(line: str) -> None:
        if "%" in line and ":" in line:  # git's "Receiving objects:  45% (...)" progress
            run.reporter.status(line.strip()[:70])

    with run.phase("fetch", f"{source.url} @ {source.commit}"):
        resolved = gitsource.resolve(source, paths.cache, log_path=run.log_path, env=settings.env,
                                     mirror=settings.mirror, on_line=on_line, timeout=settings.step_timeout)
        run.log(f"source {source.url} commit {source.commit} resolved to {resolved.commit} "
                f"from {resolved.fetched_from}")
    return resolved.commit, resolved


def prepare(recipe: Recipe, *, paths: Paths, settings: Settings, build_root: Path, run: Run,
            resolution: Any = None) -> SourceTree:
    """`resolution` is what `pin()` returned for a git source (None for a tarball)."""
    if isinstance(recipe.source, TarballSource):
        tree = _tarball(recipe.source, recipe.path, paths, settings, build_root, run)
    else:
        tree = _git(recipe.source, resolution, paths, build_root, run, settings.env)
    if not (tree.path / "configure").is_file():
        raise FetchError(
            f"the source of {recipe.name} has no configure script at its top ({tree.path})",
            hint="a CPython source tree always has one; is this the CPython repository, at a commit that builds?",
        )
    return tree


def release(recipe: Recipe, tree: SourceTree | None, *, paths: Paths, settings: Settings, run: Run) -> None:
    """Forget the git worktree of a removed build tree (a tarball tree needs nothing)."""
    if isinstance(recipe.source, GitSource) and tree is not None:
        gitsource.remove_checkout(recipe.source, paths.cache, tree.path, log_path=run.log_path,
                                  env=settings.env)


def configure_script(recipe: Recipe, source_pin: str, *, paths: Paths, settings: Settings, run: Run) -> str:
    """The source's top-level configure script alone, without extracting the tree (for
    checking configure options before anything is built: `pybuild12 key`). A tarball is
    fetched into the download cache, where the install that follows finds it."""
    if isinstance(recipe.source, TarballSource):
        fetched = _download(recipe.source, recipe.path, paths, settings, run)
        with tarfile.open(fetched.path) as tar:
            for member in tar:
                if member.isfile() and member.name.count("/") == 1 and member.name.endswith("/configure"):
                    return tar.extractfile(member).read().decode("utf-8", errors="replace")
        raise FetchError(f"{fetched.path.name} has no configure script at its top",
                         hint="a CPython source tarball always has one")
    repo = gitsource.repo_dir(paths.cache, recipe.source.url)
    proc = runner.capture(["git", "-C", str(repo), "show", f"{source_pin}:configure"], log_path=run.log_path,
                          env=settings.env)
    if proc.returncode != 0:
        raise FetchError(f"commit {source_pin[:12]} has no configure script at its top",
                         hint="is this the CPython repository, at a commit that builds?")
    return proc.stdout


def _download(source: TarballSource, recipe_file: Path, paths: Paths, settings: Settings,
              run: Run) -> download.Fetched:
    """The tarball in the download cache, its fetch a phase of `run`."""
    with run.phase("fetch", source.filename):
        fetched = download.fetch(source, paths.downloads, mirror=settings.mirror, recipe_file=recipe_file,
                                 progress=run.reporter.progress, warn=run.reporter.warn, waiting=run.reporter.info,
                                 stalled=run.reporter.status, timeouts=settings.http_timeouts)
        run.log(f"source {source.filename} sha256 {source.sha256} from {fetched.origin}")
    return fetched


def _tarball(source: TarballSource, recipe_file: Path, paths: Paths, settings: Settings, build_root: Path,
             run: Run) -> SourceTree:
    fetched = _download(source, recipe_file, paths, settings, run)
    with run.phase("extract", fetched.path.name):
        path = archive.extract(fetched.path, build_root)
    facts = {"kind": "tarball", "url": source.url, "sha256": source.sha256, "fetched_from": fetched.origin}
    return SourceTree(path, facts)


def _git(source: GitSource, resolved: gitsource.Resolved, paths: Paths, build_root: Path, run: Run,
         env: Mapping[str, str]) -> SourceTree:
    with run.phase("checkout", resolved.commit[:12]):
        build_root.mkdir(parents=True, exist_ok=True)
        co = gitsource.checkout(source, resolved, paths.cache, build_root / f"cpython-{resolved.commit[:12]}",
                                log_path=run.log_path, env=env)
    facts = {
        "kind": "git",
        "url": source.url,
        "commit_pinned": source.commit,
        "commit": co.commit,
        "describe": co.describe,
        "fetched_from": resolved.fetched_from,
    }
    return SourceTree(co.tree, facts)
