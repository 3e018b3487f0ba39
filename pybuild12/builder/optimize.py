"""`--optimize max`: the fastest CPython a source build gives, as python-build-standalone
builds its own.

The standard optimized build is what the official Docker images do: GCC with PGO and
full LTO. The `max` level compiles with clang of one pinned LLVM (`LLVM`), with
ThinLTO, PGO, BOLT (CPython's `--enable-bolt`, 3.12 and later on x86-64 Linux: the
linked binary is instrumented, trained, and laid out again by `llvm-bolt`) and, where
it exists (3.14 and later), the tail-calling interpreter (`--with-tail-call-interp`).

The whole LLVM toolchain comes from one directory: clang, llvm-ar, llvm-profdata,
llvm-bolt, merge-fdata and ld.lld must agree on their version (a profile written by one
llvm-profdata is unreadable to another's clang). The build runs with that directory
first on PATH and `CC=clang`, so CPython's configure finds every tool there.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from pybuild12.core import distro, runner
from pybuild12.core.errors import PrerequisiteError
from pybuild12.request.spelling import minor_of

LLVM = 19  # Debian bookworm ships clang-19, lld-19, llvm-19 and bolt-19
TOOLS = ("clang", "llvm-ar", "llvm-profdata", "ld.lld", "llvm-bolt", "merge-fdata")
# The packages that provide them ({llvm}: the major version).
DEBIAN = ("clang-{llvm}", "llvm-{llvm}", "lld-{llvm}", "bolt-{llvm}")
FEDORA = ("clang", "llvm", "lld", "llvm-bolt")
BOLT_SINCE = (3, 12)
TAIL_CALL_SINCE = (3, 14)
_VERSION = re.compile(r"version (\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class Toolchain:
    """An LLVM whose tools all live in `bindir`, clang's full version, and the first line
    of its `--version` (what the receipt and the keys name as the compiler)."""

    bindir: Path
    version: str
    banner: str = ""

    def environment(self, env: Mapping[str, str]) -> dict[str, str]:
        """What the build's steps run with: this LLVM first on PATH, clang as the compiler,
        and lld as the linker (ThinLTO and BOLT's relocations need it)."""
        ldflags = " ".join(filter(None, (env.get("LDFLAGS_NODIST", "").strip(), "-fuse-ld=lld")))
        return {"PATH": os.pathsep.join(filter(None, (str(self.bindir), env.get("PATH", "")))),
                "CC": "clang", "CXX": "clang++", "LDFLAGS_NODIST": ldflags}


def bolt_supported(version: str | None) -> bool:
    return platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64") and (
        version is None or minor_of(version) >= BOLT_SINCE)


def tail_call_supported(version: str | None) -> bool:
    return version is not None and minor_of(version) >= TAIL_CALL_SINCE


def configure_args(version: str | None) -> tuple[str, ...]:
    """What `max` adds to ./configure (besides --enable-optimizations): ThinLTO, BOLT, and
    the tail-calling interpreter where this CPython has it."""
    args = ["--with-lto=thin"]
    if bolt_supported(version):
        args.append("--enable-bolt")
    if tail_call_supported(version):
        args.append("--with-tail-call-interp")
    return tuple(args)


def packages(llvm: int = LLVM) -> tuple[list[str], list[str]]:
    return [p.format(llvm=llvm) for p in DEBIAN], list(FEDORA)


def find_clang(env: Mapping[str, str], llvm: int = LLVM) -> Toolchain | None:
    """The directory of LLVM `llvm`'s clang: `clang-N` on PATH leads to its real directory
    (Debian: /usr/lib/llvm-N/bin); a plain `clang` of LLVM N is taken the same way."""
    for program in (f"clang-{llvm}", "clang"):
        found = shutil.which(program, path=env.get("PATH"))
        if not found:
            continue
        bindir = Path(os.path.realpath(found)).parent
        try:
            out = runner.capture([str(bindir / "clang"), "--version"], timeout=30).stdout
        except (OSError, runner.TimedOut, PrerequisiteError):
            continue
        match = _VERSION.search(out)
        if match and int(match.group(1)) == llvm:
            return Toolchain(bindir, match.group(0).split()[1], out.splitlines()[0].strip())
    return None


def find(env: Mapping[str, str], llvm: int = LLVM) -> tuple[Toolchain | None, list[str]]:
    """The LLVM `llvm` toolchain on this machine, and the tools it lacks: clang's
    directory must hold the other tools too."""
    clang = find_clang(env, llvm)
    if clang is None:
        return None, list(TOOLS)
    absent = [tool for tool in TOOLS if not (clang.bindir / tool).exists()]
    return (clang if not absent else None), absent


def require(env: Mapping[str, str], llvm: int = LLVM) -> Toolchain:
    """The toolchain, or a PrerequisiteError naming the packages that provide it."""
    toolchain, absent = find(env, llvm)
    if toolchain is None:
        debian, fedora = packages(llvm)
        raise PrerequisiteError(
            f"--optimize max builds with LLVM {llvm}: missing {', '.join(absent)} of LLVM {llvm}",
            hint="install them, then run the same command again (or add --install-deps):\n"
            + "\n".join(distro.install_lines(dict.fromkeys(debian, llvm), fedora, env)),
        )
    return toolchain


# llvm-bolt flags of CPython's configure that LLVM 19 mishandles on CPython 3.13 (seen with
# 19.1.7 on 3.13.5): -update-debug-sections segfaults llvm-bolt itself while it rewrites the
# DWARF (llvm-project#121213); -frame-opt=hot together with -indirect-call-promotion=all
# gives a binary that segfaults at start (each of the two alone works).
UNSAFE_BOLT_FLAGS = ("-update-debug-sections", "-frame-opt=hot")


def tune_bolt(tree: Path, log_path: Path) -> list[str]:
    """Take UNSAFE_BOLT_FLAGS out of the Makefile's llvm-bolt flags (the BOLT_* lines)
    after configure; returns the flags taken out. Without -update-debug-sections the
    debug sections stay as the linker wrote them (a debugger may place lines of moved
    code wrongly; profiles and tracebacks are unaffected)."""
    makefile = tree / "Makefile"
    try:
        lines = makefile.read_text("utf-8").splitlines(keepends=True)
    except OSError:
        return []
    removed: set[str] = set()
    for i, line in enumerate(lines):
        if not line.startswith("BOLT_"):
            continue
        words = line.rstrip("\n").split(" ")
        kept = [w for w in words if w not in UNSAFE_BOLT_FLAGS]
        removed.update(w for w in words if w in UNSAFE_BOLT_FLAGS)
        lines[i] = " ".join(kept) + "\n"
    if removed:
        makefile.write_text("".join(lines), "utf-8")
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"### Makefile: {' '.join(sorted(removed))} taken out of the llvm-bolt flags\n")
    return sorted(removed)


BOLT_NOTE = b".note.bolt_info"  # the section llvm-bolt adds to every binary it rewrites


def bolted(binary: Path) -> bool:
    """Whether llvm-bolt rewrote `binary` (its section names include BOLT's note)."""
    try:
        with open(os.path.realpath(binary), "rb") as fh:
            return BOLT_NOTE in fh.read()
    except OSError:
        return False
