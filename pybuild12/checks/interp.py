"""Run one of pybuild12's resource scripts in the interpreter under test and read its answer.

Every check that must look at a build from the inside (the install's smoke check, the
verifier and its variant checks, compat) runs a plain script of `pybuild12/resources`
with that interpreter, isolated (`-I`), and reads the last line of its stdout as JSON.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from pybuild12.builder import sanitizers
from pybuild12.core import runner


@dataclass(frozen=True)
class Answer:
    data: dict[str, Any] | None  # the last line of stdout as JSON; None when there is none
    returncode: int
    stderr: str

    @property
    def sanitizer_report(self) -> str | None:
        """The start of the first report a sanitizer's runtime wrote, if any."""
        return sanitizers.report_in(self.stderr)

    @property
    def clean(self) -> bool:
        """Whether the interpreter exited as a healthy one does (a fatal error can still print JSON)."""
        return self.returncode == 0 and "Fatal Python error" not in self.stderr

    def tail(self, lines: int = 5) -> str:
        return "\n".join(self.stderr.strip().splitlines()[-lines:])


@contextmanager
def script(name: str) -> Iterator[Path]:
    """The path of resource script `name` (e.g. "smoke.py") for as long as it is needed."""
    with resources.as_file(resources.files("pybuild12").joinpath(f"resources/{name}")) as path:
        yield path


def run(python: Path, name: str, args: Sequence[str] = (), *, timeout: float,
        env: Mapping[str, str] | None = None, log_path: Path | None = None) -> Answer:
    """Run resource script `name` with `python -I`; OSError (no such interpreter) and
    runner.TimedOut reach the caller, which knows what they mean for its check."""
    env = sanitizers.with_runtime(python, env)  # a sanitizer build runs with its options
    with script(name) as path:
        proc = runner.capture([str(python), "-I", str(path), *args], timeout=timeout, env=env, log_path=log_path)
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        data = None
    return Answer(data if isinstance(data, dict) else None, proc.returncode, proc.stderr)
