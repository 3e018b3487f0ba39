"""CPython version strings, read the one way every layer needs."""

from __future__ import annotations

import re


def minor_of(version: str) -> tuple[int, int]:
    """(3, 13) for 3.13.5, 3.13.0a7+ or 3.13."""
    major, minor = version.split(".")[:2]
    return int(major), int(re.match(r"\d+", minor).group())
