"""Checks of a build or its prerequisites: `pybuild12 doctor`, `verify` and `compat`."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

from pybuild12.cli.common import NAME_HELP, build, command_group, err, escape, interruptible, out, settings
from pybuild12.core.errors import CheckError, PrerequisiteError, UsageError

if TYPE_CHECKING:
    from pybuild12.builder.preflight import Check
    from pybuild12.checks.suite import SuiteResult
    from pybuild12.store.registry import Installed

# The defaults of `verify --test-timeout` and `compat --timeout`, written here rather than read
# from pybuild12.checks.suite and .compat: this module is imported by every command, `which`
# included, and those are not (tests/test_cli_inprocess.py holds the two equal).
SUITE_TEST_TIMEOUT = 1200.0
COMPAT_TIMEOUT = 60.0

commands = command_group()


@commands.command("doctor")
@interruptible
def doctor(as_json: bool = typer.Option(False, "--json", help="Print JSON to stdout.")) -> None:
    """Check the build prerequisites, and name the packages that provide what is missing.

    Checks the compiler, make, pkg-config, headers, git, free disk, and what the JIT,
    --optimize max and sanitizer builds (+tsan, +asan, +ubsan: clang 19, compiler-rt,
    llvm-symbolizer, vm.mmap_rnd_bits) need. The packages are this release's (from
    /etc/os-release), naming any that its apt lacks and where to get it instead, else
    Debian/Ubuntu's and Fedora's; 'pybuild12 install --install-deps' installs them. Exit 0
    when nothing required is missing, 4 otherwise.
    """
    from pybuild12.builder import preflight  # lazy: the prerequisites, for this command only

    checks = preflight.doctor(str(settings().paths.data), settings().env)
    rows = preflight.merged(checks)
    if as_json:
        out.print_json(json.dumps({"ok": all(c.ok or not c.required for c in rows),
                                   "checks": [dataclasses.asdict(c) for c in rows]}))
    else:
        _show_doctor(rows, preflight.package_columns(rows), preflight.install_command(checks))
    if any(c.required and not c.ok for c in checks):
        raise typer.Exit(code=PrerequisiteError.exit_code)


def _show_doctor(rows: list[Check], packages: list[tuple[str, list[str]]], command: Optional[list[str]]) -> None:
    from pybuild12.cli import layout  # lazy: for the commands that print a report

    screen = layout.screen()
    statuses = ["ok" if c.ok else "missing" if c.required else "missing*" for c in rows]
    layout.table(screen, ["item", "status", "what: found", *(title for title, _ in packages)],
                 [(c.name, status, f"{c.what}: {c.detail}", *(column[i] for _, column in packages))
                  for i, (c, status) in enumerate(zip(rows, statuses, strict=True))],
                 {"ok": "green", "missing": "red", "missing*": "yellow"})
    if "missing*" in statuses:
        for line in layout.paragraph("* optional: needed only by some builds (JIT, --optimize max, sanitizers, "
                                     "optional modules)", screen.width):
            screen.print(line, soft_wrap=True, markup=False)
    if command:
        for line in [*layout.paragraph("to install what is missing (or: pybuild12 install --install-deps):",
                                       screen.width), *layout.command(command, screen.width)]:
            err.print(line, markup=False)


@commands.command("verify")
@interruptible
def verify(
    name: Optional[str] = typer.Argument(None, metavar="NAME", help=NAME_HELP),
    python: Optional[Path] = typer.Option(
        None, "--python", metavar="PATH",
        help="Verify this interpreter instead (any Python: a build, pyenv's, the system's).",
    ),
    full: bool = typer.Option(
        False, "--full", help="Also run CPython's own sub-interpreter regression tests (python -m test -u cpu).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object with every check to stdout."),
    workers: Optional[int] = typer.Option(
        None, "--workers", min=1, help="Workers for the parallelism check [default: min(CPUs, 4)].",
    ),
    files: bool = typer.Option(
        False, "--files",
        help="Instead: check the build's files against the sha256 manifest written when it was installed, naming "
        "every file changed, missing or added.",
    ),
    suite: bool = typer.Option(
        False, "--suite",
        help="Instead: run CPython's whole regression suite (python -m test) on the build, in parallel; about 8 "
        "minutes on 2 cores.",
    ),
    jobs: Optional[int] = typer.Option(
        None, "--jobs", "-j", min=1, help="With --suite: test files run at once [default: the CPU count].",
    ),
    test_timeout: float = typer.Option(
        SUITE_TEST_TIMEOUT, "--test-timeout", min=1,
        help="With --suite: seconds one test file may take before it counts as failed (timed out).",
    ),
    suite_args: str = typer.Option(
        "", "--suite-args", metavar="ARGS",
        help="With --suite: more arguments for python -m test, e.g. 'test_socket test_ssl' to run only those, "
        "'-x test_socket' to leave it out, '-u all' to enable every resource.",
    ),
) -> None:
    """Prove that sub-interpreters with their own GIL work in a build, and its variant.

    Checks, each passed, failed, skipped or inconclusive: modules, high-level API,
    test.support helper, lifecycle, messages, threads, clean exit, parallelism
    (own-GIL interpreters against threads and processes), and with --full CPython's
    own regression tests. Exit 0 when nothing failed, 7 otherwise.

    And the build's variant (an installed build must be the one it was asked to be):
    free-threaded builds, that the GIL stays off after importing the standard
    library's extension modules (naming any that turns it on) and that threads scale
    like processes; debug builds, sys.gettotalrefcount; JIT builds, that PYTHON_JIT=1
    turns the JIT on.

    With --files, instead: every file of the build against the sha256 manifest written
    when it was installed; lists each file changed, missing or added (a package
    pip-installed into the build shows as added). Exit 0 when all match, 7 otherwise.

    With --suite, instead: CPython's whole regression suite, without the environment
    variables that change what its tests see (each one named, with why). Each test file
    is passed, failed, skipped (platform, missing module, resource not enabled, other)
    or "environment": a failure known to come from the machine, not the build (VSOCK
    tests where a vsock device has no listener). Exit 0 when no file failed, 7 otherwise.
    """
    if suite:
        if files or full or workers:
            raise UsageError("--suite runs CPython's whole test suite: "
                             "give it without --files, --full or --workers")
        _verify_suite(name, python, as_json, jobs, test_timeout, suite_args)
        return
    if jobs or suite_args or test_timeout != SUITE_TEST_TIMEOUT:
        raise UsageError("--jobs, --test-timeout and --suite-args go with --suite")
    _verify(name, python, full, as_json, workers, files)


def _verify_suite(name: Optional[str], python: Optional[Path], as_json: bool, jobs: Optional[int], timeout: float,
                  suite_args: str) -> None:
    from pybuild12.checks import (
        suite as suite_runner,  # lazy: the regression suite, for this command only
        verify as verifier,  # lazy: as above
    )
    from pybuild12.cli.console import RichReporter  # lazy: rich's progress display

    if name is not None and python is not None:
        raise UsageError("give a build NAME or --python PATH, not both")
    try:
        args = shlex.split(suite_args)
    except ValueError as exc:
        raise UsageError(f"--suite-args: {exc}") from None
    target = verifier.interpreter(python) if python is not None else build(name).python
    paths = settings().paths
    log = paths.logs / f"suite-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    result = suite_runner.run(target, workers=jobs, timeout=timeout, args=args, log_path=log,
                              reporter=RichReporter(err.console))
    if as_json:
        out.print_json(json.dumps(result.as_json()))
    else:
        _print_suite(result)
    if not result.ok:
        raise typer.Exit(code=CheckError.exit_code)


def _provided_by(module: str) -> str:
    """' (libgdbm-compat-dev provides what it needs)' for a module the build lacks, if known."""
    from pybuild12.builder import preflight  # lazy: for this command only

    packages = preflight.packages_of_extension(module)
    return f" ({packages} provide(s) what it needs; install it and build again)" if packages else ""


def _print_suite(result: SuiteResult) -> None:
    from pybuild12.cli.console import duration  # lazy: beside rich's progress display

    counts = {s: len(result.by_status(s)) for s in ("passed", "failed", "environment", "skipped", "env changed")}
    out.print(f"CPython's test suite on {result.python}: {counts['passed']} of {result.total} files passed, "
              f"{counts['failed']} failed, {counts['environment']} failed because of the machine, "
              f"{counts['skipped']} skipped ({duration(result.seconds)}, {result.workers} at once)")
    if result.tests:
        out.print(f"tests: {escape(result.tests)}")
    if result.unset:
        out.print("unset for the run: " + "; ".join(f"{k} ({why})" for k, why in result.unset.items()))
    for f in result.by_status("failed"):
        cases = f": {', '.join(f.cases[:5])}" + (f" and {len(f.cases) - 5} more" if len(f.cases) > 5 else "") \
            if f.cases else ""
        out.print(f"[red]failed[/] {f.name}: {escape(f.detail)}{escape(cases)}")
    for f in result.by_status("environment"):
        out.print(f"[yellow]environment[/] {f.name} ({escape(', '.join(f.cases[:5]))}): {escape(f.why)}")
    if result.by_status("env changed"):
        out.print("env changed (passed, but left files, threads or processes behind): "
                  + ", ".join(f.name for f in result.by_status("env changed")))
    for category, subjects in sorted(result.skipped().items()):
        shown = (", ".join(sorted(n for names in subjects.values() for n in names)) if category == "platform" else
                 "; ".join(f"{subject}{_provided_by(subject) if category == 'missing module' else ''}: "
                           f"{', '.join(names)}" for subject, names in sorted(subjects.items())))
        out.print(f"skipped ({category}): {escape(shown)}")
    if len(result.files) < result.total:
        out.print(f"[red]only {len(result.files)} of {result.total} files reported a result[/]")
    out.print(f"log: {result.log}")


def _verify(name: Optional[str], python: Optional[Path], full: bool, as_json: bool, workers: Optional[int],
            files: bool) -> None:
    from rich.table import Table  # lazy: for this command only

    from pybuild12.checks import verify as verifier  # lazy: the checks, for this command only
    from pybuild12.request import variants  # lazy: as above

    if name is not None and python is not None:
        raise UsageError("give a build NAME or --python PATH, not both")
    if files:
        if python is not None or full:
            raise UsageError("--files checks an installed build: give its NAME, without --python or --full")
        _verify_files(build(name), as_json)
        return
    expect: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    if python is not None:
        target = verifier.interpreter(python)
    else:
        found = build(name)
        target, expect = found.python, found.variants
        required = found.receipt.required_modules if found.receipt else ()
    report = verifier.run(target, full=full, workers=workers, expect=expect, required=required)
    if as_json:
        out.print_json(json.dumps(report.as_json()))
    else:
        kind = "+".join(v for v in variants.ORDER if report.build.get(v)) or "default"
        table = Table(title=f"{report.python} ({report.version}, {kind} build)", title_justify="left", box=None)
        for col in ("check", "status", "reason"):
            table.add_column(col)
        colours = {"passed": "green", "failed": "red", "inconclusive": "yellow", "skipped": "dim"}
        for c in report.checks:
            table.add_row(c.name, f"[{colours.get(c.status, 'white')}]{c.status}[/]", escape(c.reason))
        out.print(table)
    if not report.ok:
        raise typer.Exit(code=CheckError.exit_code)


def _verify_files(installed: Installed, as_json: bool) -> None:
    from pybuild12.store import manifest  # lazy: for this command only

    found = manifest.compare(installed.prefix, installed.name)
    if as_json:
        out.print_json(json.dumps({"name": installed.name, "prefix": str(installed.prefix), **found.as_json()}))
    else:
        for label, items in (("changed", found.changed), ("missing", found.missing), ("added", found.added)):
            for item in items:
                out.print(f"{label:<8} {escape(item)}")
        summary = (f"{installed.name}: all {found.checked} files match the manifest" if found.ok else
                   f"{installed.name}: {len(found.changed)} changed, {len(found.missing)} missing, "
                   f"{len(found.added)} added (of {found.checked} files in the manifest)")
        err.print(f"[green]{escape(summary)}[/]" if found.ok else f"[red]{escape(summary)}[/]")
    if not found.ok:
        raise typer.Exit(code=CheckError.exit_code)


@commands.command("compat")
@interruptible
def compat(
    name: Optional[str] = typer.Argument(None, metavar="NAME", help=NAME_HELP),
    python: Optional[Path] = typer.Option(
        None, "--python", metavar="PATH", help="Scan this interpreter's environment instead (3.12+).",
    ),
    venv: Optional[Path] = typer.Option(
        None, "--venv", metavar="DIR", help="Scan this virtual environment (its bin/python).",
    ),
    module: List[str] = typer.Option(
        [], "--module", "-m", metavar="M",
        help="Probe only this module (e.g. lxml.etree); repeatable [default: every entry point and extension module "
        "of every installed distribution].",
    ),
    stdlib: bool = typer.Option(False, "--stdlib", help="Also probe the standard library's extension modules."),
    require: Optional[str] = typer.Option(
        None, "--require", metavar="WHAT",
        help="Exit 7 unless every package can run in parallel this way: subinterpreters or freethreading "
        "(for CI gates).",
    ),
    allow_fallback: bool = typer.Option(
        False, "--allow-fallback",
        help="With --require subinterpreters: let a package that runs only through its pure-Python fallback pass.",
    ),
    evidence: bool = typer.Option(
        False, "--evidence",
        help="Also show what each package's wheel and metadata claim: a free-threaded ABI tag (cp313t), "
        "the Free Threading classifier (always in --json).",
    ),
    refresh: bool = typer.Option(
        False, "--refresh", help="Probe every package again instead of answering from the kept results.",
    ),
    jobs: Optional[int] = typer.Option(
        None, "--jobs", "-j", min=1, help="Packages probed at once [default: the CPU count].",
    ),
    timeout: float = typer.Option(
        COMPAT_TIMEOUT, "--timeout", min=1, help="Seconds a module's import may take before it counts as hung.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object to stdout."),
) -> None:
    """Which of an environment's packages can run in sub-interpreters or without the GIL.

    Every entry point and every extension module of each distribution is imported in a
    child process of the environment's interpreter: in the main interpreter, in a
    sub-interpreter with its own GIL (PEP 684), in one sharing the main GIL, and on a
    free-threaded build with the GIL watched (PEP 703: an extension without Py_mod_gil
    turns it back on). A package that still runs is then used from a sub-interpreter and
    the main interpreter at once, and both are ended.

    \b
    Verdicts, worst first (a package gets its worst module's, naming it):
      crashes / hangs on import      the import kills or stalls the process
      refuses own-GIL sub-interpreters   ImportError: does not support loading in subinterpreters
      imports but fails in sub-interpreters
      crashes when used from two interpreters   e.g. an abort at exit
      runs only through its pure-Python fallback   its C part is refused and it silently
                                     does without (simplejson without _speedups); fails
                                     --require subinterpreters unless --allow-fallback
      runs in own-GIL sub-interpreters
    Without NAME, --python or --venv: the active virtual environment ($VIRTUAL_ENV), else
    the pinned build. Results are kept per interpreter, distribution, version and files
    (an editable install's sources by size and mtime): a second scan of an unchanged
    environment runs no child (about a second, most of it pybuild12's own start);
    --refresh probes again, 'pybuild12 cache clear' forgets them.
    """
    from rich.table import Table  # lazy: for this command only

    from pybuild12.checks import (
        compat as compat_verdicts,  # lazy: the scan, for this command only
        compatscan,  # lazy: as above
        verify as verifier,  # lazy: as above
    )
    from pybuild12.cli.console import RichReporter  # lazy: rich's progress display

    if sum(x is not None for x in (name, python, venv)) > 1:
        raise typer.BadParameter("give one of NAME, --python PATH or --venv DIR")
    if require is not None and require not in compat_verdicts.REQUIREMENTS:
        raise typer.BadParameter(f"--require takes one of: {', '.join(compat_verdicts.REQUIREMENTS)}")
    compat_verdicts.check_names(module)
    if allow_fallback and require != "subinterpreters":
        raise typer.BadParameter("--allow-fallback goes with --require subinterpreters")
    if name is None and python is None and venv is None and os.environ.get("VIRTUAL_ENV"):
        venv = Path(os.environ["VIRTUAL_ENV"])  # the active venv, as pip and python would use
    if python is not None:
        target = verifier.interpreter(python)
    elif venv is not None:
        target = venv / "bin" / "python"
        if not target.is_file():
            raise typer.BadParameter(f"no interpreter at {target} (not a virtual environment?)")
    else:
        target = build(name).python
    reporter = RichReporter(err.console)
    outcome = compatscan.scan(target, cache_dir=settings().paths.cache / "compat", modules=module, stdlib=stdlib,
                               jobs=jobs, timeout=timeout, refresh=refresh,
                               on_result=lambda p, done, total: reporter.status(
                                   f"{done}/{total} {p.name}: {p.reason()}"))
    if require == "freethreading" and not outcome.free_threaded:
        raise CheckError(f"{target} is not a free-threaded build: --require freethreading needs one",
                         hint="build one with 'pybuild12 install 3.14t' and scan a venv of it")
    if as_json:
        out.print_json(json.dumps(outcome.as_json()))
    else:
        table = Table(title=f"{target} ({outcome.python.get('version')}"
                      f"{', free-threaded' if outcome.free_threaded else ''})", title_justify="left", box=None)
        columns = ["package", "version", "modules", "sub-interpreters"] + (["GIL"] if outcome.free_threaded else [])
        columns += ["wheel", "classifier"] if evidence else []
        for col in columns:
            table.add_column(col)
        for p in outcome.packages:
            row = [p.name, p.version or p.origin, str(len(p.modules)), p.reason()]
            row += [p.reason("freethreading")] if outcome.free_threaded else []
            row += list(compat_verdicts.evidence_words(p)) if evidence else []
            table.add_row(*map(escape, row))
        out.print(table)
        for line in outcome.summary():
            out.print(escape(line))
        if outcome.cached:
            err.print(f"{outcome.cached} of {len(outcome.packages)} result{'s' * (len(outcome.packages) != 1)} "
                      "from the cache (--refresh probes again)")
    short = outcome.failing(require, allow_fallback=allow_fallback) if require is not None else []
    if short:
        err.print(f"error: --require {require}: {len(short)} package{'s' * (len(short) != 1)} fall"
                  f"{'s' * (len(short) == 1)} short: {escape(', '.join(p.name for p in short))}")
        raise typer.Exit(code=CheckError.exit_code)
