"""Installed builds: listed, looked up by name, removed; each with its receipt (receipts.py).

A receipt is the record of what was built and how: enough to tell two builds
apart and to rebuild one. It carries a schema number so later versions can
read (and migrate) older receipts.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from pybuild12.core import leftovers
from pybuild12.core.errors import BusyError, NotInstalledError
from pybuild12.core.paths import Paths
from pybuild12.core.staging import RETIRED_PREFIX, STAGING_PREFIX
from pybuild12.store import receipts
from pybuild12.store.receipts import Receipt

if TYPE_CHECKING:  # pragma: no cover
    pass

RECEIPT = receipts.FILE


@dataclass(frozen=True)
class Installed:
    """An installed build: what `list` shows, names resolve to, and an install answers with."""

    name: str
    prefix: Path
    receipt: Receipt | None  # None: no readable receipt (not made by pybuild12, or damaged)
    log_path: Path | None = None  # the install's log, when this run installed it
    already_installed: bool = False  # the install found it in place and built nothing
    notes: tuple[str, ...] = ()  # what an install that answered with it has to say of it

    @property
    def version(self) -> str:
        return self.receipt.version if self.receipt else "?"

    @property
    def variants(self) -> tuple[str, ...]:
        return (self.receipt.variants or ()) if self.receipt else ()

    @property
    def python(self) -> Path:
        rel = self.receipt.python if self.receipt else None
        # Receipts written before the interpreter's name followed the variant say bin/python3.13
        # for a free-threaded build too: the same file, under the name that hides its kind.
        return kind_python(self.prefix / rel, self.variants) if rel else self.prefix / "bin" / "python3"


# PEP 703: a free-threaded CPython installs its interpreter as python3.13t (python3.13td
# when it is also a debug build) and python3.13 as a hard link to it. The t name says what
# it is, and is the one uv and the python.org installers put on PATH.
FREE_THREADED_SUFFIXES = ("t", "td")


def kind_python(python: Path, variants: Sequence[str]) -> Path:
    """`python` (bin/python3.13), or on a free-threaded build the same interpreter under
    its free-threaded name when the build has it."""
    if "freethreaded" not in variants or python.name.endswith(FREE_THREADED_SUFFIXES):
        return python
    for suffix in FREE_THREADED_SUFFIXES:
        candidate = python.with_name(python.name + suffix)
        if candidate.exists():
            return candidate
    return python


def installed(paths: Paths) -> list[Installed]:
    if not paths.pythons.is_dir():
        return []
    found = []
    for entry in sorted(paths.pythons.iterdir()):
        if entry.name.startswith((STAGING_PREFIX, RETIRED_PREFIX, ".")) or not entry.is_dir():
            continue
        found.append(Installed(entry.name, entry, receipts.read(entry)))
    return found


def get(paths: Paths, name: str) -> Installed:
    prefix = paths.prefix(name)
    if "/" in name or name.startswith(".") or not prefix.is_dir():
        names = [i.name for i in installed(paths)]
        raise NotInstalledError(
            f"no build named {name!r} is installed",
            hint=(f"installed: {', '.join(names)}; " if names else "nothing is installed yet; ")
            + f"'pybuild12 install {name}' builds it",
        )
    return Installed(name, prefix, receipts.read(prefix))


def remove(paths: Paths, name: str, *, force: bool = False) -> Path:
    """Delete a build; the rename first makes it vanish at once, even if deletion is slow.

    Refused while a process runs the build's python (a venv's python counts: it is a
    link to the build's), unless `force`.
    """
    build = get(paths, name)
    users = leftovers.users_of(build.prefix)
    if users and not force:
        shown = "; ".join(f"pid {pid}: {cmd[:80]}" for pid, cmd in sorted(users.items())[:5])
        raise BusyError(
            f"{name} is in use by {len(users)} running process{'es' if len(users) > 1 else ''} ({shown})",
            hint=f"stop them and run the command again, or 'pybuild12 uninstall --force {name}' to delete it "
            "under them (they keep running, but fail as soon as they load a module or library not yet loaded)",
        )
    doomed = paths.pythons / f"{RETIRED_PREFIX}{name}-uninstall"
    if doomed.exists():
        shutil.rmtree(doomed)
    os.rename(build.prefix, doomed)
    shutil.rmtree(doomed)
    shutil.rmtree(paths.shims / name, ignore_errors=True)  # `pybuild12 env`'s links to it
    return build.prefix
