"""A request (`3.14t+debug`, `main --commit X`, `--no-pgo`) made into the recipe to build.

The recipe file says what it pins and how it builds by default; the request's variants
and options change that, each through one `with_*` function, and name the build.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pybuild12.core.errors import RecipeError, UsageError, quoted
from pybuild12.request import recipes, variants
from pybuild12.request.recipes import COMMIT_RE, OPTIMIZE_LEVELS, GitSource, Recipe
from pybuild12.request.spelling import NAME_RE, NAME_RULE, VERSION_REQUEST, predates_own_gil


def check_request(spec: str, *, files: bool = False) -> variants.Request:
    """What `spec` asks for, checked alike by every command before any work, so that one
    mistake gets one answer: a malformed name, a directory or a path that is no recipe
    file (exit 2), an unknown variant or two that exclude each other (2), a CPython
    before 3.12 (3). `files`: the command also takes a recipe file's path (install, key,
    bisect, pin): one ending in .toml (with variants after it: `./my.toml+jit`), or an
    existing file."""
    if files and recipes.is_path(spec) and (".toml" in spec or Path(spec).expanduser().is_file()):
        return variants.parse(spec) if not recipes.exists(spec) else variants.Request(spec)
    if not NAME_RE.match(spec) or not spec.isascii():
        hint = NAME_RULE + ("; a recipe file is named by its path, ending in .toml" if files else "")
        raise UsageError(f"invalid build name {quoted(spec)}", hint=hint + " (see 'pybuild12 list')")
    request = variants.parse(spec)
    if VERSION_REQUEST.match(request.recipe) and predates_own_gil(request.recipe):
        raise RecipeError(f"CPython {request.recipe} predates per-interpreter GILs (PEP 684, CPython 3.12)",
                          hint="pybuild12 builds CPython 3.12 and later; 'pybuild12 list' shows the recipes "
                          "(pyenv or uv install older versions)")
    return request


def check_level(level: str) -> str:
    if level not in OPTIMIZE_LEVELS:
        raise UsageError(f"--optimize: unknown level {level!r}", hint=f"one of: {', '.join(OPTIMIZE_LEVELS)}")
    return level


def resolve(spec: str, *, name: str | None = None, commit: str | None = None, optimizations: bool | None = None,
            lto: bool | None = None, optimize: str | None = None,
            compile_bytecode: bool | None = None,
            default_bytecode: bool | None = None) -> tuple[Recipe, str, str | None]:
    """The recipe to build, the build's name, and the version it must report (None: any).

    `3.14t+debug` is recipe 3.14 (an alias of 3.14.10) with two variants, named
    `3.14.10+freethreaded+debug`: the variants are part of the name, so each variant
    of a version is a build of its own beside the default one.
    """
    wanted = check_request(spec, files=True)
    recipe = recipes.load(wanted.recipe)
    if commit is not None:
        recipe = with_commit(recipe, commit)
    recipe = with_variants(recipe, wanted.variants, version_known=commit is None)
    if optimizations is not None:
        recipe = with_optimizations(recipe, optimizations)
    if lto is not None:
        recipe = with_lto(recipe, lto)
    if optimize is not None:
        if optimize == "max" and False in (optimizations, lto):
            raise UsageError("--optimize max builds with PGO and LTO: leave out --no-pgo and --no-lto")
        recipe = with_optimize(recipe, optimize)
    if compile_bytecode is not None:
        recipe = with_compile_bytecode(recipe, compile_bytecode)
    if default_bytecode is not None:
        recipe = replace(recipe, build=replace(recipe.build, default_bytecode=default_bytecode))
    expected_version: str | None = recipe.version
    tail = variants.suffix(recipe.build.variants)
    build_name = name if name is not None else recipe.name + tail
    if commit is not None:
        expected_version = None  # the recipe's version describes its own pin only
        build_name = name if name is not None else f"{recipe.name}@{recipe.source.pin[:12]}{tail}"
    if not recipes.NAME_RE.match(build_name) or not build_name.isascii():
        raise UsageError(f"invalid build name {quoted(build_name)}",
                         hint="a build name is 1 to 64 letters, digits and . _ + @ -, starting with a letter or digit")
    return recipe, build_name, expected_version


def with_commit(recipe: Recipe, commit: str) -> Recipe:
    """The same git recipe pinned to another commit (`install --commit`)."""
    if not isinstance(recipe.source, GitSource):
        raise UsageError(
            f"--commit applies to git recipes only; {recipe.name} builds a release tarball",
            hint="'pybuild12 list' shows each recipe's source kind",
        )
    commit = commit.strip().lower()
    if not COMMIT_RE.match(commit):
        raise UsageError(f"--commit: expected 7 to 40 hex digits, got {commit!r}",
                         hint="a commit hash, full or abbreviated, such as 0b2b4e3d5f")
    return replace(recipe, source=GitSource(url=recipe.source.url, commit=commit))


def with_lto(recipe: Recipe, lto: bool) -> Recipe:
    """The same recipe built with or without link-time optimization (`install --lto/--no-lto`)."""
    return replace(recipe, build=replace(recipe.build, lto=lto))


def with_compile_bytecode(recipe: Recipe, compile_bytecode: bool) -> Recipe:
    """The same recipe with or without `make install` byte-compiling the standard library
    (`install --compile-bytecode/--no-compile-bytecode`), whatever the recipe and variants say."""
    return replace(recipe, build=replace(recipe.build, compile_bytecode=compile_bytecode))


def with_optimizations(recipe: Recipe, optimizations: bool) -> Recipe:
    """The same recipe built with or without PGO (`install --pgo/--no-pgo`); LTO follows
    unless asked for apart, as in a recipe without an `lto` key."""
    return replace(recipe, build=replace(recipe.build, optimizations=optimizations, lto=optimizations))


def with_optimize(recipe: Recipe, level: str) -> Recipe:
    """The same recipe at another optimization level (`install --optimize max`); `max`
    needs PGO and LTO, which a debug build goes without."""
    check_level(level)
    build = replace(recipe.build, optimize=level)
    if level == "max":
        if variants.plain(build.variants):
            raise UsageError(f"--optimize max builds with PGO and LTO, which a {'+'.join(build.variants)} build "
                             "goes without", hint="leave out --optimize max, or the variant (+debug, a sanitizer)")
        build = replace(build, optimizations=True, lto=True)
    return replace(recipe, build=build)


def with_variants(recipe: Recipe, wanted: tuple[str, ...], *, version_known: bool = True) -> Recipe:
    """The recipe built as the variants ask besides its own (`3.14t+debug`), refused where
    its version cannot build them. A debug build goes without PGO and LTO."""
    merged = variants.ordered((*recipe.build.variants, *wanted))
    variants.check_combination(merged, recipe.name + variants.suffix(merged))
    variants.check_supported(recipe.name, recipe.version if version_known else None, merged)
    build = replace(recipe.build, variants=merged)
    if variants.plain(merged):
        build = replace(build, optimizations=False, lto=False)
    return replace(recipe, build=build)
