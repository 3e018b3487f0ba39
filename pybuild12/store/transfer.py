"""Artifacts carried out of and into the local cache through a directory: what a CI
cache (GitHub Actions', GitLab's) saves and restores between runs.

`export_to` copies one artifact and its sidecar into a directory (signed when a signing
key is given), keeping the verification this machine made of it. `import_from` takes a
directory's artifacts into the local cache, and trusts none of them for being there:
a CI cache can be written by other runs, pull requests among them. Each one is checked
here against the sha256 of its sidecar (and a trusted signature, when asked for); it
enters the local cache marked `imported`, never as packed here, so the install vets
every member as it unpacks and compares every unpacked file with the manifest packed
with it, and refuses it on any difference (see `install.flow`).

What the checks prove: the archive is the one its sidecar describes, and the unpacked
tree is the one its manifest lists and that the recorded verification was made of. A
writer of the CI cache who rewrites archive, manifest and sidecar together passes them;
only a signature by a key the importer trusts (`signed=True`) rules that out.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from pybuild12.core import files
from pybuild12.store import artifacts, signing

_KEY = re.compile(r"^[0-9a-f]{64}$")
IMPORTED = "imported"  # the sidecar field that marks an artifact taken from a directory


@dataclass(frozen=True)
class Outcome:
    key: str
    ok: bool
    reason: str = ""


def export_to(artifact: artifacts.Artifact, directory: Path, *, signer: signing.SecretKey | None = None) -> Path:
    """Copy `artifact` and its sidecar into `directory` (atomically each); returns the archive."""
    directory.mkdir(parents=True, exist_ok=True)
    meta = artifacts.shareable(artifact.meta)
    meta.pop(IMPORTED, None)
    if signer is not None:
        meta = signing.sign(meta, signer)
    if artifact.verification is not None:
        meta["verification"] = artifact.verification
    target = directory / artifact.path.name
    with files.replacing(target) as out, open(artifact.path, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
    files.write_json(directory / f"{artifact.key}.json", meta, sort_keys=True)
    return target


def import_from(directory: Path, cache: artifacts.Cache, *, trusted: Iterable[signing.PublicKey] = (),
                signed: bool = False) -> list[Outcome]:
    """Take every artifact in `directory` into `cache`, each checked (see the module's text);
    one refused is left out with the reason, and leaves the others to be taken."""
    trusted = list(trusted)
    found = []
    for sidecar in sorted(directory.glob("*.json")):
        key = sidecar.stem
        if _KEY.match(key):
            found.append(_take(key, sidecar, directory / f"{key}{artifacts.SUFFIX}", cache, trusted, signed))
    return found


def _take(key: str, sidecar: Path, archive: Path, cache: artifacts.Cache, trusted: list[signing.PublicKey],
          signed: bool) -> Outcome:
    if not archive.is_file():
        return Outcome(key, False, "its archive is missing")
    try:
        meta = json.loads(sidecar.read_text("utf-8"))
        expected = meta["sha256"]
        if not isinstance(meta, dict) or not isinstance(expected, str) or meta.get("key", key) != key:
            raise TypeError
    except (ValueError, KeyError, TypeError, OSError):
        return Outcome(key, False, "its sidecar is not valid")
    if signed:
        verdict = signing.check(meta, key, trusted)
        if not verdict.ok:
            return Outcome(key, False, verdict.reason)
    if files.sha256_of(archive) != expected:
        return Outcome(key, False, "the archive does not match the sha256 of its sidecar")
    if cache.get(key) is not None:
        return Outcome(key, True, "already in the local cache")
    cache.directory.mkdir(parents=True, exist_ok=True)
    fd, part = files.new_part(cache.directory, f".{key}.")
    try:
        with open(fd, "wb") as out, open(archive, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        kept = {**artifacts.shareable(meta), IMPORTED: {"from": str(sidecar.parent), "signed": signed}}
        if isinstance(meta.get("verification"), dict):
            kept["verification"] = meta["verification"]
        cache.adopt(key, part, kept, keep_verification=True)
    finally:
        part.unlink(missing_ok=True)
    return Outcome(key, True)
