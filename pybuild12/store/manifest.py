"""The sha256 of every installed file, written at install time, checked on demand.

`pybuild12 verify --files NAME` compares a prefix with the manifest written when
it was installed and names every file changed, missing or added since: a
package installed into the base interpreter, an edited stdlib module, a disk
error. The manifest is taken after verification and before packing, so a build
reinstalled from the artifact cache brings its own (the artifact's sha256 was
checked before unpacking). The receipt and the manifest itself are not listed.

A `.pyc` in a `__pycache__` directory that the manifest does not list is not "added":
Python writes those at import (every one of them, in a build installed without
`make install`'s bytecode). A listed one that changed or went missing still counts.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pybuild12.core import files
from pybuild12.core.errors import PyBuild12Error

FILE = "pybuild12-files.json"
SCHEMA = 1
EXCLUDED = frozenset({FILE, "pybuild12.json"})


@dataclass(frozen=True)
class Differences:
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    added: tuple[str, ...]
    checked: int

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.added)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "changed": list(self.changed),
                "missing": list(self.missing), "added": list(self.added)}


def entries(prefix: Path) -> dict[str, dict[str, Any]]:
    """Every file and symlink under `prefix` (relative POSIX path: sha256 and size, or link target)."""
    files: list[str] = []
    found: dict[str, dict[str, Any]] = {}
    for root, dirs, names in os.walk(prefix):
        rel_root = os.path.relpath(root, prefix)
        for name in names + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            rel = name if rel_root == "." else f"{rel_root}/{name}"
            if rel in EXCLUDED:
                continue
            path = os.path.join(root, name)
            if os.path.islink(path):
                found[rel] = {"link": os.readlink(path)}
            else:
                files.append(rel)
    # hashlib releases the GIL on large buffers: threads use every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for rel, digest in zip(files, pool.map(lambda r: _digest(prefix / r), files), strict=True):
            found[rel] = digest
    return found


def _digest(path: Path) -> dict[str, Any]:
    return {"sha256": files.sha256_of(path), "size": path.stat().st_size}


def write(prefix: Path) -> Path:
    path = prefix / FILE
    data = {"schema": SCHEMA, "files": entries(prefix)}
    return files.write_json(path, data, indent=0)


def read(prefix: Path, name: str) -> dict[str, dict[str, Any]]:
    path = prefix / FILE
    try:
        data = json.loads(path.read_text("utf-8"))
        files = data["files"]
        if not isinstance(files, dict):
            raise TypeError
    except FileNotFoundError:
        raise PyBuild12Error(f"{name} has no file manifest ({path})",
                             hint=f"it was installed by an earlier pybuild12; 'pybuild12 install {name} --force' "
                             "reinstalls it with one") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PyBuild12Error(f"the file manifest of {name} is damaged ({path}: {exc})",
                             hint=f"'pybuild12 install {name} --force' reinstalls it with a new one") from None
    return files


def written_at_import(rel: str) -> bool:
    """Whether `rel` (a relative POSIX path) is where Python caches a module's bytecode."""
    parts = rel.split("/")
    return len(parts) >= 2 and parts[-2] == "__pycache__" and parts[-1].endswith(".pyc")


def compare(prefix: Path, name: str, *, import_bytecode: bool = True) -> Differences:
    """`prefix` against its manifest. `import_bytecode` False: a .pyc the manifest does not
    list is "added" too (an artifact from elsewhere must be exactly what was packed: Python
    would run a planted .pyc in place of its source)."""
    recorded = read(prefix, name)
    now = entries(prefix)
    added = now.keys() - recorded.keys()
    if import_bytecode:
        added = {rel for rel in added if not written_at_import(rel)}
    return Differences(
        changed=tuple(sorted(r for r in recorded.keys() & now.keys() if recorded[r] != now[r])),
        missing=tuple(sorted(recorded.keys() - now.keys())),
        added=tuple(sorted(added)),
        checked=len(recorded),
    )


def drop_import_bytecode(prefix: Path) -> int:
    """Remove every .pyc under `prefix`'s `__pycache__` directories (and the directories
    left empty); returns how many files went."""
    count = 0
    for cache in sorted(prefix.rglob("__pycache__"), reverse=True):
        if cache.is_symlink() or not cache.is_dir():
            continue
        for pyc in cache.glob("*.pyc"):
            if pyc.is_file() and not pyc.is_symlink():
                pyc.unlink()
                count += 1
        if not any(cache.iterdir()):
            cache.rmdir()
    return count
