"""How build names and CPython versions are spelled: the patterns every layer checks them by."""

from __future__ import annotations

import re

# A recipe or build name: what may name a directory of its own and a file (`3.13.5+debug`, `main@0b2b4e3d5f12`).
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@-]{0,63}$")
NAME_RULE = "a build name is 1 to 64 letters, digits and . _ + @ -, starting with a letter or digit"
OLDEST = (3, 12)  # the first CPython with a GIL per interpreter (PEP 684)
# What a request may name before its variants: a major, a minor line or a release.
VERSION_REQUEST = re.compile(r"^\d+(?:\.\d+){0,2}$")


def minor_of(version: str) -> tuple[int, int]:
    """(3, 13) for 3.13.5, 3.13.0a7+ or 3.13."""
    major, minor = version.split(".")[:2]
    return int(major), int(re.match(r"\d+", minor).group())


def predates_own_gil(version: str) -> bool:
    """Whether a version request (`3.11`, `2`, `3.9.18`) asks for a CPython before 3.12,
    which has no GIL per interpreter; `3` (any 3.x) does not."""
    parts = tuple(int(p) for p in version.split("."))
    return parts[0] < OLDEST[0] or (len(parts) > 1 and parts[:2] < OLDEST)
