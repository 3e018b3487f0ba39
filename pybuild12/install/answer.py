"""Which installed build answers an install request, one rule for every command.

As uv answers `uv python install 3.13` with an installed 3.13.x: a build in place that
satisfies the request satisfies it. A request satisfies it unless an option the user
gave explicitly (`--no-pgo`, `--lto`, `--optimize`, `--compile-bytecode`,
`--configure-opt`, `--commit`) differs from how it was built; those are refused, named
(exit 2), since building over it silently would throw away a finished build and
answering with it silently would ignore the option. What the user did not ask for
(the recipe's defaults: PGO, LTO, a recipe file edited since) never refuses: the
answer says how the installed build was made and that `--force` rebuilds it.

`install` answers with it; `key` prints its key; `install --install-deps` installs
nothing for it; `which` and `run` resolve a request to the same build (`store.names`).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from pathlib import Path
from typing import Callable

from pybuild12.builder import plan
from pybuild12.core.errors import UsageError
from pybuild12.core.paths import Paths
from pybuild12.core.report import Reporter
from pybuild12.core.settings import Settings
from pybuild12.install.job import InstallOptions
from pybuild12.install.keying import check_configure_opts, known_pin, request
from pybuild12.request.recipes import Recipe
from pybuild12.store import buildinfo, names, receipts
from pybuild12.store.buildinfo import Difference
from pybuild12.store.receipts import Receipt
from pybuild12.store.registry import Installed


def asked(options: InstallOptions, user_opts: tuple[str, ...] | list[str]) -> frozenset[str]:
    """The differences (`Difference.option`) the user's own options speak for."""
    found = set()
    if options.optimizations is not None:
        found |= {"pgo", "lto"}  # --no-pgo also drops LTO unless --lto is given
    if options.lto is not None:
        found.add("lto")
    if options.optimize is not None:
        found.add("optimize")
    if options.compile_bytecode is not None:
        found.add("bytecode")
    if user_opts:
        found.add("configure")
    if options.commit:
        found.add("commit")
    return frozenset(found)


def changes(receipt: Receipt, recipe: Recipe, prefix: Path, user_opts, options: InstallOptions) -> list[Difference]:
    """Every way the build of `receipt` differs from what this request would build."""
    return buildinfo.differences(receipt, configure_args=plan.configure_args(recipe, prefix, user_opts),
                                 optimize=recipe.build.optimize, recipe_sha256=recipe.content_sha256,
                                 commit=options.commit, compile_bytecode=recipe.build.compile_bytecode)


def refuse(name: str, found: list[Difference], wanted: frozenset[str],
           check_options: Callable[[], None] | None = None) -> None:
    """Refuse the differences the user's options asked for, naming each; `check_options`
    first, when a configure option differs (a typo is said as one, not as a difference)."""
    refused = [c for c in found if c.option in wanted]
    if any(c.option == "configure" for c in refused) and check_options is not None:
        check_options()
    if refused:
        raise UsageError(f"{name} is installed, but not as asked now:\n" + "\n".join(f"  {c}" for c in refused),
                         hint="add --force to replace it with the build asked for, or --name NAME to install that "
                         "beside it ('pybuild12 list' shows how each build was made)")


def made_as(receipt: Receipt | None) -> str:
    """How a build was made, in a few words: 'without PGO and LTO', 'with PGO and LTO'."""
    facts = buildinfo.facts(receipt)
    if facts is None:
        return "of unknown options (no readable receipt)"
    if facts.optimize == "max":
        return "with --optimize max"
    parts = (("PGO", facts.pgo), ("LTO", facts.lto))
    on = " and ".join(k for k, v in parts if v)
    off = " and ".join(k for k, v in parts if not v)
    return " ".join(f"{word} {which}" for word, which in (("with", on), ("without", off)) if which)


def of_name(name: str, receipt: Receipt, recipe: Recipe, prefix: Path, user_opts,
            options: InstallOptions, check_options: Callable[[], None] | None = None) -> Installed:
    """The answer when the build of the request's own name is installed (refused when an
    explicit option differs), with what the user should know of it."""
    found = changes(receipt, recipe, prefix, user_opts, options)
    refuse(name, found, asked(options, user_opts), check_options)
    return Installed(name, prefix, receipt, already_installed=True, notes=_notes(receipt, found))


def _notes(receipt: Receipt, found: list[Difference]) -> tuple[str, ...]:
    if not found:
        return ()
    return (f"it was built {made_as(receipt)}, which differs from the recipe's defaults ({'; '.join(found)}); "
            "--force rebuilds it as the recipe says",)


def satisfying(spec: str, recipe: Recipe, name: str, user_opts, options: InstallOptions,
               paths: Paths) -> Installed | None:
    """For a version request (`3.13`, `3.13t`) whose recipe's own build (`3.13.18`) is not
    installed: the build `which` would answer with (the newest of that line and kind) if
    no explicit option differs, else the next that satisfies; None: build the recipe's."""
    if options.force or options.name or options.commit or options.push or names.version_request(spec) is None:
        return None
    wanted = asked(options, user_opts)
    for build in names.candidates(paths, spec):
        if build.receipt is None or build.name == name:
            continue
        found = [c for c in changes(build.receipt, recipe, build.prefix, user_opts, options)
                 if c.option not in ("recipe", "commit")]  # another release's recipe, of course
        if any(c.option in wanted for c in found):
            continue
        note = (f"{spec} is answered by the installed {build.name} (built {made_as(build.receipt)}), as "
                f"'pybuild12 which {spec}' answers; 'pybuild12 install {name}' builds {recipe.version}")
        return replace(build, already_installed=True, notes=(note,))
    return None


def find(spec: str, recipe: Recipe, name: str, user_opts, options: InstallOptions, *, paths: Paths,
         settings: Settings, reporter: Reporter | None = None) -> Installed | None:
    """The installed build an install of `spec` (made into `recipe` and `name`) answers
    with: the build of that name, else (none in place) one that satisfies a version
    request; None when it would build (or --force). Refuses an explicit option that
    differs from the build of the request's name."""
    if options.force:
        return None
    prefix = paths.prefix(name)
    if prefix.is_dir():  # without a readable receipt: rebuilt, as a damaged build is
        existing = receipts.read(prefix)
        return None if existing is None else of_name(
            name, existing, recipe, prefix, user_opts, options,
            options_checker(recipe, name, user_opts, paths=paths, settings=settings, reporter=reporter))
    return satisfying(spec, recipe, name, user_opts, options, paths)


def installed_as_asked(spec: str, options: InstallOptions, *, paths: Paths,
                       settings: Settings | None = None) -> Installed | None:
    """`find` for a request as the command line gives it (`key`, `--install-deps`)."""
    settings = settings or Settings.from_env()
    recipe, name, _ = request(spec, options)
    user_opts = plan.user_configure_opts(options.configure_opts, settings.configure_opts)
    return find(spec, recipe, name, user_opts, options, paths=paths, settings=settings)


def options_checker(recipe: Recipe, name: str, user_opts, *, paths: Paths, settings: Settings,
                    reporter: Reporter | None = None) -> Callable[[], None]:
    """What checks the configure options against the source's configure, when asked."""
    return functools.partial(check_configure_opts, recipe, name, known_pin(recipe), user_opts, paths=paths,
                             settings=settings, reporter=reporter or Reporter())
