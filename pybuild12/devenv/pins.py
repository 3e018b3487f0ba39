"""Which build a command means when it is not named: PYBUILD12_VERSION, then `.python-version`.

`.python-version` is the file pyenv and uv read: one version name per line,
`#` comments allowed; the first name counts. `pybuild12 pin NAME` writes it.
Order, as pyenv's: an explicit NAME, then PYBUILD12_VERSION, then the nearest
`.python-version` from the current directory up. A pin may be a request (`3.13`, `3.13t`):
`names` finds the build it means. `pybuild12 install` without a name builds the pin,
as `pyenv install` and `uv python install` do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pybuild12.core import files
from pybuild12.core.errors import PyBuild12Error, UsageError
from pybuild12.core.settings import VERSION_ENV as ENV
from pybuild12.store import names

FILE = ".python-version"
NOTHING = "nothing named, and nothing pinned"  # the same words (and exit 2) in every command


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


def pinned(*, cwd: Path | None = None, version: str | None = None) -> Choice | None:
    """What PYBUILD12_VERSION (`version`: Settings.version), else the nearest .python-version,
    names; None: nothing is pinned."""
    if version and version.strip():
        return Choice(version.strip(), ENV)
    found = find_file((cwd or Path.cwd()).absolute())
    if found is not None:
        name = read_file(found)
        if name:
            return Choice(name, str(found))
    return None


def choose(name: str | None, *, cwd: Path | None = None, version: str | None = None) -> Choice:
    if name is not None:
        return Choice(name, "argument")
    choice = pinned(cwd=cwd, version=version)
    if choice is None:
        raise UsageError(
            NOTHING,
            hint=f"name a build, run 'pybuild12 pin NAME' to write {FILE} here, or set {ENV}",
        )
    return choice


def to_install(name: str | None, *, cwd: Path | None = None, version: str | None = None) -> Choice:
    """What `pybuild12 install` builds: RECIPE, else the pin, which must be a well-formed
    build name as `pybuild12 pin` writes one (a recipe, or a recipe file in this directory):
    a .python-version that holds a path such as ../x is refused before anything is read."""
    if name is not None:
        return Choice(name, "argument")
    choice = pinned(cwd=cwd, version=version)
    if choice is None:
        raise UsageError(NOTHING,
                         hint=f"give one, e.g. 'pybuild12 install 3.13', or pin one with 'pybuild12 pin 3.13' "
                         f"(it writes {FILE} here) and run 'pybuild12 install' again")
    from pybuild12.request import resolve  # lazy: the recipes, for install and key only

    try:
        resolve.check_request(choice.name)  # as a name given (never a path: a pin names a build), and where
    except PyBuild12Error as exc:
        raise names.pinned_by(exc, choice.origin) from None
    return choice


def current(directory: Path) -> str | None:
    """The name `directory`'s own .python-version pins (None: no such file, or empty)."""
    path = directory / FILE
    return read_file(path) if path.is_file() else None


def write(directory: Path, name: str) -> Path:
    names.check(name)
    return files.write_text(directory / FILE, name + "\n")
