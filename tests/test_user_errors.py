"""Mistakes a user can make at the command line: each one gets a clear message, the
documented exit code, no traceback, and nothing written where it should not be."""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fakecpython import HOST, HOST_MINOR, make_recipe, make_tarball, needs_host_interpreters
from helpers import Cli, fake_debian
from pybuild12.builder import preflight
from pybuild12.checks import verify as verifier
from pybuild12.cli.app import render_error
from pybuild12.cli.common import err
from pybuild12.cli.console import RichReporter
from pybuild12.core import locks
from pybuild12.core.errors import EXIT_CODES, PrerequisiteError, UsageError
from pybuild12.core.paths import Paths
from pybuild12.core.settings import Settings
from pybuild12.install import InstallOptions, deps

ROOT = Path(__file__).resolve().parent.parent
BAD_NAMES = ["a" * 300, "", "/etc", "../../x", "-", ".hidden", "two words", "x\udcff"]
NAME_COMMANDS = [["which"], ["env"], ["verify"], ["verify", "--files"], ["uninstall"], ["pin"], ["compat"],
                 ["profile", "export"]]


def cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    argv = [os.fsencode(a) for a in (sys.executable, "-m", "pybuild12", *args)]
    proc = subprocess.run(argv, capture_output=True, env={**os.environ, **(env or {})}, cwd=cwd, timeout=120)
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


BUG = ("import sys; from pybuild12 import cli; from pybuild12.store import registry\n"
       "def broken(paths): raise RuntimeError('something nobody foresaw')\n"
       "registry.installed = broken\n"
       "sys.argv = ['pybuild12', *sys.argv[1:]]\n"
       "cli.main()\n")


def test_an_unexpected_error_is_one_line_and_a_log(pybuild12_home):
    proc = subprocess.run([sys.executable, "-c", BUG, "list"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "unexpected RuntimeError: something nobody foresaw" in proc.stderr and "--debug" in proc.stderr
    log = Path(re.search(r"log: (\S+)", proc.stderr).group(1))
    assert log.parent == pybuild12_home / "logs"
    assert "Traceback" in log.read_text() and "def broken" not in log.read_text() and "broken" in log.read_text()

    debug = subprocess.run([sys.executable, "-c", BUG, "--debug", "list"], capture_output=True, text=True, timeout=60)
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
    assert "log: " in debug.stderr


def test_output_into_a_closed_pipe_is_not_an_error(pybuild12_home):
    for command in ("list", "list --json", "doctor"):
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", f"{sys.executable} -m pybuild12 {command} | head -1"],
                              capture_output=True, text=True, timeout=60)
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
                             cwd=tmp_path, env=env, timeout=60)
        assert out.returncode == 2, out.stderr  # nothing named and nothing pinned: as in every command
        assert "install -c" not in out.stderr and "install foo.py" not in out.stderr and "install -m" not in out.stderr
        assert f"pybuild12 run NAME -- {args[0]}" in out.stderr and "pybuild12 pin NAME" in out.stderr
        assert f'"pybuild12 run NAME -- {shlex.join(args)}"' in out.stderr  # pastes into a shell as it reads


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
    real_which = deps.shutil.which
    monkeypatch.setattr(deps.shutil, "which", lambda name, *a, **k: None if name == "sudo" else real_which(name))
    monkeypatch.setattr(preflight.shutil, "which",
                        lambda name, *a, **k: "/usr/bin/apt-get" if name == "apt-get" else None)
    monkeypatch.setattr(deps.runner, "call", lambda *a, **k: pytest.fail(f"ran {a}"))
    with pytest.raises(PrerequisiteError) as info:
        _install_deps("3.13.5")
    assert "sudo is not installed" in info.value.message and info.value.hint.startswith("as root, run: apt-get install")


def _install_deps(spec: str) -> None:
    """`install SPEC --install-deps`'s first step, as the command calls it (its notes on stderr)."""
    deps.install_deps(spec, InstallOptions(), paths=Settings.from_env().paths, reporter=RichReporter(err),
                      on_line=functools.partial(err.print, markup=False, highlight=False))


def readme_exit_codes() -> list[int]:
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("### Exit codes"):]
    return [int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)]


def test_the_readme_lists_every_exit_code():
    documented = set(readme_exit_codes())
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
    _install_deps("3.13.5")
    shown = capsys.readouterr().err
    assert "fake apt-get update -qq" in shown and "fake apt-get install -y libfoo-dev" in shown
    log = next((pybuild12_home / "logs").glob("install-deps-*.log"))
    assert "$ apt-get install -y libfoo-dev" in log.read_text() and "### exit code 0" in log.read_text()

    monkeypatch.setattr(preflight, "install_command", lambda checks, **k: ["apt-get", "install", "-y", "broken"])
    with pytest.raises(PrerequisiteError) as info:
        _install_deps("3.13.5")
    assert "exited with code 100" in info.value.message and "install-deps-" in info.value.hint


# ------------------------------------------------------------------ every exit code, through the real command


def _paths() -> Paths:
    return Settings.from_env().paths  # the test's PYBUILD12_HOME, which the command runs with too


def _fake_build(name: str, python: str = "") -> Path:
    """An installed build as far as the registry can tell: its prefix, and `python` as its bin/python3."""
    prefix = _paths().prefix(name)
    (prefix / "bin").mkdir(parents=True)
    if python:
        (prefix / "bin" / "python3").write_text(python)
        (prefix / "bin" / "python3").chmod(0o755)
    return prefix


def _exit_0(tmp_path):
    out = cli("list", "--json")
    assert json.loads(out.stdout)["installed"] == []
    return out


def _exit_1(tmp_path):
    """Another error: a build whose receipt names a python that is not there."""
    prefix = _fake_build("broken")
    (prefix / "pybuild12.json").write_text(json.dumps({"schema": 1, "python": "bin/python3.99"}))
    out = cli("which", "broken")
    assert "has no python at" in out.stderr and "pybuild12 install broken --force" in out.stderr
    return out


def _exit_2(tmp_path):
    out = cli("install", "3.13.5", "--lto", "--no-lto")
    assert "--lto and --no-lto exclude each other" in out.stderr
    return out


def _exit_3(tmp_path):
    out = cli("install", "no-such-recipe")
    assert "unknown recipe 'no-such-recipe'" in out.stderr
    return out


def _exit_4(tmp_path):
    out = cli("install", str(make_recipe(tmp_path, *make_tarball(tmp_path / "src"))), env={"CC": "no-such-cc-here"})
    assert "CC=no-such-cc-here is not on PATH" in out.stderr and "build-essential" in out.stderr
    return out


def _exit_5(tmp_path):
    tarball, _ = make_tarball(tmp_path / "src")
    out = cli("install", str(make_recipe(tmp_path, tarball, "0" * 64)))
    assert "checksum mismatch" in out.stderr
    return out


def _exit_6(tmp_path):
    out = cli("install", str(make_recipe(tmp_path, *make_tarball(tmp_path / "src"))), env={"FAKE_FAIL": "configure"})
    assert "error: configure failed: ./configure" in out.stderr
    return out


def _exit_7(tmp_path):
    """verify finds a failed check: an interpreter that says it is 3.11 has no per-interpreter GIL."""
    old = tmp_path / "python3.11"
    old.write_text("#!/bin/sh\necho 3.11.9\n")
    old.chmod(0o755)
    out = cli("verify", "--python", str(old))
    assert "no per-interpreter GIL before 3.12" in " ".join(out.stdout.split())
    return out


def _exit_8(tmp_path):
    out = cli("which", "3.13.5")
    assert "3.13.5" in out.stderr and "nothing is installed yet" in out.stderr.lower()
    return out


def _exit_9(tmp_path):
    prefix = _fake_build("busy")
    shutil.copy2(shutil.which("sleep"), prefix / "bin" / "sleep")
    user = subprocess.Popen([str(prefix / "bin" / "sleep"), "30"])
    try:
        for _ in range(50):  # until the kernel shows the program it runs
            if os.path.realpath(f"/proc/{user.pid}/exe").startswith(str(prefix)):
                break
            subprocess.run(["sleep", "0.1"], timeout=60)
        out = cli("uninstall", "busy")
    finally:
        user.kill()
        user.wait(timeout=10)
    assert f"pid {user.pid}" in out.stderr and prefix.is_dir()
    return out


def _exit_10(tmp_path):
    home = tmp_path / "home"
    home.write_text("a file")
    out = cli("list", env={"PYBUILD12_HOME": str(home)})
    assert f"{home} is a file, not a directory" in out.stderr
    return out


def _exit_130(tmp_path):
    """Ctrl-C while the install waits for another one of the same name."""
    out = _interrupted(["install", "3.13.5"], "3.13.5", "waiting for")
    assert "interrupted: removed what this run created; earlier installs are unchanged" in out.stderr
    return out


def _interrupted(args: list[str], lock: str | None, started: str) -> subprocess.CompletedProcess:
    """`pybuild12 ARGS` interrupted (SIGINT) once its stderr says `started`, with the build lock of
    `lock` held meanwhile."""
    held = locks.hold(_paths().locks / f"{lock}.lock") if lock else None
    if held is not None:
        held.__enter__()
    try:
        running = Cli(*args)
        try:
            running.wait_for(started)
            running.proc.send_signal(signal.SIGINT)
            code, out, err = running.finish(timeout=30)
        finally:
            if running.proc.poll() is None:
                running.proc.kill()
    finally:
        if held is not None:
            held.__exit__(None, None, None)
    assert "Traceback" not in err
    return subprocess.CompletedProcess(args, code, out, err)


REACH = {0: _exit_0, 1: _exit_1, 2: _exit_2, 3: _exit_3, 4: _exit_4, 5: _exit_5, 6: _exit_6, 7: _exit_7, 8: _exit_8,
         9: _exit_9, 10: _exit_10, 130: _exit_130}


@pytest.mark.parametrize("code", readme_exit_codes())
def test_every_exit_code_of_the_readme_is_what_the_command_exits_with(code, tmp_path, pybuild12_home):
    assert code in REACH, f"the README documents exit {code}: add how the command gets there"
    out = REACH[code](tmp_path)
    assert out.returncode == code, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and ("error:" in out.stderr or code in (0, 7, 130))


# ------------------------------------------------------------------ messages that fit the command


def test_an_interrupted_command_says_what_it_left_as_it_was(tmp_path, pybuild12_home):
    prefix = _fake_build("held")
    out = _interrupted(["uninstall", "held"], "held", "waiting for")
    assert out.returncode == 130 and prefix.is_dir()
    assert "interrupted: the build is either still installed as it was or removed whole" in out.stderr

    marker = tmp_path / "asked"
    _fake_build("slow", f"#!/bin/sh\ntouch {marker}\nexec sleep 30\n")
    running = Cli("verify", "slow")
    try:
        for _ in range(100):
            if marker.exists():
                break
            subprocess.run(["sleep", "0.1"], timeout=60)
        running.proc.send_signal(signal.SIGINT)
        code, _, err = running.finish(timeout=30)
    finally:
        if running.proc.poll() is None:
            running.proc.kill()
    assert marker.exists() and code == 130 and "interrupted: nothing was changed" in err
    assert "install" not in err


def test_a_full_disk_message_says_nothing_was_installed_only_for_an_install(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config").write_text("a file where the config directory goes")
    out = cli("cache", "trust", "team-ci-1:" + "A" * 43 + "=", env={"PYBUILD12_HOME": str(home)})
    assert out.returncode == 10 and "a file stands where pybuild12 needs a directory" in out.stderr
    assert "nothing was installed" not in out.stderr and "installs are unchanged" not in out.stderr


@needs_host_interpreters
def test_profile_export_of_a_build_without_pgo_is_a_usage_error(tmp_path, pybuild12_home):
    recipe = make_recipe(tmp_path, *make_tarball(tmp_path / "src"))
    assert cli("install", str(recipe), "--no-verify", "--no-pgo").returncode == 0
    out = cli("profile", "export", "fake", str(tmp_path / "fake.profile.tar.zst"))
    assert out.returncode == UsageError.exit_code
    assert "fake was built without PGO (--enable-optimizations): it has no PGO profile to export" in out.stderr
    assert "pybuild12 profile list" in out.stderr and not (tmp_path / "fake.profile.tar.zst").exists()


def test_install_deps_does_not_apt_get_what_the_release_lacks(tmp_path, monkeypatch, pybuild12_home, capsys):
    """Debian bookworm has no LLVM 18, which the JIT of 3.13 needs: refused before apt-get install runs."""
    bin_dir = fake_debian(tmp_path, monkeypatch, path_too=False)
    calls = tmp_path / "apt-get-calls"
    apt = bin_dir / "apt-get"
    apt.write_text(f'#!/bin/sh\necho "$*" >> {calls}\n')
    apt.chmod(0o755)
    monkeypatch.setattr(preflight.os, "geteuid", lambda: 0)
    with pytest.raises(PrerequisiteError) as info:
        _install_deps("3.13.5+jit")
    assert not calls.exists()  # the lists there are already say so: apt-get never runs
    assert info.value.exit_code == 4
    assert info.value.message.startswith("Debian bookworm has no clang-18, llvm-18")
    assert "https://apt.llvm.org" in info.value.hint and "llvm.sh 18" in info.value.hint
    assert "running:" not in capsys.readouterr().err  # nothing said to run that did not
    render_error(info.value)
    shown = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(shown) == len(set(shown)) and sum("clang-18" in line for line in shown) == 1, shown
