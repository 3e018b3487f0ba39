"""Drawing progress on stderr: a live line per phase on a terminal, plain lines elsewhere.

stdout stays free for results (and --json).
"""

from __future__ import annotations

import re
import time
from typing import Optional

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from pybuild12.core.report import Reporter

PLAIN_STATUS_EVERY = 10.0  # seconds


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    return f"{seconds // 60}m{seconds % 60:02d}s"


class RichReporter(Reporter):
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._title = ""
        self._last_plain_pct = -1
        self._last_status: tuple[str, float] = ("", 0.0)
        self._outcome: tuple[str, bool] | None = None

    # phases ---------------------------------------------------------------
    def phase_start(self, phase: str, detail: str) -> None:
        self._title = detail if detail.startswith(phase) else f"{phase} {detail}".strip()
        self._outcome = None
        if not self.console.is_terminal:
            self.console.print(f"→ {escape(self._title)}")
            return
        columns = [SpinnerColumn(), TextColumn("{task.description}")]
        if phase == "fetch":
            columns += [BarColumn(), DownloadColumn(), TransferSpeedColumn()]
        columns.append(TimeElapsedColumn())
        self._progress = Progress(*columns, console=self.console, transient=True)
        self._progress.start()
        self._task = self._progress.add_task(escape(self._title), total=None)

    def phase_end(self, phase: str, seconds: float, ok: bool) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        title, fine = self._outcome or (self._title, True)
        mark = "[red]✗[/]" if not ok else "[green]✓[/]" if fine else "[yellow]![/]"
        self.console.print(f"{mark} {escape(title):<40} {duration(seconds):>7}")
        self._last_plain_pct = -1
        self._outcome = None

    def phase_outcome(self, text: str, ok: bool = True) -> None:
        self._outcome = (text, ok)

    def status(self, text: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=escape(f"{self._title} · {text}"))
            return
        # Plain output (a CI log): a new kind of status at once, a count that only
        # moves (seconds waited, tests run) every PLAIN_STATUS_EVERY seconds.
        kind, now = re.sub(r"\d+", "#", text), time.monotonic()
        if kind != self._last_status[0] or now - self._last_status[1] >= PLAIN_STATUS_EVERY:
            self._last_status = (kind, now)
            self.console.print(f"  {escape(text)}")

    def progress(self, done: int, total: Optional[int], label: str) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=done, total=total)
            return
        if total:
            pct = done * 100 // total
            if pct // 25 != self._last_plain_pct // 25:
                self._last_plain_pct = pct
                self.console.print(f"  {escape(label)}: {pct}% of {total / 1e6:.1f} MB")

    # notes ----------------------------------------------------------------
    def warn(self, text: str) -> None:
        self._print(f"[yellow]warning:[/] {escape(text)}")

    def info(self, text: str) -> None:
        self._print(f"[dim]{escape(text)}[/]")

    def _print(self, markup: str) -> None:
        if self._progress is not None:
            self._progress.console.print(markup)
        else:
            self.console.print(markup)
