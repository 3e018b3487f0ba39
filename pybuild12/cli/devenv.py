"""A project's dev set-up: `pybuild12 run`, `venv`, `env` and `pin`."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import List, Optional

import typer

from pybuild12.cli.common import (
    NAME_HELP,
    Command,
    build,
    command_group,
    err,
    escape,
    interruptible,
    out,
    settings,
    words,
)
from pybuild12.cli.usage import PlainUsage
from pybuild12.core.errors import NotInstalledError, UsageError

commands = command_group()


# No --help option of its own: `run script.py --help` and `run -m json.tool --help` are the
# python's; `run --help` alone is answered by the command itself.
@commands.command("run", cls=Command, options_metavar="[NAME] [--] [ARGS]...",
                  context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []})
def run(ctx: typer.Context) -> None:
    """Run a build's python: pybuild12 run [NAME] -- ARGS...

    Every argument after NAME (or after '--') goes to the python, options included:
    'pybuild12 run -m json.tool --help', 'pybuild12 run script.py --help' and
    'pybuild12 run -c CODE' run the pinned build's python. stdin, stdout, stderr and the
    exit code are the python's own. Without NAME the pinned build is used
    (PYBUILD12_VERSION, else the nearest .python-version). 'pybuild12 run -- --help' shows
    the python's help.
    """
    from pybuild12.devenv import pins, shellenv  # lazy: exec

    argv = words(ctx)  # as typed: click drops the first '--', and 'run NAME -- ARGS' needs to know where it was
    if argv == ["--help"]:
        sys.stdout.write(ctx.get_help() + "\n")
        raise typer.Exit()
    if argv[:1] == ["--"]:
        before, args = [], argv[1:]
    elif argv and _python_argument(argv[0]) and argv[1:2] != ["--"]:  # `run X -- ARGS`: X is a NAME
        before, args = [], argv  # `run -c ...`, `run foo.py --help`: all of it is the pinned build's python's
    else:  # `run NAME [--] ARGS`: after NAME, nothing is pybuild12's
        before, args = argv[:1], argv[2:] if argv[1:2] == ["--"] else argv[1:]
    try:
        found = build(before[0] if before else None)
    except (NotInstalledError, UsageError) as exc:
        if before or not args or (isinstance(exc, UsageError) and exc.message != pins.NOTHING):
            raise
        raise type(exc)(f"{exc.message}: which build's python should run {shlex.join(args)}?",
                        hint=f'name one: "pybuild12 run NAME -- {shlex.join(args)}", or pin one '
                        "with 'pybuild12 pin NAME'") from None
    shellenv.exec_python(found.python, args)


def _python_argument(word: str) -> bool:
    """Whether `word`, first after `run`, is meant for python rather than a build name:
    an option (-c, -m, -X), or a script."""
    return word.startswith("-") or word.endswith(".py") or "/" in word or os.path.isfile(word)


@commands.command("venv")
@interruptible
def venv(
    given: List[str] = typer.Argument(
        ..., metavar="[NAME] DIR", show_default=False,
        help="DIR: the venv's directory. NAME (optional): the build to make it from; default: the pinned build "
        "(PYBUILD12_VERSION, else the nearest .python-version).",
    ),
    clear: bool = typer.Option(False, "--clear", help="Recreate DIR if it already is a venv (of this build or "
                               "another interpreter), deleting the packages installed in it."),
) -> None:
    """Create a virtual environment (with pip) from a build.

    Installed packages are never deleted unasked: over a venv of the same build nothing
    is done, a venv of another interpreter is refused, and --clear recreates either. A
    non-empty DIR that is not a venv is refused. After a failure or Ctrl-C, a venv this
    run began is removed, and one that --clear was recreating is put back as it was.
    """
    from pybuild12.devenv import venvs  # lazy: venv and ensurepip

    # One argument of one or two words: click cannot give an optional argument before a required one.
    if len(given) > 2:
        raise UsageError(f"venv takes [NAME] DIR, not {len(given)} words: {shlex.join(given)[:80]}",
                         hint="quote a directory whose name has spaces")
    name, target = (given[0], Path(given[1])) if len(given) == 2 else (None, Path(given[0]))
    try:
        found = build(name)
    except (NotInstalledError, UsageError) as exc:  # nothing pinned is a usage error
        if name is None and "/" not in given[0] and not target.exists() and settings().paths.prefix(given[0]).is_dir():
            raise UsageError(f"'pybuild12 venv {given[0]}' names a build but no directory for the venv",
                             hint=f"give both: 'pybuild12 venv {given[0]} DIR' (one word alone is the "
                             "directory, for the pinned build)") from exc
        raise
    made = venvs.make_venv(found.python, target, build_name=found.name, clear=clear,
                           free_threaded="freethreaded" in found.variants,
                           log_path=settings().paths.logs / f"venv-{found.name}.log")
    if not made.made:
        err.print(f"{escape(str(target))} already is a venv of {escape(found.name)}; --clear recreates it empty")
    else:
        done = "recreated" if made.replaced else "created"
        err.print(f"{done} {escape(str(target))} from {escape(found.name)}; activate with: "
                  f"source {escape(str(target))}/bin/activate")
    out.print(str(made.python))


@commands.command("env")
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
    what it added before; --unset takes it out and unsets PYBUILD12_ACTIVE. On a sanitizer
    build (+tsan, +asan, +ubsan) it also sets the runtime's options (TSAN_OPTIONS ...: the
    build's suppressions first, your own options after them).
    """
    from pybuild12.builder import sanitizers  # lazy: a sanitizer build's options
    from pybuild12.devenv import shellenv  # lazy: the shims and the shell code

    shell = shell or shellenv.default_shell()
    if shell not in shellenv.SHELLS:
        raise typer.BadParameter(f"--shell must be one of {', '.join(shellenv.SHELLS)}")
    if unset:
        if name is not None:
            raise UsageError(f"--unset takes no build name (got {name[:40]!r})",
                             hint="'pybuild12 env --unset' undoes whatever 'pybuild12 env' added last")
        sys.stdout.write(shellenv.unsets(shell))
        return
    found = build(name)
    shims = shellenv.shims(settings().paths, found)
    if not (shims / "pip").exists():
        err.print(f"[yellow]warning:[/] {escape(found.name)} has no pip3; 'python -m ensurepip' installs it")
    variables = sanitizers.runtime_env(found.python, os.environ)  # a sanitizer build's runtime options
    sys.stdout.write(shellenv.exports([shims, found.prefix / "bin"], found.name, shell, variables))


@commands.command("pin", cls=PlainUsage)
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
    from pybuild12.core.errors import RecipeError  # lazy: as names
    from pybuild12.devenv import pins  # lazy: .python-version
    from pybuild12.store import names  # lazy: name resolution

    paths = settings().paths
    try:
        installed = names.installed_name(paths, name)
    except RecipeError:
        if not force:
            raise
        installed = name  # --force pins a well-formed name pybuild12 cannot build, for another tool
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
