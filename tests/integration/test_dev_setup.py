"""Another project's dev set-up with the real build: pin, run, venv, env."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from realbuild import RECIPE

pytestmark = pytest.mark.integration

SUBDEMO = '''\
"""Runs a function's worth of code in a sub-interpreter with its own GIL."""
import importlib


def in_subinterpreter(code):
    try:
        interpreters = importlib.import_module("concurrent.interpreters")
    except ImportError:
        interpreters = importlib.import_module("test.support.interpreters")
    interp = interpreters.create()
    try:
        interp.exec(code)
    finally:
        interp.close()
    return "ran in a sub-interpreter"
'''


def build_wheel(directory: Path) -> Path:
    """A pure-Python wheel made by hand: installable offline, no build backend needed."""
    name, version = "subdemo", "1.0"
    files = {
        "subdemo/__init__.py": SUBDEMO.encode(),
        f"{name}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL": (b"Wheel-Version: 1.0\nGenerator: test\n"
                                              b"Root-Is-Purelib: true\nTag: py3-none-any\n"),
    }
    record_lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record_lines.append(f"{path},sha256={digest},{len(data)}")
    record = f"{name}-{version}.dist-info/RECORD"
    record_lines.append(f"{record},,")
    files[record] = ("\n".join(record_lines) + "\n").encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


@pytest.fixture
def project(real_build, tmp_path):
    assert real_build.install.returncode == 0
    project = tmp_path / "project"
    (project / "src" / "deep").mkdir(parents=True)
    return project


def cli(real_build, *args, cwd=None, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "pybuild12", *args], env={**real_build.env, **(env or {})},
                          cwd=cwd, capture_output=True, text=True, **kw)


def test_run_passes_stdin_and_exit_code(real_build, project):
    proc = cli(real_build, "run", RECIPE, "--", "-c",
               "import sys; data = sys.stdin.read(); print(data[::-1]); print(sys.version.split()[0]); sys.exit(42)",
               input="sub-interpreters")
    assert proc.returncode == 42
    assert proc.stdout.split() == ["sreterpretni-bus", RECIPE]


def test_pin_then_everything_finds_the_build_from_a_subdirectory(real_build, project):
    assert cli(real_build, "pin", RECIPE, cwd=project).returncode == 0
    assert (project / ".python-version").read_text() == f"{RECIPE}\n"
    deep = project / "src" / "deep"
    assert cli(real_build, "which", cwd=deep).stdout.strip() == str(real_build.prefix / "bin/python3.13")
    ran = cli(real_build, "run", "--", "-c", "import sys; print(sys.prefix)", cwd=deep)
    assert ran.stdout.strip() == str(real_build.prefix)
    override = cli(real_build, "which", cwd=deep, env={"PYBUILD12_VERSION": "3.14.10"})
    assert override.returncode == 8 and "pybuild12 install 3.14.10" in override.stderr
    if shutil.which("pyenv"):
        read = subprocess.run(["pyenv", "version-file-read", str(project / ".python-version")],
                              capture_output=True, text=True)
        assert read.stdout.strip() == RECIPE


def test_venv_installs_a_local_package_and_runs_a_subinterpreter(real_build, project):
    wheel = build_wheel(project)
    made = cli(real_build, "venv", RECIPE, str(project / ".venv"))
    assert made.returncode == 0, made.stderr
    python = project / ".venv" / "bin" / "python"
    assert made.stdout.strip() == str(python)
    pip = subprocess.run([str(python), "-m", "pip", "install", "--no-index", str(wheel)],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    ran = subprocess.run([str(python), "-c", "import subdemo, sys; print(subdemo.in_subinterpreter('x = 6 * 7')); "
                          "print(sys.prefix != sys.base_prefix)"], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split("\n")[:2] == ["ran in a sub-interpreter", "True"]


def test_venv_refuses_a_directory_with_other_files(real_build, project):
    (project / "notes.txt").write_text("mine")
    refused = cli(real_build, "venv", RECIPE, str(project))
    assert refused.returncode != 0 and "refusing to overwrite" in refused.stderr
    assert (project / "notes.txt").read_text() == "mine"


def test_env_in_a_real_bash_puts_the_build_first(real_build, project):
    script = (f'eval "$({sys.executable} -m pybuild12 env {RECIPE} --shell bash)"\n'
              "command -v python3\npython3 -c 'import sys; print(sys.version.split()[0])'\n")
    proc = subprocess.run(["bash", "-c", script], env=real_build.env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(real_build.prefix / "bin" / "python3"), RECIPE]


@pytest.mark.fault("concurrency")
def test_uninstall_while_run_or_a_venv_uses_the_build_is_refused(real_build, project):
    """`pybuild12 run` execs the build's python; a venv's python is a link to it: both count."""
    made = cli(real_build, "venv", RECIPE, str(project / ".venv"))
    assert made.returncode == 0, made.stderr
    sleeper = "import time; print('up', flush=True); time.sleep(60)"
    users = [subprocess.Popen([sys.executable, "-m", "pybuild12", "run", RECIPE, "--", "-c", sleeper],
                              env=real_build.env, stdout=subprocess.PIPE, text=True),
             subprocess.Popen([str(project / ".venv" / "bin" / "python"), "-c", sleeper], stdout=subprocess.PIPE,
                              text=True)]
    try:
        for user in users:
            assert user.stdout.readline() == "up\n"
        refused = cli(real_build, "uninstall", RECIPE)
        assert refused.returncode == 9, refused.stderr
        assert all(f"pid {u.pid}" in refused.stderr for u in users) and "--force" in refused.stderr
        assert (real_build.prefix / "bin" / "python3.13").exists()
    finally:
        for user in users:
            user.kill()
            user.wait()
    ok = cli(real_build, "run", RECIPE, "--", "-c", "print('still here')")
    assert ok.returncode == 0 and ok.stdout == "still here\n"
