"""Command line: parse, call the core, render, map errors to exit codes.

The only module that imports typer, prints results, or exits.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import List, Optional

import functools

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pybuild12 import __version__, install as installer, recipes, registry
from pybuild12 import verify as verifier
from pybuild12.console import RichReporter, duration
from pybuild12.errors import EXIT_CODES, BuildError, CheckError, Interrupted, PyBuild12Error
from pybuild12.paths import Paths

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
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

def interruptible(func):
    """Turn Ctrl-C into `Interrupted` before click can turn it into exit 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted("removed what this run created; earlier installs are unchanged") from None

    return wrapper


RECIPE_HELP = "Recipe name (see 'pybuild12 list'), alias such as 3.13, or a path to a recipe .toml file."


def _version(value: bool) -> None:
    if value:
        out.print(f"pybuild12 {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    pass


@app.command()
@interruptible
def install(
    recipe: str = typer.Argument(..., metavar="RECIPE", help=RECIPE_HELP),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Parallel make jobs [default: the CPU count]."),
    configure_opt: List[str] = typer.Option(
        [], "--configure-opt", metavar="OPT",
        help="Extra ./configure option; repeatable. PYBUILD12_CONFIGURE_OPTS adds shell words too.",
    ),
    force: bool = typer.Option(False, "--force", help="Rebuild even if this build is installed; the old one stays until the new one passes."),
    keep_build: bool = typer.Option(False, "--keep-build", help="Keep the source/build tree in the cache directory."),
    commit: Optional[str] = typer.Option(
        None, "--commit", metavar="SHA",
        help="Build another commit of a git recipe (7 to 40 hex digits); the build is named RECIPE@<12 hex> unless --name is given.",
    ),
    name: Optional[str] = typer.Option(None, "--name", metavar="NAME", help="Install under this name instead of the recipe's."),
    no_verify: bool = typer.Option(False, "--no-verify", help="Skip the sub-interpreter verification after the build."),
) -> None:
    """Download, build (--enable-optimizations), check and install a CPython.

    The source's sha256 is checked before extraction; the build is installed into a
    staging directory, checked, then moved into place. A failure or Ctrl-C leaves any
    earlier install of the same name untouched.
    """
    options = installer.InstallOptions(
        name=name, jobs=jobs, configure_opts=tuple(configure_opt), force=force, keep_build=keep_build, commit=commit,
        verify=not no_verify,
    )
    signal.signal(signal.SIGTERM, _raise_interrupt)
    outcome = installer.install(recipe, options, paths=Paths.from_env(), reporter=RichReporter(err))
    if outcome.already_installed:
        err.print(f"{escape(outcome.name)} is already installed at {outcome.prefix} (--force rebuilds it)")
    else:
        total = sum(outcome.receipt.get("timings", {}).values())
        err.print(f"[green]installed[/] {escape(outcome.name)} in {duration(total)}")
    out.print(str(outcome.python))


def _raise_interrupt(signum, frame):  # pragma: no cover - signal path
    raise KeyboardInterrupt


@app.command("list")
@interruptible
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON to stdout.")) -> None:
    """Show available recipes and installed builds (version and prefix)."""
    paths = Paths.from_env()
    available = []
    for name in recipes.available():
        try:
            r = recipes.load(name)
            available.append({"name": name, "version": r.version, "summary": r.summary,
                              "source": r.source.kind, "alias_of": r.name if r.alias_of else None})
        except PyBuild12Error as exc:
            available.append({"name": name, "error": exc.message})
    builds = []
    for b in registry.installed(paths):
        source = (b.receipt or {}).get("source", {})
        builds.append({"name": b.name, "version": b.version, "prefix": str(b.prefix), "python": str(b.python),
                       "source": source.get("url"), "commit": source.get("commit"), "receipt": b.receipt is not None})
    if as_json:
        out.print_json(json.dumps({"recipes": available, "installed": builds}))
        return
    table = Table(title="installed builds", title_justify="left", box=None)
    for col in ("name", "version", "commit", "prefix"):
        table.add_column(col)
    for b in builds:
        table.add_row(b["name"], b["version"] if b["receipt"] else "? (no receipt)",
                      (b["commit"] or "")[:12], b["prefix"])
    if builds:
        out.print(table)
    else:
        out.print("no builds installed")
    out.print()
    table = Table(title="available recipes", title_justify="left", box=None)
    for col in ("name", "version", "source", "summary"):
        table.add_column(col)
    for r in available:
        summary = r.get("error") or (f"→ {r['alias_of']}" if r.get("alias_of") else r["summary"])
        table.add_row(r["name"], r.get("version", "?"), r.get("source", "?"), summary)
    out.print(table)


@app.command()
@interruptible
def uninstall(name: str = typer.Argument(..., metavar="NAME", help="Name of an installed build.")) -> None:
    """Remove an installed build (nothing else is touched)."""
    paths = Paths.from_env()
    with installer.locked(paths, name):
        prefix = registry.remove(paths, name)
    err.print(f"removed {escape(name)} ({prefix})")


@app.command()
@interruptible
def which(name: str = typer.Argument(..., metavar="NAME", help="Name of an installed build.")) -> None:
    """Print the path of a build's python."""
    build = registry.get(Paths.from_env(), name)
    if not build.python.exists():
        raise PyBuild12Error(f"{build.prefix} has no python at {build.python}", hint=f"reinstall with 'pybuild12 install {name} --force'")
    out.print(str(build.python))


@app.command()
@interruptible
def verify(
    name: Optional[str] = typer.Argument(None, metavar="[NAME]", help="Name of an installed build."),
    python: Optional[Path] = typer.Option(None, "--python", metavar="PATH", help="Verify this interpreter instead (any Python: a build, pyenv's, the system's)."),
    full: bool = typer.Option(False, "--full", help="Also run CPython's own sub-interpreter regression tests (python -m test -u cpu)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with every check to stdout."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Workers for the parallelism check [default: min(CPUs, 4)]."),
) -> None:
    """Prove that sub-interpreters with their own GIL work in a build.

    Checks, each passed, failed, skipped or inconclusive: modules, high-level API,
    test.support helper, lifecycle, messages, threads, clean exit, parallelism
    (own-GIL interpreters against threads and processes), and with --full CPython's
    own regression tests. Exit 0 when nothing failed, 7 otherwise.
    """
    if (name is None) == (python is None):
        raise typer.BadParameter("give a build NAME or --python PATH (one of them)")
    target = python if python is not None else registry.get(Paths.from_env(), name).python
    report = verifier.run(target, full=full, workers=workers)
    if as_json:
        out.print_json(json.dumps(report.as_json()))
    else:
        table = Table(title=f"{report.python} ({report.version})", title_justify="left", box=None)
        for col in ("check", "status", "reason"):
            table.add_column(col)
        colours = {"passed": "green", "failed": "red", "inconclusive": "yellow", "skipped": "dim"}
        for c in report.checks:
            table.add_row(c.name, f"[{colours.get(c.status, 'white')}]{c.status}[/]", escape(c.reason))
        out.print(table)
    if not report.ok:
        raise typer.Exit(code=CheckError.exit_code)


def render_error(exc: PyBuild12Error) -> None:
    if isinstance(exc, Interrupted):
        err.print(f"[red]interrupted[/]: {escape(exc.message)}")
        return
    if isinstance(exc, BuildError) and exc.log_tail:
        err.print(f"[dim]--- last lines of the log ({escape(exc.phase or '')}) ---[/]")
        err.print(escape(exc.log_tail), markup=True)
        err.print("[dim]---[/]")
    err.print(f"[red]error:[/] {escape(exc.message)}")
    if isinstance(exc, BuildError) and exc.phase:
        err.print(f"  phase: {escape(exc.phase)}")
    log_path = getattr(exc, "log_path", None)
    if log_path:
        err.print(f"  log: {escape(log_path)}")
    if exc.hint:
        err.print(f"[yellow]hint:[/] {escape(exc.hint)}")


def main() -> None:
    """Entry point: the one place where errors become messages and exit codes.

    Usage errors are typer's (exit 2); everything the core raises arrives here.
    """
    try:
        app()
    except PyBuild12Error as exc:
        render_error(exc)
        sys.exit(exc.exit_code)
