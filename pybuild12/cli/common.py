"""What the command modules share: the two consoles, Ctrl-C and OS errors said in the
command's own terms, the words a command was given as typed, and the build a name means.

Every command module is imported on every run (typer registers them all), so this
module and their top levels import only what `pybuild12 --version` uses too; a command
imports the rest of what it needs inside itself (`# lazy`), which keeps `which`, `env`,
`list` and `run` fast enough for a shell's start-up. Even rich waits for the first
message: `which`, `env` and `run` answer without it.
"""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING, Any, Callable, Optional

import typer
from typer.core import TyperCommand

from pybuild12.core.errors import Interrupted, PyBuild12Error, UsageError, from_os_error
from pybuild12.core.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from pybuild12.store.registry import Installed


class LazyConsole:
    """A rich Console made on first use (rich.console and rich.markup take about as long to
    import as typer). Use it as the Console; `console` is the Console itself, for rich's
    own classes (a progress display)."""

    def __init__(self, make: Callable[[], Console]) -> None:
        self._make = make

    @functools.cached_property
    def console(self) -> Console:
        return self._make()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


def _stdout() -> Console:
    from rich.console import Console  # lazy: see LazyConsole

    # Piped output is read by programs and searched with grep: no wrapping at 80 columns there.
    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def _stderr() -> Console:
    from rich.console import Console  # lazy: see LazyConsole

    return Console(stderr=True, highlight=False, soft_wrap=True)


out = LazyConsole(_stdout)
err = LazyConsole(_stderr)

_settings: list[Settings] = []


def start() -> Settings:
    """Read the environment into the command's one Settings (the app's callback does, as
    each command starts); everything below gets its values from it."""
    _settings[:] = [Settings.from_env()]
    return _settings[0]


def settings() -> Settings:
    return _settings[0] if _settings else start()


def escape(text: str) -> str:
    """rich.markup.escape, imported with the first message that needs it."""
    from rich.markup import escape as escape_markup  # lazy: see LazyConsole

    return escape_markup(text)


RECIPE_HELP = ("Recipe name (see 'pybuild12 list'), alias such as 3.13, or a path to a recipe .toml file; "
               "with variants as uv spells them: 3.14t or 3.14+freethreaded (no GIL), 3.14+debug, 3.14+jit, "
               "combined as 3.14t+debug; sanitizers +tsan, +asan, +ubsan (3.13t+tsan finds races in C extensions). "
               "A variant is a build of its own, named e.g. 3.14.10+freethreaded.")
NAME_HELP = "Build name; default: PYBUILD12_VERSION, else the nearest .python-version."

# What a command interrupted by Ctrl-C or SIGTERM leaves behind, said in its own terms;
# the others change nothing, or only in one step (a rename, a file replaced whole).
INTERRUPTED = {
    "install": "removed what this run created; earlier installs are unchanged",
    "uninstall": "the build is either still installed as it was or removed whole",
    "venv": "the virtual environment may be incomplete; the same command makes it again",
    "bisect": "the bisect stopped before its current step's verdict: 'pybuild12 bisect --resume' goes on from there",
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


def command_group() -> typer.Typer:
    """The Typer a module registers its commands on. `app.Group` makes them into click
    commands only when one of them is asked for; they take the app's settings from here."""
    return typer.Typer(rich_markup_mode=None, add_completion=False, pretty_exceptions_enable=False)


WORDS = "pybuild12.words"


class Command(TyperCommand):
    """A command that keeps the words it was given, as typed: click drops the first '--'
    (`run NAME -- ARGS` needs to know where it was) and keeps only the last of
    --lto/--no-lto (`install` refuses both)."""

    def parse_args(self, ctx, args):
        ctx.meta[WORDS] = list(args)
        return super().parse_args(ctx, args)


def words(ctx: typer.Context) -> list[str]:
    """What followed the command's name on the command line, as typed (a `Command`'s)."""
    return list(ctx.meta.get(WORDS, ctx.args))


def exclusive(ctx: typer.Context, *pairs: tuple[str, str]) -> None:
    """Refuse options that contradict each other (click lets the last of --lto/--no-lto win)."""
    given = set()
    for word in words(ctx):
        if word == "--":
            break
        given.add(word.split("=", 1)[0])
    for first, second in pairs:
        if first in given and second in given:
            raise UsageError(f"{first} and {second} exclude each other", hint="give one of them")


def build(name: Optional[str]) -> Installed:
    """The build a command means: NAME, else PYBUILD12_VERSION, else the nearest .python-version.
    A request such as 3.13 or 3.13t finds the newest installed build of that line and kind."""
    from pybuild12.devenv import pins  # lazy: name resolution, for the commands that take a build
    from pybuild12.store import names  # lazy: as above

    choice = pins.choose(name, version=settings().version)
    found = names.get(settings().paths, choice.name, origin=choice.origin)
    if not found.python.exists():
        raise PyBuild12Error(f"{found.prefix} has no python at {found.python}",
                             hint=f"reinstall with 'pybuild12 install {found.name} --force'")
    return found
