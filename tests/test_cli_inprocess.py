"""The command line driven in this process through typer's CliRunner: the same messages,
streams and exit codes as from a shell (tests/test_cli.py runs it as a child process)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

import pybuild12
from helpers import fake_build
from pybuild12 import install as installer
from pybuild12.builder import preflight
from pybuild12.checks import compat, suite
from pybuild12.cli import app as cli_app, checks as cli_checks
from pybuild12.core.errors import CheckError
from pybuild12.devenv import shellenv
from pybuild12.install import bisecting
from pybuild12.request import recipes
from pybuild12.store import registry


def invoke(*args: str):
    try:
        runner = CliRunner(mix_stderr=False)  # click before 8.2 (typer before 0.16) mixes stderr in by default
    except TypeError:
        runner = CliRunner()  # click 8.2 and typer's own copy of click keep them apart, always
    return runner.invoke(cli_app.app, list(args))


@pytest.fixture
def builds(paths):
    """3.13.5, 3.13.10 and a free-threaded 3.13.11, as name resolution sees them."""
    fake_build(paths, "3.13.5", "3.13.5")
    fake_build(paths, "3.13.10", "3.13.10")
    fake_build(paths, "3.13.11+freethreaded", "3.13.11", ("freethreaded",))
    return paths


@pytest.fixture
def executed(monkeypatch):
    """What `run` hands to exec: (python, args), recorded instead of replacing this process."""
    calls: list[tuple[Path, list[str]]] = []
    monkeypatch.setattr(shellenv, "exec_python", lambda python, args: calls.append((python, list(args))))
    return calls


@pytest.fixture
def no_build(monkeypatch):
    """`install` stops where the build would start: a CheckError (exit 7) that records the options."""
    seen = []

    def stop(spec, options, **kwargs):
        seen.append(options)
        raise CheckError("stopped before building")

    monkeypatch.setattr(installer, "install", stop)
    monkeypatch.setattr(installer, "installed_as_asked", lambda *a, **k: pytest.fail("--install-deps not given"))
    return seen


def test_help_lists_the_commands_in_order_and_the_exit_codes():
    out = invoke("--help")
    assert out.exit_code == 0, out.output
    section = out.stdout.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    listed = [line.split()[0] for line in section.splitlines() if not line.startswith("   ")]
    assert listed == ["install", "list", "uninstall", "which", "key", "bisect", "run", "venv", "env", "pin", "doctor",
                      "verify", "compat", "cache", "profile"]
    assert "Exit codes:" in out.stdout and "8 no such build installed" in " ".join(out.stdout.split())


# Commands whose module has yet to give them pybuild12.cli.usage.PlainUsage (cls=...).
USAGE_PENDING: dict[str, str] = {}  # a command's name: why its usage line is not plain yet


def _every_command():
    """(the click command, its context) for the app and every command and subcommand under
    it, as --help shows them."""
    found = []

    def walk(command, ctx, words):
        name = " ".join(words) or "pybuild12"
        pending = [pytest.mark.xfail(strict=True, reason=USAGE_PENDING[name])] if name in USAGE_PENDING else []
        found.append(pytest.param(command, ctx, id=name, marks=pending))
        for name in command.list_commands(ctx) if hasattr(command, "list_commands") else []:
            sub = command.get_command(ctx, name)
            walk(sub, sub.context_class(sub, info_name=name, parent=ctx), (*words, name))

    root = typer.main.get_command(cli_app.app)
    walk(root, root.context_class(root, info_name="pybuild12"), ())
    return found


@pytest.mark.parametrize("command, ctx", _every_command())
def test_every_usage_line_names_its_arguments_plainly_and_once(command, ctx):
    usage = " ".join(command.get_usage(ctx).split())
    assert "{" not in usage and "[directory]" not in usage, usage
    arguments = usage.split(ctx.command_path, 1)[1].replace(command.options_metavar or "", "", 1)
    names = re.findall(r"[A-Za-z]\w*", arguments)
    assert all(name.isupper() for name in names) and len(names) == len(set(names)), usage
    summary = (command.help or "").split("\n\n", 1)[0].strip()
    assert summary and "\n" not in summary and len(summary) <= 120, f"not one line: {summary!r}"


def test_venv_takes_a_name_and_a_directory_and_no_more(builds, tmp_path):
    out = invoke("venv", "3.13.5", str(tmp_path / "a"), str(tmp_path / "b"))
    assert out.exit_code == 2 and "venv takes [NAME] DIR, not 3 words" in out.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_version_is_the_package_version():
    out = invoke("--version")
    assert out.exit_code == 0 and out.stdout == f"pybuild12 {pybuild12.__version__}\n"


def test_unknown_recipe_exits_3_with_the_hint_on_stderr():
    out = invoke("install", "3.13.55")
    assert out.exit_code == 3
    assert "unknown recipe '3.13.55'" in out.stderr and "did you mean 3.13.5" in out.stderr
    assert out.stdout == ""


def test_which_finds_the_newest_build_of_a_line_and_kind(builds):
    for request, name in (("3.13", "3.13.10"), ("3.13t", "3.13.11+freethreaded"), ("3.13.5", "3.13.5")):
        out = invoke("which", request)
        assert out.exit_code == 0, (request, out.stderr)
        assert out.stdout == f"{builds.prefix(name) / 'bin' / 'python3'}\n", request


def test_a_core_error_has_its_exit_code_and_message():
    out = invoke("which", "3.13.5")
    assert out.exit_code == 8
    assert "error: no build named '3.13.5' is installed" in out.stderr and "pybuild12 install 3.13.5" in out.stderr
    assert out.stdout == ""


def test_list_json_shows_the_builds_and_the_recipes(builds):
    out = invoke("list", "--json")
    assert out.exit_code == 0, out.stderr
    data = json.loads(out.stdout)
    installed = {b["name"]: b for b in data["installed"]}
    assert sorted(installed) == ["3.13.10", "3.13.11+freethreaded", "3.13.5"]
    assert installed["3.13.11+freethreaded"]["variants"] == ["freethreaded"]
    assert installed["3.13.10"]["python"] == str(builds.prefix("3.13.10") / "bin" / "python3")
    assert [r["name"] for r in data["recipes"]] == recipes.available()


def test_run_gives_python_every_argument_after_the_name(builds, executed):
    python = builds.prefix("3.13.5") / "bin" / "python3"
    for args, seen in [
        (["3.13.5", "-c", "pass", "--help"], ["-c", "pass", "--help"]),
        (["3.13.5", "--", "-c", "pass", "--version"], ["-c", "pass", "--version"]),
        (["3.13.5", "--", "show.py", "--help", "--"], ["show.py", "--help", "--"]),
        (["3.13.5", "-m", "json.tool", "--help"], ["-m", "json.tool", "--help"]),
    ]:
        executed.clear()
        out = invoke("run", *args)
        assert out.exit_code == 0, (args, out.stderr)
        assert executed == [(python, seen)], args


def test_run_without_a_name_runs_the_pinned_build(builds, executed, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYBUILD12_VERSION", "3.13")
    python = builds.prefix("3.13.10") / "bin" / "python3"
    for args, seen in [(["-c", "pass", "--help"], ["-c", "pass", "--help"]), (["--", "--help"], ["--help"]),
                       (["script.py", "--debug"], ["script.py", "--debug"])]:
        executed.clear()
        out = invoke("run", *args)
        assert out.exit_code == 0, (args, out.stderr)
        assert executed == [(python, seen)], args


def test_run_help_alone_is_pybuild12s(executed):
    out = invoke("run", "--help")
    assert out.exit_code == 0 and "Every argument after NAME" in out.stdout and "run [NAME] [--] [ARGS]" in out.stdout
    assert executed == []


@pytest.mark.parametrize("given, said", [
    (["--lto", "--no-lto"], "--lto and --no-lto exclude each other"),
    (["--no-pgo", "--pgo"], "--pgo and --no-pgo exclude each other"),
    (["--push", "--no-cache"], "--push and --no-cache exclude each other"),
    (["--compile-bytecode", "--no-compile-bytecode"],
     "--compile-bytecode and --no-compile-bytecode exclude each other"),
    (["--fresh-profile", "--pgo-profile=" + __file__], "--pgo-profile and --fresh-profile exclude each other"),
])
def test_options_that_exclude_each_other_are_refused(given, said, no_build):
    out = invoke("install", "3.13.5", *given)
    assert out.exit_code == 2 and said in out.stderr, out.stderr
    assert no_build == []


def test_one_of_a_pair_alone_reaches_the_install(no_build):
    out = invoke("install", "3.13.5", "--no-lto", "--pgo")
    assert out.exit_code == CheckError.exit_code and "stopped before building" in out.stderr
    assert [(o.lto, o.optimizations) for o in no_build] == [(False, True)]
    for given, asked in ((["--no-compile-bytecode"], False), (["--compile-bytecode"], True), ([], None)):
        invoke("install", "3.13.5", *given)
        assert no_build[-1].compile_bytecode is asked


def test_bisect_passes_the_bytecode_option_on(monkeypatch):
    seen = []

    def start(self, spec, good, bad, command, *, cwd, fixed=False, keep=None, options=None):
        seen.append(options)
        raise CheckError("stopped before bisecting")

    monkeypatch.setattr(bisecting.Bisect, "start", start)
    for given, asked in ((["--compile-bytecode"], True), (["--no-compile-bytecode"], False), ([], None)):
        out = invoke("bisect", "main", "--good", "a", "--bad", "b", *given, "--", "true")
        assert out.exit_code == CheckError.exit_code and "stopped before bisecting" in out.stderr, out.stderr
        assert seen[-1].compile_bytecode is asked


@pytest.mark.parametrize("command", ["install", "key", "bisect"])
def test_the_bytecode_option_says_its_default(command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # one line per option: the help's words unbroken
    out = invoke(command, "--help")
    assert out.exit_code == 0 and "--compile-bytecode" in out.stdout and "--no-compile-bytecode" in out.stdout
    text = " ".join(out.stdout.split())
    said = ("default: not" if command == "bisect" else "default: compile, except +debug and sanitizer builds")
    assert said in text, text


def test_an_unexpected_error_is_one_line_and_a_log_naming_the_command(monkeypatch, pybuild12_home):
    def broken(paths):
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr(registry, "installed", broken)
    out = invoke("list", "--json")
    assert out.exit_code == 1 and "unexpected RuntimeError: something nobody foresaw" in out.stderr
    assert "Traceback" not in out.stderr
    log = next((pybuild12_home / "logs").glob("pybuild12-error-*.log"))
    assert log.read_text().splitlines()[0] == f"pybuild12 {pybuild12.__version__}: pybuild12 list --json"


def test_the_timeouts_shown_as_defaults_are_the_checks_own():
    assert cli_checks.SUITE_TEST_TIMEOUT == suite.TEST_TIMEOUT
    assert cli_checks.COMPAT_TIMEOUT == compat.TIMEOUT


# doctor's rows as a machine without LLVM 18 and without OpenSSL's headers shows them, with
# the longest words it prints: a program's path, a data directory, package names.
DOCTOR_ROWS = [
    preflight.Check("cc", "C compiler", True, True, "cc", "build-essential", "gcc"),
    preflight.Check("ssl", "<openssl/ssl.h>", False, True, "not found by the C preprocessor", "libssl-dev",
                    "openssl-devel"),
    preflight.Check("readline", "<readline/readline.h>", True, True, "found", "libreadline-dev", "readline-devel"),
    preflight.Check("clang-18", "clang 18 (JIT of 3.13)", False, False,
                    "neither clang-18 nor a clang of LLVM 18 on PATH", "clang-18", "clang(major) = 18", "jit", 18),
    preflight.Check("rt-tsan", "compiler-rt: -fsanitize=thread", False, False,
                    "clang-19 -fsanitize=thread could not link a program: /usr/bin/ld: cannot find "
                    "libclang_rt.tsan-x86_64.a", "libclang-rt-19-dev", "compiler-rt", "sanitizers", 19),
    preflight.Check("llvm-symbolizer-19", "llvm-symbolizer (function names in reports)", True, False,
                    "/usr/lib/llvm-19/bin/llvm-symbolizer", "llvm-19", "llvm"),
    preflight.Check("disk", "free space at /home/someone/.local/share/pybuild12", True, True,
                    "74.8 GiB free (a build needs about 5 GiB while it runs)", "-", "-"),
]
DOCTOR_COMMAND = ["sudo", "apt-get", "install", "-y", "clang-18", "libclang-rt-19-dev", "libssl-dev", "llvm-18",
                  "libreadline-dev", "libncurses-dev", "libgdbm-compat-dev"]
ONE_COLUMN = [("Debian bookworm", [c.debian + (" (apt.llvm.org)" if c.llvm == 18 else "") for c in DOCTOR_ROWS])]
TWO_COLUMNS = [("Debian/Ubuntu", [c.debian for c in DOCTOR_ROWS]), ("Fedora", [c.fedora for c in DOCTOR_ROWS])]


@pytest.mark.parametrize("columns", [60, 80, 200])
@pytest.mark.parametrize("packages", [ONE_COLUMN, TWO_COLUMNS], ids=["one package column", "two"])
def test_doctor_fits_the_width_without_breaking_a_word(columns, packages, monkeypatch):
    monkeypatch.setattr(preflight, "doctor", lambda *args, **kwargs: DOCTOR_ROWS)
    monkeypatch.setattr(preflight, "package_columns", lambda rows, env=None: packages)
    monkeypatch.setattr(preflight, "install_command", lambda checks, **kwargs: DOCTOR_COMMAND)
    monkeypatch.setenv("COLUMNS", str(columns))
    out = invoke("doctor")
    assert out.exit_code == 4, out.output
    lines = out.stdout.splitlines() + out.stderr.splitlines()
    assert max(len(line) for line in lines) <= columns, "\n" + "\n".join(lines)
    cells = [cell for _, column in packages for cell in column]
    words = {w for c in DOCTOR_ROWS for w in f"{c.name} {c.what}: {c.detail}".split()}
    words |= {w for cell in cells for w in cell.split()} | {title for title, _ in packages}
    broken = [w for w in words if not any(w in line for line in lines)]
    assert not broken, "\n" + "\n".join(lines)
    # Each row begins after a one-space margin, the footnote ("* optional") at the edge, and
    # what either continues on its next lines is indented.
    starts = [line.split()[0] for line in out.stdout.splitlines() if line[1:2].strip() or line[:1] == "*"]
    assert starts == ["item", *(c.name for c in DOCTOR_ROWS), "*"], "\n" + "\n".join(lines)
    command = " ".join(out.stderr.replace("\\\n", " ").split())  # continued lines, as a shell reads them
    assert shlex.join(DOCTOR_COMMAND) in command and "--install-deps" in command
