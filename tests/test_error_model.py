"""One error model for every command: the same mistake gets the same exit code and the same
words whichever command it was made in, before any work, with --json one JSON document on
stdout; and nothing a user passes on (to configure, to regrtest) is silently dropped.

A table of commands x mistakes, run through the app in this process (as typer's CliRunner
runs it: the app's own error handling and exit codes); tests/test_user_errors.py runs
mistakes through a child process, as from a shell.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakecpython import HOST, make_recipe, make_tarball, needs_host_interpreters
from pybuild12.cli import app as cli_app

# Every command that takes a build name or a recipe, and how to give it one (NAME is
# replaced by the name); the commands that take none are in NO_NAME.
NAMED = {
    "install": ["install", "NAME"],
    "key": ["key", "NAME"],
    "pin": ["pin", "NAME"],
    "which": ["which", "NAME"],
    "env": ["env", "NAME"],
    "venv": ["venv", "NAME", "DIR"],
    "uninstall": ["uninstall", "NAME"],
    "verify": ["verify", "NAME"],
    "verify --files": ["verify", "--files", "NAME"],
    "compat": ["compat", "NAME"],
    "cache export": ["cache", "export", "NAME", "--to", "DIR"],
    "profile export": ["profile", "export", "NAME", "DIR/p.tar"],
    "run": ["run", "NAME", "--", "-c", "pass"],
    "bisect": ["bisect", "NAME", "--good", "a", "--bad", "b", "--", "true"],
}
NO_NAME = {
    "list": ["list"], "doctor": ["doctor"], "cache list": ["cache", "list"], "cache import": ["cache", "import", "DIR"],
    "cache trust": ["cache", "trust", "k:AAAA"], "cache keygen": ["cache", "keygen"], "cache clear": ["cache", "clear"],
    "cache prune": ["cache", "prune"], "profile list": ["profile", "list"],
}

# mistake: (the name given, exit code, words every command says)
MISTAKES = {
    "malformed name": ("two words", 2, "invalid build name 'two words'"),
    "unknown variant": ("3.13.5+fast", 2, "unknown build variant 'fast' in '3.13.5+fast'"),
    "too old": ("3.11", 3, "CPython 3.11 predates per-interpreter GILs (PEP 684, CPython 3.12)"),
    "too old, free-threaded": ("3.11t", 3, "CPython 3.11 predates per-interpreter GILs (PEP 684, CPython 3.12)"),
    "a path": ("/etc", 2, "invalid build name '/etc'"),
    "a relative path": ("../x", 2, "invalid build name '../x'"),
    "empty": ("", 2, "invalid build name ''"),
    "conflicting variants": ("3.13.5+tsan+asan", 2, "+tsan and +asan cannot be built together"),
}


def pybuild12(args: list[str], home: Path, cwd: Path) -> subprocess.CompletedProcess:
    """The command run in this process (typer's CliRunner: the app's own error handling,
    streams and exit codes, a tenth of a child process's time), from `cwd`."""
    try:
        runner = CliRunner(mix_stderr=False)  # click before 8.2 mixes stderr in by default
    except TypeError:
        runner = CliRunner()
    # VIRTUAL_ENV: the test run's own venv (scripts/test activates it) would answer `compat`
    env = {"PYBUILD12_HOME": str(home), "PYBUILD12_MIRROR": str(cwd / "no-mirror"), "COLUMNS": "200",
           "PYBUILD12_VERSION": None, "VIRTUAL_ENV": None}
    before = os.getcwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(cli_app.app, args, env=env)
    finally:
        os.chdir(before)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def words(template: list[str], name: str, directory: Path) -> list[str]:
    return [name if w == "NAME" else w.replace("DIR", str(directory)) for w in template]


@pytest.mark.parametrize("mistake", MISTAKES)
@pytest.mark.parametrize("command", NAMED)
def test_the_same_mistake_gets_the_same_answer_in_every_command(command, mistake, tmp_path):
    name, code, said = MISTAKES[mistake]
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    cwd.mkdir()
    args = words(NAMED[command], name, tmp_path / "out")
    out = pybuild12(args, home, cwd)
    assert (out.returncode, said in out.stderr) == (code, True), (args, out.stderr)
    assert "Traceback" not in out.stderr and out.stderr.count("error:") == 1
    assert not home.exists() or not any((home / "data").rglob("*")), "nothing written for a mistake"
    assert not (tmp_path / "out").exists() and list(cwd.iterdir()) == []


@pytest.mark.parametrize("command", [c for c in (*NAMED, *NO_NAME) if c not in ("run",)])
def test_a_mistyped_option_is_a_usage_error_in_every_command(command, tmp_path):
    template = {**NAMED, **NO_NAME}[command]
    args = [*words(template, "3.13.5", tmp_path / "out"), "--forse"]
    if "--" in args:  # before the COMMAND's own words
        args.insert(args.index("--"), args.pop())
    out = pybuild12(args, tmp_path / "home", tmp_path)
    assert out.returncode == 2 and "No such option: --forse" in out.stderr, (args, out.stderr)


@pytest.mark.parametrize("command", ["install", "key", "verify", "compat", "list", "doctor", "cache list", "bisect"])
def test_with_json_an_error_is_one_json_document_on_stdout(command, tmp_path):
    template = {**NAMED, **NO_NAME}[command]
    cases = [[*words(template, "3.11", tmp_path / "out"), "--json"], [*words(template, "3.13.5", tmp_path), "--json",
                                                                       "--bogus"]]
    if command in NO_NAME:
        cases = [[*template, "--json", "--bogus"]]
    for args in cases:
        if "--" in args:
            args = [a for a in args if a not in ("--json", "--bogus")]
            args[args.index("--"):args.index("--")] = ["--json", "--bogus"]
        out = pybuild12(args, tmp_path / "home", tmp_path)
        assert out.returncode in (2, 3), (args, out.stderr)
        document = json.loads(out.stdout)  # exactly one document, nothing else
        assert document["ok"] is False and document["exit_code"] == out.returncode and document["error"]
        assert document["error"] in out.stderr or document["error"].split(":")[0] in out.stderr


def test_run_s_words_after_its_name_are_the_python_s(tmp_path):
    """`run` takes no --json: after NAME every word is the python's, and a first word that
    can only be the python's (a script, an option) is not a NAME; with nothing pinned there
    is no python to give it to."""
    out = pybuild12(["run", "/etc/script.py", "--json"], tmp_path / "home", tmp_path)
    assert out.returncode == 2 and "nothing named, and nothing pinned" in out.stderr and out.stdout == ""


def test_run_gives_a_json_word_to_the_python_not_to_itself(tmp_path):
    out = pybuild12(["run", "3.11", "--", "--json"], tmp_path / "home", tmp_path)
    assert out.returncode == 3 and out.stdout == ""


# ------------------------------------------------------------------ pass-through options


@pytest.fixture
def fake(tmp_path):
    tarball, sha = make_tarball(tmp_path / "src", mark="one")
    return make_recipe(tmp_path, tarball, sha)


@needs_host_interpreters
@pytest.mark.parametrize("command", ["install", "key"])
def test_a_mistyped_configure_option_is_refused_before_configure_runs(command, fake, tmp_path):
    """configure only warns of an option it does not know and builds without it."""
    home = tmp_path / "home"
    out = pybuild12([command, str(fake), "--configure-opt=--enable-optimisations", "--configure-opt=--with-pydebug"],
                    home, tmp_path)
    assert out.returncode == 2, out.stderr
    assert "configure does not know this option: --enable-optimisations (did you mean --enable-optimizations?)" \
        in out.stderr
    assert not (home / "data" / "pythons" / "fake").exists() and not list(home.rglob("configure-args.txt"))
    env_typo = subprocess.run(
        [sys.executable, "-m", "pybuild12", command, str(fake)], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYBUILD12_HOME": str(home), "PYBUILD12_CONFIGURE_OPTS": "--with-pydebg"})
    assert env_typo.returncode == 2 and "--with-pydebg (did you mean --with-pydebug?)" in env_typo.stderr


@needs_host_interpreters
@pytest.mark.parametrize("command", ["install", "key"])
def test_a_mistyped_configure_option_beside_an_installed_build_is_said_as_a_typo(command, fake, tmp_path):
    """Not "the installed build lacks --enable-optimisations, add --force": --force would then
    fail on the typo."""
    home = tmp_path / "home"
    made = pybuild12(["install", str(fake), "--no-pgo", "--no-verify"], home, tmp_path)
    assert made.returncode == 0, made.stderr
    out = pybuild12([command, str(fake), "--configure-opt=--enable-optimisations"], home, tmp_path)
    assert out.returncode == 2 and "did you mean --enable-optimizations?" in out.stderr, out.stderr
    assert "installed build lacks" not in out.stderr


@needs_host_interpreters
def test_a_recipe_s_own_configure_args_are_checked_too(tmp_path):
    tarball, sha = make_tarball(tmp_path / "src", mark="one")
    recipe = make_recipe(tmp_path, tarball, sha, build='configure-args = ["--enable-share"]\n')
    out = pybuild12(["install", str(recipe)], tmp_path / "home", tmp_path)
    assert out.returncode == 2 and "--enable-share (did you mean --enable-shared?)" in out.stderr, out.stderr


@pytest.mark.skipif(HOST is None, reason="needs a CPython 3.12+ with its test package (pyenv's 3.12.1 or 3.13.0)")
def test_mistyped_suite_args_are_refused_before_the_suite_runs(tmp_path):
    out = pybuild12(["verify", "--suite", "--python", HOST, "--suite-args", "--verbos test_int"], tmp_path / "h",
                    tmp_path)
    assert out.returncode == 2, out.stderr
    assert "--suite-args: python -m test refuses them" in out.stderr and "--verbos" in out.stderr
    assert "suite:" not in out.stderr  # the suite never started


# A setting that does not parse is refused before any work, naming it, in every command
# that builds (some are read only minutes in: the step timeout at configure).
SETTINGS = {
    "PYBUILD12_HTTP_TIMEOUT": "abc",
    "PYBUILD12_STEP_TIMEOUT": "-3",
    "SOURCE_DATE_EPOCH": "yesterday",
    "PYBUILD12_CONFIGURE_OPTS": "'unclosed",
    "PYBUILD12_CACHE_TRUST": "zz",
    "PYBUILD12_CACHE_URL": "cache.example.com/store",
}


@needs_host_interpreters
@pytest.mark.parametrize("command, variable", [(c, v) for c in ("install", "key") for v in SETTINGS
                                               if (c, v) != ("key", "PYBUILD12_CACHE_TRUST")])  # key reads no trust
def test_a_setting_that_does_not_parse_is_a_usage_error_before_any_work(command, variable, fake, tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "PYBUILD12_HOME": str(home), variable: SETTINGS[variable]}
    if variable == "PYBUILD12_CACHE_TRUST":
        env["PYBUILD12_CACHE_URL"] = "http://127.0.0.1:9/store"  # the trust list is read for a store only
    out = subprocess.run([sys.executable, "-m", "pybuild12", command, str(fake)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 2 and variable in out.stderr, out.stderr
    assert not list(home.rglob("*.tar.gz")) and not list(home.rglob("configure-args.txt"))


def test_the_readme_s_set_up_offers_a_short_build_with_measured_times():
    """A first try needs a short build, the two settings a first try meets, and build
    times stated as measured (a figure of benchmarks/RESULTS.md), not guessed."""
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text("utf-8")
    setup = readme[readme.index("## Set-up on a fresh machine"):readme.index("## Using it")]
    assert "scripts/setup 3.13.5 --no-pgo" in setup
    assert "PYBUILD12_MIRROR" in setup and "PYBUILD12_HOME" in setup
    # every "N to M s" build time in the README is, rounded, a measured figure of RESULTS.md
    measured = {round(float(f)) for f in re.findall(r"(\d+\.\d) s\b", (root / "benchmarks" / "RESULTS.md").read_text())}
    quoted = re.findall(r"(\d+) to (\d+) s\b", readme)
    assert quoted and all({int(low), int(high)} <= measured for low, high in quoted), (quoted, sorted(measured))
    assert "about 2.5 minutes" not in readme  # a figure nobody measured


# The commands that, given no name, take the pin: a bad pin is the same mistake as a bad
# name, said with where it was pinned; no name and no pin is one mistake too.
UNNAMED = {"install": ["install"], "key": ["key"], "which": ["which"], "env": ["env"], "verify": ["verify"],
           "compat": ["compat"], "run": ["run", "-c", "pass"], "venv": ["venv", "DIR"]}
PINS = {
    "malformed pin": ("../x", 2, "invalid build name '../x'"),
    "unknown variant pinned": ("3.13.5+fast", 2, "unknown build variant 'fast' in '3.13.5+fast'"),
    "too old pinned": ("3.11", 3, "CPython 3.11 predates per-interpreter GILs (PEP 684, CPython 3.12)"),
    "nothing pinned": (None, 2, "nothing named, and nothing pinned"),
}


@pytest.mark.parametrize("pin", PINS)
@pytest.mark.parametrize("command", UNNAMED)
def test_a_bad_pin_gets_the_answer_the_name_gets(command, pin, tmp_path):
    value, code, said = PINS[pin]
    cwd = tmp_path / "project"
    cwd.mkdir()
    if value is not None:
        (cwd / ".python-version").write_text(value + "\n")
    out = pybuild12(words(UNNAMED[command], "", tmp_path / "venv"), tmp_path / "home", cwd)
    assert (out.returncode, said in out.stderr) == (code, True), (command, out.stderr)
    if value is not None:  # the error line says where the name came from
        assert f"pinned by {cwd / '.python-version'}" in out.stderr.split("error:")[1], out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "venv").exists()
