"""`pybuild12 install` and `pybuild12 uninstall`: parse, call the install layer, render."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

from pybuild12.cli.common import (
    RECIPE_HELP,
    Command,
    command_group,
    err,
    escape,
    exclusive,
    interruptible,
    out,
    settings,
)
from pybuild12.cli.usage import PlainUsage

if TYPE_CHECKING:
    from pybuild12.store.registry import Installed

commands = command_group()

# The options that shape the build (and its artifact key), declared once for `install`
# and `key`.
CONFIGURE_OPT = typer.Option(
    [], "--configure-opt", metavar="OPT",
    help="Extra ./configure option; repeatable. PYBUILD12_CONFIGURE_OPTS adds shell words too.",
)
COMMIT = typer.Option(
    None, "--commit", metavar="SHA",
    help="Build another commit of a git recipe (7 to 40 hex digits); the build is named RECIPE@<12 hex> "
    "unless --name is given.",
)
NAME = typer.Option(None, "--name", metavar="NAME", help="Install under this name instead of the recipe's.")
LTO = typer.Option(
    None, "--lto/--no-lto",
    help="Build with (or without) link-time optimization, --with-lto [default: as the recipe says; the shipped "
    "ones: with]. With PGO it measured 1.15x over a plain build against 1.08x for PGO alone; --no-lto compiles "
    "in about a third of the time.",
)
COMPILE_BYTECODE = typer.Option(
    None, "--compile-bytecode/--no-compile-bytecode",
    help="Have make install byte-compile the standard library (.pyc at 3 optimization levels), or not [default: "
    "compile, except +debug and sanitizer builds: with their slow interpreter it took 339 s of a debug build's "
    "install and 420 s of a ThreadSanitizer build's on 2 shared cores; Python writes each .pyc at its first import "
    "instead]. A build without is a build of its own artifact key.",
)
OPTIMIZE = typer.Option(
    None, "--optimize", metavar="LEVEL",
    help="standard: GCC (the system compiler) with PGO and LTO, as the official Docker images build; max: clang "
    "19 with ThinLTO, PGO, BOLT (x86-64 Linux) and the tail-calling interpreter (3.14+), as "
    "python-build-standalone builds [default: as the recipe says; the shipped ones: standard]. max needs "
    "clang-19 llvm-19 lld-19 bolt-19 (--install-deps installs them).",
)
PGO = typer.Option(
    None, "--pgo/--no-pgo",
    help="Build with (or without) profile-guided optimization, --enable-optimizations [default: as the recipe "
    "says; the shipped ones: with, except +debug and sanitizer builds]. --no-pgo also drops LTO unless --lto is "
    "given: a plain build, about a fifth of the cold build's time, for trying a variant.",
)


@commands.command("install", cls=Command)
@interruptible
def install(
    ctx: typer.Context,
    recipe: Optional[str] = typer.Argument(
        None, metavar="[RECIPE]", help=RECIPE_HELP + " Default: what .python-version pins.",
    ),
    jobs: Optional[int] = typer.Option(
        None, "--jobs", "-j", min=1, help="Parallel make jobs [default: the CPU count].",
    ),
    configure_opt: List[str] = CONFIGURE_OPT,
    force: bool = typer.Option(
        False, "--force",
        help="Reinstall even if installed (from the artifact cache when it has this build; add --no-cache to "
        "compile); the old one stays until the new one passes.",
    ),
    keep_build: bool = typer.Option(False, "--keep-build", help="Keep the source/build tree in the cache directory."),
    commit: Optional[str] = COMMIT,
    name: Optional[str] = NAME,
    no_verify: bool = typer.Option(
        False, "--no-verify", help="Skip the sub-interpreter verification after the build.",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Build from source: neither reuse nor store a cached artifact or PGO profile.",
    ),
    push: bool = typer.Option(
        False, "--push", help="Upload a newly built artifact to the shared cache (PYBUILD12_CACHE_URL).",
    ),
    pgo_profile: Optional[Path] = typer.Option(
        None, "--pgo-profile", metavar="FILE", exists=True, dir_okay=False, readable=True,
        help="Build with this recorded PGO profile (from 'pybuild12 profile export'): no training run, and "
        "with SOURCE_DATE_EPOCH set the same inputs give the same binaries. Refused if recorded for other sources, "
        "options or compiler.",
    ),
    use_ccache: bool = typer.Option(
        False, "--ccache",
        help="Compile through ccache if installed (also PYBUILD12_CCACHE=1). ccache's own settings apply "
        "(CCACHE_DIR, CCACHE_REMOTE_STORAGE, ccache.conf), so a fleet can share compile results.",
    ),
    lto: Optional[bool] = LTO,
    optimize_level: Optional[str] = OPTIMIZE,
    pgo: Optional[bool] = PGO,
    compile_bytecode: Optional[bool] = COMPILE_BYTECODE,
    fresh_profile: bool = typer.Option(
        False, "--fresh-profile", help="Build and train a new PGO profile even if one is recorded for this build.",
    ),
    install_deps: bool = typer.Option(
        False, "--install-deps",
        help="First install missing build dependencies with apt-get or dnf (as root, or through sudo).",
    ),
    as_json: bool = typer.Option(
        False, "--json",
        help="Print the outcome as JSON on stdout (name, python, prefix, version, key, origin: local, shared, "
        "imported or null when compiled; seconds) instead of the python's path.",
    ),
) -> None:
    """Download, build (--enable-optimizations), check and install a CPython.

    The source's sha256 is checked before extraction; the build is installed into a
    staging directory, checked, then moved into place. A failure or Ctrl-C leaves any
    earlier install of the same name untouched.

    Rebuilds are fast: a verified build is kept in the artifact cache (and fetched from
    PYBUILD12_CACHE_URL), and the PGO training run's profile is recorded, so a build of
    the same sources, options and compiler under another name or prefix skips the
    instrumented build and the training run.
    """
    from pybuild12 import install as installer  # lazy: the install layer, for this command only
    from pybuild12.cli.console import RichReporter  # lazy: rich's progress display
    from pybuild12.install import deps, publish  # lazy: as the install layer

    recipe = _recipe_or_pin(recipe)
    exclusive(ctx, ("--lto", "--no-lto"), ("--pgo", "--no-pgo"), ("--compile-bytecode", "--no-compile-bytecode"),
              ("--push", "--no-cache"),
              ("--pgo-profile", "--fresh-profile"), ("--pgo-profile", "--no-pgo"), ("--fresh-profile", "--no-pgo"))
    options = installer.InstallOptions(
        name=name, jobs=jobs, configure_opts=tuple(configure_opt), force=force, keep_build=keep_build, commit=commit,
        verify=not no_verify, no_cache=no_cache, push=push, pgo_profile=pgo_profile, fresh_profile=fresh_profile,
        ccache=use_ccache, lto=lto, optimizations=pgo, optimize=optimize_level, compile_bytecode=compile_bytecode,
    )
    paths, reporter = settings().paths, RichReporter(err.console)
    if install_deps and installer.installed_as_asked(recipe, options, paths=paths, settings=settings()) is None:
        deps.install_deps(recipe, options, paths=paths, reporter=reporter, env=settings().env,
                          on_line=functools.partial(err.print, markup=False, highlight=False))
    try:
        outcome = installer.install(recipe, options, paths=paths, reporter=reporter, settings=settings())
    except publish.PushFailed as exc:
        _installed(exc.outcome, as_json, push_error=exc)  # the build is in place; only the upload failed
        exc.reported_as_json = as_json  # one JSON document: the outcome, with the upload's error in it
        raise
    _installed(outcome, as_json)


def _recipe_or_pin(recipe: Optional[str], doing: str = "installing") -> str:
    """RECIPE, else what PYBUILD12_VERSION or the nearest .python-version pins (said on stderr)."""
    from pybuild12.devenv import pins  # lazy: name resolution

    choice = pins.to_install(recipe, version=settings().version)
    if choice.origin != "argument":
        err.print(f"{doing} {escape(choice.name)} (pinned by {escape(choice.origin)})")
    return choice.name


def _installed(outcome: Installed, as_json: bool = False, push_error: Exception | None = None) -> None:
    from pybuild12.cli.console import duration  # lazy: beside rich's progress display

    total = sum(((outcome.receipt.timings if outcome.receipt else None) or {}).values())
    if outcome.already_installed:
        err.print(f"{escape(outcome.name)} is already installed at {outcome.prefix} (--force rebuilds it)")
        for note in outcome.notes:
            err.print(f"[yellow]note:[/] {escape(note)}")
    else:
        err.print(f"[green]installed[/] {escape(outcome.name)} in {duration(total)}")
    if not as_json:
        out.print(str(outcome.python))
        return
    receipt = outcome.receipt
    artifact = (receipt.artifact if receipt else None) or {}
    out.print_json(json.dumps({
        "name": outcome.name, "python": str(outcome.python), "prefix": str(outcome.prefix),
        "version": receipt.version if receipt else None, "key": artifact.get("key"),
        "origin": "installed" if outcome.already_installed else artifact.get("origin"),
        "already_installed": outcome.already_installed, "seconds": round(total, 1),
        **({"ok": False, "error": str(push_error)} if push_error is not None else {})}))


@commands.command("key", cls=Command)
@interruptible
def key(
    ctx: typer.Context,
    recipe: Optional[str] = typer.Argument(
        None, metavar="[RECIPE]", help=RECIPE_HELP + " Default: what .python-version pins.",
    ),
    configure_opt: List[str] = CONFIGURE_OPT,
    commit: Optional[str] = COMMIT,
    name: Optional[str] = NAME,
    lto: Optional[bool] = LTO,
    optimize_level: Optional[str] = OPTIMIZE,
    pgo: Optional[bool] = PGO,
    compile_bytecode: Optional[bool] = COMPILE_BYTECODE,
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON on stdout: name, version, prefix, key, source and every input of the key.",
    ),
) -> None:
    """Print the artifact key an install with these options would use, without building.

    The key covers everything that shapes the binary: the recipe, the source (a git
    recipe's commit is resolved, which may fetch), the configure line, the prefix, the
    compiler's version (probed here), CC/CFLAGS and the like, the platform and libc, the
    variants. Two builds with the same key are interchangeable, so it is the key for a CI
    cache (`key: python-$(pybuild12 key main)`): the install that follows looks for this
    key in the artifact caches, and its receipt records it.
    """
    from pybuild12 import install as installer  # lazy: the install layer, for this command only
    from pybuild12.cli.console import RichReporter  # lazy: rich's progress display

    recipe = _recipe_or_pin(recipe, doing="the key of")
    exclusive(ctx, ("--lto", "--no-lto"), ("--pgo", "--no-pgo"), ("--compile-bytecode", "--no-compile-bytecode"))
    options = installer.InstallOptions(name=name, configure_opts=tuple(configure_opt), commit=commit, lto=lto,
                                       optimizations=pgo, optimize=optimize_level, compile_bytecode=compile_bytecode)
    found = installer.installed_as_asked(recipe, options, paths=settings().paths, settings=settings())
    installed_key = ((found.receipt.artifact or {}).get("key") if found and found.receipt else None)
    if installed_key:  # the install answers with this build, so its key is the one
        err.print(f"{escape(found.name)} is installed: its key")
        for note in found.notes:
            err.print(f"[yellow]note:[/] {escape(note)}")
        if as_json:
            receipt = found.receipt
            out.print_json(json.dumps({"name": found.name, "version": receipt.version,
                                       "prefix": str(found.prefix), "key": installed_key,
                                       "source": receipt.source.get("sha256") or receipt.source.get("commit"),
                                       "inputs": None, "installed": True}))
        else:
            out.print(installed_key)
        return
    keyed = installer.artifact_key(recipe, options, paths=settings().paths, reporter=RichReporter(err.console),
                                   settings=settings())
    if as_json:
        out.print_json(json.dumps({**keyed.to_json(), "installed": False}))
    else:
        out.print(keyed.key)


@commands.command("uninstall", cls=PlainUsage)
@interruptible
def uninstall(
    name: str = typer.Argument(..., metavar="NAME", help="Name of an installed build, or a request such as 3.13 "
                               "that matches exactly one (several are refused, named)."),
    force: bool = typer.Option(False, "--force", help="Delete it even while processes run its python."),
) -> None:
    """Remove an installed build (nothing else is touched).

    Refused while a process runs the build's python (a venv made from it counts),
    unless --force. Waits for an install of the same name in progress to finish.
    """
    from pybuild12.cli.console import RichReporter  # lazy: rich's progress display
    from pybuild12.core import locks  # lazy: filelock
    from pybuild12.store import names, registry  # lazy: name resolution and the installed builds

    paths = settings().paths
    asked, name = name, names.get_one(paths, name, command="uninstall").name
    if name != asked:
        err.print(f"{escape(asked)} names {escape(name)}, the one installed build it matches")
    with locks.for_build(paths, name, RichReporter(err.console)):
        prefix = registry.remove(paths, name, force=force)
    err.print(f"removed {escape(name)} ({prefix})")


@commands.command("bisect", cls=Command, options_metavar="--good REV --bad REV [OPTIONS]",
                  context_settings={"allow_extra_args": True, "ignore_unknown_options": False})
@interruptible
def bisect(
    ctx: typer.Context,
    recipe: Optional[str] = typer.Argument(
        None, metavar="RECIPE -- COMMAND...",
        help="A git recipe (main, or a recipe file of kind git), with variants: main+debug.",
    ),
    good: Optional[str] = typer.Option(None, "--good", metavar="REV",
                                       help="A commit, tag or branch where COMMAND passes (exits 0)."),
    bad: Optional[str] = typer.Option(None, "--bad", metavar="REV", help="One where it fails."),
    fixed: bool = typer.Option(False, "--fixed", help="Find the commit that fixed it: --good is newer than --bad."),
    resume: bool = typer.Option(False, "--resume", help="Go on with the bisect that Ctrl-C (or a crash) stopped."),
    keep: Optional[str] = typer.Option(None, "--keep", metavar="NAME",
                                       help="Install the commit it finds as an installed build named NAME."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1,
                                       help="Parallel make jobs [default: the CPU count]."),
    configure_opt: List[str] = CONFIGURE_OPT,
    lto: Optional[bool] = LTO,
    optimize_level: Optional[str] = OPTIMIZE,
    pgo: Optional[bool] = typer.Option(
        None, "--pgo/--no-pgo", help="Build each step with PGO [default: without: quick builds; --pgo to bisect a "
        "speed regression]."),
    compile_bytecode: Optional[bool] = typer.Option(
        None, "--compile-bytecode/--no-compile-bytecode",
        help="Have each step's make install byte-compile the standard library [default: not: a step's build is "
        "run once or twice, and Python writes the .pyc its command imports]."),
    as_json: bool = typer.Option(False, "--json", help="Print the answer and every step as JSON on stdout."),
) -> None:
    """Find the CPython commit that broke (or fixed) COMMAND: pybuild12 bisect main --good REV --bad REV -- COMMAND...

    Each step builds the commit git picks (quickly: no PGO, no LTO, no bytecode compiled
    at install, through ccache, no verification; any install option or variant may be given), then runs COMMAND in this
    directory with that build's bin first on PATH and its python as $PYBUILD12_PYTHON.
    COMMAND's exit code decides, as 'git bisect run' reads it: 0 good, 125 skip, anything
    else bad (a crash too). A commit that does not build is skipped, not blamed. Every
    step's build is kept in the artifact cache under its own key (and under
    <cache>/bisect/, never among the installed builds): a repeated or overlapping bisect
    builds nothing again. Works offline on the recipe's cached repository.

    Exit 0 with the first bad (or fixed) commit found; 1 when skipped commits hide it
    (they are listed); Ctrl-C stops cleanly, and --resume goes on.
    """
    from pybuild12 import install as installer  # lazy: the install layer, for this command only
    from pybuild12.cli.console import RichReporter  # lazy: rich's progress display
    from pybuild12.core.errors import UsageError  # lazy: as the install layer
    from pybuild12.install import bisecting  # lazy: as the install layer

    words = list(ctx.args)
    exclusive(ctx, ("--lto", "--no-lto"), ("--pgo", "--no-pgo"), ("--compile-bytecode", "--no-compile-bytecode"))
    reporter = RichReporter(err.console)
    runner = bisecting.Bisect(settings().paths, settings(), reporter, stdout_to_stderr=as_json)
    if resume:
        if recipe or good or bad or words:
            raise UsageError("--resume takes nothing else: the bisect goes on as it was started",
                             hint="pybuild12 bisect --resume")
        answer = runner.resume()
    else:
        missing = [o for o, v in (("RECIPE", recipe), ("--good", good), ("--bad", bad)) if v is None]
        if missing or not words:
            raise UsageError(f"bisect needs {', '.join(missing + ([] if words else ['a COMMAND after --']))}",
                             hint="pybuild12 bisect main --good v3.13.0 --bad main -- python -m pytest tests/")
        if keep is not None:
            from pybuild12.store import names  # lazy: as the install layer

            names.check(keep)  # before the history is fetched
        options = installer.InstallOptions(jobs=jobs, configure_opts=tuple(configure_opt), lto=lto,
                                           optimizations=pgo, optimize=optimize_level,
                                           compile_bytecode=compile_bytecode)
        answer = runner.start(recipe, good, bad, words, cwd=Path.cwd(), fixed=fixed, keep=keep, options=options)
    kind = "fixed" if answer.fixed else "bad"
    if answer.first:
        err.print(f"[green]first {kind} commit:[/] {answer.first} {escape(answer.subject)}")
    else:
        err.print(f"[yellow]the first {kind} commit is one of {len(answer.candidates)}[/], skipped because they did "
                  f"not build (or the command exited 125): {', '.join(c[:12] for c in answer.candidates)}")
    if answer.skipped:
        err.print(f"skipped: {', '.join(c[:12] for c in answer.skipped)}")
    if as_json:
        out.print_json(json.dumps(answer.to_json()))
    else:
        out.print(answer.first or "")
    if not answer.first:
        raise typer.Exit(code=1)
