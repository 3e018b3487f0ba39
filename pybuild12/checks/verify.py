"""`pybuild12 verify`: prove that sub-interpreters with their own GIL work in an interpreter.

The checks run inside the interpreter under test (`resources/verify_interp.py`);
this side only finds the interpreter, asks its version first (in a way that
works on any Python, so an old one gets a sentence, not a traceback), runs the
script and reads its JSON into `Report`.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from pybuild12.builder import sanitizers
from pybuild12.checks import interp, smoke
from pybuild12.core import runner
from pybuild12.core.errors import CheckError, UsageError

PASSED, FAILED, SKIPPED, INCONCLUSIVE = "passed", "failed", "skipped", "inconclusive"
CHECK_NAMES = ("modules", "high-level API", "test.support helper", "lifecycle", "messages", "threads",
               "clean exit", "parallelism")
# From resources/verify_variant.py: what kind of build it is, and its variants' own proofs.
VARIANT_CHECK_NAMES = ("variant", "free-threading", "thread parallelism", "debug build", "jit")
TIMEOUT = 300
FULL_TIMEOUT = 900


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    python: str
    version: str
    api: dict[str, Any]
    checks: tuple[Check, ...]
    build: dict[str, Any] = field(default_factory=dict)  # freethreaded/debug/jit: what the interpreter is

    @property
    def ok(self) -> bool:
        return all(c.status != FAILED for c in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {"python": self.python, "version": self.version, "api": self.api, "build": self.build, "ok": self.ok,
                "checks": [asdict(c) for c in self.checks]}


def interpreter(given: str | Path) -> Path:
    """The interpreter `--python` names: a path, or a bare name looked up on PATH
    (`python3.12`). Anything that is not a Python interpreter is a usage error."""
    text = str(given)
    path = Path(text).expanduser()
    if os.sep not in text and not path.is_file():
        found = shutil.which(text)
        if found is None:
            raise UsageError(f"--python {text}: no such file here, and no {text} on PATH",
                             hint="give the interpreter's path, or a name on PATH such as python3.13")
        path = Path(found)
    if not path.exists():
        raise UsageError(f"--python {text}: no such file", hint="give the path of a Python interpreter")
    if path.is_dir() or not os.access(path, os.X_OK):
        raise UsageError(f"--python {text}: not an executable file",
                         hint="give the interpreter itself, such as .venv/bin/python")
    try:
        _version(path)
    except CheckError as exc:
        raise UsageError(f"--python {text}: {exc.message}", hint="give the path of a Python interpreter") from None
    return path


def _version(python: Path) -> tuple[int, ...] | None:
    # %-formatting and print(): the same line runs on Python 2.7 and 3.x.
    probe = "import sys; print('%d.%d.%d' % tuple(sys.version_info[:3]))"
    try:
        out = runner.capture([str(python), "-c", probe], timeout=60)
    except (OSError, runner.TimedOut) as exc:
        raise CheckError(f"cannot run {python}: {exc}") from None
    try:
        return tuple(int(p) for p in out.stdout.strip().split("."))
    except ValueError:
        facts = [f"it printed {out.stdout.strip()[:80]!r}"] if out.stdout.strip() else []
        facts += [f"exit code {out.returncode}"] if out.returncode else []
        said = _first_lines(out.stderr)
        raise CheckError(f"{python} is not a Python interpreter" + (f" ({', '.join(facts)})" if facts else "")
                         + (f"; on stderr:\n{said}" if said else "")) from None


def _first_lines(text: str, count: int = 8, width: int = 200) -> str:
    """The start of what a program wrote to stderr, indented, for a message: a pyenv shim
    explains itself there ("The `python3.13' command exists in these Python versions")."""
    lines = [line.rstrip()[:width] for line in text.strip("\n").splitlines()][:count]
    shown = "\n".join(f"  {''.join(ch if ch.isprintable() else '?' for ch in line)}" for line in lines)
    return shown + ("\n  ..." if len(text.strip("\n").splitlines()) > count else "")


def run(python: Path, *, full: bool = False, workers: int | None = None, expect: Sequence[str] = (),
        required: Sequence[str] = ()) -> Report:
    """Verify the interpreter at `python`; never raises for a failed check, only for a missing interpreter.

    `expect`: the variants the build was asked for (freethreaded, debug, jit); a build
    that is not what was asked for fails the "variant" check. Whatever variant the
    interpreter is, its own checks run. `required`: the modules its recipe requires
    (ssl, dbm.ndbm ...), each of which must import.
    """
    if not python.exists():
        raise CheckError(f"no interpreter at {python}")
    version = _version(python)
    text = ".".join(map(str, version))
    if version < (3, 12):
        reason = f"Python {text}: no per-interpreter GIL before 3.12 (PEP 684)"
        checks = (Check("version", FAILED, reason),) + tuple(Check(n, SKIPPED, "needs Python 3.12 or newer")
                                                             for n in CHECK_NAMES)
        return Report(str(python), text, {}, checks)
    args = ["--full"] if full else []
    if workers:
        args += ["--workers", str(workers)]
    try:
        answer = interp.run(python, "verify_interp.py", args, timeout=FULL_TIMEOUT if full else TIMEOUT)
    except runner.TimedOut:
        return Report(str(python), text, {}, (Check("verifier", FAILED, "did not finish in time"),))
    data = answer.data
    if data is None:
        return Report(str(python), text, {}, (Check("verifier", FAILED, f"the interpreter crashed (exit code "
                                                                         f"{answer.returncode}): {answer.tail()}"),))
    checks = _checks(data)
    if not answer.clean:
        checks += (Check("verifier exit", FAILED, f"exit code {answer.returncode}: {answer.stderr.strip()[-300:]}"),)
    build, variant_checks, variant_stderr = _variant_checks(python, expect)
    marker = sanitizers.installed(sanitizers.prefix_of(python))
    if marker is not None:
        checks += (sanitizer_check(marker["sanitizers"], answer.stderr + "\n" + variant_stderr,
                                   marker.get("known", [])),)
    if required:
        checks += (required_modules_check(python, required),)
    return Report(str(python), data["python"]["version"], data.get("api", {}), variant_checks + checks, build)


def required_modules_check(python: Path, modules: Sequence[str]) -> Check:
    """Whether every module the build's recipe requires imports (the install's own check,
    smoke.smoke, imports them)."""
    name = "required modules"
    try:
        results = smoke.smoke(python, None, modules)
    except CheckError as exc:
        return Check(name, FAILED, exc.message)
    failed = [r for r in results if r.name.startswith("module ") and not r.ok]
    if failed:
        return Check(name, FAILED, "the recipe requires them, and they do not import: "
                     + "; ".join(f"{r.name.removeprefix('module ')} ({r.detail})" for r in failed))
    return Check(name, PASSED, f"imported {', '.join(modules)}")


def _checks(data: dict) -> tuple[Check, ...]:
    return tuple(Check(c["name"], c["status"], c["reason"], c.get("figures", {})) for c in data["checks"])


def _variant_checks(python: Path, expect: Sequence[str]) -> tuple[dict, tuple[Check, ...], str]:
    """resources/verify_variant.py's findings: the build's variants and their proofs (and
    what the interpreter wrote to stderr meanwhile)."""
    args = ["--expect", ",".join(expect)] if expect else []
    try:
        answer = interp.run(python, "verify_variant.py", args, timeout=TIMEOUT)
    except runner.TimedOut:
        return {}, (Check("variant", FAILED, "the variant checks did not finish in time"),), ""
    if answer.data is None:
        return {}, (Check("variant", FAILED, f"the interpreter crashed (exit code {answer.returncode}): "
                                             f"{answer.tail()}"),), answer.stderr
    return answer.data.get("build", {}), _checks(answer.data), answer.stderr


def sanitizer_check(chosen: Sequence[str], stderr: str, known: Sequence[str] = ()) -> Check:
    """On a sanitizer build: whether its runtime reported anything while the checks ran
    (own-GIL interpreters, and threads on a free-threaded build): CPython's own bug, or
    the suppressions' gap, either way a build that cannot be trusted to report only yours."""
    names = ", ".join(chosen)
    report = sanitizers.report_in(stderr)
    if report is not None:
        return Check("sanitizer", FAILED, f"the {names} runtime reported while the checks ran:\n{report}")
    also = f" (and pybuild12's for this version's known reports: {', '.join(known)})" if known else ""
    return Check("sanitizer", PASSED, f"the checks ran under {names} with the build's suppressions{also}: no report")


def enforce(report: Report) -> None:
    failed = [c for c in report.checks if c.status == FAILED]
    if failed:
        raise CheckError(
            "verification failed:\n" + "\n".join(f"  {c.name}: {c.reason}" for c in failed),
            hint=f"'pybuild12 verify --python {report.python}' repeats the checks",
        )
