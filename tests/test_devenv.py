import subprocess
import sys
from pathlib import Path

import pytest

from pybuild12 import devenv
from pybuild12.errors import PyBuild12Error


@pytest.mark.parametrize("shell", ["bash", "sh"])
def test_exports_put_the_build_first_in_a_real_shell(tmp_path, shell):
    prefix = tmp_path / "pythons" / "odd name"
    (prefix / "bin").mkdir(parents=True)
    tool = prefix / "bin" / "python3"
    tool.write_text("#!/bin/sh\necho from-the-build\n")
    tool.chmod(0o755)
    script = devenv.exports(prefix, "3.13.5", shell) + "python3; echo \"$PYBUILD12_ACTIVE\"\n"
    out = subprocess.run([shell, "-c", script], capture_output=True, text=True)
    assert out.stdout.split("\n")[:2] == ["from-the-build", "3.13.5"]


def test_fish_syntax():
    text = devenv.exports(Path("/opt/p"), "main", "fish")
    assert text.startswith("set -gx PATH /opt/p/bin $PATH;")


def test_default_shell_follows_SHELL():
    assert devenv.default_shell({"SHELL": "/usr/bin/zsh"}) == "zsh"
    assert devenv.default_shell({"SHELL": "/bin/tcsh"}) == "sh"
    assert devenv.default_shell({}) == "sh"


def test_venv_refuses_a_non_empty_directory_that_is_not_a_venv(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(PyBuild12Error, match="refusing to overwrite"):
        devenv.make_venv(Path(sys.executable), tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_venv_replaces_an_existing_venv(tmp_path):
    target = tmp_path / "venv"
    python = devenv.make_venv(Path(sys.executable), target)
    (target / "stale").write_text("x")
    again = devenv.make_venv(Path(sys.executable), target)
    assert again == python and python.exists() and not (target / "stale").exists()
