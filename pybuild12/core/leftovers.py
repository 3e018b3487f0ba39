"""What a killed run leaves behind, and how the next run tells it from live work.

Ctrl-C and SIGTERM unwind normally and remove what the run created. SIGKILL, an
OOM kill or a power cut cannot: they leave `.part` files in the caches, a build
tree with make's children still running in their own session, and a staging
directory. Each `.part` file is held with flock(2) by the process writing it, and
the kernel drops that lock when the process dies, so a later run deletes the
`.part` files nobody holds and never one that a live process is still writing.
Build commands carry a mark in their environment; marked processes still running
while the next run holds the build's lock were started by a run that is gone, and
are stopped.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Iterator, Mapping

from pybuild12.core import files, staging
from pybuild12.core.paths import Paths
from pybuild12.core.report import Reporter

MARKER = "PYBUILD12_BUILD_TREE"  # set in the environment of every build command


def marked(env: Mapping[str, str], tree: Path) -> dict[str, str]:
    """`env` with the mark that lets a later run find this run's build processes."""
    return {**env, MARKER: str(tree)}


def build_processes(tree: Path) -> dict[int, str]:
    """Running processes (pid: command line) started for the build in `tree`."""
    mark = f"{MARKER}={tree}".encode()
    return {pid: _cmdline(proc) for pid, proc in _processes() if mark in _environ(proc)}


def users_of(prefix: Path) -> dict[int, str]:
    """Running processes (pid: command line) whose program is inside `prefix`."""
    prefix = prefix.resolve()
    found = {}
    for pid, proc in _processes():
        try:
            exe = Path(os.readlink(proc / "exe"))
        except OSError:
            continue
        if prefix in exe.parents:
            found[pid] = _cmdline(proc)
    return found


def _processes() -> Iterator[tuple[int, Path]]:
    """Other processes that see the file system as this one does. A process under another
    root (a container or chroot sharing this PID namespace) may run a build at the very
    same path in its own file system: it is never this home's leftover, nor its user."""
    proc = Path("/proc")
    if not proc.is_dir():
        return
    own_root = _root_of(proc / "self")
    for entry in proc.iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid() and _root_of(entry) == own_root:
            yield int(entry.name), entry


def _root_of(proc: Path) -> tuple[int, int] | None:
    """The identity (device, inode) of a process's root directory; None when hidden."""
    try:
        found = os.stat(proc / "root")
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _environ(proc: Path) -> list[bytes]:
    try:
        return (proc / "environ").read_bytes().split(b"\0")
    except OSError:
        return []


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def stop_build_processes(tree: Path, *, grace: float = 5.0) -> dict[int, str]:
    """Kill what still runs for the build in `tree` (make's process groups, left by a
    killed run: they live in their own session); return what it was."""
    found = build_processes(tree)
    own_group = os.getpgrp()
    for pid in found:
        try:
            group = os.getpgid(pid)
            if group != own_group:
                os.killpg(group, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in found):
        time.sleep(0.05)
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def reclaim(paths: Paths, name: str, reporter: Reporter) -> None:
    """Clear what a killed run of `name` left behind; call while holding its lock."""
    stopped = stop_build_processes(paths.builds / name)
    if stopped:
        reporter.warn(f"stopped {len(stopped)} processes left running in {paths.builds / name} by a killed run")
    removed = staging.remove_leftovers(paths.pythons, name)
    for cache_dir in (paths.downloads, paths.artifacts, paths.profiles):
        removed += files.sweep_parts(cache_dir)
    if removed:
        reporter.info(f"removed {len(removed)} leftovers of an interrupted run: "
                      + ", ".join(p.name for p in removed[:3]) + (", ..." if len(removed) > 3 else ""))
