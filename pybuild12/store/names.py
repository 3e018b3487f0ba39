"""Build names: checked the same way by every command before it touches the file system,
and resolved the same way, as pyenv and uv resolve a version request.

A build name becomes a directory under `<data>/pythons` and a lock file beside it, so
it must be one short path component: letters, digits and `. _ + @ -`, starting with a
letter or digit (no `/`, no `..`, never empty).

A name that is not a build's own is a request: `3.13` means the newest installed 3.13.x
build without variants, `3.13t` (or `3.13+freethreaded`) the newest free-threaded one,
`3.13+debug` the newest debug one, `3` the newest 3.x. Versions and variants come from
the receipts, so a build installed under a `--name` of its own counts too.
"""

from __future__ import annotations

import difflib
import re

from pybuild12.core.errors import NotInstalledError, PyBuild12Error, UsageError, quoted
from pybuild12.core.paths import Paths
from pybuild12.request import variants
from pybuild12.request.spelling import NAME_RE, NAME_RULE, VERSION_REQUEST
from pybuild12.store import registry

RULE = NAME_RULE
# Only final releases answer a version request: a prerelease (main's 3.12.0a7+) is found by
# its build's name, as uv leaves prereleases out unless asked for.
_RELEASE = re.compile(r"^\d+\.\d+\.\d+$")
_LABELS = {"freethreaded": "free-threaded", "debug": "debug", "jit": "JIT", "tsan": "TSan", "asan": "ASan",
           "ubsan": "UBSan"}


def check(name: str, *, what: str = "build name") -> str:
    """`name` if it can name a build; a usage error (exit 2) otherwise."""
    if not NAME_RE.match(name) or not name.isascii():
        raise UsageError(f"invalid {what} {quoted(name)}", hint=RULE + " (see 'pybuild12 list')")
    return name


def installed_name(paths: Paths, name: str) -> str:
    """The installed build `name` means: the build of that name (in any spelling of its
    variants: `3.13.5t` is `3.13.5+freethreaded`), else the newest build the request
    matches (`candidates`). Returns `name` itself when nothing matches."""
    exact = _exact(paths, name)
    if exact is not None:
        return exact
    checked(name)
    found = candidates(paths, name)
    return found[0].name if found else name


def checked(name: str) -> None:
    """Refuse, as `install` does, a name no build can have: an unknown variant (exit 2),
    a CPython before 3.12 (exit 3); for a name that is not installed, before it is looked for."""
    from pybuild12.request import resolve  # lazy: the recipes; a build's own name never needs them

    resolve.check_request(name)


def _exact(paths: Paths, name: str) -> str | None:
    check(name)
    for spelling in dict.fromkeys((name, variants.build_name(name))):
        if paths.prefix(spelling).is_dir():
            return spelling
    return None


def candidates(paths: Paths, name: str) -> list[registry.Installed]:
    """The installed builds a request such as `3.13t` matches, newest first: those whose
    receipt's version is a release of that line (3.13.10 before 3.13.9) and whose variants
    are the ones asked for, no more, no fewer. Then the build `install NAME` would have made
    (`3.13` -> `3.13.18`) when its receipt does not match: none, or another version under
    that name."""
    found: list[registry.Installed] = []
    wanted = version_request(name)
    if wanted is not None:
        line, kind = wanted
        found = [b for b in registry.installed(paths) if kind_of(b) == kind and _in_line(b.version, line)]
        found.sort(key=lambda b: release(b.version) or (), reverse=True)  # stable: ties stay in name order
    made = recipe_build_name(name)
    if made is not None and made not in {b.name for b in found} and paths.prefix(made).is_dir():
        found.append(registry.get(paths, made))
    return found


def version_request(name: str) -> tuple[tuple[int, ...], frozenset[str]] | None:
    """(3, 13) and {freethreaded} for `3.13t`; None for a name that asks for no version line."""
    try:
        request = variants.parse(name)
    except PyBuild12Error:
        return None
    if not VERSION_REQUEST.match(request.recipe):
        return None
    return tuple(int(part) for part in request.recipe.split(".")), frozenset(request.variants)


def release(version: str) -> tuple[int, ...] | None:
    """(3, 13, 10) for 3.13.10, compared as numbers; None for a prerelease or no version."""
    return tuple(int(part) for part in version.split(".")) if _RELEASE.match(version) else None


def _in_line(version: str, line: tuple[int, ...]) -> bool:
    found = release(version)
    return found is not None and found[: len(line)] == line


def kind_of(build: registry.Installed) -> frozenset[str]:
    """A build's variants: as its receipt records them, else as its name spells them."""
    if build.receipt is not None and build.receipt.variants is not None:
        return frozenset(build.receipt.variants)
    return _requested_kind(build.name)


def _requested_kind(name: str) -> frozenset[str]:
    try:
        return frozenset(variants.parse(name).variants)
    except PyBuild12Error:
        return frozenset()


def describe(kind: frozenset[str]) -> str:
    """'free-threaded debug' for {freethreaded, debug}; 'default' for none."""
    return " ".join(_LABELS[v] for v in variants.ordered(kind)) or "default"


def recipe_build_name(name: str) -> str | None:
    """What `pybuild12 install NAME` would name its build; None when NAME is no recipe."""
    from pybuild12.request import resolve  # lazy: loads the recipes, which `which` of a build never needs

    try:
        return resolve.resolve(name)[1]
    except PyBuild12Error:
        return None


def get(paths: Paths, name: str, *, origin: str = "argument") -> registry.Installed:
    """The installed build `name` means, or NotInstalledError with a hint that can work."""
    try:
        resolved = installed_name(paths, name)
    except PyBuild12Error as exc:
        if origin == "argument":
            raise
        raise pinned_by(exc, origin) from None
    if paths.prefix(resolved).is_dir():
        return registry.get(paths, resolved)
    raise not_installed(paths, name, origin)


def pinned_by(exc: PyBuild12Error, origin: str) -> PyBuild12Error:
    """The error a name gets, said of a pin: the same words and exit code, and where it was pinned."""
    return type(exc)(f"{exc.message}, pinned by {origin}", hint=exc.hint)


def get_one(paths: Paths, name: str, *, command: str) -> registry.Installed:
    """For a command that must not guess (`uninstall`): the build of that name, else the
    one build the request matches. A request that matches several is refused, naming them:
    `uninstall 3.13` must not pick one of 3.13.5 and 3.13.18 by itself."""
    exact = _exact(paths, name)
    if exact is not None:
        return registry.get(paths, exact)
    checked(name)
    found = candidates(paths, name)
    if not found:
        raise not_installed(paths, name)
    if len(found) > 1:
        raise UsageError(f"{quoted(name)} matches {len(found)} installed builds: {', '.join(b.name for b in found)}",
                         hint=f"Name the one you mean, e.g. 'pybuild12 {command} {found[0].name}'.")
    return found[0]


def not_installed(paths: Paths, name: str, origin: str = "argument") -> NotInstalledError:
    """The error for a name with no build: the installed builds of the kind asked for (a
    request for a free-threaded build is never pointed at one with the GIL), which of them
    are close, and how to build it only when a recipe can (`install 3.12.1` cannot)."""
    builds = registry.installed(paths)
    kind = _requested_kind(name)
    same = [b.name for b in builds if kind_of(b) == kind]
    others = len(builds) - len(same)
    label = describe(kind)
    sentences = []
    close = difflib.get_close_matches(variants.build_name(name), same, n=3, cutoff=0.6)
    if close:
        sentences.append(f"Did you mean {_either(close)}?")
    if same:
        tail = f" (and {_others(others)})" if others else ""
        sentences.append(f"Installed {label} builds: {', '.join(same)}{tail}.")
    elif others:
        sentences.append(f"No {label} build is installed ('pybuild12 list' shows {_others(others)}).")
    else:
        sentences.append("Nothing is installed yet.")
    sentences.append(_how_to_build(name))
    pinned = "" if origin == "argument" else f" (pinned by {origin})"
    return NotInstalledError(f"no build named {quoted(name)} is installed{pinned}", hint=" ".join(sentences))


def _how_to_build(name: str) -> str:
    from pybuild12.request import recipes, resolve  # lazy: only a build that is not installed needs the recipes

    try:
        would_be = resolve.resolve(name)[1]
    except PyBuild12Error as exc:
        try:
            base = variants.parse(name).recipe
        except PyBuild12Error:
            base = name
        if recipes.exists(base):
            return f"'pybuild12 install {name}' cannot build it: {exc.message.rstrip('.')}."
        return f"No recipe is named {base} either: 'pybuild12 list' shows the recipes."
    also = "" if would_be == name else f" (as {would_be})"
    return f"'pybuild12 install {name}' builds it{also}."


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _others(count: int) -> str:
    return "1 build of another kind" if count == 1 else f"{count} builds of other kinds"
