"""The `pybuild12` command: the Typer app with its commands in the order --help lists them,
--version and --debug, and the one place where errors become messages and exit codes."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import typer
import typer.main
from typer.core import TyperGroup

from pybuild12 import __version__
from pybuild12.cli import cache, checks, devenv, install, query
from pybuild12.cli.common import err, escape, settings, start
from pybuild12.core.errors import EXIT_CODES, BuildError, Interrupted, PyBuild12Error, from_os_error
from pybuild12.core.settings import DEBUG_ENV

EPILOG = "Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items()) + "."
_debug = False


# The commands in the order `pybuild12 --help` lists them (a build made, found, removed,
# used, checked; then the stores), each with the module that holds it.
COMMANDS = {"install": install, "list": query, "uninstall": install, "which": query, "key": install,
            "bisect": install, "run": devenv, "venv": devenv, "env": devenv, "pin": devenv, "doctor": checks,
            "verify": checks, "compat": checks, "cache": cache, "profile": cache}


class Group(TyperGroup):
    """The top command. Every error the core raises becomes its message and exit code here,
    inside the app, so that it behaves the same run by `main()` from a shell and by typer's
    CliRunner in a test. An error nobody foresaw is a bug: the user gets one line and the
    log with its traceback.

    A command is made (typer reads its function's signature into click's) only when asked
    for: `which` needs its own, not all of them."""

    words: tuple[str, ...] = ()
    _made: frozenset = frozenset()

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        # An unknown name makes them all, for typer's "did you mean" among them.
        for module in [COMMANDS[name]] if name in COMMANDS else dict.fromkeys(COMMANDS.values()):
            if module not in self._made:
                made = typer.main.get_command(module.commands)
                self.commands.update(getattr(made, "commands", {}))
                self._made |= {module}
        return self.commands.get(name)

    def parse_args(self, ctx, args):
        self.words = tuple(args)  # as typed, for the crash log
        return super().parse_args(ctx, args)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        # click's own usage errors (exit 2) and everything the core raises arrive here, so
        # that a command given --json prints one JSON document on stdout, errors included.
        try:
            done = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.Abort:
            sys.stderr.write("Aborted!\n")
            sys.exit(1)
        except PyBuild12Error as exc:
            if not getattr(exc, "reported_as_json", False):
                self._json_error(exc.message, exc.hint, exc.exit_code)
            render_error(exc)
            sys.exit(exc.exit_code)
        except Exception as exc:  # noqa: BLE001 - the last resort, by design
            if _is_usage_error(exc):  # click's (exit 2): an unknown option, a bad value
                self._json_error(exc.format_message(), None, exc.exit_code)
                exc.show()
                sys.exit(exc.exit_code)
            mapped = from_os_error(exc, installing=False) if isinstance(exc, OSError) else None
            if mapped is not None:
                self._json_error(mapped.message, mapped.hint, mapped.exit_code)
                render_error(mapped)
                sys.exit(mapped.exit_code)
            log = _unexpected(exc, self.words)
            self._json_error(f"unexpected {type(exc).__name__}: {str(exc)[:300]}",
                             f"a bug in pybuild12; the log holds its traceback: {log}", 1)
            sys.exit(1)
        sys.exit(done if isinstance(done, int) else 0)  # typer.Exit(code) returns its code here

    def _json_error(self, message: str, hint: str | None, code: int) -> None:
        """With --json, the error as the command's one JSON document on stdout (programs read
        stdout); the message still goes to stderr, and the exit code is the same."""
        if json_asked(self, self.words):
            sys.stdout.write(json.dumps({"ok": False, "error": message, "hint": hint, "exit_code": code}) + "\n")
            sys.stdout.flush()


def _is_usage_error(exc: Exception) -> bool:
    """A click.ClickException, known by its shape: typer 0.28 raises those of a click of its
    own (typer._click), earlier typers click's, and this module imports neither."""
    return any(c.__name__ == "ClickException" for c in type(exc).__mro__) and hasattr(exc, "show")


def json_asked(group: TyperGroup, words: Sequence[str]) -> bool:
    """Whether `words` give --json to a command that takes it (`run`'s words after NAME are
    its python's, and a --json there is the python's)."""
    command = group
    rest = list(words)
    while hasattr(command, "get_command"):  # a group: `cache`, `profile`, the app
        while rest and rest[0].startswith("-") and rest[0] != "--":
            rest.pop(0)  # the app's own options: --debug
        found = command.get_command(None, rest[0]) if rest else None  # type: ignore[arg-type]
        if found is None:
            return False
        command, rest = found, rest[1:]
    if not any(p.param_type_name == "option" and "--json" in p.opts for p in command.params):
        return False
    return "--json" in (rest[: rest.index("--")] if "--" in rest else rest)


app = typer.Typer(
    cls=Group,
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


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"pybuild12 {__version__}\n")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit.",
    ),
    debug: bool = typer.Option(
        False, "--debug",
        help=f"Show the traceback of an unexpected error (also {DEBUG_ENV}=1); "
        "without it, the traceback goes to a log file and the message names it.",
    ),
) -> None:
    global _debug
    _debug = debug or start().debug


def main() -> None:
    """Entry point (`pybuild12`, `python -m pybuild12`): SIGTERM as Ctrl-C, and a stdout
    that a reader who has gone does not break; the app does the rest."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    sys.stdout = _QuietPipe(sys.stdout)
    app()


def _raise_interrupt(signum, frame):  # pragma: no cover - signal path
    raise KeyboardInterrupt


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


def _unexpected(exc: Exception, words: Sequence[str]) -> Path | None:
    """One line and the log path for the user; the traceback in the log (and, with
    --debug, on stderr)."""
    import traceback  # lazy: for a bug's log only

    text = "".join(traceback.format_exception(exc))
    log = _crash_log(text, words)
    if _debug:
        sys.stderr.write(text)
    err.print(f"[red]error:[/] unexpected {type(exc).__name__}: {escape(str(exc)[:300])}")
    if log is not None:
        err.print(f"  log: {escape(str(log))}")
    err.print("[yellow]hint:[/] this is a bug in pybuild12; please report it with the log"
              + ("" if _debug else " (run again with --debug to see the traceback here)"))
    return log


def _crash_log(text: str, words: Sequence[str]) -> Path | None:
    """Write the traceback, under the command line that led to it, to the log directory,
    else to the temporary one."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    header = f"pybuild12 {__version__}: {shlex.join(['pybuild12', *words])}\n"
    for directory in (lambda: settings().paths.logs, lambda: Path(tempfile.gettempdir())):
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
