"""The one place through which every build command runs.

Each command is written to the build log shlex-joined, with its full output;
the console only sees what the caller's `on_line` callback chooses to show.
A failing command raises `BuildError` with the phase, the log's last lines and
its path. On Ctrl-C the whole process group of the command (make spawns many)
is stopped before the interrupt propagates, so nothing keeps running behind
the user's back. Such a command runs in a session of its own, and on Linux in a
scheduling group of its own (autogroup): the group is given pybuild12's own niceness, so
that `nice pybuild12 install` yields the CPU as `nice make` would.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Callable, Mapping, Sequence

from pybuild12.core.errors import BuildError, PrerequisiteError, PyBuild12Error, disk_full_hint
from pybuild12.core.settings import STEP_TIMEOUT, STEP_TIMEOUT_ENV

TAIL_LINES = 30
QUERY_TIMEOUT = 120.0  # seconds: version queries, probes, config look-ups
STREAM_TIMEOUT = 1800.0  # seconds: tar unpacking a build (a few seconds on a laptop)


def call(
    argv: Sequence[str],
    *,
    phase: str,
    log_path: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    timeout: float | None = None,
    interactive: bool = False,
) -> float:
    """Run `argv`, appending its output to `log_path`; return the elapsed seconds.

    A command still running after `timeout` seconds (default: STEP_TIMEOUT, 4 hours;
    the install flow passes the user's, Settings.step_timeout) is stopped with everything
    it started, and the step fails.
    `interactive`: the command keeps the terminal (sudo may ask for a password)."""
    limit = STEP_TIMEOUT if timeout is None else timeout
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
            stdin=None if interactive else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=not interactive,
        )
        if not interactive:
            carry_niceness(proc.pid)
        watchdog = threading.Timer(limit, _stop, (proc,))
        watchdog.daemon = True
        watchdog.start()
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
        finally:
            watchdog.cancel()
        elapsed = time.monotonic() - start
        log.write(f"### exit code {code} after {elapsed:.1f}s\n")
    if code != 0 and elapsed >= limit:
        raise BuildError(
            f"{phase} did not finish in {limit:g} s and was stopped: {shlex.join(argv)}",
            phase=phase, log_path=str(log_path), log_tail="\n".join(tail),
            hint=f"the log shows where it stalled; {STEP_TIMEOUT_ENV} sets the limit in seconds",
        )
    if code != 0:
        raise BuildError(
            f"{phase} failed: {shlex.join(argv)} exited with code {code}",
            phase=phase,
            log_path=str(log_path),
            log_tail="\n".join(tail),
            hint=disk_full_hint("\n".join(tail)),
        )
    return elapsed


def carry_niceness(pid: int) -> None:
    """Give the scheduling autogroup of `pid` (a new session's leader) this process's niceness.

    Linux puts every new session in an autogroup of its own, and the scheduler shares the
    CPU between autogroups before it looks at any process's nice value: a build started
    with setsid by a `nice`d pybuild12 would compete at full weight with everything else.
    The autogroup's own nice value (/proc/PID/autogroup) restores it, for the whole
    session, make's children included. Without autogroups (other kernels, other systems)
    there is nothing to do."""
    niceness = os.nice(0) if hasattr(os, "nice") else 0
    if niceness <= 0:
        return
    try:
        Path(f"/proc/{pid}/autogroup").write_text(f"{niceness}\n")
    except OSError:
        pass  # no autogroups here, or the command has ended already


def _stop(proc: subprocess.Popen) -> None:
    """Stop the command and everything it started (its own process group)."""
    try:
        shares_group = proc.poll() is None and os.getpgid(proc.pid) != proc.pid
    except ProcessLookupError:
        return  # it ended in between
    if shares_group:
        proc.terminate()  # an interactive command shares the terminal's group: Ctrl-C reached it too
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return
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
    log_path: Path | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = QUERY_TIMEOUT,
    input: str | None = None,
    new_session: bool = False,
) -> subprocess.CompletedProcess:
    """Run a short query command; log it and its output (when there is a log: a build
    has one, `verify` and `doctor` do not), return it without raising for its exit code.

    For commands whose failure the caller interprets (is this commit known? is
    that remote reachable? is this a Python?), where `call` would only say "it failed".
    A command past `timeout` is killed and raises `TimedOut`; one that cannot be
    started raises `PrerequisiteError` if it was looked up on PATH, else the OSError.
    """
    try:
        proc = subprocess.run(
            list(argv), cwd=cwd, env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL if input is None else None, input=input, capture_output=True, text=True,
            errors="replace", timeout=timeout, start_new_session=new_session,
        )
    except FileNotFoundError:
        if os.sep in argv[0]:
            raise
        raise PrerequisiteError(f"{argv[0]!r} not found on PATH") from None
    except subprocess.TimeoutExpired as exc:
        _log(log_path, f"$ {shlex.join(argv)}\n{_text(exc.stdout)}{_text(exc.stderr)}"
                       f"### no answer in {timeout:g} s: killed\n")
        raise TimedOut(f"{shlex.join(argv)[:200]} did not finish in {timeout:g} s", seconds=timeout) from None
    _log(log_path, f"$ {shlex.join(argv)}\n{proc.stdout}{proc.stderr}### exit code {proc.returncode}\n")
    return proc


def feed(argv: Sequence[str], produce: Callable[[IO[bytes]], None], *, timeout: float = STREAM_TIMEOUT,
         log_path: Path | None = None) -> tuple[int, str]:
    """Run `argv` with `produce` writing its stdin (a stream too big to hold, such as an
    artifact decompressed on the way into tar); return its exit code and stderr.
    Past `timeout` the command is killed and `TimedOut` raised."""
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty stderr cannot block the writer
        proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
        fired: list[bool] = []
        watchdog = threading.Timer(timeout, lambda: (fired.append(True), proc.kill()))
        watchdog.daemon = True
        watchdog.start()
        try:
            assert proc.stdin is not None
            try:
                produce(proc.stdin)
                proc.stdin.close()
            except BrokenPipeError:
                pass  # the command stopped reading: its exit code and stderr say why
            code = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            watchdog.cancel()
        errors.seek(0)
        text = errors.read().decode("utf-8", errors="replace")
    _log(log_path, f"$ {shlex.join(argv)} < (stream)\n{text}### exit code {code}\n")
    if fired:
        raise TimedOut(f"{shlex.join(argv)[:200]} did not finish in {timeout:g} s", seconds=timeout)
    return code, text


class TimedOut(PyBuild12Error):
    """A command ran past its time and was killed."""

    def __init__(self, message: str, *, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


def _log(log_path: Path | None, text: str) -> None:
    if log_path is None:
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8", errors="replace") as log:
        log.write(text)


def _text(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return data or ""
