"""Sanitizer builds (`+tsan`, `+asan`, `+ubsan`): the compiler they need, the runtime
options every python of theirs runs with, and the reports those runtimes write.

A sanitizer build is compiled with one pinned LLVM's clang (`[sanitizers] llvm` in
resources/variants.toml) and its compiler-rt, given to configure as absolute paths, so
the build's sysconfig names that same clang: a C extension built later for the build
(pip, setuptools) is compiled with it and with the build's `-fsanitize=` flags.

The source tree's own suppressions (`Tools/tsan/`, `Tools/ubsan/`) are installed with the
build, in `share/pybuild12/sanitizers/`, beside `sanitizers.json` (which sanitizers, and
whether free-threaded): from those `runtime_env` makes the options pybuild12 sets wherever
it starts the build's python (run, env, venv, verify, compat, the test suite), as
CPython's CI sets them, with the user's own options after them (the last word wins).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from pybuild12.builder import optimize
from pybuild12.core import distro, runner
from pybuild12.core.errors import PrerequisiteError
from pybuild12.request import variants
from pybuild12.request.spelling import minor_of

INSTALLED = Path("share") / "pybuild12" / "sanitizers"  # under the prefix
MARKER = "sanitizers.json"
MMAP_RND_BITS = Path("/proc/sys/vm/mmap_rnd_bits")
# The first line of a report of each runtime (UBSan's: `file.c:12:5: runtime error: ...`).
_REPORT = re.compile(r"^(?:WARNING: ThreadSanitizer:|==\d+==ERROR: (?:Address|Leak)Sanitizer:|"
                     r"\S+:\d+:\d+: runtime error: |ThreadSanitizer: |AddressSanitizer: |"
                     r"==\d+==AddressSanitizer: |FATAL: ThreadSanitizer)", re.MULTILINE)


def llvm() -> int:
    return int(variants.table()["sanitizers"]["llvm"])


def packages() -> tuple[list[str], list[str]]:
    """Debian's and Fedora's packages of that LLVM's clang and compiler-rt."""
    data = variants.table()["sanitizers"]
    return [p.format(llvm=llvm()) for p in data["debian"]], list(data["fedora"])


@dataclass(frozen=True)
class Clang:
    cc: Path
    cxx: Path
    version: str  # 19.1.7
    banner: str  # the first line of `clang --version`


def find_clang(env: Mapping[str, str]) -> Clang | None:
    """`clang-N` of the pinned LLVM on PATH (or a plain `clang` of it), by its real directory."""
    found = optimize.find_clang(env, llvm())
    if found is None or not (found.bindir / "clang++").exists():
        return None
    return Clang(found.bindir / "clang", found.bindir / "clang++", found.version, found.banner)


def runtime_missing(clang: Clang, sanitizer: str, env: Mapping[str, str] | None = None) -> str | None:
    """Why a program built with `-fsanitize=sanitizer` does not link (compiler-rt absent),
    or None when it does."""
    with tempfile.TemporaryDirectory(prefix="pybuild12-san-") as tmp:
        source = Path(tmp) / "probe.c"
        source.write_text("int main(void) { return 0; }\n")
        try:
            argv = [str(clang.cc), f"-fsanitize={sanitizer}", str(source), "-o", str(Path(tmp) / "probe")]
            proc = runner.capture(argv, timeout=120, env=env)
        except (OSError, runner.TimedOut) as exc:
            return str(exc)
    if proc.returncode == 0:
        return None
    said = proc.stderr.splitlines()
    lines = ([line for line in said if "cannot find" in line] or [line for line in said if "error" in line]
             or said or ["failed"])
    return lines[0].strip()[:200]


def mmap_rnd_bits(path: Path = MMAP_RND_BITS) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def aslr_problem(path: Path = MMAP_RND_BITS) -> str | None:
    """Why ThreadSanitizer may fail to start here (too much ASLR entropy), or None."""
    bits, most = mmap_rnd_bits(path), int(variants.table()["sanitizers"]["mmap_rnd_bits"])
    if bits is None or bits <= most:
        return None
    return (f"vm.mmap_rnd_bits is {bits}: ThreadSanitizer needs at most {most} "
            f"(run: sudo sysctl -w vm.mmap_rnd_bits={most}; to keep it, put vm.mmap_rnd_bits={most} "
            "in /etc/sysctl.d/99-tsan.conf)")


def build_environment(wanted: Iterable[str], env: Mapping[str, str]) -> dict[str, str]:
    """`env` with the pinned clang as CC and CXX (absolute paths) for a sanitizer build;
    `env` itself otherwise. A PrerequisiteError names the packages when that clang is absent."""
    if not variants.sanitizers_of(wanted):
        return dict(env)
    clang = find_clang(env)
    if clang is None:
        debian, fedora = packages()
        raise PrerequisiteError(
            f"a sanitizer build compiles with clang {llvm()} and its compiler-rt: no clang-{llvm()} on PATH",
            hint="install them, then run the same command again (or add --install-deps):\n"
            + "\n".join(distro.install_lines(dict.fromkeys(debian, llvm()), fedora, env)))
    return {**env, "CC": str(clang.cc), "CXX": str(clang.cxx)}


def symbolizer_of(cc: str | None) -> Path | None:
    """llvm-symbolizer beside the clang a build is compiled with (it names the functions
    and lines of a report; without it a report shows addresses only)."""
    if not cc:
        return None
    found = Path(cc).parent / "llvm-symbolizer"
    return found if found.is_file() else None


def options(wanted: Iterable[str], tools: Path, *, freethreaded: bool, for_build: bool = False,
            symbolizer: Path | None = None) -> dict[str, list[str]]:
    """The runtime options of each sanitizer among `wanted`, by variable, with the
    suppressions under `tools` (a source tree's Tools/, or an installed build's copy) and
    the `symbolizer`. Outside the build, UBSan stops at its first report (CPython's CI
    runs its tests so)."""
    table = variants.table()
    found: dict[str, list[str]] = {}
    for sanitizer in variants.sanitizers_of(wanted):
        data = table[sanitizer]
        opts = list(data["options"])
        files = [tools / f for f in data["suppressions"]]
        if sanitizer == "tsan":
            files = [files[1] if freethreaded else files[0]]
        opts += [f"suppressions={_quoted(f)}" for f in files if f.is_file()]
        if symbolizer is not None:
            opts.append(f"external_symbolizer_path={_quoted(symbolizer)}")
        if sanitizer == "ubsan" and not for_build:
            opts.append("halt_on_error=1")
        found[data["runtime"]] = opts
    return found


def _quoted(path: Path) -> str:
    text = str(path)
    return f'"{text}"' if any(c in text for c in ' :,"\t') else text


def extend(ours: Mapping[str, list[str]], env: Mapping[str, str]) -> dict[str, str]:
    """Each variable of `ours` with the user's own options (from `env`) after pybuild12's,
    so a user's setting wins; a value that already starts with ours is left as it is."""
    result = {}
    for name, opts in ours.items():
        mine = ":".join(opts)
        theirs = env.get(name, "").strip()
        result[name] = theirs if theirs.startswith(mine) and mine else ":".join(filter(None, (mine, theirs)))
    return result


def known_races(sanitizer: str, version: str | None) -> list[str]:
    """The suppressions pybuild12 adds for CPython `version`'s own known reports."""
    if version is None:
        return []
    major, minor = minor_of(version)
    return list(variants.table()[sanitizer].get("known", {}).get(f"{major}.{minor}", []))


def install_suppressions(tree: Path, prefix: Path, wanted: Iterable[str], symbolizer: Path | None = None,
                         version: str | None = None) -> None:
    """Copy the tree's suppressions of the build's sanitizers into `prefix` (staged), with
    pybuild12's for the version's known reports after them, and the marker that says which
    sanitizers the build has (and the symbolizer of its LLVM)."""
    wanted = tuple(wanted)
    chosen = variants.sanitizers_of(wanted)
    if not chosen:
        return
    target = prefix / INSTALLED
    target.mkdir(parents=True, exist_ok=True)
    added: list[str] = []
    for sanitizer in chosen:
        known = known_races(sanitizer, version)
        for name in variants.table()[sanitizer]["suppressions"]:
            source = tree / "Tools" / name
            if not source.is_file():
                continue
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            text = source.read_text("utf-8", errors="replace")
            if known:
                text += (f"\n# Added by pybuild12: CPython {version}'s own known reports (see its "
                         "resources/variants.toml)\n" + "".join(f"{line}\n" for line in known))
            (target / name).write_text(text, "utf-8")
        added += known
    marker = {"sanitizers": list(chosen), "freethreaded": "freethreaded" in wanted,
              "symbolizer": str(symbolizer) if symbolizer else None, "known": added}
    (target / MARKER).write_text(json.dumps(marker, sort_keys=True) + "\n", "utf-8")


def installed(prefix: Path) -> dict | None:
    """The marker of a sanitizer build at `prefix`; None for any other build."""
    try:
        data = json.loads((prefix / INSTALLED / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("sanitizers") else None


def prefix_of(python: Path) -> Path:
    """The prefix of an interpreter (through a venv's link): <prefix>/bin/python3.13."""
    return Path(os.path.realpath(python)).parent.parent


def runtime_env(python: Path, env: Mapping[str, str]) -> dict[str, str]:
    """The variables to set (over `env`) to run `python` as its sanitizer build wants;
    empty for an interpreter that is no pybuild12 sanitizer build."""
    prefix = prefix_of(python)
    marker = installed(prefix)
    if marker is None:
        return {}
    symbolizer = Path(marker["symbolizer"]) if marker.get("symbolizer") else None
    ours = options(marker["sanitizers"], prefix / INSTALLED, freethreaded=bool(marker.get("freethreaded")),
                   symbolizer=symbolizer if symbolizer and symbolizer.is_file() else None)
    return extend(ours, env)


def with_runtime(python: Path, env: Mapping[str, str] | None) -> dict[str, str] | None:
    """`env` (None: this process's) with `python`'s sanitizer options; None when there are none
    and `env` was None (the child inherits this process's environment)."""
    base = os.environ if env is None else env
    extra = runtime_env(python, base)
    if not extra:
        return None if env is None else dict(env)
    return {**base, **extra}


def report_in(text: str, lines: int = 12) -> str | None:
    """The start of the first sanitizer report in `text` (a process's stderr), or None."""
    match = _REPORT.search(text)
    if match is None:
        return None
    start = text.rfind("\n", 0, match.start()) + 1
    return "\n".join(text[start:].splitlines()[:lines])
