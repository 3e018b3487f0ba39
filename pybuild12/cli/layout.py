"""Output for people, laid out for the terminal's width: a table when it fits whole, else
each row's text wrapped under it; a word (a path, a package, a shell word) is never broken
across lines, and a wrapped shell command still pastes."""

from __future__ import annotations

import os
import shlex
import sys
import textwrap
from typing import TYPE_CHECKING, Mapping, Sequence

if TYPE_CHECKING:
    from rich.console import Console

MARGIN = " "  # as rich's tables pad their first column
GAP = "  "


def screen() -> Console:
    """stdout for a report read by people: the terminal's width, or piped (a CI log, less)
    COLUMNS or 80, rather than the 200 columns `out` keeps for grep."""
    from rich.console import Console  # lazy: for the commands that print a report

    from pybuild12.cli.common import out  # lazy: as above

    if sys.stdout.isatty():
        return out.console
    columns = os.environ.get("COLUMNS", "")
    return Console(highlight=False, width=int(columns) if columns.isdigit() and int(columns) >= 40 else 80)


def table(console: Console, titles: Sequence[str], body: Sequence[Sequence[str]], styles: Mapping[str, str]) -> None:
    """Rows of (name, status, text, more cells...) under `titles`, each status in its style:
    a table when the width holds it whole; else name and status in columns, the text beside
    them wrapped at spaces (or under them, when its longest word would not fit beside), and
    the other cells in brackets after it."""
    from rich.markup import escape  # lazy: as above
    from rich.measure import Measurement  # lazy: as above
    from rich.table import Table  # lazy: as above

    whole = Table(box=None)
    for title in titles:
        whole.add_column(escape(title))
    for name, status, *cells in body:
        whole.add_row(escape(name), f"[{styles[status]}]{escape(status)}[/]", *map(escape, cells))
    if Measurement.get(console, console.options.update_width(10_000), whole).maximum <= console.width:  # unwrapped
        console.print(whole)
        return
    lines = [(name, status, " ".join([text, *([f"[{' | '.join(more)}]"] if set(more) - {"-"} else [])]))
             for name, status, text, *more in [titles, *body]]
    names, statuses = (max(len(line[i]) for line in lines) for i in (0, 1))
    beside = len(MARGIN) + names + len(GAP) + statuses + len(GAP)
    longest = max((len(word) for line in lines for word in line[2].split()), default=0)
    indent = beside if console.width - beside >= max(longest, 20) else len(MARGIN) + 4
    for i, (name, status, text) in enumerate(lines):
        wrapped = textwrap.wrap(text, max(console.width - indent, 1), break_long_words=False,
                                break_on_hyphens=False) or [""]
        shown = f"[{styles[status]}]{escape(status)}[/]" if i else escape(status)
        first = f"{MARGIN}{escape(name.ljust(names))}{GAP}{shown}{' ' * (statuses - len(status))}"
        if indent == beside:
            first, wrapped = f"{first}{GAP}{escape(wrapped[0])}", wrapped[1:]
        console.print(first.rstrip(), soft_wrap=True)
        for line in wrapped:
            console.print(" " * indent + escape(line), soft_wrap=True)


def paragraph(text: str, width: int, indent: str = "  ") -> list[str]:
    """`text` wrapped at spaces, its later lines indented."""
    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)


def command(words: Sequence[str], width: int, indent: str = "  ") -> list[str]:
    """A shell command in lines of at most `width`, each but the last ending in a
    backslash, so that it pastes into a shell whole."""
    lines: list[str] = []
    line = indent
    for word in map(shlex.quote, words):
        if line.strip() and len(line) + 1 + len(word) + 2 > width:
            lines.append(line + " \\")
            line = indent * 2
        line += (" " if line.strip() else "") + word
    return [*lines, line]
