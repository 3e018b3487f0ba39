"""Recorded PGO profiles: the training run's `.gcda` files (GCC) or `code.profclangd`
(clang, `--optimize max`), reused by later builds.

An `--enable-optimizations` build spends more than half its time on an
instrumented build and a training run whose only product is the `.gcda`
files beside the object files. Put back after `configure` (with the
Makefile's `profile-run-stamp` touched), they let `make` compile straight
with `-fprofile-use`.

A profile is one self-describing file: a zstd tar whose first member,
`pybuild12-profile.json`, names the inputs it was recorded for, followed by
the `.gcda` files at their paths in the source tree. Its key is the artifact
key's inputs without the prefix, which the profile does not depend on. GCC
treats a profile of other sources as an error, so a profile recorded for
other inputs is refused before anything is built.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import zstandard

from pybuild12.core import files
from pybuild12.core.errors import ArchiveError, PyBuild12Error, RecipeError, UsageError
from pybuild12.sources import archive
from pybuild12.store import artifacts
from pybuild12.store.receipts import Receipt

FORMAT = 1  # of the profile file (its key's inputs have their own: key.PROFILE_FORMAT)
META = "pybuild12-profile.json"
SUFFIX = ".profile.tar.zst"
CLANG_PROFILE = "code.profclangd"  # clang's merged profile (CPython's LLVM_PROF_MERGER writes it)
STAMP = "profile-run-stamp"  # Makefile.pre.in: its presence skips profile-gen and the training run
_DESCRIBED = ("source", "compiler", "configure_args", "build_env", "machine", "libc")


@dataclass(frozen=True)
class Profile:
    path: Path
    meta: dict[str, Any]

    @property
    def key(self) -> str:
        return self.meta["key"]


def read(path: Path) -> Profile:
    """The profile at `path`, its description read from its first member."""
    try:
        with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as zin:
            with tarfile.open(fileobj=zin, mode="r|") as tar:
                first = tar.next()
                if first is None or first.name != META or not first.isfile():
                    raise ArchiveError(f"{path} is not a pybuild12 PGO profile (no {META} at its start)")
                meta = json.loads(tar.extractfile(first).read())
    except OSError as exc:
        raise ArchiveError(f"cannot read PGO profile {path}: {exc.strerror or exc}",
                           hint="pass a file written by 'pybuild12 profile export'") from None
    except (tarfile.TarError, zstandard.ZstdError, ValueError) as exc:
        raise ArchiveError(f"{path} is not a pybuild12 PGO profile: {exc}",
                           hint="pass a file written by 'pybuild12 profile export'") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "inputs" not in meta or "key" not in meta:
        raise ArchiveError(f"{path}: unsupported PGO profile format", hint="export it again with this pybuild12")
    return Profile(path, meta)


def check_matches(profile: Profile, inputs: Mapping[str, Any]) -> None:
    """Refuse a profile recorded for other sources, options or compiler."""
    # A profile recorded before build_env was part of the inputs was made with none set.
    recorded = {"build_env": {}, **profile.meta["inputs"]}
    inputs = {"build_env": {}, **inputs}
    differ = [k for k in sorted(set(recorded) | set(inputs)) if recorded.get(k) != inputs.get(k)]
    if differ:
        lines = [f"  {k}: profile has {recorded.get(k)!r}, this build has {inputs.get(k)!r}"
                 for k in differ if k in _DESCRIBED] or [f"  differing: {', '.join(differ)}"]
        raise RecipeError(
            f"the PGO profile {profile.path} was recorded for another build:\n" + "\n".join(lines),
            hint="use a profile exported from a build of the same recipe, options and compiler, "
                 "or leave out --pgo-profile to train a fresh one",
        )


def restore(profile: Profile, tree: Path) -> int:
    """Put the profile's `.gcda` files into the configured source tree and mark the
    training run done. Every member is vetted before the first is written.
    Returns how many files were restored."""
    wanted = _members(profile, lambda tar, m: _vet(profile, tree, m))
    if not wanted:
        raise ArchiveError(f"PGO profile {profile.path} holds no .gcda files")
    _members(profile, lambda tar, m: archive.extract_member(tar, m, tree) if m.name in wanted else None)
    (tree / STAMP).touch()
    return len(wanted)


def _vet(profile: Profile, tree: Path, member: tarfile.TarInfo) -> str | None:
    if member.name == META:
        return None
    parts = Path(member.name).parts
    if not (member.isfile() and (member.name.endswith(".gcda") or member.name == CLANG_PROFILE)) \
            or member.name.startswith("/") or ".." in parts:
        raise ArchiveError(f"PGO profile {profile.path}: unexpected member {member.name!r}",
                           hint="a profile holds only .gcda files at relative paths; export it again")
    try:
        archive.vet(member, tree)
    except archive.UnsafeMember as exc:
        raise ArchiveError(f"PGO profile {profile.path}: {exc}") from None
    return member.name


def _members(profile: Profile, visit) -> set[str]:
    """Call `visit(tar, member)` on each member in order; the set of what it returned."""
    seen: set[str] = set()
    try:
        with open(profile.path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as zin:
            with tarfile.open(fileobj=zin, mode="r|") as tar:
                for member in tar:
                    name = visit(tar, member)
                    if name:
                        seen.add(name)
    except (tarfile.TarError, zstandard.ZstdError) as exc:
        raise ArchiveError(f"PGO profile {profile.path} is damaged: {exc}") from None
    return seen


class Store:
    """Recorded profiles, one file per key."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, key: str) -> Path:
        return self.directory / f"{key}{SUFFIX}"

    def get(self, key: str) -> Profile | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return read(path)
        except ArchiveError:
            path.unlink(missing_ok=True)
            return None

    def record(self, key: str, inputs: Mapping[str, Any], tree: Path, facts: Mapping[str, Any]) -> Profile | None:
        """Pack the `.gcda` files of a trained build tree; None when it has none."""
        names = sorted(str(p.relative_to(tree)) for p in tree.rglob("*.gcda"))
        names += [CLANG_PROFILE] if (tree / CLANG_PROFILE).is_file() else []
        if not names:
            return None
        meta = {"format": FORMAT, "key": key, "inputs": dict(inputs), "files": len(names),
                "created": time.time(), **facts}
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(key)
        artifacts.pack(path, tree, names, header=(META, json.dumps(meta, indent=2, sort_keys=True).encode()))
        return Profile(path, meta)

    def adopt(self, profile: Profile) -> Profile:
        """Keep a copy of a profile given on the command line, for later builds and export."""
        path = self.path(profile.key)
        if profile.path.resolve() != path.resolve():
            export(profile, path)
        return Profile(path, profile.meta)

    def __iter__(self):
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob(f"*{SUFFIX}")):
            try:
                yield read(path)
            except ArchiveError:
                continue

    def prune(self, older_than_seconds: float) -> list[Profile]:
        cutoff = time.time() - older_than_seconds
        gone = [p for p in self if p.meta.get("created", 0) < cutoff]
        for p in gone:
            p.path.unlink(missing_ok=True)
        return gone

    def clear(self) -> list[Profile]:
        return self.prune(-1e12)


def export(profile: Profile, dest: Path) -> None:
    """Copy a recorded profile to `dest`, atomically."""
    with open(profile.path, "rb") as src, files.replacing(dest) as out:
        shutil.copyfileobj(src, out)


def of_build(store: Store, name: str, receipt: Receipt | None) -> Profile:
    """The recorded profile an installed build was compiled with."""
    info = receipt.pgo_profile if receipt else None
    if not info:
        raise UsageError(f"{name} was built without PGO (--enable-optimizations): it has no PGO profile to export",
                         hint="'pybuild12 profile list' shows the recorded profiles; a build with PGO (the shipped "
                         "recipes' default, but for +debug) records one")
    profile = store.get(info["key"])
    if profile is None:
        raise PyBuild12Error(
            f"no recorded PGO profile for {name} in {store.directory}",
            hint=f"'pybuild12 install {name} --force --fresh-profile' rebuilds it and records one",
        )
    return profile
