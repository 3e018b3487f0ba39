"""Compiling through ccache (`install --ccache`, `PYBUILD12_CCACHE=1`).

The build's PATH starts with a directory of compiler-named links to ccache (its
"masquerade" mode), so CPython's configure still finds `gcc` and records `gcc`,
not `ccache gcc`, in the installed build's sysconfig: extensions built later
with that Python do not depend on ccache. `CCACHE_BASEDIR` is set to the build
directory and `CCACHE_NOHASHDIR` to 1 (unless the user's environment sets them,
or `CCACHE_HASHDIR`) so hits carry across build trees: every build has a
directory of its own, and CPython compiles with -g, for which ccache otherwise
hashes the working directory. (The debug information of a hit names the tree of
the build that compiled it first; pybuild12 removes a build tree after its
install unless --keep-build.) Every other ccache setting is the user's:
`CCACHE_DIR`, `CCACHE_REMOTE_STORAGE` (a fleet's shared HTTP or Redis storage)
and ccache.conf pass through unchanged.
ccache does not change what is compiled, so it is not part of the artifact key.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from pybuild12.core import runner

COMPILERS = ("cc", "gcc", "c++", "g++", "clang", "clang++")
_COUNTED = {"hits": ("direct_cache_hit", "preprocessed_cache_hit"), "misses": ("cache_miss",),
            "remote_hits": ("remote_storage_hit",), "remote_errors": ("remote_storage_error", "remote_storage_timeout")}


@dataclass(frozen=True)
class Ccache:
    path: str
    version: str
    bindir: Path

    def environment(self, env: Mapping[str, str], build_dir: Path) -> dict[str, str]:
        new = dict(env)
        new["PATH"] = os.pathsep.join(filter(None, (str(self.bindir), env.get("PATH", ""))))
        new.setdefault("CCACHE_BASEDIR", str(build_dir))
        if "CCACHE_HASHDIR" not in env:
            new.setdefault("CCACHE_NOHASHDIR", "1")
        return new

    def stats(self, env: Mapping[str, str]) -> dict[str, int]:
        """ccache's counters (`--print-stats`); empty when this ccache cannot print them."""
        proc = runner.capture([self.path, "--print-stats"], env=env)
        counters: dict[str, int] = {}
        for line in proc.stdout.splitlines() if proc.returncode == 0 else ():
            name, _, value = line.partition("\t")
            if value.strip().isdigit():
                counters[name] = int(value)
        return counters


def setup(env: Mapping[str, str], directory: Path) -> Ccache | None:
    """Links named like compilers to ccache in `directory`; None when ccache is not installed."""
    path = shutil.which("ccache", path=env.get("PATH"))
    if path is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    for name in COMPILERS:
        link = directory / name
        link.unlink(missing_ok=True)
        link.symlink_to(path)
    proc = runner.capture([path, "--version"], env=env)
    version = (proc.stdout.splitlines() or ["ccache"])[0].strip()
    return Ccache(path, version, directory)


def summary(tool: Ccache, before: Mapping[str, int], after: Mapping[str, int], env: Mapping[str, str]) -> dict:
    """What the receipt says about ccache: its version, whether remote storage was configured,
    and this build's hits and misses (the counters' growth during the build)."""
    remote = runner.capture([tool.path, "--get-config", "remote_storage"], env=env).stdout.strip()
    facts: dict = {"version": tool.version, "remote_storage": bool(remote)}
    if after:
        for key, names in _COUNTED.items():
            facts[key] = sum(after.get(n, 0) - before.get(n, 0) for n in names)
    return facts
