"""The artifact cache: verified builds packed with zstd, reinstalled in seconds.

An artifact's key covers everything that shapes the binary: the recipe's
content, the source (tarball sha256 or resolved commit), the configure
arguments, the compiler flags of the environment (CFLAGS and the like), the
prefix (builds are not relocatable), the compiler and its version, and the
platform with its libc. Each artifact has a JSON sidecar
with its sha256, checked before anything is unpacked; a mismatch removes the
artifact and the install builds from source instead.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import zstandard

from pybuild12.core import files, runner
from pybuild12.core.errors import ArchiveError
from pybuild12.sources import archive

SUFFIX = ".tar.zst"
LEVEL = 3  # measured: about as fast as the disk, a third of the size


@dataclass(frozen=True)
class Artifact:
    """A packed build and its sidecar (`meta`: the JSON beside it, which the shared cache
    signs field by field, see signing.SIGNED_FIELDS). The properties are the facts an
    install and `cache list` read from it, each read here only."""

    key: str
    path: Path
    meta: dict[str, Any]

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def name(self) -> str:
        return str(self.meta.get("name", "?"))

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "?"))

    @property
    def created(self) -> float | None:
        return self.meta.get("created")

    @property
    def source(self) -> dict[str, Any]:
        """The receipt's `source` facts of the build packed."""
        return dict(self.meta.get("source") or {})

    @property
    def pgo_profile(self) -> dict[str, Any] | None:
        return self.meta.get("pgo_profile")

    @property
    def verification(self) -> dict[str, Any] | None:
        """The verification of the build packed, when one ran; `ok` says how it went."""
        return self.meta.get("verification") or None

    @property
    def modules(self) -> dict[str, list[str]] | None:
        return self.meta.get("modules")

    @property
    def bytecode(self) -> bool:
        """Whether the build packed has the standard library's .pyc (artifacts packed before
        the option was recorded all have)."""
        return self.meta.get("bytecode", True) is not False


class Cache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.directory / f"{key}{SUFFIX}", self.directory / f"{key}.json"

    def get(self, key: str) -> Artifact | None:
        """The artifact for `key` if present and intact; a damaged one is removed."""
        path, sidecar = self._paths(key)
        if not path.is_file() or not sidecar.is_file():
            return None
        try:
            meta = json.loads(sidecar.read_text("utf-8"))
            expected = meta["sha256"]
        except (ValueError, KeyError, OSError):
            self.remove(key)
            return None
        if files.sha256_of(path) != expected:
            self.remove(key)
            return None
        return Artifact(key, path, meta)

    def put(self, key: str, tree: Path, meta: dict[str, Any]) -> Artifact:
        """Pack `tree` (its contents, relative) as the artifact for `key`; atomic."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path, sidecar = self._paths(key)
        digest = pack(path, tree, sorted(e.name for e in tree.iterdir()))
        full = {**meta, "key": key, "sha256": digest, "created": time.time(), "packed_here": True}
        files.write_json(sidecar, full)
        return Artifact(key, path, full)

    def adopt(self, key: str, file: Path, meta: dict[str, Any], *, keep_verification: bool = False) -> Artifact:
        """Take a checked artifact file (downloaded from a shared cache) into this cache,
        without the verification another machine made of it (this one verifies it itself),
        unless `keep_verification` (an import, which the install compares with its manifest)."""
        path, sidecar = self._paths(key)
        verification = meta.get("verification")
        meta = shareable(meta)
        if keep_verification and verification is not None:
            meta["verification"] = verification
        os.replace(file, path)
        files.write_json(sidecar, meta)
        return Artifact(key, path, meta)

    def annotate(self, artifact: Artifact, **fields: Any) -> Artifact:
        """Add facts learnt about an artifact since it was packed (its verification here)."""
        meta = {**artifact.meta, **fields}
        files.write_json(self._paths(artifact.key)[1], meta)
        return Artifact(artifact.key, artifact.path, meta)

    def unpack(self, artifact: Artifact, dest: Path) -> None:
        """Extract into `dest`, every member first vetted by tarfile's `data` filter,
        unless this machine packed the artifact itself from a tree it built.

        The vetting pass reads only the headers (about 1 s for a CPython prefix); the
        extraction itself goes through GNU tar where there is one (3x faster than
        tarfile for the prefix's 9000 files), fed by the zstandard decompressor.
        """
        dest.mkdir(parents=True, exist_ok=True)
        if not artifact.meta.get("packed_here"):
            self._vet(artifact, dest)
        self._extract(artifact, dest)

    def _vet(self, artifact: Artifact, dest: Path) -> None:
        with open(artifact.path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as zin:
            with tarfile.open(fileobj=zin, mode="r|") as tar:
                try:
                    for member in tar:
                        archive.vet(member, dest)
                except archive.UnsafeMember as exc:
                    raise ArchiveError(f"refusing to unpack artifact {artifact.key[:12]}: {exc}") from None

    def _extract(self, artifact: Artifact, dest: Path) -> None:
        gnu_tar = shutil.which("tar")
        if gnu_tar is None:
            with open(artifact.path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as zin:
                with tarfile.open(fileobj=zin, mode="r|") as tar:
                    for member in tar:
                        archive.extract_member(tar, member, dest)
            return

        def decompress(into) -> None:
            with open(artifact.path, "rb") as raw:
                zstandard.ZstdDecompressor().copy_stream(raw, into)

        code, errors = runner.feed([gnu_tar, "-x", "-C", str(dest), "--no-same-owner", "--no-same-permissions"],
                                   decompress)
        if code != 0:
            raise ArchiveError(f"unpacking artifact {artifact.key[:12]} failed: {errors[-300:]}")

    def remove(self, key: str) -> None:
        for p in self._paths(key):
            p.unlink(missing_ok=True)

    def __iter__(self) -> Iterator[Artifact]:
        if not self.directory.is_dir():
            return
        for sidecar in sorted(self.directory.glob("*.json")):
            key = sidecar.stem
            path = self.directory / f"{key}{SUFFIX}"
            try:
                meta = json.loads(sidecar.read_text("utf-8"))
            except (ValueError, OSError):
                meta = {}
            if path.is_file():
                yield Artifact(key, path, meta)

    def prune(self, older_than_seconds: float) -> list[Artifact]:
        cutoff = time.time() - older_than_seconds
        gone = [a for a in self if a.meta.get("created", 0) < cutoff]
        for a in gone:
            self.remove(a.key)
        return gone

    def clear(self) -> list[Artifact]:
        return self.prune(-1e12)


# Facts a machine keeps about its own artifacts, never passed to another one: whether it
# packed the artifact itself (then unpacking skips the vetting pass) and its verification.
LOCAL_FACTS = ("packed_here", "verification")


def shareable(meta: dict[str, Any]) -> dict[str, Any]:
    """`meta` without this machine's own facts (for the shared cache, either way)."""
    return {k: v for k, v in meta.items() if k not in LOCAL_FACTS}


def pack(path: Path, tree: Path, names: Iterable[str], header: tuple[str, bytes] | None = None) -> str:
    """Write `names` (relative to `tree`, directories recursively) as a zstd tar at `path`,
    atomically; `header` is an extra (name, bytes) member written first. Returns the sha256."""
    digest = hashlib.sha256()
    with files.replacing(path) as raw:
        hashing = _HashingWriter(raw, digest)
        compressor = zstandard.ZstdCompressor(level=LEVEL, threads=-1)
        with compressor.stream_writer(hashing, closefd=False) as zout:
            with tarfile.open(fileobj=zout, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                if header is not None:
                    info = tarfile.TarInfo(header[0])
                    info.size, info.mode, info.mtime = len(header[1]), 0o644, int(time.time())
                    tar.addfile(info, io.BytesIO(header[1]))
                for name in names:
                    tar.add(tree / name, arcname=name)
    return digest.hexdigest()


class _HashingWriter:
    """A file object that hashes what it writes on its way to disk."""

    def __init__(self, raw, digest) -> None:
        self.raw, self.digest = raw, digest

    def write(self, data) -> int:
        self.digest.update(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


