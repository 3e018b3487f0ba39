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


def fake_build(paths, name: str, version: str | None, variants: tuple[str, ...] = ()):
    """An installed build as name resolution sees it: a prefix with a receipt (none when
    `version` is None) and a `bin/python3` that prints the build's name and its arguments,
    so a test of `run` sees which build ran. Returns the prefix."""
    from pybuild12 import registry

    prefix = paths.prefix(name)
    (prefix / "bin").mkdir(parents=True)
    python = prefix / "bin" / "python3"
    python.write_text(f'#!/bin/sh\necho "{name}: $*"\n')
    python.chmod(0o755)
    if version is not None:
        registry.write_receipt(prefix, {"name": name, "python": "bin/python3", "recipe": {"version": version},
                                        "variants": list(variants)})
    return prefix
