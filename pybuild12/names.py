"""Build names: checked the same way by every command before it touches the file system,
and resolved the same way (`3.13` and `3.13.5t` find the builds `install` made of them).

A build name becomes a directory under `<data>/pythons` and a lock file beside it, so
it must be one short path component: letters, digits and `. _ + @ -`, starting with a
letter or digit (no `/`, no `..`, never empty).
"""

from __future__ import annotations

import difflib

from pybuild12 import registry, variants
from pybuild12.errors import NotInstalledError, PyBuild12Error, UsageError, quoted
from pybuild12.paths import Paths
from pybuild12.recipes import NAME_RE

RULE = "a build name is 1 to 64 letters, digits and . _ + @ -, starting with a letter or digit"


def check(name: str, *, what: str = "build name") -> str:
    """`name` if it can name a build; a usage error (exit 2) otherwise."""
    if not NAME_RE.match(name) or not name.isascii():
        raise UsageError(f"invalid {what} {quoted(name)}", hint=RULE + " (see 'pybuild12 list')")
    return name


def installed_name(paths: Paths, name: str) -> str:
    """The installed build `name` means: the build of that name, else what installing
    `name` would have named it (`3.13` -> `3.13.18`, `3.13.5t` -> `3.13.5+freethreaded`).
    Returns `name` itself when none of these is installed."""
    check(name)
    if paths.prefix(name).is_dir():
        return name
    for candidate in (variants.build_name(name), recipe_build_name(name)):
        if candidate and paths.prefix(candidate).is_dir():
            return candidate
    return name


def recipe_build_name(name: str) -> str | None:
    """What `pybuild12 install NAME` would name its build; None when NAME is no recipe."""
    try:
        return variants.resolve(name)[1]
    except PyBuild12Error:
        return None


def get(paths: Paths, name: str, *, origin: str = "argument") -> registry.Installed:
    """The installed build `name` means, or NotInstalledError with a hint that can work."""
    try:
        resolved = installed_name(paths, name)
    except UsageError as exc:
        if origin == "argument":
            raise
        raise NotInstalledError(f"{quoted(name)}, pinned by {origin}, cannot name a pybuild12 build",
                                hint=f"{RULE}; pin a build with 'pybuild12 pin NAME', or name one") from exc
    if paths.prefix(resolved).is_dir():
        return registry.get(paths, resolved)
    raise not_installed(paths, name, origin)


def not_installed(paths: Paths, name: str, origin: str = "argument") -> NotInstalledError:
    """The error for a name with no build: what is installed, what is close, and how to
    build it only when a recipe can (`install 3.12.1` cannot: no such recipe)."""
    names = [i.name for i in registry.installed(paths)]
    pinned = "" if origin == "argument" else f" (pinned by {origin})"
    hints = []
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if close:
        hints.append(f"did you mean {', '.join(close)}?")
    hints.append(f"installed: {', '.join(names)}" if names else "nothing is installed yet")
    would_be = recipe_build_name(name)
    if would_be is not None:
        also = "" if would_be == name else f" (as {would_be})"
        hints.append(f"'pybuild12 install {name}' builds it{also}")
    else:
        hints.append(f"no recipe is named {name} either: 'pybuild12 list' shows the recipes")
    return NotInstalledError(f"no build named {quoted(name)} is installed{pinned}", hint="; ".join(hints))
