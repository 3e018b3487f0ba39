"""Using a build from another project: run it, make a venv from it, put it on PATH."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Sequence

from pybuild12 import runner
from pybuild12.errors import PyBuild12Error

VENV_TIMEOUT = 600.0  # seconds: venv runs ensurepip, which installs pip

SHELLS = ("bash", "zsh", "fish", "sh")


def exec_python(python: Path, args: Sequence[str]) -> None:
    """Replace this process with the build's python: stdin, stdout, stderr and the exit code are its own."""
    os.execv(str(python), [str(python), *args])


def make_venv(python: Path, directory: Path) -> Path:
    """A virtual environment with pip, from `python`; an existing venv there is replaced."""
    directory = directory.absolute()
    if directory.exists():
        if not directory.is_dir():
            raise PyBuild12Error(f"{directory} exists and is not a directory")
        if any(directory.iterdir()) and not (directory / "pyvenv.cfg").is_file():
            raise PyBuild12Error(
                f"{directory} is not empty and is not a virtual environment; refusing to overwrite it",
                hint="choose another directory, or empty this one yourself",
            )
    proc = runner.capture([str(python), "-m", "venv", "--clear", str(directory)], timeout=VENV_TIMEOUT)
    if proc.returncode != 0:
        raise PyBuild12Error(f"creating the venv failed: {proc.stderr.strip()[-500:]}",
                             hint="the build needs its ensurepip module (it is part of every pybuild12 build)")
    return directory / "bin" / "python"


def default_shell(env: dict | os._Environ | None = None) -> str:
    env = os.environ if env is None else env
    name = Path(env.get("SHELL", "sh")).name
    return name if name in SHELLS else "sh"


def exports(prefix: Path, name: str, shell: str) -> str:
    """Shell code that puts the build's bin/ first on PATH."""
    bin_dir = str(prefix / "bin")
    if shell == "fish":
        return f"set -gx PATH {shlex.quote(bin_dir)} $PATH;\nset -gx PYBUILD12_ACTIVE {shlex.quote(name)};\n"
    # `hash -r`: bash and zsh remember where they found `python3` before.
    return (f"export PATH={shlex.quote(bin_dir)}:\"$PATH\"\nexport PYBUILD12_ACTIVE={shlex.quote(name)}\n"
            "hash -r 2>/dev/null || true\n")
