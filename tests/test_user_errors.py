"""Mistakes a user can make at the command line: each one gets a clear message, the
documented exit code, no traceback, and nothing written where it should not be."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fakecpython import HOST, HOST_MINOR, make_recipe, make_tarball, needs_host_interpreters
from pybuild12 import cli as cli_module
from pybuild12 import preflight
from pybuild12 import verify as verifier
from pybuild12.errors import EXIT_CODES, PrerequisiteError, UsageError

ROOT = Path(__file__).resolve().parent.parent
BAD_NAMES = ["a" * 300, "", "/etc", "../../x", "-", ".hidden", "two words", "x\udcff"]
NAME_COMMANDS = [["which"], ["env"], ["verify"], ["verify", "--files"], ["uninstall"], ["pin"], ["compat"],
                 ["profile", "export"]]


def cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    argv = [os.fsencode(a) for a in (sys.executable, "-m", "pybuild12", *args)]
    proc = subprocess.run(argv, capture_output=True, env={**os.environ, **(env or {})}, cwd=cwd)
    return subprocess.CompletedProcess(args, proc.returncode, proc.stdout.decode(errors="replace"),
                                       proc.stderr.decode(errors="replace"))


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*")) if root.exists() else []


@pytest.mark.parametrize("command", NAME_COMMANDS, ids=" ".join)
def test_every_command_refuses_a_malformed_name_before_touching_anything(command, pybuild12_home, tmp_path):
    extra = [str(tmp_path / "out")] if command[0] == "profile" else []
    for bad in BAD_NAMES:
        out = cli(*command, *(["--", bad] if bad.startswith("-") else [bad]), *extra, cwd=tmp_path)
        assert out.returncode == 2, (bad, out.stderr)
        assert "invalid build name" in out.stderr and "Traceback" not in out.stderr, (bad, out.stderr)
        assert len(out.stderr) < 600, out.stderr  # a 300-character name is shortened, not echoed whole
    assert files_under(pybuild12_home) == [] and list(tmp_path.iterdir()) == []
    assert not Path("/etc.lock").exists()


def test_install_refuses_a_malformed_build_name(pybuild12_home):
    for bad in ("", "../../x", "a" * 300, "x\udcff"):
        out = cli("install", "3.13.5", "--name", bad)
        assert out.returncode == 2 and "invalid build name" in out.stderr, (bad, out.stderr)
    assert files_under(pybuild12_home) == []


def test_a_home_that_is_a_file_is_named_without_a_traceback(tmp_path):
    home = tmp_path / "home"
    home.write_text("not a directory")
    for args in (["install", "3.13.5"], ["list"], ["which", "3.13.5"], ["cache", "list"]):
        out = cli(*args, env={"PYBUILD12_HOME": str(home)})
        assert out.returncode == 10, (args, out.stderr)
        assert f"{home} is a file, not a directory" in out.stderr and "Traceback" not in out.stderr
    assert home.read_text() == "not a directory"


BUG = ("import sys; from pybuild12 import cli, registry\n"
       "def broken(paths): raise RuntimeError('something nobody foresaw')\n"
       "registry.installed = broken\n"
       "sys.argv = ['pybuild12', *sys.argv[1:]]\n"
       "cli.main()\n")


def test_an_unexpected_error_is_one_line_and_a_log(pybuild12_home):
    proc = subprocess.run([sys.executable, "-c", BUG, "list"], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "unexpected RuntimeError: something nobody foresaw" in proc.stderr and "--debug" in proc.stderr
    log = Path(re.search(r"log: (\S+)", proc.stderr).group(1))
    assert log.parent == pybuild12_home / "logs"
    assert "Traceback" in log.read_text() and "def broken" not in log.read_text() and "broken" in log.read_text()

    debug = subprocess.run([sys.executable, "-c", BUG, "--debug", "list"], capture_output=True, text=True)
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert "log: " in debug.stderr


def test_output_into_a_closed_pipe_is_not_an_error(pybuild12_home):
    for command in ("list", "list --json", "doctor"):
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", f"{sys.executable} -m pybuild12 {command} | head -1"],
                              capture_output=True, text=True)
        assert proc.returncode in (0, 4), (command, proc.stderr)  # doctor: 4 when something is missing
        assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr and "Exception" not in proc.stderr
        assert len(proc.stdout.splitlines()) == 1


# ------------------------------------------------------------------ pin


def test_pin_refuses_a_name_that_is_neither_built_nor_a_recipe(pybuild12_home, tmp_path):
    out = cli("pin", "bogus", cwd=tmp_path)
    assert out.returncode == 8 and "No recipe is named bogus either" in out.stderr
    assert not (tmp_path / ".python-version").exists()
    forced = cli("pin", "bogus", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and (tmp_path / ".python-version").read_text() == "bogus\n"
    assert "no recipe builds it" in forced.stderr


def test_pin_says_which_pin_it_replaced(pybuild12_home, tmp_path):
    (tmp_path / ".python-version").write_text("3.12.1\n")  # as pyenv writes it
    out = cli("pin", "3.13", cwd=tmp_path)
    assert out.returncode == 0 and "replacing 3.12.1" in out.stderr
    assert "'pybuild12 install 3.13' builds it" in out.stderr
    assert (tmp_path / ".python-version").read_text() == "3.13\n"


# ------------------------------------------------------------------ hints that can work


def test_not_installed_suggests_install_only_for_a_recipe(pybuild12_home):
    unknown = cli("which", "3.12.1")
    assert unknown.returncode == 8
    assert "install 3.12.1" not in unknown.stderr and "No recipe is named 3.12.1 either" in unknown.stderr
    alias = cli("which", "3.13")
    assert alias.returncode == 8 and "'pybuild12 install 3.13' builds it (as 3.13.18)" in alias.stderr


def test_run_with_python_arguments_and_nothing_pinned_says_how(pybuild12_home, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYBUILD12_VERSION"}
    for args in (["-c", "print(1)"], ["foo.py"], ["-m", "json.tool"]):
        out = subprocess.run([sys.executable, "-m", "pybuild12", "run", *args], capture_output=True, text=True,
                             cwd=tmp_path, env=env)
        assert out.returncode == 8, out.stderr
        assert "install -c" not in out.stderr and "install foo.py" not in out.stderr and "install -m" not in out.stderr
        assert f"pybuild12 run NAME -- {args[0]}" in out.stderr and "pybuild12 pin NAME" in out.stderr


@needs_host_interpreters
def test_aliases_and_python_arguments_find_the_build(tmp_path, pybuild12_home):
    """`install 3.13` names its build 3.13.18; every command then finds it by `3.13`."""
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha)
    assert cli("install", str(recipe), "--name", "3.13.18", "--no-verify").returncode == 0
    which = cli("which", "3.13")
    assert which.returncode == 0 and which.stdout.strip().endswith("/pythons/3.13.18/bin/python" + HOST_MINOR)
    (tmp_path / ".python-version").write_text("3.13\n")
    ran = cli("run", "-c", "import os; print(os.environ['FAKE_CPYTHON_PREFIX'])", cwd=tmp_path)
    assert ran.returncode == 0 and ran.stdout.strip().endswith("/pythons/3.13.18"), ran.stderr
    (tmp_path / "hello.py").write_text("print('hello from a script')\n")
    assert cli("run", "hello.py", cwd=tmp_path).stdout == "hello from a script\n"
    free = cli("which", "3.13t")
    assert free.returncode == 8 and "(as 3.13.18+freethreaded)" in free.stderr
    gone = cli("uninstall", "3.13")
    assert gone.returncode == 0 and "removed 3.13.18" in gone.stderr
    assert not (pybuild12_home / "data" / "pythons" / "3.13.18").exists()


# ------------------------------------------------------------------ verify --python


def test_verify_python_usage_errors(tmp_path):
    for given, says in ((str(tmp_path / "absent"), "no such file"), ("/bin/ls", "not a Python interpreter"),
                        (str(tmp_path), "not an executable file"), ("python2.2", "no python2.2 on PATH")):
        out = cli("verify", "--python", given)
        assert out.returncode == 2 and says in out.stderr and "Traceback" not in out.stderr, (given, out.stderr)
    as_json = cli("verify", "--python", "python2.2", "--json")
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout) == {"ok": False, "error": "--python python2.2: no such file here, and no "
                                          "python2.2 on PATH", "hint": "give the interpreter's path, or a name on "
                                          "PATH such as python3.13", "exit_code": 2}


@pytest.mark.skipif(HOST is None, reason="no CPython 3.12+ on this machine")
def test_verify_python_takes_a_bare_name_from_path(monkeypatch, tmp_path):
    link = tmp_path / "python3.99"
    link.symlink_to(HOST)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert verifier.interpreter("python3.99") == link


# ------------------------------------------------------------------ usage mistakes exit 2


def test_contradicting_options_exit_2_before_any_work(pybuild12_home):
    for args in (["main", "--commit", "xyz"], ["3.13.5", "--lto", "--no-lto"], ["3.13.5", "--push", "--no-cache"],
                 ["3.13.5", "--pgo", "--no-pgo"]):
        out = cli("install", *args, env={"PYBUILD12_CACHE_URL": "http://127.0.0.1:9/c"})
        assert out.returncode == 2, (args, out.stderr)
        assert "error:" in out.stderr and "Traceback" not in out.stderr
    assert files_under(pybuild12_home) == []


def test_a_recipe_older_than_3_12_is_refused_before_fetching(tmp_path, pybuild12_home):
    old = tmp_path / "old.toml"
    old.write_text('version = "3.11.9"\nsummary = "too old"\n[source]\nkind = "tarball"\n'
                   f'url = "{(tmp_path / "Python-3.11.9.tar.xz").as_uri()}"\nsha256 = "{"a" * 64}"\n')
    out = cli("install", str(old))
    assert out.returncode == 3 and "predates per-interpreter GILs (PEP 684" in out.stderr
    assert files_under(pybuild12_home) == []


def test_install_deps_without_root_or_sudo_says_what_to_run(monkeypatch):
    monkeypatch.setattr(preflight.os, "geteuid", lambda: 1000)
    real_which = cli_module.shutil.which
    monkeypatch.setattr(cli_module.shutil, "which", lambda name, *a, **k: None if name == "sudo" else real_which(name))
    monkeypatch.setattr(preflight.shutil, "which", lambda name, *a, **k: "/usr/bin/apt-get" if name == "apt-get" else None)
    monkeypatch.setattr(cli_module.runner, "call", lambda *a, **k: pytest.fail(f"ran {a}"))
    with pytest.raises(PrerequisiteError) as info:
        cli_module._install_deps("3.13.5", cli_module.installer.InstallOptions())
    assert "sudo is not installed" in info.value.message and info.value.hint.startswith("as root, run: apt-get install")


def test_the_readme_lists_every_exit_code():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("### Exit codes"):]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}
    assert documented == set(EXIT_CODES), documented ^ set(EXIT_CODES)
    assert UsageError.exit_code == 2


def test_install_deps_runs_the_package_manager_through_the_log(monkeypatch, tmp_path, pybuild12_home, capsys):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    apt = bin_dir / "apt-get"
    apt.write_text('#!/bin/sh\necho "fake apt-get $*"\n[ "$1" = install ] && [ "$3" = broken ] && exit 100\nexit 0\n')
    apt.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(preflight, "install_command", lambda checks, **k: ["apt-get", "install", "-y", "libfoo-dev"])
    cli_module._install_deps("3.13.5", cli_module.installer.InstallOptions())
    shown = capsys.readouterr().err
    assert "fake apt-get update -qq" in shown and "fake apt-get install -y libfoo-dev" in shown
    log = next((pybuild12_home / "logs").glob("install-deps-*.log"))
    assert "$ apt-get install -y libfoo-dev" in log.read_text() and "### exit code 0" in log.read_text()

    monkeypatch.setattr(preflight, "install_command", lambda checks, **k: ["apt-get", "install", "-y", "broken"])
    with pytest.raises(PrerequisiteError) as info:
        cli_module._install_deps("3.13.5", cli_module.installer.InstallOptions())
    assert "exited with code 100" in info.value.message and "install-deps-" in info.value.hint
