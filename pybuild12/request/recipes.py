"""Recipes: TOML files that pin what to build.

A recipe is pure data (`Recipe`, frozen). Loading validates everything and
every error names the file and the key, with a "did you mean" hint for typos,
because a recipe is often hand-written (as pyenv definition files are).
"""

from __future__ import annotations

import difflib
import hashlib
import re
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Sequence, Union

from pybuild12.core.errors import RecipeError, quoted
from pybuild12.request import variants
from pybuild12.request.spelling import NAME_RE, OLDEST, minor_of

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

VERSION_RE = re.compile(r"^\d+\.\d+(\.\d+)?((a|b|rc)\d+)?\+?$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
COMMIT_RE = re.compile(r"^[0-9a-f]{7,40}$")
DEFAULT_REQUIRED_MODULES = ("ssl", "zlib", "ctypes", "sqlite3", "bz2", "lzma")
# Python-level name -> the extension module that CPython's build reports.
KNOWN_MODULES = {
    "ssl": "_ssl",
    "hashlib": "_hashlib",
    "zlib": "zlib",
    "ctypes": "_ctypes",
    "sqlite3": "_sqlite3",
    "bz2": "_bz2",
    "lzma": "_lzma",
    "readline": "readline",
    "uuid": "_uuid",
    "curses": "_curses",
    "tkinter": "_tkinter",
    "dbm.gnu": "_gdbm",
    "dbm.ndbm": "_dbm",
    "decimal": "_decimal",
    "pyexpat": "pyexpat",
}
ALIAS_DEPTH = 4
LTO_PARTITIONS = ("none", "auto")
OPTIMIZE_LEVELS = ("standard", "max")  # "max": see builder/optimize.py


@dataclass(frozen=True)
class TarballSource:
    url: str
    sha256: str
    kind: str = field(default="tarball", init=False)

    @property
    def filename(self) -> str:
        """The file's original name, used for the cache and mirror look-ups."""
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def pin(self) -> str:
        return self.sha256


@dataclass(frozen=True)
class GitSource:
    url: str
    commit: str
    kind: str = field(default="git", init=False)

    @property
    def pin(self) -> str:
        return self.commit


Source = Union[TarballSource, GitSource]


@dataclass(frozen=True)
class BuildOptions:
    optimizations: bool = True
    # --with-lto, as the official Docker images and uv's Pythons build: with PGO 1.15x over a
    # plain build, against 1.08x for PGO alone (GCC 12), for about 3x the compile time.
    # A recipe without the key gets it whenever it asks for optimizations.
    lto: bool = True
    configure_args: tuple[str, ...] = ()
    required_modules: tuple[str, ...] = DEFAULT_REQUIRED_MODULES
    # Optional modules the recipe's users do not need: install does not warn when the build lacks them.
    unneeded_modules: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()  # freethreaded, debug, jit (see variants.py), in canonical order
    optimize: str = "standard"  # "max": clang, ThinLTO, PGO, BOLT, tail calls (see optimize.py)
    # GCC's LTO link on CPython 3.13 and earlier: "none" (configure's -flto-partition=none, one
    # serial link) or "auto" (partitioned, its parts linked in parallel, as 3.14's configure does).
    lto_partition: str = "none"
    # Whether `make install` byte-compiles the standard library (compileall -o 0 -o 1 -o 2,
    # the slow interpreter's minutes), as the recipe or the install asks; None when neither
    # says, and then as `default_bytecode` says (a bisect step's: False), else the variants.
    compile_bytecode: bool | None = None
    default_bytecode: bool | None = None

    @property
    def compiles_bytecode(self) -> bool:
        for choice in (self.compile_bytecode, self.default_bytecode):
            if choice is not None:
                return choice
        return variants.compiles_bytecode(self.variants)


@dataclass(frozen=True)
class Recipe:
    name: str
    path: Path
    version: str
    summary: str
    source: Source
    build: BuildOptions
    content_sha256: str
    alias_of: tuple[str, ...] = ()

    @property
    def minor(self) -> str:
        """'3.13' for '3.13.5'; the lib/pythonX.Y directory name."""
        major, minor = self.version.split(".")[:2]
        return f"{major}.{minor}"


def uses_lto(args: Sequence[str]) -> bool:
    """Whether configure will link with LTO: the last --with-lto/--without-lto decides."""
    choice = False
    for arg in args:
        if arg == "--with-lto" or (arg.startswith("--with-lto=") and arg != "--with-lto=no"):
            choice = True
        elif arg in ("--without-lto", "--with-lto=no"):
            choice = False
    return choice


# --------------------------------------------------------------------- search


def shipped_dir() -> Path:
    """The recipes shipped with pybuild12.

    In a wheel they are package data (pybuild12/recipes); in a source checkout
    (editable install) they sit at the repository root.
    """
    packaged = Path(str(resources.files("pybuild12"))) / "recipes"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "recipes"


def available(recipe_dir: Path | None = None) -> list[str]:
    """Names of the shipped recipes, sorted by version then name."""
    directory = recipe_dir or shipped_dir()
    names = [p.stem for p in directory.glob("*.toml")]
    return sorted(names, key=_sort_key)


def _sort_key(name: str) -> tuple:
    parts = re.split(r"[.]", name)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def is_path(spec: str) -> bool:
    return spec.endswith(".toml") or "/" in spec or spec.startswith(".")


def exists(spec: str, recipe_dir: Path | None = None) -> bool:
    """Whether `spec` names a recipe file as it stands (a name such as `3.14t` may not,
    and then it is a request with variants)."""
    if is_path(spec):
        return Path(spec).expanduser().is_file()
    return bool(NAME_RE.match(spec)) and ((recipe_dir or shipped_dir()) / f"{spec}.toml").is_file()


def load(spec: str, recipe_dir: Path | None = None) -> Recipe:
    """Load a recipe by shipped name (aliases followed) or by file path."""
    if is_path(spec):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise RecipeError(f"recipe file not found: {path}")
        return _load_file(path, path.stem, recipe_dir, ())
    if not NAME_RE.match(spec):
        raise RecipeError(
            f"invalid recipe name {quoted(spec)}",
            hint="names use letters, digits and . _ + @ - (for example 3.13.5 or main)",
        )
    directory = recipe_dir or shipped_dir()
    path = directory / f"{spec}.toml"
    if not path.is_file():
        known = available(directory)
        close = difflib.get_close_matches(spec, known, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise RecipeError(
            f"unknown recipe {quoted(spec)}",
            hint=f"{hint}'pybuild12 list' shows the {len(known)} available recipes; "
            "a path to a recipe .toml file works too",
        )
    return _load_file(path, spec, directory, ())


def _load_file(path: Path, name: str, directory: Path | None, chain: tuple[str, ...]) -> Recipe:
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RecipeError(f"{path}: not valid TOML: {exc}") from None
    if "alias" in data:
        return _follow_alias(path, name, data, directory or path.parent, chain)
    return _parse(path, name, data, hashlib.sha256(raw).hexdigest(), chain)


def _follow_alias(path: Path, name: str, data: dict, directory: Path, chain: tuple[str, ...]) -> Recipe:
    _check_keys(path, "", data, {"alias": True, "summary": False})
    target = _typed(path, "alias", data["alias"], str)
    if len(chain) >= ALIAS_DEPTH or target in chain or target == name:
        raise RecipeError(f"{path}: key 'alias': alias loop through {' -> '.join(chain + (name, target))}")
    target_path = directory / f"{target}.toml"
    if not NAME_RE.match(target) or not target_path.is_file():
        raise RecipeError(f"{path}: key 'alias': no recipe named {target!r} in {directory}")
    return _load_file(target_path, target, directory, chain + (name,))


def _parse(path: Path, name: str, data: dict, digest: str, chain: tuple[str, ...]) -> Recipe:
    _check_keys(path, "", data, {"version": True, "summary": True, "source": True, "build": False})
    version = _typed(path, "version", data["version"], str)
    if not VERSION_RE.match(version):
        raise RecipeError(f"{path}: key 'version': {version!r} is not a CPython version such as 3.13.5 or 3.12.0a7+")
    if minor_of(version) < OLDEST:
        raise RecipeError(
            f"{path}: key 'version': CPython {version} predates per-interpreter GILs (PEP 684, CPython 3.12)",
            hint="pybuild12 builds CPython 3.12 and later; 'pybuild12 list' shows the recipes "
            "(pyenv or uv install older versions)",
        )
    summary = _typed(path, "summary", data["summary"], str).strip()
    if not summary or "\n" in summary:
        raise RecipeError(f"{path}: key 'summary': must be one non-empty line")
    return Recipe(
        name=name,
        path=path,
        version=version,
        summary=summary,
        source=_parse_source(path, _typed(path, "source", data["source"], dict)),
        build=_parse_build(path, _typed(path, "build", data.get("build", {}), dict)),
        content_sha256=digest,
        alias_of=chain,
    )


def _parse_source(path: Path, table: dict) -> Source:
    kinds = {"tarball": {"kind": True, "url": True, "sha256": True}, "git": {"kind": True, "url": True, "commit": True}}
    kind = table.get("kind")
    if kind is None:
        raise RecipeError(f"{path}: [source] missing key 'kind' (one of: tarball, git)")
    kind = _typed(path, "source.kind", kind, str)
    if kind not in kinds:
        raise RecipeError(f"{path}: key 'source.kind': {kind!r} is not one of: tarball, git"
                          + _did_you_mean(kind, kinds))
    _check_keys(path, "source", table, kinds[kind])
    url = _typed(path, "source.url", table["url"], str)
    if url.startswith("http://"):
        raise RecipeError(f"{path}: key 'source.url': plain http:// is refused ({url!r}); use https://",
                          hint="to fetch from a server of your own over http, name it as a mirror: "
                          "PYBUILD12_MIRROR=http://host/dir (it is looked up first, by file name)")
    if not re.match(r"^(https|file)://", url):
        raise RecipeError(f"{path}: key 'source.url': {url!r} must be an https:// or file:// URL")
    if kind == "tarball":
        sha = _typed(path, "source.sha256", table["sha256"], str).lower()
        if not SHA256_RE.match(sha):
            raise RecipeError(f"{path}: key 'source.sha256': expected 64 hex digits, got {sha!r}")
        return TarballSource(url=url, sha256=sha)
    commit = _typed(path, "source.commit", table["commit"], str).lower()
    if not COMMIT_RE.match(commit):
        raise RecipeError(f"{path}: key 'source.commit': expected 7 to 40 hex digits, got {commit!r}")
    return GitSource(url=url, commit=commit)


def _parse_build(path: Path, table: dict) -> BuildOptions:
    _check_keys(path, "build", table, {"optimizations": False, "lto": False, "configure-args": False,
                                       "required-modules": False, "unneeded-modules": False, "variants": False,
                                       "optimize": False, "lto-partition": False, "compile-bytecode": False})
    optimizations = _typed(path, "build.optimizations", table.get("optimizations", True), bool)
    lto = _typed(path, "build.lto", table.get("lto", optimizations), bool)
    args = tuple(_string_list(path, "build.configure-args", table.get("configure-args", [])))
    for arg in args:
        if arg.split("=", 1)[0] in ("--prefix", "--exec-prefix"):
            raise RecipeError(f"{path}: key 'build.configure-args': {arg!r} is not allowed; pybuild12 sets the prefix")
        for option, key in (("--enable-optimizations", "optimizations"), ("--with-lto", "lto")):
            if arg.split("=", 1)[0] == option:
                raise RecipeError(f"{path}: key 'build.configure-args': use '{key} = true' instead of {arg!r}")
    modules = _known_modules(path, "build.required-modules",
                             table.get("required-modules", list(DEFAULT_REQUIRED_MODULES)))
    unneeded = _known_modules(path, "build.unneeded-modules", table.get("unneeded-modules", []))
    for module in set(modules) & set(unneeded):
        raise RecipeError(f"{path}: module {module!r} is in both build.required-modules and build.unneeded-modules")
    wanted = tuple(_string_list(path, "build.variants", table.get("variants", [])))
    for variant in wanted:
        if variant not in variants.ORDER:
            raise RecipeError(f"{path}: key 'build.variants': unknown variant {variant!r}"
                              + _did_you_mean(variant, variants.ORDER) + f" (known: {', '.join(variants.ORDER)})")
    level = _typed(path, "build.optimize", table.get("optimize", "standard"), str)
    if level not in OPTIMIZE_LEVELS:
        raise RecipeError(f"{path}: key 'build.optimize': {level!r} is not one of: {', '.join(OPTIMIZE_LEVELS)}"
                          + _did_you_mean(level, OPTIMIZE_LEVELS))
    if level == "max" and not (optimizations and lto):
        raise RecipeError(f"{path}: key 'build.optimize': 'max' builds with PGO and LTO; "
                          "leave out optimizations = false and lto = false")
    partition = _typed(path, "build.lto-partition", table.get("lto-partition", "none"), str)
    if partition not in LTO_PARTITIONS:
        raise RecipeError(f"{path}: key 'build.lto-partition': {partition!r} is not one of: "
                          f"{', '.join(LTO_PARTITIONS)}" + _did_you_mean(partition, LTO_PARTITIONS))
    bytecode = table.get("compile-bytecode")
    if bytecode is not None:
        _typed(path, "build.compile-bytecode", bytecode, bool)
    return BuildOptions(optimizations=optimizations, lto=lto, configure_args=args, required_modules=modules,
                        unneeded_modules=unneeded, variants=variants.ordered(wanted), optimize=level,
                        lto_partition=partition, compile_bytecode=bytecode)


# ----------------------------------------------------------------- validation


def _known_modules(path: Path, key: str, value: object) -> tuple[str, ...]:
    modules = tuple(_string_list(path, key, value))
    for module in modules:
        if module not in KNOWN_MODULES:
            raise RecipeError(f"{path}: key '{key}': unknown module {module!r}" + _did_you_mean(module, KNOWN_MODULES)
                              + f" (known: {', '.join(sorted(KNOWN_MODULES))})")
    return modules


def _check_keys(path: Path, table: str, data: dict, schema: dict[str, bool]) -> None:
    where = f"[{table}] " if table else ""
    for key in data:
        if key not in schema:
            raise RecipeError(f"{path}: {where}unknown key {key!r}" + _did_you_mean(key, schema))
    for key, required in schema.items():
        if required and key not in data:
            raise RecipeError(f"{path}: {where}missing required key {key!r}")


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


_TYPE_NAMES = {str: "a string", bool: "true or false", dict: "a table", list: "a list"}


def _typed(path: Path, key: str, value: Any, expected: type) -> Any:
    if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
        raise RecipeError(
            f"{path}: key {key!r}: expected {_TYPE_NAMES[expected]}, got {type(value).__name__} {value!r}"
        )
    return value


def _string_list(path: Path, key: str, value: Any) -> list[str]:
    _typed(path, key, value, list)
    for item in value:
        if not isinstance(item, str):
            raise RecipeError(f"{path}: key {key!r}: expected a list of strings, found {item!r}")
    return value
