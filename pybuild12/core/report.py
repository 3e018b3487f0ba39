"""How the core tells the outside world what it is doing.

The core calls a `Reporter`; it never prints. The CLI passes one that draws
on stderr (`console.RichReporter`); tests pass this silent one or a recorder.
"""

from __future__ import annotations

from typing import Optional


class Reporter:
    def phase_start(self, phase: str, detail: str) -> None:
        """A phase (fetch, extract, configure, compile, install, check) begins."""

    def phase_end(self, phase: str, seconds: float, ok: bool) -> None:
        """A phase ends, successfully or not."""

    def phase_outcome(self, text: str, ok: bool = True) -> None:
        """What the current phase came to, said on its end line instead of its title
        ("shared cache: miss"); `ok` False: the phase did its job, but not what was hoped
        (the store refused or failed), so its mark is not a plain tick."""

    def status(self, text: str) -> None:
        """The current phase has news (a PGO stage, the file being compiled)."""

    def progress(self, done: int, total: Optional[int], label: str) -> None:
        """Bytes downloaded so far."""

    def warn(self, text: str) -> None:
        """Something the user should know, that does not stop the work."""

    def info(self, text: str) -> None:
        """A plain note."""
