"""Build variants: free-threaded, debug and JIT builds, asked for as uv users do.

`3.14t` and `3.14+freethreaded` (PEP 703/779), `3.14+debug` (--with-pydebug),
`3.14+jit` (PEP 744, built in but off until PYTHON_JIT=1), the sanitizers `+tsan`,
`+asan` and `+ubsan` (builder/sanitizers.py), and any mix of them that can work
(`3.14t+debug`, `3.13t+tsan`, `main+freethreaded`; not `+tsan+asan`). A build's name carries its variants in one
order (`3.14.10+freethreaded+debug`), so `3.14t+debug` and `3.14+debug+freethreaded`
are the same build. The facts (configure options, first version, the LLVM major the
JIT needs) are data: `resources/variants.toml`.
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from pybuild12.core.errors import PyBuild12Error, RecipeError, UsageError
from pybuild12.request.spelling import minor_of

ORDER = ("freethreaded", "debug", "jit", "tsan", "asan", "ubsan")
SANITIZERS = ("tsan", "asan", "ubsan")
# `3.14t`, `3.13.5t`: the t of python3.14t, as uv and pyenv spell a free-threaded request.
_T_SUFFIX = re.compile(r"^(\d+\.\d+(?:\.\d+)?)t$")
_PATH_WITH_VARIANTS = re.compile(r"^(.+\.toml)((?:\+[^+/]*)+)$")


@lru_cache(maxsize=1)
def table() -> dict[str, Any]:
    text = resources.files("pybuild12").joinpath("resources/variants.toml").read_text("utf-8")
    if sys.version_info >= (3, 11):  # lazy: only a variant's facts need the parser, not `which`
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib.loads(text)


@dataclass(frozen=True)
class Request:
    """A recipe name and the variants asked for with it, in canonical order."""

    recipe: str
    variants: tuple[str, ...] = ()

    @property
    def suffix(self) -> str:
        return suffix(self.variants)


def suffix(variants: Iterable[str]) -> str:
    """'+freethreaded+jit': what a build's name carries after the recipe's."""
    return "".join(f"+{v}" for v in ordered(variants))


def ordered(variants: Iterable[str]) -> tuple[str, ...]:
    wanted = set(variants)
    return tuple(v for v in ORDER if v in wanted)


def parse(spec: str) -> Request:
    """Split `3.14t+debug` into recipe `3.14` and variants (freethreaded, debug).

    A path to a recipe file takes them after its name (`./my.toml+jit`). Unknown
    words are refused with a hint.
    """
    path = _PATH_WITH_VARIANTS.match(spec)
    if path:
        base, words = path.group(1), path.group(2).split("+")[1:]
    elif spec.endswith(".toml") or "/" in spec or spec.startswith(".") or "+" not in spec and not _T_SUFFIX.match(spec):
        return Request(spec)
    else:
        base, *words = spec.split("+")
    found: list[str] = []
    match = _T_SUFFIX.match(base)
    if match:
        base = match.group(1)
        found.append("freethreaded")
    for word in words:
        word = word.strip().lower()
        if word not in ORDER:
            close = difflib.get_close_matches(word, ORDER, n=1, cutoff=0.5)
            raise UsageError(
                f"unknown build variant {word!r} in {spec!r}" + (f" (did you mean {close[0]!r}?)" if close else ""),
                hint=("variants: " + ", ".join(ORDER)
                      + "; e.g. 3.14t (free-threaded), 3.14+debug, 3.14+jit, 3.14t+debug, 3.13t+tsan"),
            )
        found.append(word)
    if not base:
        raise UsageError(f"{spec!r} names no recipe before its variants", hint="e.g. 3.14+freethreaded")
    check_combination(found, spec)
    return Request(base, ordered(found))


def check_combination(wanted: Iterable[str], spec: str) -> None:
    """Refuse variants that cannot be built together (ThreadSanitizer with AddressSanitizer:
    each owns the process's memory layout)."""
    chosen = ordered(wanted)
    base = spec.split("+")[0]
    for variant in chosen:
        clash = [other for other in table()[variant].get("conflicts", ()) if other in chosen]
        if clash:
            raise UsageError(f"{spec!r}: +{variant} and +{clash[0]} cannot be built together "
                              "(each sanitizer's runtime owns the process's memory layout)",
                              hint=f"build them apart: {base}+{variant} and {base}+{clash[0]}")


def check_supported(recipe_name: str, version: str | None, variants: Iterable[str]) -> None:
    """Refuse variants the recipe's CPython cannot build; `version` None (another commit
    of a git recipe) is left to the check after configure."""
    if version is None:
        return
    have = minor_of(version)
    data = table()
    # A release recipe is named for its version: "3.12.13 cannot be built", not "3.12.13 (3.12.13) ...".
    what = recipe_name if recipe_name == version else f"{recipe_name} ({version})"
    for variant in ordered(variants):
        since = minor_of(data[variant]["since"])
        if have < since:
            first = ".".join(map(str, since))
            raise RecipeError(
                f"{what} cannot be built {describe(variant)}: "
                f"{' '.join(data[variant]['configure'])} exists from CPython {first}",
                hint=f"pick a {first}+ recipe ('pybuild12 list'), e.g. "
                f"{'3.14t' if variant == 'freethreaded' else '3.14+' + variant}"
                + ("; a git recipe can build a later commit with --commit" if recipe_name == "main" else ""),
            )
        if variant == "jit" and llvm_major(version) is None:
            known = ", ".join(f"{k} (LLVM {v})" for k, v in data["jit"]["llvm"].items())
            raise RecipeError(f"pybuild12 does not know which LLVM the JIT of CPython {version} needs",
                              hint=f"known: {known}")


def describe(variant: str) -> str:
    return {"freethreaded": "free-threaded", "debug": "as a debug build", "jit": "with the JIT",
            "tsan": "with ThreadSanitizer", "asan": "with AddressSanitizer",
            "ubsan": "with UndefinedBehaviorSanitizer"}[variant]


def sanitizers_of(variants: Iterable[str]) -> tuple[str, ...]:
    """The sanitizer variants among `variants` (tsan, asan, ubsan)."""
    return tuple(v for v in ordered(variants) if v in SANITIZERS)


def configure_args(variants: Iterable[str]) -> tuple[str, ...]:
    data = table()
    return tuple(arg for v in ordered(variants) for arg in data[v]["configure"])


def plain(variants: Iterable[str]) -> bool:
    """Whether a variant asks for a build without PGO and LTO (debug)."""
    return any(table()[v].get("plain", False) for v in variants)


def compiles_bytecode(variants: Iterable[str]) -> bool:
    """Whether `make install` byte-compiles the standard library by default: not for a
    variant that says `compile_bytecode = false` (debug and the sanitizers)."""
    return all(table()[v].get("compile_bytecode", True) for v in variants)


def llvm_major(version: str) -> int | None:
    """The LLVM major version CPython `version`'s JIT is built with (Tools/jit pins one)."""
    major, minor = minor_of(version)
    return table()["jit"]["llvm"].get(f"{major}.{minor}")


def jit_packages(llvm: int) -> tuple[list[str], list[str]]:
    """Debian and Fedora packages of LLVM `llvm`'s clang and llvm-readobj."""
    packages = table()["jit"]["packages"]
    return ([p.format(llvm=llvm) for p in packages["debian"]], [p.format(llvm=llvm) for p in packages["fedora"]])


def not_configured(tree: Path, variants: Iterable[str]) -> list[str]:
    """The variants that configure did not take up in `tree` (an older commit ignores
    an option it does not know, with a warning only)."""
    missing = []
    for variant in ordered(variants):
        name, text = table()[variant]["configured"]
        try:
            content = (tree / name).read_text("utf-8", errors="replace")
        except OSError:
            content = ""
        if text not in content:
            missing.append(variant)
    return missing


def build_name(name: str) -> str:
    """The installed name a request means: `3.13.5t` -> `3.13.5+freethreaded`."""
    try:
        request = parse(name)
    except PyBuild12Error:
        return name
    return request.recipe + request.suffix if request.variants else name
