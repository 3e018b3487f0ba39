"""How build names and CPython versions are spelled: the patterns every layer checks them by."""

from __future__ import annotations

import re

# A recipe or build name: what may name a directory of its own and a file (`3.13.5+debug`, `main@0b2b4e3d5f12`).
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@-]{0,63}$")


def minor_of(version: str) -> tuple[int, int]:
    """(3, 13) for 3.13.5, 3.13.0a7+ or 3.13."""
    major, minor = version.split(".")[:2]
    return int(major), int(re.match(r"\d+", minor).group())
