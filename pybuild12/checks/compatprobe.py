"""Runs `resources/compat_probe.py` in children of the interpreter under test.

One child probes a list of modules in turn and prints what each step found as soon
as it ends; a child that crashes, hangs (no line within the timeout: it is killed
with everything it started) or stops because the GIL came back on leaves the modules
after it to a new child. The life-cycle probe is a child of its own: its exit status
is the verdict.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from pybuild12.builder import sanitizers
from pybuild12.checks import interp
from pybuild12.checks.compat import BROKEN, CRASH, ENTRY, HANG, OK, Module
from pybuild12.core import runner
from pybuild12.core.errors import CheckError

PROBE = "compat_probe.py"


def _child_env() -> dict[str, str]:
    """The user's environment without what would change the verdicts: PYTHON_GIL forces
    the GIL on or off on a free-threaded build, whatever the extensions declare."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHON_GIL", "PYTHONPATH", "PYTHONHOME")}


def _probe_env(python: Path) -> dict[str, str]:
    """The child's environment; on a sanitizer build with its runtime options, stopping at
    the first report, so that a report is the module being probed's (it dies of it)."""
    env = _child_env()
    env.update({name: f"{value}:halt_on_error=1" for name, value in sanitizers.runtime_env(python, env).items()})
    return env


def ask(python: Path, *args: str, timeout: float = 120) -> dict[str, Any]:
    try:
        answer = interp.run(python, PROBE, args, timeout=timeout, env=_child_env())
    except (OSError, runner.TimedOut) as exc:
        raise CheckError(f"cannot run {python}: {exc}") from None
    if answer.data is None:
        raise CheckError(f"{python} could not list its modules: {answer.tail(1) or f'exit code {answer.returncode}'}",
                         hint="compat needs Python 3.12 or newer (sub-interpreters with their own GIL)")
    return answer.data


@dataclass
class _Child:
    lines: list[dict[str, Any]]
    returncode: int | None  # None: killed after `timeout` without a line
    stderr: str


def _run_child(python: Path, args: Sequence[str], timeout: float) -> _Child:
    """Run the probe; each line of JSON it prints must come within `timeout` seconds of the
    one before, else the child (and anything it started) is killed."""
    with interp.script(PROBE) as probe, tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen([str(python), "-I", str(probe), *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=errors, env=_probe_env(python), start_new_session=True)
        runner.carry_niceness(proc.pid)
        assert proc.stdout is not None
        lines: queue.Queue[bytes | None] = queue.Queue()

        def read() -> None:
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)  # the end: the child closed its output (it exited, or died)

        threading.Thread(target=read, daemon=True).start()
        found: list[dict[str, Any]] = []
        killed = False
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                killed = True
                _kill(proc)
                break
            if line is None:
                break
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
        code = proc.wait()
        errors.seek(0)
        text = errors.read().decode("utf-8", errors="replace")
    return _Child(found, None if killed else code, text)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _death(child: _Child, timeout: float) -> tuple[str, str]:
    """(crash or hang, what happened) for a child that ended before its work was done."""
    if child.returncode is None:
        return HANG, f"no answer in {timeout:g} s (killed)"
    report = sanitizers.report_in(child.stderr, lines=4)
    if report is not None:
        return CRASH, "the sanitizer reported: " + " / ".join(line.strip() for line in report.splitlines())
    tail = (child.stderr.strip().splitlines() or [""])[-1].strip()
    if child.returncode < 0:
        return CRASH, f"the child died of {signal.Signals(-child.returncode).name} {tail}".strip()
    return CRASH, f"the child exited {child.returncode} without a report: {tail}".strip()


def probe_modules(python: Path, names: Sequence[str], dist: str | None, version: str | None, timeout: float,
                  kinds: dict[str, str] | None = None) -> list[Module]:
    """Probe `names` in as few children as a crash, a hang or a GIL turned on allow."""
    done: dict[str, Module] = {}
    todo = list(names)
    while todo:
        child = _run_child(python, ["--probe", *todo], timeout)
        seen: dict[str, dict[str, Any]] = {}
        current = None
        for line in child.lines:
            if "start" in line:
                current = line["start"]
                seen[current] = {}
            elif "done" in line:
                done[line["done"]] = _module(seen[line["done"]], line["done"], dist, version, kinds)
                current = None
            elif "module" in line and line["module"] in seen:
                seen[line["module"]].update(line)
        if current is not None:  # the child died (or hung) while probing `current`
            status, detail = _death(child, timeout)
            done[current] = _module(seen[current], current, dist, version, kinds, died=(status, detail))
        elif not any("stopped" in line for line in child.lines) and len(done) < len(names):
            status, detail = _death(child, timeout)
            for name in todo:
                if name not in done:
                    done[name] = Module(name, dist, version, status, status, status, None, detail,
                                        (kinds or {}).get(name, ENTRY))
        todo = [n for n in todo if n not in done]
    return [done[n] for n in names]


def _module(found: dict[str, Any], name: str, dist: str | None, version: str | None,
            kinds: dict[str, str] | None, died: tuple[str, str] | None = None) -> Module:
    """A Module from the steps a probe reported; `died`: the step after them crashed or hung."""
    steps = {k: found[k]["status"] for k in ("main", "own_gil", "legacy") if k in found}
    detail = next((found[k]["detail"] for k in ("main", "own_gil", "legacy") if k in found and found[k]["detail"]), "")
    if died is not None:
        died_in = next((k for k in ("main", "own_gil", "legacy") if k not in steps), None)
        where = {"main": "on import", "own_gil": "on import in an own-GIL sub-interpreter",
                 "legacy": "on import in a shared-GIL sub-interpreter", None: "after its probe"}[died_in]
        if died_in:
            steps[died_in] = died[0]
        detail = f"{died[0]} {where}: {died[1]}"
    main = steps.get("main", BROKEN)
    # Nothing to ask of a sub-interpreter about a module that does not import at all.
    own, legacy = (steps.get("own_gil", BROKEN), steps.get("legacy", BROKEN)) if main == OK else (BROKEN, BROKEN)
    gil = found.get("gil")
    missing = set((found.get("own_gil") or {}).get("missing", []))
    fallback = tuple(m for m in found.get("loaded", []) if m in missing) if own == OK else ()
    return Module(name, dist, version, main, own, legacy, None if not gil else ("on" if gil["enabled"] else "off"),
                  detail, (kinds or {}).get(name, ENTRY), fallback, tuple(found.get("stdlib", ())))


def probe_together(python: Path, names: Sequence[str], timeout: float, first: Sequence[str] = ()) -> tuple[str, str]:
    """(ok, crash or hang; what happened) for `names` used from two interpreters at once;
    `first`: modules the main interpreter imports before the sub-interpreter exists."""
    child = _run_child(python, ["--together", *names, *(["--main-first", *first] if first else [])], timeout)
    if child.returncode == 0 and any(line.get("together") == "ok" for line in child.lines):
        return OK, ""
    return _death(child, timeout)


def stdlib_culprits(python: Path, candidates: Sequence[str], timeout: float,
                    known: dict[str, bool]) -> tuple[str, ...]:
    """Which of the standard library's compiled modules `candidates` crash (or hang) the
    process on their own when a sub-interpreter imports them before the main interpreter
    (CPython 3.13's _datetime does); all of them if only their combination does, none if
    they are harmless together. `known`: this interpreter's answers so far (module: crashes)."""
    if not candidates or probe_together(python, candidates, timeout)[0] == OK:
        return ()
    for name in candidates:
        if name not in known:
            known[name] = probe_together(python, [name], timeout)[0] != OK
    return tuple(n for n in candidates if known[n]) or tuple(candidates)
