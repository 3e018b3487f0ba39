"""Install into a staging directory, then move into place in one step.

`make install DESTDIR=<staging>` writes the tree at `<staging>/<prefix>`; the
staging directory lives beside the final prefix (same file system) so the
move is a rename. An earlier install of the same name is swapped out with
`renameat2(RENAME_EXCHANGE)` where the kernel has it, so the name never
points at nothing, and is deleted only after the new one is in place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

STAGING_PREFIX = ".staging-"
RETIRED_PREFIX = ".retired-"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def new_staging(pythons: Path, name: str) -> Path:
    pythons.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{name}-", dir=pythons))


def staged_prefix(staging: Path, prefix: Path) -> Path:
    """Where `make install DESTDIR=staging` puts a build configured for `prefix`."""
    return staging / prefix.relative_to(prefix.anchor)


def remove_leftovers(pythons: Path, name: str) -> list[Path]:
    """Delete staging and retired trees of `name` left by a killed process.

    Call only while holding the lock of `name`.
    """
    removed = []
    if not pythons.is_dir():
        return removed
    for entry in pythons.iterdir():
        if owner(entry.name) == name and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def owner(entry: str) -> str | None:
    """The build a staging or retired directory belongs to: `.staging-main-debug-k3j9x_2a`
    is main-debug's, not main's. Names may hold `-`; the random tail after the last `-`
    never does. None for other entries."""
    for marker in (STAGING_PREFIX, RETIRED_PREFIX):
        if entry.startswith(marker) and "-" in entry[len(marker):]:
            return entry[len(marker):].rsplit("-", 1)[0]
    return None


def promote(staged: Path, prefix: Path) -> None:
    """Move `staged` to `prefix`, replacing an earlier install only at the last moment."""
    if not prefix.exists():
        os.rename(staged, prefix)
        return
    retired = Path(tempfile.mkdtemp(prefix=f"{RETIRED_PREFIX}{prefix.name}-", dir=prefix.parent))
    if _exchange(staged, prefix):
        # `staged` now holds the old install.
        os.rename(staged, retired / "old")
    else:
        os.rename(prefix, retired / "old")
        os.rename(staged, prefix)
    shutil.rmtree(retired, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux >= 3.15); False when unsupported."""
    import ctypes  # lazy: only a move into place needs renameat2, not the answering commands
    import ctypes.util

    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0
