"""One install run's log and timings: what `install` and `sources` write to as they go.

Every run has its own log file under the log directory (named after the build, the
time and the pid); each phase is timed, reported to the user as it starts and ends,
and its time kept for the receipt.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterator

from pybuild12 import __version__
from pybuild12.core.paths import Paths
from pybuild12.core.report import Reporter


@dataclass
class Run:
    """What one install run has logged so far, and how long each phase took."""

    log_path: Path
    reporter: Reporter
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str, detail: str = "") -> Iterator[None]:
        self.reporter.phase_start(name, detail)
        start = time.monotonic()
        ok = False
        try:
            yield
            ok = True
        finally:
            elapsed = time.monotonic() - start
            self.timings[name] = round(self.timings.get(name, 0.0) + elapsed, 1)  # a phase may have steps
            self.reporter.phase_end(name, elapsed, ok)

    def log(self, text: str) -> None:
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(text.rstrip("\n") + "\n")


def start(paths: Paths, name: str, what: str, reporter: Reporter, *, command: str = "install") -> Run:
    """A new run of the build `name`, its log opened with a first line saying `what` it builds
    (`command`: the command the run is for, when not an install)."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    prefix = "" if command == "install" else f"{command}-"
    run = Run(paths.logs / f"{prefix}{name}-{stamp}-{os.getpid()}.log", reporter)
    run.log(f"pybuild12 {__version__} {command} {name} from {what}")
    reporter.info(f"log: {run.log_path}")
    return run
