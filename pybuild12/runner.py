"""The one place through which every build command runs.

Each command is written to the build log shlex-joined, with its full output;
the console only sees what the caller's `on_line` callback chooses to show.
A failing command raises `BuildError` with the phase, the log's last lines and
its path. On Ctrl-C the whole process group of the command (make spawns many)
is stopped before the interrupt propagates, so nothing keeps running behind
the user's back.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
from collections import deque
from pathlib import Path
from typing import Callable, Mapping, Sequence

from pybuild12.errors import BuildError, PrerequisiteError, disk_full_hint

TAIL_LINES = 30


def call(
    argv: Sequence[str],
    *,
    phase: str,
    log_path: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> float:
    """Run `argv`, appending its output to `log_path`; return the elapsed seconds."""
    if os.sep in argv[0]:
        found = os.path.exists(os.path.join(cwd or os.getcwd(), argv[0]))
    else:
        found = shutil.which(argv[0], path=(env or os.environ).get("PATH")) is not None
    if not found:
        raise PrerequisiteError(f"{argv[0]!r} not found on PATH (needed to {phase})")
    start = time.monotonic()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8", errors="replace") as log:
        log.write(f"\n### phase: {phase}\n### cwd: {cwd or os.getcwd()}\n$ {shlex.join(argv)}\n")
        log.flush()
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                log.flush()  # so that `tail -f` on the log follows the build
                tail.append(line.rstrip("\n"))
                if on_line:
                    on_line(line.rstrip("\n"))
            code = proc.wait()
        except BaseException:
            _stop(proc)
            log.write(f"\n### interrupted during {phase}\n")
            raise
        elapsed = time.monotonic() - start
        log.write(f"### exit code {code} after {elapsed:.1f}s\n")
    if code != 0:
        raise BuildError(
            f"{phase} failed: {shlex.join(argv)} exited with code {code}",
            phase=phase,
            log_path=str(log_path),
            log_tail="\n".join(tail),
            hint=disk_full_hint("\n".join(tail)),
        )
    return elapsed


def _stop(proc: subprocess.Popen) -> None:
    """Stop the command and everything it started (its own process group)."""
    for sig, wait in ((signal.SIGINT, 5), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    # Children that outlived the leader still belong to the group.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def capture(
    argv: Sequence[str],
    *,
    log_path: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess:
    """Run a short query command; log it and its output, return it without raising.

    For commands whose failure the caller interprets (is this commit known? is
    that remote reachable?), where `call` would only say "it failed".
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            list(argv), cwd=cwd, env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", timeout=timeout,
        )
    except FileNotFoundError:
        raise PrerequisiteError(f"{argv[0]!r} not found on PATH") from None
    with open(log_path, "a", encoding="utf-8", errors="replace") as log:
        log.write(f"$ {shlex.join(argv)}\n{proc.stdout}{proc.stderr}### exit code {proc.returncode}\n")
    return proc
