"""Small helpers shared by the unit tests (importable, unlike conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


def tarball_recipe(url: str, sha256: str, version: str = "3.13.5", extra: str = "") -> str:
    return f"""
version = "{version}"
summary = "test recipe"

[source]
kind = "tarball"
url = "{url}"
sha256 = "{sha256}"
{extra}
"""


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """The block runs with the process's umask at `mask` (process-wide; an xdist worker runs
    one test at a time), put back afterwards."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode_of(path) -> int:
    return path.stat().st_mode & 0o777


def fake_build(paths, name: str, version: str | None, variants: tuple[str, ...] = ()):
    """An installed build as name resolution sees it: a prefix with a receipt (none when
    `version` is None) and a `bin/python3` that prints the build's name and its arguments,
    so a test of `run` sees which build ran. Returns the prefix."""
    from pybuild12.store import receipts
    from pybuild12.store.receipts import Receipt

    prefix = paths.prefix(name)
    (prefix / "bin").mkdir(parents=True)
    python = prefix / "bin" / "python3"
    python.write_text(f'#!/bin/sh\necho "{name}: $*"\n')
    python.chmod(0o755)
    if version is not None:
        receipts.write(prefix, Receipt.from_json({"name": name, "python": "bin/python3", "recipe": {"version": version},
                                        "variants": list(variants)}))
    return prefix


BOOKWORM = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n' \
           'VERSION_CODENAME=bookworm\nID=debian\n'

# apt-cache as Debian's answers it: `apt-cache policy` alone lists the package lists; with
# names, a block per package it knows (none for one it has never heard of).
FAKE_APT_CACHE = r"""#!/bin/sh
[ "$1" = policy ] || exit 100
shift
if [ $# -eq 0 ]; then
    echo "Package files:"
    echo " 100 /var/lib/dpkg/status"
    [ -n "$FAKE_APT_NO_LISTS" ] || echo " 500 http://mirror.invalid/debian bookworm/main amd64 Packages"
    exit 0
fi
for p in "$@"; do
    case " $FAKE_APT_LACKS " in *" $p "*) continue;; esac
    printf '%s:\n  Installed: (none)\n  Candidate: 1.0-1\n  Version table:\n     1.0-1 500\n' "$p"
done
"""


def fake_debian(directory, monkeypatch, *, lacks: str = "clang-18 llvm-18", os_release: str = BOOKWORM,
                path_too: bool = True):
    """This machine as a Debian release whose apt has every package but `lacks`: an
    os-release file and an apt-cache first on PATH (the real PATH after it if `path_too`).
    Returns the directory of the fake programs, for more of them."""
    from pybuild12.core import distro

    directory = Path(directory)
    bin_dir = directory / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    (directory / "os-release").write_text(os_release)
    apt_cache = bin_dir / "apt-cache"
    apt_cache.write_text(FAKE_APT_CACHE)
    apt_cache.chmod(0o755)
    monkeypatch.setattr(distro, "OS_RELEASE", (directory / "os-release",))
    monkeypatch.setenv("FAKE_APT_LACKS", lacks)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}" if path_too else str(bin_dir))
    return bin_dir


class Cli:
    """`pybuild12 ...` in a child process, its stderr read line by line as it comes."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "pybuild12", *args], env={**os.environ, **(env or {})},
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = 30) -> None:
        with self._changed:
            if not self._changed.wait_for(
                    lambda: any(text in line for line in self.lines) or self.proc.poll() is not None,
                    timeout=timeout):
                pytest.fail(f"no {text!r} within {timeout}s; stderr so far: {self.lines}")
        if not any(text in line for line in self.lines):
            pytest.fail(f"exited {self.proc.returncode} before {text!r}: {self.lines}")

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        out = self.proc.stdout.read()  # stderr is the reader thread's
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return self.proc.returncode, out, "\n".join(self.lines)
