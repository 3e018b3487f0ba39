"""Check the host for what a CPython build needs, before anything is downloaded.

pyenv users meet missing build dependencies one failed build at a time
(pyenv#243, #1114, #2246); this checks them all at once and names the
Debian/Ubuntu and Fedora packages that provide each missing piece. Headers
are checked the way configure does: by running the C preprocessor on an
`#include`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass, replace
from importlib import resources
from typing import Iterable, Mapping

from pybuild12.builder import optimize, sanitizers
from pybuild12.core import distro, runner
from pybuild12.core.errors import PrerequisiteError
from pybuild12.request import variants
from pybuild12.request.recipes import DEFAULT_REQUIRED_MODULES, KNOWN_MODULES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Check:
    name: str
    what: str
    ok: bool
    required: bool
    detail: str
    debian: str
    fedora: str
    group: str = ""  # "jit", "optimize": wanted only by JIT or --optimize max builds, installed only for them
    llvm: int | None = None  # the LLVM major whose packages provide it (not every release has every LLVM)


def table() -> dict:
    text = resources.files("pybuild12").joinpath("resources/prerequisites.toml").read_text("utf-8")
    return tomllib.loads(text)


def compiler(env: Mapping[str, str]) -> list[str] | None:
    """The C compiler as argv: $CC if set, else the first of cc/gcc/clang on PATH."""
    if env.get("CC"):
        argv = shlex.split(env["CC"])
        return argv if shutil.which(argv[0], path=env.get("PATH")) else None
    for program in table()["tools"]["cc"]["programs"]:
        if shutil.which(program, path=env.get("PATH")):
            return [program]
    return None


def compiler_version(env: Mapping[str, str]) -> str:
    """The first line of the C compiler's `--version`: what the receipt and the artifact key name."""
    cc = compiler(env)
    if not cc:
        return "unknown"
    out = runner.capture([*cc, "--version"], env=env)
    first = (out.stdout.splitlines() or ["unknown"])[0]
    return first.strip()


def run(required_modules: Iterable[str], env: Mapping[str, str] | None = None, *,
        source_kind: str = "tarball") -> list[Check]:
    """Check tools and headers; headers of `required_modules` are required."""
    env = dict(os.environ if env is None else env)
    data = table()
    required = set(required_modules)
    checks = []
    for name, tool in data["tools"].items():
        if tool.get("only-for", source_kind) != source_kind:
            continue
        absent = f"none of {', '.join(tool['programs'])} on PATH"
        if name == "cc":
            found = compiler(env)
            found_text = shlex.join(found) if found else None
            if env.get("CC"):
                absent = f"CC={env['CC']} is not on PATH"
        else:
            found_text = next((p for p in tool["programs"] if shutil.which(p, path=env.get("PATH"))), None)
        checks.append(
            Check(name, tool["what"], found_text is not None, True, found_text or absent,
                  tool["debian"], tool["fedora"])
        )
    cc = compiler(env)
    for name, spec in data["headers"].items():
        needed = bool(required.intersection(spec["modules"]))
        if spec.get("optional") and not needed:
            continue  # checked only when a recipe requires its module
        if cc is None:
            ok, detail = False, "not checked: no C compiler"
        else:
            ok, detail = _has_header(cc, spec["header"], spec.get("pkg-config"), env)
        checks.append(
            Check(name, f"<{spec['header']}>", ok, needed, detail,
                  spec["debian"], spec["fedora"])
        )
    return checks


def _has_header(cc: list[str], header: str, pkg: str | None, env: Mapping[str, str]) -> tuple[bool, str]:
    flags: list[str] = []
    if pkg and shutil.which("pkg-config", path=env.get("PATH")):
        out = runner.capture(["pkg-config", "--cflags", pkg], env=env)
        if out.returncode == 0:
            flags = shlex.split(out.stdout)
    flags += shlex.split(env.get("CPPFLAGS", ""))
    proc = runner.capture([*cc, *flags, "-E", "-x", "c", "-o", os.devnull, "-"], input=f"#include <{header}>\n",
                          env=env)
    if proc.returncode == 0:
        return True, "found"
    return False, "not found by the C preprocessor"


def doctor(data_dir: str, env: Mapping[str, str] | None = None, *, min_free_gb: float = 5.0) -> list[Check]:
    """Everything pybuild12 can use: every tool (git too) and header, and free disk space.

    The headers of the default required modules are required; the rest are optional.
    """
    checks = run(list(KNOWN_MODULES), env, source_kind="git")
    required = set(DEFAULT_REQUIRED_MODULES)
    data = table()["headers"]
    checks = [replace(c, required=bool(required.intersection(data[c.name]["modules"]))) if c.name in data
              else replace(c, required=False) if c.name == "git" else c
              for c in checks]
    probe = data_dir
    while not os.path.exists(probe):
        probe = os.path.dirname(probe) or "/"
    for llvm in sorted(set(variants.table()["jit"]["llvm"].values())):
        checks += jit_toolchain(llvm, env, required=False)
    checks += optimize_toolchain(env, required=False)
    checks += sanitizer_toolchain(variants.SANITIZERS, env, required=False)
    free = shutil.disk_usage(probe).free / 2**30
    checks.append(Check("disk", f"free space at {probe}", free >= min_free_gb, True,
                        f"{free:.1f} GiB free (a build needs about {min_free_gb:.0f} GiB while it runs)", "-", "-"))
    return checks


def install_command(checks: Iterable[Check], *, is_root: bool | None = None,
                    groups: Iterable[str] = ()) -> list[str] | None:
    """apt-get or dnf, with sudo unless root, for the packages behind the missing checks
    (those of a group, such as the JIT's LLVM, only when that group is asked for)."""
    wanted = {"", *groups}
    absent = [c for c in checks if not c.ok and c.debian != "-" and c.group in wanted]
    if not absent:
        return None
    root = os.geteuid() == 0 if is_root is None else is_root
    sudo = [] if root else ["sudo"]
    if shutil.which("apt-get"):
        return [*sudo, "apt-get", "install", "-y", *sorted({p for c in absent for p in c.debian.split(", ")})]
    if shutil.which("dnf"):
        return [*sudo, "dnf", "install", "-y", *sorted({p for c in absent for p in c.fedora.split(", ")})]
    return None


# ---------------------------------------------------------------- the JIT's LLVM

_LLVM_VERSION = re.compile(r"version (\d+)\.(\d+)\.(\d+)")


def _llvm_tool(tool: str, llvm: int, env: Mapping[str, str]) -> tuple[str | None, str]:
    """`tool-N` on PATH, else a plain `tool` of LLVM N (what CPython's Tools/jit looks for)."""
    path = env.get("PATH")
    for program in (f"{tool}-{llvm}", tool):
        found = shutil.which(program, path=path)
        if not found:
            continue
        try:
            out = runner.capture([found, "--version"], timeout=30).stdout
        except (OSError, runner.TimedOut):
            continue
        match = _LLVM_VERSION.search(out)
        if match and int(match.group(1)) == llvm:
            return program, match.group(0).split()[1]
    return None, ""


def jit_toolchain(llvm: int | None, env: Mapping[str, str] | None = None, *, required: bool = True) -> list[Check]:
    """clang and llvm-readobj of LLVM `llvm`, which a JIT build compiles its stencils with."""
    if llvm is None:
        return []
    env = dict(os.environ if env is None else env)
    debian, fedora = variants.jit_packages(llvm)
    users = ", ".join(v for v, major in variants.table()["jit"]["llvm"].items() if major == llvm) or "?"
    checks = []
    for tool, deb, fed in (("clang", debian[0], fedora[0]), ("llvm-readobj", debian[1], fedora[1])):
        program, version = _llvm_tool(tool, llvm, env)
        checks.append(Check(f"{tool}-{llvm}", f"{tool} {llvm} (JIT of {users})", program is not None, required,
                            f"{program} {version}" if program else f"neither {tool}-{llvm} nor a {tool} of LLVM {llvm} "
                            "on PATH", deb, fed, group="jit", llvm=llvm))
    return checks


def optimize_toolchain(env: Mapping[str, str] | None = None, *, required: bool = True) -> list[Check]:
    """The LLVM toolchain of --optimize max, one row per package that provides part of it."""
    toolchain, absent = optimize.find(dict(os.environ if env is None else env))
    debian, fedora = optimize.packages()
    provides = (("clang",), ("llvm-ar", "llvm-profdata"), ("ld.lld",), ("llvm-bolt", "merge-fdata"))
    checks = []
    for tools, deb, fed in zip(provides, debian, fedora, strict=True):
        lacking = [t for t in tools if t in absent]
        where = f"in {toolchain.bindir}" if toolchain else "with clang's"
        checks.append(Check(deb, f"{', '.join(tools)} (--optimize max)", not lacking, required,
                            f"not found {where}: {', '.join(lacking)}" if lacking else f"LLVM {optimize.LLVM}",
                            deb, fed, group="optimize", llvm=optimize.LLVM))
    return checks


def llvm_version(llvm: int, env: Mapping[str, str] | None = None) -> str:
    """The full version of LLVM `llvm`'s clang (for the keys of JIT builds), or 'missing'."""
    _, version = _llvm_tool("clang", llvm, dict(os.environ if env is None else env))
    return version or "missing"


def missing(checks: Iterable[Check]) -> list[Check]:
    return [c for c in checks if not c.ok]


def enforce(checks: list[Check]) -> list[Check]:
    """Raise when a required piece is missing; return the optional ones that are."""
    absent = missing(checks)
    blocking = [c for c in absent if c.required]
    if blocking:
        lines = [f"  {c.name:<11} {c.what:<24} {c.detail}" for c in blocking]
        raise PrerequisiteError(
            "the build cannot start, these are missing:\n" + "\n".join(lines),
            hint=install_hint(blocking),
        )
    return absent


def packages_for(modules: Iterable[str]) -> list[Check]:
    """The header entries behind `modules`, for naming packages without probing the host."""
    wanted = set(modules)
    return [Check(name, f"<{spec['header']}>", False, True, "", spec["debian"], spec["fedora"])
            for name, spec in table()["headers"].items() if wanted.intersection(spec["modules"])]


def extensions_of(modules: Iterable[str]) -> set[str]:
    """The extension modules CPython's build names for the Python-level `modules` (curses:
    _curses and _curses_panel)."""
    wanted = set(modules)
    names = {KNOWN_MODULES[m] for m in wanted if m in KNOWN_MODULES}
    for spec in table()["headers"].values():
        if wanted.intersection(spec["modules"]):
            names.update(spec.get("extensions", []))
    return names


def packages_of_extension(extension: str) -> str:
    """What provides the headers an extension module needs, on this distribution family
    ("libgdbm-compat-dev" on Debian and Ubuntu, "gdbm-devel" on Fedora); "" if not known."""
    release = distro.release()
    family = "fedora" if release is not None and "fedora" in (release.id, *release.like) else "debian"
    for spec in table()["headers"].values():
        if extension in spec.get("extensions", []):
            return spec[family]
    return ""


def install_hint(checks: Iterable[Check]) -> str:
    """What to install for the missing `checks`: only packages this machine's apt has, and
    for the others (an LLVM the release does not ship) where they come from instead."""
    checks = list(checks)
    if not _debian_packages(checks):  # a setting, not a package (vm.mmap_rnd_bits): the detail says how
        return "fix it as the line above says, then run the same command again"
    lines = distro.install_lines(_debian_packages(checks), {c.fedora for c in checks if c.fedora != "-"})
    return "install them, then run the same command again:\n" + "\n".join(lines)


def _debian_packages(checks: Iterable[Check]) -> dict[str, int | None]:
    """The Debian packages behind `checks`, each with the LLVM major it belongs to."""
    return {p: c.llvm for c in checks for p in c.debian.split(", ") if p and p != "-"}


def refuse_uninstallable(checks: Iterable[Check], command: list[str], env: Mapping[str, str] | None = None) -> None:
    """Before `apt-get install`: refuse when apt here has no such package (apt-get would
    fail, and the same hint would send the user round again), saying where it comes from."""
    if "apt-get" not in command:
        return
    wanted = set(command[command.index("install") + 1:]) - {"-y"}
    packages = {p: llvm for p, llvm in _debian_packages(checks).items() if p in wanted}
    plan = distro.apt_plan(packages, env)
    if not plan.lacking:
        return
    rest = (f"; --install-deps installs the rest ({' '.join(plan.installable)}) once they are there"
            if plan.installable else "")
    hows = [how for _, how in plan.lacking if how]
    raise PrerequisiteError(
        "; ".join(what for what, _ in plan.lacking) + " (apt-cache policy knows no such package here)",
        hint="; ".join(hows or ["install them some other way"]) + ", then run the same command again" + rest)


def package_columns(checks: Iterable[Check], env: Mapping[str, str] | None = None) -> list[tuple[str, list[str]]]:
    """`doctor`'s package columns, (title, one cell per check): this machine's package
    manager's alone where the release is known, with where to get a package apt here
    does not have (an LLVM the release does not ship); else Debian's and Fedora's."""
    checks = list(checks)
    here = distro.release()
    if here is not None and here.uses_dnf:
        return [("Fedora", [c.fedora for c in checks])]
    debian = [c.debian for c in checks]
    if here is not None and here.uses_apt:
        packages = _debian_packages(c for c in checks if not c.ok)
        plan = distro.apt_plan(packages, env)
        notes = {p: "apt.llvm.org" if packages[p] is not None else f"not in {here.codename or here}"
                 for p in set(packages) - set(plan.installable)}
        cells = [", ".join(f"{p} ({notes[p]})" if p in notes else p for p in c.debian.split(", ")) for c in checks]
        return [(plan.label, cells)]
    return [("Debian/Ubuntu", debian), ("Fedora", [c.fedora for c in checks])]


def merged(checks: Iterable[Check]) -> list[Check]:
    """One row per name: the JIT's clang-19 and --optimize max's are the same program,
    found once or missing once (for display; `install_command` takes the rows as they are)."""
    rows: dict[str, Check] = {}
    for c in checks:
        seen = rows.get(c.name)
        if seen is None:
            rows[c.name] = c
        else:
            rows[c.name] = replace(seen, what=f"{seen.what}; {c.what}", ok=seen.ok and c.ok,
                                   required=seen.required or c.required,
                                   detail=seen.detail if not seen.ok or c.ok else c.detail)
    return list(rows.values())


# ---------------------------------------------------------------- sanitizer builds


def sanitizer_toolchain(wanted: Iterable[str], env: Mapping[str, str] | None = None, *,
                        required: bool = True) -> list[Check]:
    """What the sanitizer builds among `wanted` need: the pinned LLVM's clang, its
    compiler-rt (a program linked with each -fsanitize= flag), and for ThreadSanitizer an
    ASLR setting it can start with."""
    chosen = [s for s in variants.SANITIZERS if s in set(wanted)]
    if not chosen:
        return []
    env = dict(os.environ if env is None else env)
    major = sanitizers.llvm()
    debian, fedora = sanitizers.packages()
    clang = sanitizers.find_clang(env)
    what = f"clang {major} (sanitizer builds)"
    checks = [Check(f"clang-{major}", what, clang is not None, required,
                    clang.banner if clang else f"neither clang-{major} nor a clang of LLVM {major} on PATH",
                    debian[0], fedora[0], group="sanitizers", llvm=major)]
    for sanitizer in chosen:
        flag = variants.table()[sanitizer]["sanitizer"]
        problem = sanitizers.runtime_missing(clang, flag, env) if clang else "needs clang first"
        checks.append(Check(f"rt-{sanitizer}", f"compiler-rt: -fsanitize={flag}", problem is None, required,
                            f"links with clang {clang.version}" if problem is None and clang else problem or "",
                            debian[1], fedora[1], group="sanitizers", llvm=major))
    symbolizer = sanitizers.symbolizer_of(str(clang.cc)) if clang else None
    checks.append(Check(f"llvm-symbolizer-{major}", "llvm-symbolizer (function names in reports)",
                        symbolizer is not None, required,
                        str(symbolizer) if symbolizer else f"not beside clang {major}", debian[2], fedora[2],
                        group="sanitizers", llvm=major))
    if "tsan" in chosen:
        problem = sanitizers.aslr_problem()
        checks.append(Check("aslr", "vm.mmap_rnd_bits (ThreadSanitizer)", problem is None, required,
                            problem or f"{sanitizers.mmap_rnd_bits()} bits", "-", "-", group="sanitizers"))
    return checks
