"""`pybuild12 verify --suite`: CPython's own regression suite on a build.

`python -m test` runs every file of the build's test package in parallel workers; its
output says, file by file, what happened ("[12/477/1] test_x failed (2 errors)"), and
its JUnit XML names the test cases that failed. From those, each file is passed,
failed, skipped (for a reason: the platform, a module the build lacks, a resource not
enabled, or another), "environment" (a failure listed below as coming from the
machine rather than from the build) or "env changed" (it passed, and left something
behind, as regrtest reports). With `--rerun` in the suite's arguments, a file's result
when run again replaces its first one.

The progress line counts the files as the summary does, from the same reading of the
output (`Reading`), not from regrtest's third number, which adds the "env changed" files
to the failed ones. A failure from the machine is known only once the JUnit XML is read,
at the end: the phase's end line then says the summary's counts.

The suite runs without the environment variables that change what its tests see
(`UNSET`, each with why): a build is judged on what it does, not on the caller's
PYTHONUNBUFFERED.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from pybuild12.builder import plan, sanitizers
from pybuild12.core import runner
from pybuild12.core.errors import BuildError, CheckError, UsageError
from pybuild12.core.report import Reporter

TEST_TIMEOUT = 1200.0  # seconds one test file may take: what CPython's buildbots give

# Variables known to fail the suite's tests when set, and why. Every other PYTHON* one
# goes too (GENERIC): each changes how the interpreter starts, which tests check.
UNSET = {
    "PYTHONUNBUFFERED": "test_cmd_line checks that the standard streams are buffered by default",
    "PYTHONDONTWRITEBYTECODE": "test_compileall, test_import and test_py_compile check that .pyc files are written",
    "PYTHONPATH": "other projects' modules would come before the build's own",
    "PYTHONHOME": "it points the build at another standard library",
    "PYTHONSTARTUP": "it runs a file of the user's in the interactive interpreters tests start",
    "PYTHONWARNINGS": "tests count the warnings they expect, and some turn into errors",
    "PYTHONOPTIMIZE": "it strips the asserts and docstrings tests check",
    "PYTHONDEVMODE": "it changes warnings, the memory allocator and faulthandler, which tests check",
    "PYTHONSAFEPATH": "it changes sys.path[0], which test_cmd_line checks",
    "PYTHONIOENCODING": "it changes the standard streams' encoding, which tests check",
    "PYTHONUTF8": "it changes the locale encoding tests expect",
    "PYTHON_GIL": "it forces the GIL on or off on a free-threaded build, whatever the tests ask",
    "PYTHONHASHSEED": "regrtest picks its own",
    "FORCE_COLOR": "coloured tracebacks change the output tests compare",
    "NO_COLOR": "tests of coloured output expect colour where the terminal allows it",
}
GENERIC = "a PYTHON* variable changes how the interpreter starts, which tests check"

# Skips that say the test is for another operating system, not that the build lacks something.
_PLATFORM_MODULES = {"winreg", "_winapi", "msvcrt", "winsound", "_overlapped", "nt", "_wmi", "_msi", "_scproxy",
                     "_winreg", "_testconsole", "_ios_support", "_android_support"}
_PLATFORM_WORDS = re.compile(r"windows|win32|macos|darwin|\bbsd\b|solaris|android|\bios\b|wasi|emscripten|"
                             r"only on|only relevant on|works only|only applies|platform|not supported on",
                             re.IGNORECASE)
_NO_MODULE = re.compile(r"No module named '([\w.]+)'")
_RESOURCE = re.compile(r"'(\w+)' resource not enabled")
_FILE_LINE = re.compile(r"\[\s*(\d+)/(\d+)(?:/(\d+))?\]\s+(test\S*)\s+(.*)$")
_SKIP_REASON = re.compile(r"^(test\S*) skipped -- (.*)$")
_TOTAL_TESTS = re.compile(r"^Total tests: (.*)$")
_NOT_FOUND = re.compile(r"ModuleNotFoundError: No module named '(?:test\.)?(test\w*)'$")
_RERUN = re.compile(r"^Re-running (\d+) failed tests?\b")  # regrtest --rerun, after the first pass

PASSED, FAILED, SKIPPED, ENVIRONMENT, ENV_CHANGED = "passed", "failed", "skipped", "environment", "env changed"
NOT_FOUND = "not found"  # regrtest was asked for a test file the build does not have
PLATFORM, MISSING_MODULE, RESOURCE, OTHER = "platform", "missing module", "resource not enabled", "other"


@dataclass(frozen=True)
class Known:
    """A failure known to come from the machine, not the build: `file`'s test cases
    matching `cases`, where `applies()` holds on this machine."""

    file: str
    cases: str  # a regular expression over the failing test cases' ids
    why: str
    applies: Callable[[], bool] = lambda: True


MACHINE_FAILURES = (
    Known("test_socket", r"VSOCK",
          "VSOCK tests fail where the machine has a vsock device (/dev/vsock) and nothing to connect to through it "
          "(sandboxes, some VMs): the client's connect fails (ENODEV) and the server side times out",
          lambda: os.path.exists("/dev/vsock")),
)


@dataclass
class TestFile:
    name: str
    status: str  # passed, failed, skipped, environment, env changed, not found
    detail: str = ""  # what regrtest said after the name ("failed (2 errors)", the skip's reason)
    category: str = ""  # of a skip: platform, missing module, resource not enabled, other
    subject: str = ""  # the module missing, or the resource not enabled
    cases: list[str] = field(default_factory=list)  # the failing test cases
    why: str = ""  # of an "environment" failure: the machine condition it comes from


@dataclass
class SuiteResult:
    python: str
    workers: int
    timeout: float
    unset: dict[str, str]
    files: list[TestFile]
    total: int  # files regrtest meant to run
    tests: str  # regrtest's "Total tests:" line
    seconds: float
    log: str

    @property
    def machine(self) -> list[str]:
        """Why each "environment" file failed."""
        return [f"{f.name}: {f.why}" for f in self.by_status(ENVIRONMENT)]

    def by_status(self, status: str) -> list[TestFile]:
        """The files of that status, in name order."""
        return [f for f in self.files if f.status == status]

    @property
    def ok(self) -> bool:
        return not self.by_status(FAILED) and len(self.files) >= self.total

    def tally(self) -> str:
        """The counts in the summary's words: "480 of 480 files, 479 passed, 0 failed, ..."."""
        text = f"{len(self.files)} of {self.total} files, {len(self.by_status(PASSED))} passed, " \
               f"{len(self.by_status(FAILED))} failed"
        for status, words in ((ENVIRONMENT, "failed because of the machine"), (ENV_CHANGED, "env changed"),
                              (SKIPPED, "skipped")):
            text += f", {len(self.by_status(status))} {words}" if self.by_status(status) else ""
        return text

    def skipped(self) -> dict[str, dict[str, list[str]]]:
        """category -> subject (module, resource or reason) -> files."""
        groups: dict[str, dict[str, list[str]]] = {}
        for f in self.by_status(SKIPPED):
            groups.setdefault(f.category, {}).setdefault(f.subject or f.detail, []).append(f.name)
        return groups

    def as_json(self) -> dict[str, Any]:
        return {"python": self.python, "ok": self.ok, "workers": self.workers, "timeout": self.timeout,
                "unset": self.unset, "total_files": self.total, "tests": self.tests, "seconds": round(self.seconds, 1),
                "counts": {s: len(self.by_status(s)) for s in (PASSED, FAILED, SKIPPED, ENVIRONMENT, ENV_CHANGED)},
                "failed": [asdict(f) for f in self.by_status(FAILED)],
                "environment": [asdict(f) for f in self.by_status(ENVIRONMENT)],
                "skipped": self.skipped(), "log": self.log}


def clean_environment(env: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(the environment the suite runs in, each variable taken out of it: why)."""
    gone = {k: UNSET.get(k, GENERIC) for k in env if k in UNSET or k.startswith("PYTHON")}
    return {k: v for k, v in env.items() if k not in gone}, dict(sorted(gone.items()))


def skip_category(reason: str) -> tuple[str, str]:
    """(category, subject) of a skip's reason as regrtest prints it."""
    resource = _RESOURCE.search(reason)
    if resource or reason == "resource denied":
        return RESOURCE, resource.group(1) if resource else ""
    module = _NO_MODULE.search(reason)
    if module:
        name = module.group(1)
        return (PLATFORM, name) if name.split(".")[0] in _PLATFORM_MODULES else (MISSING_MODULE, name)
    if _PLATFORM_WORDS.search(reason):
        return PLATFORM, reason
    return OTHER, reason


def parse_output(lines: Sequence[str]) -> tuple[dict[str, TestFile], int, str]:
    """(each file's outcome, the number of files, regrtest's "Total tests" figures)."""
    reading = Reading()
    for line in lines:
        reading.feed(line)
    return reading.finish()


class Reading:
    """regrtest's output, read a line at a time as it comes."""

    def __init__(self) -> None:
        self.files: dict[str, TestFile] = {}
        self.total, self.tests = 0, ""
        self.rerunning = False  # regrtest is running the failed files again (--rerun)

    def feed(self, line: str) -> str | None:
        """Take one line in; returns the progress to show when the line moved it."""
        progress = _FILE_LINE.search(line)
        if progress:
            name, said = progress.group(4), progress.group(5).strip()
            if not self.rerunning:  # a re-run counts "[1/1]": the suite's size is the first pass's
                self.total = int(progress.group(2))
                self.files[name] = TestFile(name, _status(said), said)
                return f"{self.counts()} (last: {name})"
            first = self.files.get(name)
            again = TestFile(name, _status(said), said)
            if again.status == PASSED and first is not None:
                again.detail = f"{first.detail}, then {said} when re-run"
            self.files[name] = again
            return f"{self.counts()} (re-run: {name} {said})"
        line = line.strip()
        rerun = _RERUN.match(line)
        if rerun:
            self.rerunning = True
            return f"{self.counts()}, re-running {'it' if rerun.group(1) == '1' else 'them'}"
        reason = _SKIP_REASON.match(line)
        if reason and reason.group(1) in self.files:
            entry = self.files[reason.group(1)]
            entry.detail = reason.group(2)
            entry.category, entry.subject = skip_category(reason.group(2))
            return None
        totals = _TOTAL_TESTS.match(line)
        if totals:
            self.tests = totals.group(1)
        absent = _NOT_FOUND.search(line)
        if absent and absent.group(1) in self.files and self.files[absent.group(1)].status == FAILED:
            self.files[absent.group(1)].status = NOT_FOUND
        return None

    def counts(self) -> str:
        """The progress ("12 of 480 files, 1 failed"): failed as the summary counts it (a
        failure from the machine is found at the end), the "env changed" files apart."""
        failed = sum(f.status == FAILED for f in self.files.values())
        changed = sum(f.status == ENV_CHANGED for f in self.files.values())
        return f"{len(self.files)} of {self.total} files, {failed} failed" + (
            f", {changed} env changed" if changed else "")

    def finish(self) -> tuple[dict[str, TestFile], int, str]:
        for entry in self.files.values():
            if entry.status == SKIPPED and not entry.category:
                entry.category, entry.subject = skip_category(entry.detail)
        return self.files, self.total, self.tests


def _status(said: str) -> str:
    words = said.split(" -- ")[0]
    if words.startswith("passed") or words.startswith("run no tests") or words.startswith("ran no tests"):
        return PASSED
    if words.startswith("skipped"):
        return SKIPPED
    if words.startswith("failed (env changed)"):
        return ENV_CHANGED
    return FAILED  # failed, timed out, crashed, interrupted


def failing_cases(junit: Path) -> list[str]:
    """The ids of the test cases that failed or errored, from regrtest's JUnit XML."""
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError):
        return []
    return [case.get("name", "") for case in root.iter("testcase")
            if any(child.tag in ("failure", "error") for child in case)]


def attribute(files: dict[str, TestFile], cases: Sequence[str], known: Sequence[Known] = MACHINE_FAILURES) -> list[str]:
    """Give each failed file its failing test cases; a file whose every failing case is a
    known machine failure becomes "environment". Returns why, for each of those."""
    reasons = []
    for entry in files.values():
        if entry.status != FAILED:
            continue
        entry.cases = list(dict.fromkeys(c for c in cases if _case_in(c, entry.name)))  # a re-run lists it again
        for k in known:
            if k.file == entry.name and entry.cases and all(re.search(k.cases, c) for c in entry.cases) and k.applies():
                entry.status, entry.why = ENVIRONMENT, k.why
                reasons.append(f"{entry.name}: {k.why}")
    return reasons


def _case_in(case: str, name: str) -> bool:
    """test.test_socket.X.y (the stdlib suite) or test_socket.X.y (--testdir) in test_socket."""
    return name in case.split(".")[:3]


# regrtest's own parser, run in the interpreter under test (its options change between
# versions), then the test files it names against the files the suite has: regrtest would
# run the rest first and only then say that one does not exist.
_PARSE_ARGS = """\
import sys
try:
    from test.libregrtest.cmdline import _parse_args
except ImportError:
    sys.exit(0)  # a regrtest without it: its run says
ns = _parse_args(sys.argv[1:])
try:
    from test.libregrtest.findtests import findtests
except ImportError:
    sys.exit(0)
# a package's files are test.test_asyncio.test_tasks ... in some versions
testdir = getattr(ns, "testdir", None)
known = {name.removeprefix("test.") for name in (findtests(testdir=testdir) if testdir else findtests())}
known |= {name.split(".")[0] for name in known}
absent = [a for a in getattr(ns, "args", [])
          if a.removeprefix("test.") not in known and a.removeprefix("test.").split(".")[0] not in known]
if absent:
    sys.exit("error: the suite has no test file named " + ", ".join(absent))
"""


def check_args(python: Path, args: Sequence[str], env: Mapping[str, str]) -> None:
    """Refuse `--suite-args` regrtest would refuse (a mistyped option), in a second,
    before a run of tens of minutes."""
    if not args:
        return
    proc = runner.capture([str(python), "-c", _PARSE_ARGS, *args], env=env)
    if proc.returncode != 0:
        said = [line.split("error: ", 1)[1] for line in proc.stderr.splitlines() if "error: " in line]
        reason = said[-1] if said else f"exit {proc.returncode}"
        raise UsageError(f"--suite-args: python -m test refuses them: {reason}",
                         hint=f"'{python} -m test --help' lists its options")


def run(python: Path, *, workers: int | None = None, timeout: float = TEST_TIMEOUT, args: Sequence[str] = (),
        log_path: Path, reporter: Reporter | None = None, env: Mapping[str, str] | None = None,
        known: Sequence[Known] = MACHINE_FAILURES) -> SuiteResult:
    """Run the regression suite of the interpreter at `python`; `known`: the failures that
    come from the machine."""
    if not python.exists():
        raise CheckError(f"no interpreter at {python}")
    jobs = workers or plan.default_jobs()
    clean, gone = clean_environment(os.environ if env is None else env)
    check_args(python, args, sanitizers.with_runtime(python, clean))
    lines: list[str] = []
    reading = Reading()
    start = time.monotonic()

    def on_line(line: str) -> None:
        lines.append(line)
        shown = reading.feed(line)
        if shown and reporter is not None:
            reporter.status(shown)

    with tempfile.TemporaryDirectory(prefix="pybuild12-suite-") as work:
        junit = Path(work) / "junit.xml"
        argv = [str(python), "-m", "test", "-j", str(jobs), "--timeout", f"{timeout:g}",
                "--junit-xml", str(junit), "--tempdir", str(Path(work) / "tmp"), *args]
        if reporter is not None:
            reporter.phase_start("suite", f"suite: python -m test -j {jobs}")
        ok, result = True, None
        try:
            try:
                runner.call(argv, phase="run the test suite", log_path=log_path, cwd=Path(work),
                            env=sanitizers.with_runtime(python, clean),
                            on_line=on_line, timeout=max(timeout * 4, 3600.0))
            except BuildError:
                ok = False  # regrtest exits non-zero when a test failed: what failed is read below
            files, total, tests = reading.finish()
            _refuse_absent(python, files, args, lines, log_path, ok)
            attribute(files, failing_cases(junit), known)
            result = SuiteResult(str(python), jobs, timeout, gone, sorted(files.values(), key=lambda f: f.name),
                                 total, tests, time.monotonic() - start, str(log_path))
            if reporter is not None:
                reporter.phase_outcome(f"suite: {result.tally()}", ok=result.ok and not result.machine)
        finally:
            if reporter is not None:
                reporter.phase_end("suite", time.monotonic() - start, result is not None and result.ok)
    return result


def _refuse_absent(python: Path, files: dict[str, TestFile], args: Sequence[str], lines: Sequence[str],
                   log_path: Path, ok: bool) -> None:
    """No test file ran, or some asked for do not exist: that is no verdict on the build."""
    absent = sorted(name for name, f in files.items() if f.status == NOT_FOUND)
    if files and not absent:
        return
    asked = [name for name in absent if name in args]
    if asked:
        raise UsageError(f"--suite-args names test files that {python}'s test package does not have: "
                         + ", ".join(asked), hint="'python -m test --list-tests' lists the test files there are")
    tail = "\n".join(lines[-15:])
    what = (f"{len(absent)} of the suite's {len(files)} test files are not there ({', '.join(absent[:5])}"
            + (" ..." if len(absent) > 5 else "") + ")") if absent else "-m test ran no test file" + (
        "" if ok else " and failed")
    raise CheckError(f"{python}: {what}:\n{tail}", log_path=str(log_path),
                     hint="the build's test package is incomplete or missing (uv's builds and some distributions' "
                          "strip it), so there is no suite to run; check --suite-args too")
