"""Command line: parse, call the core, render, map errors to exit codes.

The only module that imports typer, prints results, or exits.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Iterator, List, Optional

import contextlib
import dataclasses
import functools

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pybuild12 import __version__
from pybuild12.install import publish
from pybuild12.store import artifacts, manifest, names, profiles, registry
from pybuild12.store import buildinfo
from pybuild12.build import preflight
from pybuild12.devenv import pins, venvs as devenv
from pybuild12.core import locks, runner
from pybuild12.request import recipes, variants
from pybuild12.checks import compat as compat_verdicts
from pybuild12.checks import compatscan
from pybuild12 import install as installer
from pybuild12.checks import suite as suite_runner
from pybuild12.checks import verify as verifier
from pybuild12.cli.console import RichReporter, duration
from pybuild12.core.errors import EXIT_CODES, BuildError, CheckError, Interrupted, NotInstalledError, PrerequisiteError, PyBuild12Error, UsageError, from_os_error
from pybuild12.core.paths import Paths
from pybuild12.core.settings import Settings

EPILOG = "Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items()) + "."

app = typer.Typer(
    help="Build CPython with working sub-interpreters (PEP 684) from pinned, checksummed sources.\n\n"
    "Builds go to their own prefix under the data directory (PYBUILD12_HOME moves everything "
    "pybuild12 writes under one root). PYBUILD12_MIRROR names a directory or URL to fetch "
    "source tarballs from first.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
# Piped output is read by programs and searched with grep: no wrapping at 80 columns there.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

# What a command interrupted by Ctrl-C or SIGTERM leaves behind, said in its own terms;
# the others change nothing, or only in one step (a rename, a file replaced whole).
INTERRUPTED = {
    "install": "removed what this run created; earlier installs are unchanged",
    "uninstall": "the build is either still installed as it was or removed whole",
    "venv": "the virtual environment may be incomplete; the same command makes it again",
    "cache_clear": "some cached artifacts or profiles may be gone; installed builds are unchanged",
    "cache_prune": "some cached artifacts or profiles may be gone; installed builds are unchanged",
}


def interruptible(func):
    """Turn Ctrl-C into `Interrupted` before click can turn it into exit 1, saying what the
    command left as it was; and a full disk or an unwritable directory into the message that
    fits the command (only an install says that nothing was installed)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted(INTERRUPTED.get(func.__name__, "nothing was changed")) from None
        except OSError as exc:
            mapped = from_os_error(exc, installing=func.__name__ == "install")
            if mapped is None:
                raise
            raise mapped from None

    return wrapper


RECIPE_HELP = ("Recipe name (see 'pybuild12 list'), alias such as 3.13, or a path to a recipe .toml file; "
               "with variants as uv spells them: 3.14t or 3.14+freethreaded (no GIL), 3.14+debug, 3.14+jit, "
               "combined as 3.14t+debug. A variant is a build of its own, named e.g. 3.14.10+freethreaded.")


def _version(value: bool) -> None:
    if value:
        out.print(f"pybuild12 {__version__}")
        raise typer.Exit()


DEBUG_ENV = "PYBUILD12_DEBUG"
_debug = False


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
    debug: bool = typer.Option(False, "--debug", help=f"Show the traceback of an unexpected error (also {DEBUG_ENV}=1); "
                               "without it, the traceback goes to a log file and the message names it."),
) -> None:
    global _debug
    _debug = debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")


@app.command()
@interruptible
def install(
    recipe: Optional[str] = typer.Argument(None, metavar="[RECIPE]", help=RECIPE_HELP + " Default: what .python-version pins."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Parallel make jobs [default: the CPU count]."),
    configure_opt: List[str] = typer.Option(
        [], "--configure-opt", metavar="OPT",
        help="Extra ./configure option; repeatable. PYBUILD12_CONFIGURE_OPTS adds shell words too.",
    ),
    force: bool = typer.Option(False, "--force", help="Reinstall even if installed (from the artifact cache when it has this build; add --no-cache to compile); the old one stays until the new one passes."),
    keep_build: bool = typer.Option(False, "--keep-build", help="Keep the source/build tree in the cache directory."),
    commit: Optional[str] = typer.Option(
        None, "--commit", metavar="SHA",
        help="Build another commit of a git recipe (7 to 40 hex digits); the build is named RECIPE@<12 hex> unless --name is given.",
    ),
    name: Optional[str] = typer.Option(None, "--name", metavar="NAME", help="Install under this name instead of the recipe's."),
    no_verify: bool = typer.Option(False, "--no-verify", help="Skip the sub-interpreter verification after the build."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Build from source: neither reuse nor store a cached artifact or PGO profile."),
    push: bool = typer.Option(False, "--push", help="Upload a newly built artifact to the shared cache (PYBUILD12_CACHE_URL)."),
    pgo_profile: Optional[Path] = typer.Option(
        None, "--pgo-profile", metavar="FILE", exists=True, dir_okay=False, readable=True,
        help="Build with this recorded PGO profile (from 'pybuild12 profile export'): no training run, and "
        "with SOURCE_DATE_EPOCH set the same inputs give the same binaries. Refused if recorded for other sources, options or compiler.",
    ),
    use_ccache: bool = typer.Option(
        False, "--ccache",
        help="Compile through ccache if installed (also PYBUILD12_CCACHE=1). ccache's own settings apply "
        "(CCACHE_DIR, CCACHE_REMOTE_STORAGE, ccache.conf), so a fleet can share compile results.",
    ),
    lto: Optional[bool] = typer.Option(None, "--lto/--no-lto", help="Build with (or without) link-time optimization, --with-lto [default: as the recipe says; the shipped ones: with]. With PGO it measured 1.15x over a plain build against 1.08x for PGO alone; --no-lto compiles in about a third of the time."),
    optimize_level: Optional[str] = typer.Option(
        None, "--optimize", metavar="LEVEL",
        help="standard: GCC (the system compiler) with PGO and LTO, as the official Docker images build; max: clang "
        "19 with ThinLTO, PGO, BOLT (x86-64 Linux) and the tail-calling interpreter (3.14+), as "
        "python-build-standalone builds [default: as the recipe says; the shipped ones: standard]. max needs "
        "clang-19 llvm-19 lld-19 bolt-19 (--install-deps installs them).",
    ),
    pgo: Optional[bool] = typer.Option(None, "--pgo/--no-pgo", help="Build with (or without) profile-guided optimization, --enable-optimizations [default: as the recipe says; the shipped ones: with, except +debug builds]. --no-pgo also drops LTO unless --lto is given: a plain build, about a fifth of the cold build's time, for trying a variant."),
    fresh_profile: bool = typer.Option(False, "--fresh-profile", help="Build and train a new PGO profile even if one is recorded for this build."),
    install_deps: bool = typer.Option(False, "--install-deps", help="First install missing build dependencies with apt-get or dnf (as root, or through sudo)."),
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
    recipe = _recipe_or_pin(recipe)
    _exclusive(("--lto", "--no-lto"), ("--pgo", "--no-pgo"), ("--push", "--no-cache"),
               ("--pgo-profile", "--fresh-profile"), ("--pgo-profile", "--no-pgo"), ("--fresh-profile", "--no-pgo"))
    options = installer.InstallOptions(
        name=name, jobs=jobs, configure_opts=tuple(configure_opt), force=force, keep_build=keep_build, commit=commit,
        verify=not no_verify, no_cache=no_cache, push=push, pgo_profile=pgo_profile, fresh_profile=fresh_profile,
        ccache=use_ccache, lto=lto, optimizations=pgo, optimize=optimize_level,
    )
    if install_deps and installer.installed_as_asked(recipe, options, paths=Settings.from_env().paths) is None:
        _install_deps(recipe, options)
    try:
        outcome = installer.install(recipe, options, paths=Settings.from_env().paths, reporter=RichReporter(err))
    except publish.PushFailed as exc:
        _installed(exc.outcome)  # the build is in place; only the upload failed
        raise
    _installed(outcome)


def _recipe_or_pin(recipe: Optional[str]) -> str:
    """RECIPE, else what PYBUILD12_VERSION or the nearest .python-version pins (said on stderr)."""
    choice = pins.to_install(recipe, version=Settings.from_env().version)
    if choice.origin != "argument":
        err.print(f"installing {escape(choice.name)} (pinned by {escape(choice.origin)})")
    return choice.name


def _installed(outcome: registry.Installed) -> None:
    if outcome.already_installed:
        err.print(f"{escape(outcome.name)} is already installed at {outcome.prefix} (--force rebuilds it)")
    else:
        total = sum(((outcome.receipt.timings if outcome.receipt else None) or {}).values())
        err.print(f"[green]installed[/] {escape(outcome.name)} in {duration(total)}")
    out.print(str(outcome.python))


def _exclusive(*pairs: tuple[str, str]) -> None:
    """Refuse options that contradict each other (click lets the last of --lto/--no-lto win)."""
    given = set()
    for word in sys.argv[1:]:
        if word == "--":
            break
        given.add(word.split("=", 1)[0])
    for first, second in pairs:
        if first in given and second in given:
            raise UsageError(f"{first} and {second} exclude each other", hint="give one of them")


DEPS_TIMEOUT = 1800.0  # seconds for apt-get or dnf


def _install_deps(spec: str, options: installer.InstallOptions) -> None:
    """What the build of `spec` needs: the usual build dependencies, and for a JIT
    build the clang and llvm-readobj of the LLVM its CPython pins."""
    checks = preflight.doctor(str(Settings.from_env().paths.data))
    recipe = installer.request(spec, options)[0]
    groups: tuple[str, ...] = ()
    if "jit" in recipe.build.variants:
        checks = [c for c in checks if c.group != "jit"]
        checks += preflight.jit_toolchain(variants.llvm_major(recipe.version))
        groups += ("jit",)
    if recipe.build.optimize == "max":
        groups += ("optimize",)
    command = preflight.install_command(checks, groups=groups)
    if command is None:
        err.print("build dependencies: nothing missing (or no apt-get/dnf here)")
        return
    if command[0] == "sudo" and shutil.which("sudo") is None:
        raise PrerequisiteError(
            "installing the build dependencies needs root, and sudo is not installed",
            hint=f"as root, run: {' '.join(command[1:])}; then run the same pybuild12 command again "
            "(without --install-deps)")
    apt = command[0] == "apt-get" or command[:2] == ["sudo", "apt-get"]
    if apt:  # with the lists there are, before anything runs (no lists yet: apt cannot say, so after the update)
        preflight.refuse_uninstallable(checks, command)
    paths = Settings.from_env().paths
    log = paths.logs / f"install-deps-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    show = functools.partial(err.print, markup=False, highlight=False)
    try:
        if apt:
            update = [*command[: command.index("apt-get")], "apt-get", "update", "-qq"]
            err.print(f"running: {' '.join(update)} (log: {log})")
            try:
                runner.call(update, phase="update the package lists", log_path=log, on_line=show, interactive=True,
                            timeout=DEPS_TIMEOUT)
            except BuildError:
                err.print("[yellow]warning:[/] apt-get update failed; installing from the lists there are")
            preflight.refuse_uninstallable(checks, command)  # with fresh lists: a package this release lacks
        err.print(f"running: {' '.join(command)} (log: {log})")
        runner.call(command, phase="install the build dependencies", log_path=log, on_line=show, interactive=True,
                    timeout=DEPS_TIMEOUT)
    except BuildError as exc:
        raise PrerequisiteError(exc.message, hint=f"the log: {log}; install the packages yourself, then run the "
                                "same command again") from None


def _raise_interrupt(signum, frame):  # pragma: no cover - signal path
    raise KeyboardInterrupt


@app.command("list")
@interruptible
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON to stdout.")) -> None:
    """Show available recipes and installed builds (version and prefix)."""
    paths = Settings.from_env().paths
    available = []
    for name in recipes.available():
        try:
            r = recipes.load(name)
            available.append({"name": name, "version": r.version, "summary": r.summary,
                              "source": r.source.kind, "alias_of": r.name if r.alias_of else None,
                              "variants": _possible_variants(r)})
        except PyBuild12Error as exc:
            available.append({"name": name, "error": exc.message})
    builds = []
    for b in registry.installed(paths):
        source = b.receipt.source if b.receipt else {}
        made = buildinfo.facts(b.receipt)
        builds.append({"name": b.name, "version": b.version, "variants": list(b.variants),
                       "prefix": str(b.prefix), "python": str(b.python),
                       "source": source.get("url"), "commit": source.get("commit"), "receipt": b.receipt is not None,
                       "build": made.as_json() if made else None,
                       # The modules CPython's build could not build, by kind; None: not recorded.
                       "lacking": b.receipt.modules if b.receipt else None})
    kept = sorted(p.name for p in paths.kept.iterdir()) if paths.kept.is_dir() else []
    if as_json:
        out.print_json(json.dumps({"recipes": available, "installed": builds,
                                   "kept": [{"name": k, "path": str(paths.kept / k)} for k in kept]}))
        return
    table = Table(title="installed builds", title_justify="left", box=None)
    for col in ("name", "version", "variants", "optimizations", "compiler", "verified", "commit", "prefix"):
        table.add_column(col)
    for b in builds:
        made = b["build"] or {}
        table.add_row(b["name"], b["version"] if b["receipt"] else "? (no receipt)", "+".join(b["variants"]) or "-",
                      made.get("optimizations", "?"), _short_compiler(made.get("compiler", "?")),
                      made.get("verified", "?"),
                      (b["commit"] or "")[:12], b["prefix"])
    if builds:
        out.print(table)
    else:
        out.print("no builds installed")
    for b in builds:
        lacking = [f"{m} ({kind.replace('_', ' ')})" for kind, names in (b["lacking"] or {}).items() for m in names]
        if lacking:
            err.print(f"{b['name']} lacks: {', '.join(lacking)}")
    for k in kept:
        err.print(f"kept after a failed verification: {k} at {paths.kept / k} (running its install again installs "
                  "it without compiling; 'pybuild12 cache clear' removes it)")
    out.print()
    table = Table(title="available recipes", title_justify="left", box=None)
    for col in ("name", "version", "source", "variants", "summary"):
        table.add_column(col)
    for r in available:
        summary = r.get("error") or (f"→ {r['alias_of']}" if r.get("alias_of") else r["summary"])
        table.add_row(r["name"], r.get("version", "?"), r.get("source", "?"), ",".join(r.get("variants", [])) or "-",
                      summary)
    out.print(table)
    err.print("variants: add them to a recipe's name, e.g. 3.14t or 3.14+freethreaded, 3.14+debug, 3.14+jit, 3.14t+debug")


def _short_compiler(banner: str) -> str:
    """`gcc (Debian 12.2.0-14+deb12u1) 12.2.0` -> `gcc 12.2.0`; clang's banner -> `clang 19.1.7`."""
    words = banner.split()
    if not words:
        return "?"
    version = next((w for w in reversed(words) if w[:1].isdigit() and "." in w), "")
    if "clang" in banner:
        version = next((w for w in words if w[:1].isdigit() and "." in w), version)
        return f"clang {version}".strip()
    return f"{words[0]} {version}".strip()


def _possible_variants(recipe: recipes.Recipe) -> list[str]:
    """The variants `recipe`'s CPython can be built as."""
    found = []
    for variant in variants.ORDER:
        try:
            variants.check_supported(recipe.name, recipe.version, [variant])
        except PyBuild12Error:
            continue
        found.append(variant)
    return found


@app.command()
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
    paths = Settings.from_env().paths
    asked, name = name, names.get_one(paths, name, command="uninstall").name
    if name != asked:
        err.print(f"{escape(asked)} names {escape(name)}, the one installed build it matches")
    with locks.for_build(paths, name, RichReporter(err)):
        prefix = registry.remove(paths, name, force=force)
    err.print(f"removed {escape(name)} ({prefix})")


def _build(name: Optional[str]) -> registry.Installed:
    """The build a command means: NAME, else PYBUILD12_VERSION, else the nearest .python-version.
    A request such as 3.13 or 3.13t finds the newest installed build of that line and kind."""
    choice = pins.choose(name, version=Settings.from_env().version)
    build = names.get(Settings.from_env().paths, choice.name, origin=choice.origin)
    if not build.python.exists():
        raise PyBuild12Error(f"{build.prefix} has no python at {build.python}",
                             hint=f"reinstall with 'pybuild12 install {build.name} --force'")
    return build


NAME_HELP = "Build name; default: PYBUILD12_VERSION, else the nearest .python-version."


@app.command()
@interruptible
def which(name: Optional[str] = typer.Argument(None, metavar="NAME", help=NAME_HELP)) -> None:
    """Print the path of a build's python."""
    out.print(str(_build(name).python))


# No --help option of its own: `run script.py --help` and `run -m json.tool --help` are the
# python's; `run --help` alone is answered by the command itself.
@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
             options_metavar="[NAME] [--] [ARGS]...")
def run(ctx: typer.Context) -> None:
    """Run a build's python: pybuild12 run [NAME] -- ARGS...

    Every argument after NAME (or after '--') goes to the python, options included:
    'pybuild12 run -m json.tool --help', 'pybuild12 run script.py --help' and
    'pybuild12 run -c CODE' run the pinned build's python. stdin, stdout, stderr and the
    exit code are the python's own. Without NAME the pinned build is used
    (PYBUILD12_VERSION, else the nearest .python-version). 'pybuild12 run -- --help' shows
    the python's help.
    """
    argv = _run_arguments(ctx)
    if argv == ["--help"]:
        sys.stdout.write(ctx.get_help() + "\n")
        raise typer.Exit()
    if argv[:1] == ["--"]:
        before, args = [], argv[1:]
    elif argv and _python_argument(argv[0]):
        before, args = [], argv  # `run -c ...`, `run foo.py --help`: all of it is the pinned build's python's
    else:  # `run NAME [--] ARGS`: after NAME, nothing is pybuild12's
        before, args = argv[:1], argv[2:] if argv[1:2] == ["--"] else argv[1:]
    try:
        build = _build(before[0] if before else None)
    except NotInstalledError as exc:
        if before or not args:
            raise
        raise NotInstalledError(f"{exc.message}: which build's python should run {shlex.join(args)}?",
                                hint=f'name one: "pybuild12 run NAME -- {shlex.join(args)}", or pin one '
                                "with 'pybuild12 pin NAME'") from None
    devenv.exec_python(build.python, args)


def _run_arguments(ctx: typer.Context) -> list[str]:
    """What follows `run` on the command line, as typed: click drops the first '--' from
    ctx.args, and 'run NAME -- ARGS' needs to know where it was."""
    return sys.argv[sys.argv.index("run") + 1:] if "run" in sys.argv else list(ctx.args)


def _python_argument(word: str) -> bool:
    """Whether `word`, first after `run`, is meant for python rather than a build name:
    an option (-c, -m, -X), or a script."""
    return word.startswith("-") or word.endswith(".py") or "/" in word or os.path.isfile(word)


@app.command()
@interruptible
def venv(
    name_or_dir: str = typer.Argument(..., metavar="[NAME] DIR", help="Build name (optional) and the venv directory."),
    directory: Optional[Path] = typer.Argument(None, hidden=True),
    clear: bool = typer.Option(False, "--clear", help="Recreate DIR if it already is a venv (of this build or "
                               "another interpreter), deleting the packages installed in it."),
) -> None:
    """Create a virtual environment (with pip) from a build.

    Installed packages are never deleted unasked: over a venv of the same build nothing
    is done, a venv of another interpreter is refused, and --clear recreates either. A
    non-empty DIR that is not a venv is refused. After a failure or Ctrl-C, a venv this
    run began is removed, and one that --clear was recreating is put back as it was.
    """
    name, target = (name_or_dir, directory) if directory is not None else (None, Path(name_or_dir))
    try:
        build = _build(name)
    except NotInstalledError as exc:
        if name is None and "/" not in name_or_dir and not target.exists() \
                and Settings.from_env().paths.prefix(name_or_dir).is_dir():
            raise UsageError(f"'pybuild12 venv {name_or_dir}' names a build but no directory for the venv",
                             hint=f"give both: 'pybuild12 venv {name_or_dir} DIR' (one word alone is the "
                             "directory, for the pinned build)") from exc
        raise
    made = devenv.make_venv(build.python, target, build_name=build.name, clear=clear,
                            free_threaded="freethreaded" in build.variants,
                            log_path=Settings.from_env().paths.logs / f"venv-{build.name}.log")
    if not made.made:
        err.print(f"{escape(str(target))} already is a venv of {escape(build.name)}; --clear recreates it empty")
    else:
        done = "recreated" if made.replaced else "created"
        err.print(f"{done} {escape(str(target))} from {escape(build.name)}; activate with: "
                  f"source {escape(str(target))}/bin/activate")
    out.print(str(made.python))


@app.command("env")
@interruptible
def env_(
    name: Optional[str] = typer.Argument(None, metavar="NAME", help=NAME_HELP),
    shell: Optional[str] = typer.Option(None, "--shell", help="bash, zsh, fish or sh [default: from $SHELL]."),
    unset: bool = typer.Option(False, "--unset", help="Print the shell code that undoes it: eval \"$(pybuild12 "
                               "env --unset)\"."),
) -> None:
    """Print the shell code that puts a build first on PATH: eval "$(pybuild12 env NAME)".

    Then python, pip (and python3.13t on a free-threaded build) are the build's: they are
    links in a directory of pybuild12's own (<data>/shims/NAME), which goes on PATH before
    the build's bin/. Evaluated again, for the same build or another, it first takes out
    what it added before; --unset takes it out and unsets PYBUILD12_ACTIVE.
    """
    shell = shell or devenv.default_shell()
    if shell not in devenv.SHELLS:
        raise typer.BadParameter(f"--shell must be one of {', '.join(devenv.SHELLS)}")
    if unset:
        if name is not None:
            raise UsageError(f"--unset takes no build name (got {name[:40]!r})",
                             hint="'pybuild12 env --unset' undoes whatever 'pybuild12 env' added last")
        sys.stdout.write(devenv.unsets(shell))
        return
    build = _build(name)
    shims = devenv.shims(Settings.from_env().paths, build)
    if not (shims / "pip").exists():
        err.print(f"[yellow]warning:[/] {escape(build.name)} has no pip3; 'python -m ensurepip' installs it")
    sys.stdout.write(devenv.exports([shims, build.prefix / "bin"], build.name, shell))


@app.command()
@interruptible
def pin(
    name: str = typer.Argument(..., metavar="NAME", help="An installed build, or a recipe to build (3.13, 3.14t)."),
    force: bool = typer.Option(False, "--force", help="Pin NAME even though it is neither installed nor a recipe."),
) -> None:
    """Write .python-version here (the file pyenv and uv read) naming a build.

    NAME must be an installed build or a recipe 'pybuild12 install' can build (then
    install it next); --force pins any well-formed name. The file's earlier pin, which
    pyenv or uv may have written, is replaced and named.
    """
    paths = Settings.from_env().paths
    installed = names.installed_name(paths, name)
    is_installed = paths.prefix(installed).is_dir()
    buildable = names.recipe_build_name(name)
    if not is_installed and buildable is None and not force:
        raise names.not_installed(paths, name)
    previous = pins.current(Path.cwd())
    path = pins.write(Path.cwd(), name)
    replaced = f" (replacing {escape(previous)})" if previous not in (None, name) else ""
    err.print(f"pinned {escape(name)} in {path}{replaced}")
    if not is_installed:
        how = f"'pybuild12 install {escape(name)}' builds it" if buildable else "no recipe builds it"
        err.print(f"[yellow]note:[/] {escape(name)} is not installed yet: {how}")


@app.command()
@interruptible
def doctor(as_json: bool = typer.Option(False, "--json", help="Print JSON to stdout.")) -> None:
    """Check the build prerequisites: compiler, make, pkg-config, headers, git, free disk.

    Says what is missing and which packages provide it: this release's (from /etc/os-release),
    naming any that its apt lacks and where to get it instead, else Debian/Ubuntu's and
    Fedora's; 'pybuild12 install --install-deps' installs them. Exit 0 when nothing required
    is missing, 4 otherwise.
    """
    checks = preflight.doctor(str(Settings.from_env().paths.data))
    rows = preflight.merged(checks)
    if as_json:
        out.print_json(json.dumps({"ok": all(c.ok or not c.required for c in rows),
                                   "checks": [dataclasses.asdict(c) for c in rows]}))
    else:
        packages = preflight.package_columns(rows)
        table = Table(box=None)
        table.add_column("item", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("what: found", overflow="fold", ratio=3)
        for title, _ in packages:
            table.add_column(escape(title), overflow="fold", ratio=1)
        for i, c in enumerate(rows):
            status = "[green]ok[/]" if c.ok else ("[red]missing[/]" if c.required else "[yellow]missing*[/]")
            table.add_row(c.name, status, escape(f"{c.what}: {c.detail}"), *(escape(cells[i]) for _, cells in packages))
        screen = _console_for_tables()
        screen.print(table)
        if any(not c.ok and not c.required for c in rows):
            screen.print("* optional: needed only by some builds (JIT, --optimize max, optional modules)")
        command = preflight.install_command(checks)
        if command:
            err.print(f"to install what is missing: {' '.join(command)} (or: pybuild12 install --install-deps)")
    if any(c.required and not c.ok for c in checks):
        raise typer.Exit(code=PrerequisiteError.exit_code)


def _console_for_tables() -> Console:
    """stdout for a wide table read by people: the terminal's width, or piped (a CI log,
    less) COLUMNS or 80, rather than the 200 columns `out` keeps for grep."""
    if sys.stdout.isatty():
        return out
    columns = os.environ.get("COLUMNS", "")
    return Console(highlight=False, width=int(columns) if columns.isdigit() and int(columns) >= 40 else 80)


@app.command()
@interruptible
def verify(
    name: Optional[str] = typer.Argument(None, metavar="NAME", help=NAME_HELP),
    python: Optional[Path] = typer.Option(None, "--python", metavar="PATH", help="Verify this interpreter instead (any Python: a build, pyenv's, the system's)."),
    full: bool = typer.Option(False, "--full", help="Also run CPython's own sub-interpreter regression tests (python -m test -u cpu)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with every check to stdout."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Workers for the parallelism check [default: min(CPUs, 4)]."),
    files: bool = typer.Option(False, "--files", help="Instead: check the build's files against the sha256 manifest written when it was installed, naming every file changed, missing or added."),
    suite: bool = typer.Option(False, "--suite", help="Instead: run CPython's whole regression suite (python -m test) on the build, in parallel; about 8 minutes on 2 cores."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="With --suite: test files run at once [default: the CPU count]."),
    test_timeout: float = typer.Option(suite_runner.TEST_TIMEOUT, "--test-timeout", min=1, help="With --suite: seconds one test file may take before it counts as failed (timed out)."),
    suite_args: str = typer.Option("", "--suite-args", metavar="ARGS", help="With --suite: more arguments for python -m test, e.g. 'test_socket test_ssl' to run only those, '-x test_socket' to leave it out, '-u all' to enable every resource."),
) -> None:
    """Prove that sub-interpreters with their own GIL work in a build, and its variant.

    Checks, each passed, failed, skipped or inconclusive: modules, high-level API,
    test.support helper, lifecycle, messages, threads, clean exit, parallelism
    (own-GIL interpreters against threads and processes), and with --full CPython's
    own regression tests. Exit 0 when nothing failed, 7 otherwise.

    And the build's variant (an installed build must be the one it was asked to be):
    free-threaded builds, that the GIL stays off after importing the standard
    library's extension modules (naming any that turns it on) and that threads scale
    like processes; debug builds, sys.gettotalrefcount; JIT builds, that PYTHON_JIT=1
    turns the JIT on.

    With --files, instead: every file of the build against the sha256 manifest written
    when it was installed; lists each file changed, missing or added (a package
    pip-installed into the build shows as added). Exit 0 when all match, 7 otherwise.

    With --suite, instead: CPython's whole regression suite, without the environment
    variables that change what its tests see (each one named, with why). Each test file
    is passed, failed, skipped (platform, missing module, resource not enabled, other)
    or "environment": a failure known to come from the machine, not the build (VSOCK
    tests where a vsock device has no listener). Exit 0 when no file failed, 7 otherwise.
    """
    with _errors_as_json(as_json):
        if suite:
            if files or full or workers:
                raise UsageError("--suite runs CPython's whole test suite: give it without --files, --full or --workers")
            _verify_suite(name, python, as_json, jobs, test_timeout, suite_args)
            return
        if jobs or suite_args or test_timeout != suite_runner.TEST_TIMEOUT:
            raise UsageError("--jobs, --test-timeout and --suite-args go with --suite")
        _verify(name, python, full, as_json, workers, files)


def _verify_suite(name: Optional[str], python: Optional[Path], as_json: bool, jobs: Optional[int], timeout: float,
                  suite_args: str) -> None:
    if name is not None and python is not None:
        raise UsageError("give a build NAME or --python PATH, not both")
    try:
        args = shlex.split(suite_args)
    except ValueError as exc:
        raise UsageError(f"--suite-args: {exc}") from None
    target = verifier.interpreter(python) if python is not None else _build(name).python
    paths = Settings.from_env().paths
    log = paths.logs / f"suite-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    result = suite_runner.run(target, workers=jobs, timeout=timeout, args=args, log_path=log,
                              reporter=RichReporter(err))
    if as_json:
        out.print_json(json.dumps(result.as_json()))
    else:
        _print_suite(result)
    if not result.ok:
        raise typer.Exit(code=CheckError.exit_code)


def _provided_by(module: str) -> str:
    """' (libgdbm-compat-dev provides what it needs)' for a module the build lacks, if known."""
    packages = preflight.packages_of_extension(module)
    return f" ({packages} provide(s) what it needs; install it and build again)" if packages else ""


def _print_suite(result: "suite_runner.SuiteResult") -> None:
    counts = {s: len(result.by_status(s)) for s in ("passed", "failed", "environment", "skipped", "env changed")}
    out.print(f"CPython's test suite on {result.python}: {counts['passed']} of {result.total} files passed, "
              f"{counts['failed']} failed, {counts['environment']} failed because of the machine, "
              f"{counts['skipped']} skipped ({duration(result.seconds)}, {result.workers} at once)")
    if result.tests:
        out.print(f"tests: {escape(result.tests)}")
    if result.unset:
        out.print("unset for the run: " + "; ".join(f"{k} ({why})" for k, why in result.unset.items()))
    for f in result.by_status("failed"):
        cases = f": {', '.join(f.cases[:5])}" + (f" and {len(f.cases) - 5} more" if len(f.cases) > 5 else "") \
            if f.cases else ""
        out.print(f"[red]failed[/] {f.name}: {escape(f.detail)}{escape(cases)}")
    for f in result.by_status("environment"):
        out.print(f"[yellow]environment[/] {f.name} ({escape(', '.join(f.cases[:5]))}): {escape(f.why)}")
    if result.by_status("env changed"):
        out.print("env changed (passed, but left files, threads or processes behind): "
                  + ", ".join(f.name for f in result.by_status("env changed")))
    for category, subjects in sorted(result.skipped().items()):
        shown = (", ".join(sorted(n for names in subjects.values() for n in names)) if category == "platform" else
                 "; ".join(f"{subject}{_provided_by(subject) if category == 'missing module' else ''}: "
                           f"{', '.join(names)}" for subject, names in sorted(subjects.items())))
        out.print(f"skipped ({category}): {escape(shown)}")
    if len(result.files) < result.total:
        out.print(f"[red]only {len(result.files)} of {result.total} files reported a result[/]")
    out.print(f"log: {result.log}")


def _verify(name: Optional[str], python: Optional[Path], full: bool, as_json: bool, workers: Optional[int],
            files: bool) -> None:
    if name is not None and python is not None:
        raise UsageError("give a build NAME or --python PATH, not both")
    if files:
        if python is not None or full:
            raise UsageError("--files checks an installed build: give its NAME, without --python or --full")
        _verify_files(_build(name), as_json)
        return
    expect: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    if python is not None:
        target = verifier.interpreter(python)
    else:
        build = _build(name)
        target, expect = build.python, build.variants
        required = build.receipt.required_modules if build.receipt else ()
    report = verifier.run(target, full=full, workers=workers, expect=expect, required=required)
    if as_json:
        out.print_json(json.dumps(report.as_json()))
    else:
        kind = "+".join(v for v in variants.ORDER if report.build.get(v)) or "default"
        table = Table(title=f"{report.python} ({report.version}, {kind} build)", title_justify="left", box=None)
        for col in ("check", "status", "reason"):
            table.add_column(col)
        colours = {"passed": "green", "failed": "red", "inconclusive": "yellow", "skipped": "dim"}
        for c in report.checks:
            table.add_row(c.name, f"[{colours.get(c.status, 'white')}]{c.status}[/]", escape(c.reason))
        out.print(table)
    if not report.ok:
        raise typer.Exit(code=CheckError.exit_code)


@contextlib.contextmanager
def _errors_as_json(as_json: bool) -> Iterator[None]:
    """With --json, an error is a JSON object on stdout too (programs read stdout), and
    still the message on stderr and the exit code."""
    try:
        yield
    except PyBuild12Error as exc:
        if as_json:
            out.print_json(json.dumps({"ok": False, "error": exc.message, "hint": exc.hint,
                                       "exit_code": exc.exit_code}))
        raise


def _verify_files(build: registry.Installed, as_json: bool) -> None:
    found = manifest.compare(build.prefix, build.name)
    if as_json:
        out.print_json(json.dumps({"name": build.name, "prefix": str(build.prefix), **found.as_json()}))
    else:
        for label, items in (("changed", found.changed), ("missing", found.missing), ("added", found.added)):
            for item in items:
                out.print(f"{label:<8} {escape(item)}")
        summary = (f"{build.name}: all {found.checked} files match the manifest" if found.ok else
                   f"{build.name}: {len(found.changed)} changed, {len(found.missing)} missing, "
                   f"{len(found.added)} added (of {found.checked} files in the manifest)")
        err.print(f"[green]{escape(summary)}[/]" if found.ok else f"[red]{escape(summary)}[/]")
    if not found.ok:
        raise typer.Exit(code=CheckError.exit_code)


@app.command()
@interruptible
def compat(
    name: Optional[str] = typer.Argument(None, metavar="NAME", help=NAME_HELP),
    python: Optional[Path] = typer.Option(None, "--python", metavar="PATH", help="Scan this interpreter's environment instead (3.12+)."),
    venv: Optional[Path] = typer.Option(None, "--venv", metavar="DIR", help="Scan this virtual environment (its bin/python)."),
    module: List[str] = typer.Option([], "--module", "-m", metavar="M", help="Probe only this module (e.g. lxml.etree); repeatable [default: every entry point and extension module of every installed distribution]."),
    stdlib: bool = typer.Option(False, "--stdlib", help="Also probe the standard library's extension modules."),
    require: Optional[str] = typer.Option(None, "--require", metavar="WHAT", help="Exit 7 unless every package can run in parallel this way: subinterpreters or freethreading (for CI gates)."),
    allow_fallback: bool = typer.Option(False, "--allow-fallback", help="With --require subinterpreters: let a package that runs only through its pure-Python fallback pass."),
    evidence: bool = typer.Option(False, "--evidence", help="Also show what each package's wheel and metadata claim: a free-threaded ABI tag (cp313t), the Free Threading classifier (always in --json)."),
    refresh: bool = typer.Option(False, "--refresh", help="Probe every package again instead of answering from the kept results."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Packages probed at once [default: the CPU count]."),
    timeout: float = typer.Option(compat_verdicts.TIMEOUT, "--timeout", min=1, help="Seconds a module's import may take before it counts as hung."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object to stdout."),
) -> None:
    """Which of an environment's packages can run in sub-interpreters or without the GIL.

    Every entry point and every extension module of each distribution is imported in a
    child process of the environment's interpreter: in the main interpreter, in a
    sub-interpreter with its own GIL (PEP 684), in one sharing the main GIL, and on a
    free-threaded build with the GIL watched (PEP 703: an extension without Py_mod_gil
    turns it back on). A package that still runs is then used from a sub-interpreter and
    the main interpreter at once, and both are ended.

    \b
    Verdicts, worst first (a package gets its worst module's, naming it):
      crashes / hangs on import      the import kills or stalls the process
      refuses own-GIL sub-interpreters   ImportError: does not support loading in subinterpreters
      imports but fails in sub-interpreters
      crashes when used from two interpreters   e.g. an abort at exit
      runs only through its pure-Python fallback   its C part is refused and it silently
                                     does without (simplejson without _speedups); fails
                                     --require subinterpreters unless --allow-fallback
      runs in own-GIL sub-interpreters
    Without NAME, --python or --venv: the active virtual environment ($VIRTUAL_ENV), else
    the pinned build. Results are kept per interpreter, distribution, version and files
    (an editable install's sources by size and mtime): a second scan of an unchanged
    environment runs no child (about a second, most of it pybuild12's own start);
    --refresh probes again, 'pybuild12 cache clear' forgets them.
    """
    if sum(x is not None for x in (name, python, venv)) > 1:
        raise typer.BadParameter("give one of NAME, --python PATH or --venv DIR")
    if require is not None and require not in compat_verdicts.REQUIREMENTS:
        raise typer.BadParameter(f"--require takes one of: {', '.join(compat_verdicts.REQUIREMENTS)}")
    compat_verdicts.check_names(module)
    if allow_fallback and require != "subinterpreters":
        raise typer.BadParameter("--allow-fallback goes with --require subinterpreters")
    if name is None and python is None and venv is None and os.environ.get("VIRTUAL_ENV"):
        venv = Path(os.environ["VIRTUAL_ENV"])  # the active venv, as pip and python would use
    if python is not None:
        target = verifier.interpreter(python)
    elif venv is not None:
        target = venv / "bin" / "python"
        if not target.is_file():
            raise typer.BadParameter(f"no interpreter at {target} (not a virtual environment?)")
    else:
        target = _build(name).python
    reporter = RichReporter(err)
    outcome = compatscan.scan(target, cache_dir=Settings.from_env().paths.cache / "compat", modules=module, stdlib=stdlib,
                               jobs=jobs, timeout=timeout, refresh=refresh,
                               on_result=lambda p, done, total: reporter.status(f"{done}/{total} {p.name}: {p.reason()}"))
    if require == "freethreading" and not outcome.free_threaded:
        raise CheckError(f"{target} is not a free-threaded build: --require freethreading needs one",
                         hint="build one with 'pybuild12 install 3.14t' and scan a venv of it")
    if as_json:
        out.print_json(json.dumps(outcome.as_json()))
    else:
        table = Table(title=f"{target} ({outcome.python.get('version')}"
                      f"{', free-threaded' if outcome.free_threaded else ''})", title_justify="left", box=None)
        columns = ["package", "version", "modules", "sub-interpreters"] + (["GIL"] if outcome.free_threaded else [])
        columns += ["wheel", "classifier"] if evidence else []
        for col in columns:
            table.add_column(col)
        for p in outcome.packages:
            row = [p.name, p.version or p.origin, str(len(p.modules)), p.reason()]
            row += [p.reason("freethreading")] if outcome.free_threaded else []
            row += list(compat_verdicts.evidence_words(p)) if evidence else []
            table.add_row(*map(escape, row))
        out.print(table)
        for line in outcome.summary():
            out.print(escape(line))
        if outcome.cached:
            err.print(f"{outcome.cached} of {len(outcome.packages)} result{'s' * (len(outcome.packages) != 1)} "
                      "from the cache (--refresh probes again)")
    short = outcome.failing(require, allow_fallback=allow_fallback) if require is not None else []
    if short:
        err.print(f"error: --require {require}: {len(short)} package{'s' * (len(short) != 1)} fall"
                  f"{'s' * (len(short) == 1)} short: {escape(', '.join(p.name for p in short))}")
        raise typer.Exit(code=CheckError.exit_code)


cache_app = typer.Typer(
    help="The artifact cache: verified builds, packed, reinstalled in seconds.\n\n"
    "A shared cache (PYBUILD12_CACHE_URL) is used only for artifacts signed by a trusted key: "
    "'cache keygen NAME' makes a signing key for the machines that --push (or PYBUILD12_CACHE_SIGNING_KEY "
    "names one), 'cache trust NAME:KEY' trusts its public key on the machines that install "
    "(or PYBUILD12_CACHE_TRUST='NAME:KEY ...').",
    no_args_is_help=True,
)
app.add_typer(cache_app, name="cache")


@cache_app.command("list")
@interruptible
def cache_list(as_json: bool = typer.Option(False, "--json", help="Print JSON to stdout.")) -> None:
    """Show the cached artifacts: build name, version, size, age, key (and how many
    `compat` results are kept)."""
    paths = Settings.from_env().paths
    items = list(artifacts.Cache(paths.artifacts))
    if as_json:
        out.print_json(json.dumps([{"key": a.key, "name": a.meta.get("name"), "version": a.meta.get("version"),
                                    "size": a.size, "created": a.meta.get("created"), "path": str(a.path)}
                                   for a in items]))
        return
    table = Table(box=None)
    for col in ("name", "version", "size", "age", "key"):
        table.add_column(col)
    for a in items:
        age = duration(max(0.0, time.time() - a.meta.get("created", time.time())))
        table.add_row(str(a.meta.get("name", "?")), str(a.meta.get("version", "?")), f"{a.size / 1e6:.0f} MB", age, a.key[:16])
    out.print(table if items else "the artifact cache is empty")
    verdicts = compatscan.kept_results(paths.cache / "compat")
    if verdicts:
        err.print(f"and {verdicts} kept compat result(s) ('pybuild12 compat --refresh' probes again)")


@cache_app.command("clear")
@interruptible
def cache_clear() -> None:
    """Delete every cached artifact, recorded PGO profile, build kept after a failed
    verification and kept `compat` result (installed builds are not touched)."""
    paths = Settings.from_env().paths
    gone = artifacts.Cache(paths.artifacts).clear()
    gone_profiles = profiles.Store(paths.profiles).clear()
    kept = sorted(paths.kept.iterdir()) if paths.kept.is_dir() else []
    for path in kept:
        shutil.rmtree(path)
    verdicts = compatscan.clear_cache(paths.cache / "compat")
    err.print(f"removed {len(gone)} artifact(s), {len(gone_profiles)} PGO profile(s), {len(kept)} kept build(s) "
              f"and {verdicts} kept compat result(s)")


@cache_app.command("prune")
@interruptible
def cache_prune(older_than: float = typer.Option(30, "--older-than", metavar="DAYS", min=0, help="Remove artifacts and profiles older than this many days.")) -> None:
    """Delete cached artifacts and recorded PGO profiles older than --older-than days."""
    paths = Settings.from_env().paths
    gone = artifacts.Cache(paths.artifacts).prune(older_than * 86400)
    gone_profiles = profiles.Store(paths.profiles).prune(older_than * 86400)
    err.print(f"removed {len(gone)} artifact(s) and {len(gone_profiles)} PGO profile(s) older than {older_than:g} days")


@cache_app.command("keygen")
@interruptible
def cache_keygen(
    name: str = typer.Argument(..., metavar="NAME", help="The key's name, e.g. team-ci-1 (a number lets you rotate keys)."),
    out_file: Optional[Path] = typer.Option(None, "--out", metavar="FILE", help="Where to write the secret key [default: the config directory's signing-key, which --push uses]."),
    force: bool = typer.Option(False, "--force", help="Replace an existing key file."),
) -> None:
    """Make an Ed25519 signing key for --push; print its public key for the machines that install.

    The secret key file (mode 0600, Nix's format) stays on the machines that push;
    the public key line goes to stdout.
    """
    from pybuild12.store import signing

    config = Settings.from_env().paths.config
    try:
        secret = signing.generate(name)
    except signing.BadKey as exc:
        raise typer.BadParameter(f"{exc.message}: {exc.hint}") from None
    path = out_file if out_file is not None else config / signing.SECRET_FILE
    signing.write_secret(path, secret, force=force)
    public = str(secret.public)
    out.print(escape(public))
    err.print(f"wrote the signing key {escape(name)} to {escape(str(path))} (mode 0600): keep it on the machines that --push")
    if out_file is not None and path.absolute() != (config / signing.SECRET_FILE).absolute():
        err.print(f"--push signs with it when {signing.SIGNING_KEY_ENV}='{escape(str(path.absolute()))}'")
    err.print("machines that install from the shared cache trust it with either of:\n"
              f"  export {signing.TRUST_ENV}='{public}'\n"
              f"  pybuild12 cache trust '{public}'    (appends it to {escape(str(config / signing.TRUSTED_FILE))})")


@cache_app.command("trust")
@interruptible
def cache_trust(
    pubkey: str = typer.Argument(..., metavar="PUBKEY", help="A public key as 'cache keygen' prints it: NAME:BASE64."),
) -> None:
    """Trust the artifacts a key signs: append its public key to the trusted-keys file."""
    from pybuild12.store import signing

    try:
        key = signing.parse_public(pubkey, origin="PUBKEY")
    except signing.BadKey as exc:
        raise typer.BadParameter(f"{exc.message}: {exc.hint}") from None
    path, added = signing.add_trusted(Settings.from_env().paths.config, key)
    if added:
        err.print(f"trusted {escape(key.name)}: added to {path}; installs now take shared-cache artifacts it signed")
    else:
        err.print(f"{escape(key.name)} is trusted already ({path})")


profile_app = typer.Typer(
    help="Recorded PGO profiles: the training run's data, reused so optimized rebuilds skip it.\n\n"
    "Every --enable-optimizations build records its profile; a later build of the same sources, configure "
    "options and compiler compiles straight with it. Export one to build elsewhere with "
    "'pybuild12 install RECIPE --pgo-profile FILE' (e.g. for reproducible images).",
    no_args_is_help=True,
)
app.add_typer(profile_app, name="profile")


@profile_app.command("export")
@interruptible
def profile_export(
    name: str = typer.Argument(..., metavar="NAME", help="Name of an installed build."),
    file: Path = typer.Argument(..., metavar="FILE", help="Where to write the profile (a .tar.zst file)."),
) -> None:
    """Write the PGO profile an installed build was compiled with to FILE."""
    paths = Settings.from_env().paths
    installed = names.get(paths, name)
    name = installed.name
    profile = profiles.of_build(profiles.Store(paths.profiles), name, installed.receipt)
    profiles.export(profile, file)
    err.print(f"exported the PGO profile of {escape(name)} ({profile.meta.get('files', '?')} .gcda files, "
              f"{file.stat().st_size / 1e6:.1f} MB) to {file}")


@profile_app.command("list")
@interruptible
def profile_list(as_json: bool = typer.Option(False, "--json", help="Print JSON to stdout.")) -> None:
    """Show the recorded PGO profiles: source, files, age, key."""
    items = list(profiles.Store(Settings.from_env().paths.profiles))
    if as_json:
        out.print_json(json.dumps([{"key": p.key, "source": p.meta["inputs"].get("source"), "files": p.meta.get("files"),
                                    "created": p.meta.get("created"), "path": str(p.path)} for p in items]))
        return
    table = Table(box=None)
    for col in ("source", "files", "age", "key"):
        table.add_column(col)
    for p in items:
        age = duration(max(0.0, time.time() - p.meta.get("created", time.time())))
        table.add_row(str(p.meta.get("source", {}).get("url", p.meta["inputs"].get("source", "?"))).rsplit("/", 1)[-1],
                      str(p.meta.get("files", "?")), age, p.key[:16])
    out.print(table if items else "no PGO profile recorded")


def render_error(exc: PyBuild12Error) -> None:
    if isinstance(exc, Interrupted):
        err.print(f"[red]interrupted[/]: {escape(exc.message)}")
        return
    if isinstance(exc, BuildError) and exc.log_tail:
        err.print(f"[dim]--- last lines of the log ({escape(exc.phase or '')}) ---[/]")
        err.print(escape(exc.log_tail), markup=True)
        err.print("[dim]---[/]")
    err.print(f"[red]error:[/] {escape(exc.message)}")
    if isinstance(exc, BuildError) and exc.phase and not exc.message.startswith(exc.phase):
        err.print(f"  phase: {escape(exc.phase)}")  # unless the message has just said it
    log_path = getattr(exc, "log_path", None)
    if log_path:
        err.print(f"  log: {escape(log_path)}")
    if exc.hint:
        err.print(f"[yellow]hint:[/] {escape(exc.hint)}")


def main() -> None:
    """Entry point: the one place where errors become messages and exit codes.

    Usage errors are typer's (exit 2); everything the core raises arrives here. An
    error nobody foresaw is a bug: the user gets one line and the log with its traceback.
    """
    signal.signal(signal.SIGTERM, _raise_interrupt)
    sys.stdout = _QuietPipe(sys.stdout)
    try:
        app()
    except PyBuild12Error as exc:
        render_error(exc)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the last resort, by design
        mapped = from_os_error(exc, installing=False) if isinstance(exc, OSError) else None
        if mapped is not None:
            render_error(mapped)
            sys.exit(mapped.exit_code)
        _unexpected(exc)
        sys.exit(1)


def _unexpected(exc: Exception) -> None:
    """One line and the log path for the user; the traceback in the log (and, with
    --debug, on stderr)."""
    text = "".join(traceback.format_exception(exc))
    log = _crash_log(text)
    if _debug:
        sys.stderr.write(text)
    err.print(f"[red]error:[/] unexpected {type(exc).__name__}: {escape(str(exc)[:300])}")
    if log is not None:
        err.print(f"  log: {escape(str(log))}")
    err.print("[yellow]hint:[/] this is a bug in pybuild12; please report it with the log"
              + ("" if _debug else " (run again with --debug to see the traceback here)"))


def _crash_log(text: str) -> Path | None:
    """Write the traceback to the log directory, else to the temporary one."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    header = f"pybuild12 {__version__}: {shlex.join(sys.argv)}\n"
    for directory in (lambda: Settings.from_env().paths.logs, lambda: Path(tempfile.gettempdir())):
        try:
            where = directory()
            where.mkdir(parents=True, exist_ok=True)
            path = where / f"pybuild12-error-{stamp}-{os.getpid()}.log"
            path.write_text(header + text, "utf-8", errors="backslashreplace")
            return path
        except (OSError, PyBuild12Error):
            continue
    return None


class _QuietPipe:
    """stdout that stops writing, without an error, once its reader has gone
    (`pybuild12 list | head -1`): the command still finishes and exits 0."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._gone = False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._drop()
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._drop()

    def _drop(self) -> None:
        self._gone = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())  # what is left in the buffer goes nowhere at exit
        os.close(devnull)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
