"""Small helpers shared by the unit tests (importable, unlike conftest.py)."""

from __future__ import annotations


def tarball_recipe(url: str, sha256: str, version: str = "3.13.5", extra: str = "") -> str:
    return f"""
version = "{version}"
summary = "test recipe"

[source]
kind = "tarball"
url = "{url}"
sha256 = "{sha256}"
{extra}
"""
