"""Which build a command means when it is not named: PYBUILD12_VERSION, then `.python-version`.

`.python-version` is the file pyenv and uv read: one version name per line,
`#` comments allowed; the first name counts. `pybuild12 pin NAME` writes it.
Order, as pyenv's: an explicit NAME, then PYBUILD12_VERSION, then the nearest
`.python-version` from the current directory up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from pybuild12 import files
from pybuild12.errors import NotInstalledError

FILE = ".python-version"
ENV = "PYBUILD12_VERSION"


@dataclass(frozen=True)
class Choice:
    name: str
    origin: str  # "argument", "PYBUILD12_VERSION", or the path of the .python-version file


def find_file(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / FILE
        if candidate.is_file():
            return candidate
    return None


def read_file(path: Path) -> str | None:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            return line
    return None


def choose(name: str | None, *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Choice:
    env = os.environ if env is None else env
    if name is not None:
        return Choice(name, "argument")
    if env.get(ENV):
        return Choice(env[ENV].strip(), ENV)
    found = find_file((cwd or Path.cwd()).absolute())
    if found is not None:
        pinned = read_file(found)
        if pinned:
            return Choice(pinned, str(found))
    raise NotInstalledError(
        "no build named, and nothing pinned",
        hint=f"name a build, run 'pybuild12 pin NAME' to write {FILE} here, or set {ENV}",
    )


def current(directory: Path) -> str | None:
    """The name `directory`'s own .python-version pins (None: no such file, or empty)."""
    path = directory / FILE
    return read_file(path) if path.is_file() else None


def write(directory: Path, name: str) -> Path:
    from pybuild12 import names

    names.check(name)
    return files.write_text(directory / FILE, name + "\n")
