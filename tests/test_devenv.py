"""devenv: `env` in real shells, `venv` over real interpreters (the fake CPython wraps a
real 3.12+), and what a Ctrl-C leaves behind."""

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakecpython import HOST, HOST_MINOR, make_recipe, make_tarball, needs_host_interpreters
from pybuild12 import install as installer
from pybuild12.core.errors import Interrupted, PyBuild12Error
from pybuild12.devenv import shellenv, venvs as devenv
from pybuild12.install import InstallOptions
from pybuild12.request import variants
from pybuild12.store import receipts, registry
from pybuild12.store.receipts import Receipt

PYBUILD12 = shlex.join([sys.executable, "-m", "pybuild12"])


def cli(*args: str, cwd: Path | None = None, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("timeout", 120)
    return subprocess.run([sys.executable, "-m", "pybuild12", *args], capture_output=True, text=True, cwd=cwd, **kw)


def cpython_prefix(paths, name: str, *, free_threaded: bool = False, debug: bool = False,
                   receipt_python: str | None = None) -> Path:
    """bin/ of a build as CPython 3.13's `make install` lays it out: the interpreter named
    after its ABI flags (python3.13, python3.13t, python3.13td) with python3.13 a hard link
    to it, python3 -> python3.13, pip3 and pip3.13. Each program prints its own name."""
    prefix = paths.prefix(name)
    bin_dir = prefix / "bin"
    bin_dir.mkdir(parents=True)
    flags = ("t" if free_threaded else "") + ("d" if debug else "")
    interpreter = f"python3.13{flags}"
    for program in (interpreter, "pip3", "pip3.13"):
        (bin_dir / program).write_text(f'#!/bin/sh\necho "{name} {program} $*"\n')
        (bin_dir / program).chmod(0o755)
    if flags:
        os.link(bin_dir / interpreter, bin_dir / "python3.13")
    (bin_dir / "python3").symlink_to("python3.13")
    variants_ = (["freethreaded"] if free_threaded else []) + (["debug"] if debug else [])
    receipts.write(prefix, Receipt.from_json({"name": name, "python": receipt_python or f"bin/{interpreter}",
                                    "recipe": {"version": "3.13.5"}, "variants": variants_}))
    return prefix


def tree(root: Path) -> list[tuple[str, str]]:
    return sorted((str(p.relative_to(root)), os.readlink(p) if p.is_symlink() else str(p.stat().st_mtime_ns))
                  for p in root.rglob("*"))


# ------------------------------------------------------------------ env


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_env_twice_then_unset_in_a_real_shell(paths, tmp_path, shell):
    prefix = cpython_prefix(paths, "3.13.5+freethreaded", free_threaded=True)
    before = tree(prefix)
    mine = tmp_path / "my tools*"  # a directory of the user's own, with a space and a glob character
    mine.mkdir()
    base = os.pathsep.join([str(mine), "/usr/bin", "/bin"])
    script = f"""set -u
PATH={shlex.quote(base)}; export PATH
eval "$({PYBUILD12} env 3.13.5t --shell {shell})"
eval "$({PYBUILD12} env 3.13.5t --shell {shell})"
echo "python=$(command -v python)"
echo "pip=$(command -v pip)"
echo "t=$(command -v python3.13t)"
echo "ran=$(python -c pass)"
echo "pip-ran=$(pip --version)"
echo "path=$PATH"
echo "active=$PYBUILD12_ACTIVE"
eval "$({PYBUILD12} env --unset --shell {shell})"
echo "after=$PATH"
echo "active-after=${{PYBUILD12_ACTIVE-unset}} ${{PYBUILD12_PATH_ADDED-unset}}"
echo "python-after=$(command -v python || echo none)"
echo "pip-after=$(command -v pip || echo none)"
"""
    proc = subprocess.run([shell, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    seen = dict(line.split("=", 1) for line in proc.stdout.splitlines())
    shims = paths.shims / "3.13.5+freethreaded"
    assert seen["python"] == str(shims / "python")
    assert Path(seen["python"]).resolve() == prefix / "bin" / "python3.13t"
    assert seen["pip"] == str(shims / "pip") and Path(seen["pip"]).resolve() == prefix / "bin" / "pip3"
    assert seen["t"] == str(prefix / "bin" / "python3.13t")  # the build has that name: no link needed
    assert seen["ran"] == "3.13.5+freethreaded python3.13t -c pass"
    assert seen["pip-ran"] == "3.13.5+freethreaded pip3 --version"
    assert seen["path"] == os.pathsep.join([str(shims), str(prefix / "bin"), base])  # once, not twice
    assert seen["active"] == "3.13.5+freethreaded"
    assert seen["after"] == base
    assert seen["active-after"] == "unset unset"
    assert seen["python-after"] == (shutil.which("python", path=base) or "none")
    assert seen["pip-after"] == (shutil.which("pip", path=base) or "none")
    assert tree(prefix) == before  # nothing written into the build
    assert sorted(p.name for p in shims.iterdir()) == ["pip", "python"]


def test_env_for_another_build_replaces_the_first_and_unset_keeps_the_users_entries(paths, tmp_path):
    one = cpython_prefix(paths, "one")
    two = cpython_prefix(paths, "two")
    base = os.pathsep.join([str(two / "bin"), "/usr/bin", "/bin"])  # the user had two's bin/ on PATH already
    script = f"""PATH={shlex.quote(base)}
eval "$({PYBUILD12} env one --shell bash)"
echo "one=$PATH $(python)"
eval "$({PYBUILD12} env two --shell bash)"
echo "two=$PATH $(python)"
eval "$({PYBUILD12} env --unset --shell bash)"
echo "none=$PATH"
"""
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    seen = dict(line.split("=", 1) for line in proc.stdout.splitlines())
    assert seen["one"] == os.pathsep.join([str(paths.shims / "one"), str(one / "bin"), base]) + " one python3.13 "
    assert seen["two"] == os.pathsep.join([str(paths.shims / "two"), str(two / "bin"), base]) + " two python3.13 "
    assert seen["none"] == base


def test_shims_link_only_what_the_build_lacks(paths):
    cpython_prefix(paths, "plain")
    cpython_prefix(paths, "ftdebug", free_threaded=True, debug=True)  # CPython installs python3.13td only
    plain = shellenv.shims(paths, registry.get(paths, "plain"))
    assert {p.name: os.readlink(p) for p in plain.iterdir()} == {
        "python": str(paths.prefix("plain") / "bin/python3.13"), "pip": str(paths.prefix("plain") / "bin/pip3")}
    debug = shellenv.shims(paths, registry.get(paths, "ftdebug"))
    td = str(paths.prefix("ftdebug") / "bin/python3.13td")
    assert {p.name: os.readlink(p) for p in debug.iterdir()} == {
        "python": td, "python3.13t": td, "pip": str(paths.prefix("ftdebug") / "bin/pip3")}
    (paths.prefix("plain") / "bin/pip3").unlink()
    (paths.prefix("plain") / "bin/pip3.13").unlink()
    assert sorted(p.name for p in shellenv.shims(paths, registry.get(paths, "plain")).iterdir()) == ["python"]


def test_env_unset_takes_no_name_and_fish_gets_its_own_syntax(paths):
    refused = cli("env", "3.13.5", "--unset")
    assert refused.returncode == 2 and "--unset takes no build name" in refused.stderr
    text = shellenv.exports([Path("/d/shims/x"), Path("/opt/p q/bin")], "x", "fish")
    assert "set -gx PATH /d/shims/x '/opt/p q/bin' $PATH\n" in text
    assert "set -gx PYBUILD12_PATH_ADDED /d/shims/x '/opt/p q/bin'\n" in text
    assert "set -e PATH[(contains -i -- $_pybuild12_dir $PATH)]" in text
    assert shellenv.unsets("fish").endswith("set -e PYBUILD12_PATH_ADDED\nset -e PYBUILD12_ACTIVE\n")


def test_default_shell_follows_SHELL():
    assert shellenv.default_shell({"SHELL": "/usr/bin/zsh"}) == "zsh"
    assert shellenv.default_shell({"SHELL": "/bin/tcsh"}) == "sh"
    assert shellenv.default_shell({}) == "sh"


# ------------------------------------------------------------------ which


def test_which_names_the_free_threaded_interpreter_even_from_an_older_receipt(paths):
    prefix = cpython_prefix(paths, "3.13.5+freethreaded", free_threaded=True, receipt_python="bin/python3.13")
    out = cli("which", "3.13.5t")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(prefix / "bin" / "python3.13t")
    cpython_prefix(paths, "3.13.5")
    assert cli("which", "3.13.5").stdout.strip() == str(paths.prefix("3.13.5") / "bin" / "python3.13")


# ------------------------------------------------------------------ venv over the fake CPython


@pytest.fixture
def fake_build(tmp_path, paths, monkeypatch):
    """Install the fake CPython as NAME (optionally free-threaded); return its Installed."""
    for variant in variants.ORDER:  # let the fake's version count as one with every variant
        monkeypatch.setitem(variants.table()[variant], "since", HOST_MINOR)
    tarball, sha = make_tarball(tmp_path / "src")

    def install(name: str = "fake", spec_suffix: str = "") -> registry.Installed:
        recipe = make_recipe(tmp_path, tarball, sha, name=name, build="optimizations = false\n")
        outcome = installer.install(f"{recipe}{spec_suffix}", InstallOptions(verify=False), paths=paths)
        return registry.get(paths, outcome.name)

    return install


def site_packages(venv: Path) -> Path:
    return next(venv.glob("lib/python3*/site-packages"))


def drop_package(venv: Path, name: str = "mine") -> Path:
    package = site_packages(venv) / name
    package.mkdir()
    (package / "__init__.py").write_text("VALUE = 42\n")
    return package


@needs_host_interpreters
def test_venv_again_keeps_the_packages_and_clear_recreates_it(fake_build, tmp_path):
    fake_build()
    target = tmp_path / "proj" / ".venv"
    made = cli("venv", "fake", str(target))
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == str(target / "bin" / "python") and "created" in made.stderr
    package = drop_package(target)
    again = cli("venv", "fake", str(target))
    assert again.returncode == 0, again.stderr
    assert f"{target} already is a venv of fake; --clear recreates it empty" in again.stderr
    imported = subprocess.run([str(target / "bin/python"), "-c", "import mine; print(mine.VALUE)"],
                              capture_output=True, text=True, timeout=60)
    assert imported.stdout == "42\n", imported.stderr
    cleared = cli("venv", "--clear", "fake", str(target))
    assert cleared.returncode == 0, cleared.stderr
    assert "recreated" in cleared.stderr and not package.exists()
    assert (site_packages(target) / "pip").is_dir()  # a whole new venv, pip included
    assert [p.name for p in target.parent.iterdir()] == [".venv"]  # the old one moved aside is gone


@needs_host_interpreters
def test_venv_of_another_interpreter_is_refused_naming_both(fake_build, tmp_path):
    other = next((p for p in (sys.executable, "/usr/bin/python3", *map(str, sorted(
        (Path.home() / ".pyenv" / "versions").glob("3.*/bin/python3"))))
                  if Path(p).exists() and os.path.realpath(p) != os.path.realpath(HOST)), None)
    if other is None:
        pytest.skip("no second interpreter on this machine")
    fake_build()
    target = tmp_path / "venv"
    subprocess.run([other, "-m", "venv", "--without-pip", str(target)], check=True, timeout=120)
    package = drop_package(target)
    refused = cli("venv", "fake", str(target))
    assert refused.returncode == 1
    assert f"{target} is a venv of {os.path.realpath(other)}" in refused.stderr
    assert "not of fake" in refused.stderr and f"pybuild12 venv --clear fake {target}" in refused.stderr
    assert package.exists()
    cleared = cli("venv", "fake", str(target), "--clear")
    assert cleared.returncode == 0, cleared.stderr
    assert not package.exists() and "recreated" in cleared.stderr
    assert cli("venv", "fake", str(target)).stderr.count("already is a venv of fake") == 1


@needs_host_interpreters
def test_free_threaded_build_gets_its_t_names(fake_build, tmp_path):
    build = fake_build("fake", "+freethreaded")
    assert build.receipt.python == f"bin/python{HOST_MINOR}t"
    which = cli("which", "fake+freethreaded")
    assert which.stdout.strip() == str(build.prefix / "bin" / f"python{HOST_MINOR}t"), which.stderr
    target = tmp_path / "ft"
    made = cli("venv", "fake+freethreaded", str(target))
    assert made.returncode == 0, made.stderr
    t_name = target / "bin" / f"python{HOST_MINOR}t"
    ran = subprocess.run([str(t_name), "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True,
                         timeout=60)
    assert ran.stdout.strip() == str(target), ran.stderr


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, f"pybuild12 ended before {what}: {proc.communicate(timeout=10)}"
        assert time.monotonic() < deadline, f"no {what} in {timeout} s"
        time.sleep(0.01)


def interrupt(proc: subprocess.Popen) -> tuple[int, str]:
    assert proc.poll() is None, "pybuild12 had already finished: nothing was interrupted"
    proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return proc.returncode, stderr


@needs_host_interpreters
def test_ctrl_c_during_venv_removes_the_half_made_venv(fake_build, tmp_path):
    fake_build()
    target = tmp_path / "new" / "venv"  # `new` does not exist either: it goes too
    proc = subprocess.Popen([sys.executable, "-m", "pybuild12", "venv", "fake", str(target)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # In the middle of ensurepip: pip (a process of its own) is unpacking itself into the venv.
    wait_for(lambda: list(target.glob("lib/python3*/site-packages/pip")), proc, "pip being installed")
    code, stderr = interrupt(proc)
    assert code == 130
    assert f"the venv was not made: removed {tmp_path / 'new'}, which this run had created" in stderr
    assert "removed what this run created" not in stderr
    assert not (tmp_path / "new").exists()
    time.sleep(3)  # had pip outlived pybuild12, it would go on writing into the venv
    assert not (tmp_path / "new").exists()


@needs_host_interpreters
def test_ctrl_c_during_clear_puts_the_old_venv_back(fake_build, tmp_path):
    fake_build()
    target = tmp_path / "venv"
    assert cli("venv", "fake", str(target)).returncode == 0
    package = drop_package(target)
    proc = subprocess.Popen([sys.executable, "-m", "pybuild12", "venv", "--clear", "fake", str(target)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: list(tmp_path.glob(".venv.replaced-*")) and list(target.glob("lib/python3*/site-packages/pip")),
             proc, "pip being installed into the new venv beside the old one")
    code, stderr = interrupt(proc)
    assert code == 130
    assert f"the venv was not recreated: {target} is as it was, with its packages" in stderr
    assert package.exists()
    assert [p.name for p in tmp_path.iterdir() if "venv" in p.name] == ["venv"]  # nothing left beside it


# ------------------------------------------------------------------ venv clean-up, in process


class FailingVenv:
    """Stands in for `python -m venv`: writes part of a venv, then meets Ctrl-C (or `failure`)."""

    def __init__(self) -> None:
        self.failure: BaseException = KeyboardInterrupt()
        self.calls: list[bool] = []

    def __call__(self, python, directory, log_path, *, clear=False):
        self.calls.append(clear)
        if clear:
            devenv._empty(directory)
        (directory / "bin").mkdir(parents=True, exist_ok=True)
        (directory / "pyvenv.cfg").write_text("home = /nowhere\n")
        raise self.failure


@pytest.fixture
def failing_venv(monkeypatch) -> FailingVenv:
    failing = FailingVenv()
    monkeypatch.setattr(devenv, "_run_venv", failing)
    return failing


def test_ctrl_c_in_an_empty_directory_leaves_it_empty(failing_venv, tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    with pytest.raises(Interrupted, match=f"{target} is empty again, as it was"):
        devenv.make_venv(Path(sys.executable), target, build_name="b", log_path=tmp_path / "log")
    assert target.is_dir() and list(target.iterdir()) == []


def test_a_failed_venv_says_what_it_removed(failing_venv, tmp_path):
    failing_venv.failure = PyBuild12Error("creating the venv failed: no ensurepip")
    with pytest.raises(PyBuild12Error, match=f"no ensurepip; removed {tmp_path / 'v'}, which this run had created"):
        devenv.make_venv(Path(sys.executable), tmp_path / "v", build_name="b", log_path=tmp_path / "log")
    assert not (tmp_path / "v").exists()


def test_clear_where_the_venv_cannot_move_says_it_is_left_empty(failing_venv, tmp_path, monkeypatch):
    monkeypatch.setattr(devenv, "_move_aside", lambda directory: None)  # e.g. a mount point
    target = tmp_path / "venv"
    (target / "lib").mkdir(parents=True)
    (target / "pyvenv.cfg").write_text("home = /usr/bin\n")
    with pytest.raises(Interrupted) as info:
        devenv.make_venv(Path(sys.executable), target, build_name="b", log_path=tmp_path / "log", clear=True)
    assert info.value.message == (f"{target} is left empty: its earlier venv was deleted before the new one was "
                                  f"complete; 'pybuild12 venv b {target}' makes it again")
    assert failing_venv.calls == [True] and list(target.iterdir()) == []


def test_venv_refuses_a_non_empty_directory_that_is_not_a_venv(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    for clear in (False, True):
        with pytest.raises(PyBuild12Error, match="refusing to overwrite"):
            devenv.make_venv(Path(sys.executable), tmp_path, build_name="b", log_path=tmp_path / "log", clear=clear)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_uninstall_takes_the_builds_shims_with_it(paths):
    cpython_prefix(paths, "plain")
    shims = shellenv.shims(paths, registry.get(paths, "plain"))
    assert (shims / "python").is_symlink()
    registry.remove(paths, "plain")
    assert not shims.exists() and not paths.prefix("plain").exists()


def test_venv_with_a_build_name_alone_asks_for_the_directory(paths, tmp_path):
    cpython_prefix(paths, "3.13.5")
    out = cli("venv", "3.13.5", cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "names a build but no directory" in out.stderr and "'pybuild12 venv 3.13.5 DIR'" in out.stderr
    assert not (tmp_path / "3.13.5").exists()
