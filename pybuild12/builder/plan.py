"""The build: a plan (a pure list of steps), the reading of its results (CPython's module
report, the PGO training's progress) and the Makefile adjustments made after configure.

`plan()` decides every argv without running anything, so tests can see exactly what
will run. Execution goes through
`runner.call`. The configure line is the one pyenv users know:
`./configure --prefix=<final prefix> --enable-optimizations [--with-lto] <recipe> <user>`.
`make install` writes into a staging DESTDIR, so nothing reaches the final
prefix until the build has been checked.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping, Sequence

from pybuild12.builder import optimize, preflight
from pybuild12.core.errors import BuildError, RecipeError, UsageError
from pybuild12.request import variants
from pybuild12.request.recipes import KNOWN_MODULES, Recipe, uses_lto

RESOURCES = Path(__file__).resolve().parents[1] / "resources"


# The variables of the environment that shape what configure and the compiler make of
# the sources: part of the artifact and profile keys, so a build with other flags never
# reuses an artifact or a profile made without them.
BUILD_ENV = ("CC", "CFLAGS", "CPPFLAGS", "LDFLAGS", "LIBS", "CFLAGS_NODIST", "LDFLAGS_NODIST", "PKG_CONFIG_PATH")
# And autoconf's cache variables (ac_cv_header_gdbm_h=no makes configure find no gdbm.h;
# py_cv_module__dbm=n/a leaves a module out), which configure reads from the environment.
CACHE_VARIABLE_PREFIXES = ("ac_cv_", "py_cv_")

# GCC names the LTO sections of each object from a random seed unless it is given one,
# and CPython's libpython.a keeps those sections (-ffat-lto-objects): without a seed two
# LTO builds of the same inputs differ there. `$@` is the object file, expanded by make
# (configure passes CFLAGS_NODIST into the Makefile unexpanded): one seed per file.
LTO_SEED = "-frandom-seed=$@"


@dataclass(frozen=True)
class Step:
    phase: str  # configure, compile, install
    title: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()  # set for this step only, over the build's environment


def user_configure_opts(cli_opts: Sequence[str], from_env: Sequence[str] = ()) -> tuple[str, ...]:
    """PYBUILD12_CONFIGURE_OPTS (`from_env`: Settings.configure_opts) first, then each --configure-opt."""
    opts = (*from_env, *cli_opts)
    for opt in opts:
        if opt.split("=", 1)[0] in ("--prefix", "--exec-prefix"):
            raise UsageError(
                f"configure option {opt!r} is not allowed",
                hint="pybuild12 chooses the prefix (see 'pybuild12 which'); set PYBUILD12_HOME to move it",
            )
    return opts


def configure_args(recipe: Recipe, prefix: Path, user_opts: Sequence[str] = ()) -> tuple[str, ...]:
    args = [f"--prefix={prefix}"]
    if recipe.build.optimizations:
        args.append("--enable-optimizations")
    if recipe.build.optimize == "max":
        args += optimize.configure_args(recipe.version)
    elif recipe.build.lto and "--with-lto" not in user_opts:
        args.append("--with-lto")
    args += recipe.build.configure_args
    args += variants.configure_args(recipe.build.variants)
    args += user_opts
    return tuple(args)


def configure_env(args: Sequence[str], env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """What configure's environment gains: a per-object random seed for GCC's LTO builds,
    after any CFLAGS_NODIST of the user's (clang's ThinLTO names its objects by content)."""
    if not uses_lto(args) or "--with-lto=thin" in args:
        return ()
    flags = env.get("CFLAGS_NODIST", "").strip()
    return (("CFLAGS_NODIST", f"{flags} {LTO_SEED}".strip()),)


def build_env(env: Mapping[str, str]) -> dict[str, str]:
    """The user's variables from BUILD_ENV that are set, and configure's cache variables (for the keys)."""
    found = {name: env[name] for name in BUILD_ENV if env.get(name)}
    found.update(sorted((k, v) for k, v in env.items() if k.startswith(CACHE_VARIABLE_PREFIXES)))
    return found


def plan(
    recipe: Recipe,
    *,
    prefix: Path,
    destdir: Path,
    jobs: int,
    user_opts: Sequence[str] = (),
    recorded_profile: bool = False,
    env: Mapping[str, str] | None = None,
    toolchain: "optimize.Toolchain | None" = None,
) -> tuple[Step, ...]:
    """The build's commands. With a `toolchain` (--optimize max), every step runs with
    its LLVM first on PATH, and configure with clang as CC and lld as the linker."""
    if jobs < 1:
        raise RecipeError(f"--jobs must be at least 1, got {jobs}")
    compile_title = "compile" if not recipe.build.optimizations else (
        "compile with the recorded PGO profile" if recorded_profile else "compile with PGO")
    if toolchain is not None and recipe.build.optimize == "max" and recipe.build.optimizations:
        compile_title += ", ThinLTO and BOLT" if optimize.bolt_supported(recipe.version) else " and ThinLTO"
    args = configure_args(recipe, prefix, user_opts)
    tools = toolchain.environment(env or {}) if toolchain is not None else {}
    every = (("PATH", tools["PATH"]),) if tools else ()
    configure = tuple((k, v) for k, v in tools.items() if k != "PATH") + configure_env(args, env or {})
    return (
        Step("configure", "configure", ("./configure", *args), every + configure),
        Step("compile", compile_title, ("make", f"-j{jobs}"), every),
        # ensurepip runs apart (see resources/ensurepip_again.py): inside `make install` it
        # installs no pip when the prefix being replaced already has the same one.
        Step("install", "install", ("make", "install", "ENSUREPIP=no", f"DESTDIR={destdir}"), every),
        Step("install", "install pip", ("make", "-f", "Makefile", "-f", str(RESOURCES / "ensurepip.mk"),
                                        "pybuild12-ensurepip", f"DESTDIR={destdir}",
                                        f"PYBUILD12_ENSUREPIP={RESOURCES / 'ensurepip_again.py'}",
                                        *(() if recipe.build.compiles_bytecode else (PIP_NO_COMPILE,))), every),
    )


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# Lines the Makefile prints between the three stages of a PGO build
# (Makefile.pre.in: profile-gen-stamp, profile-run-stamp, profile-opt).
PGO_STAGES = (
    ("Building with support for profile generation", "PGO 1/3: instrumented build"),
    ("# Next, run the profile task", "PGO 2/3: training run"),
    ("Rebuilding with profile guided optimizations", "PGO 3/3: optimized build"),
)
_TEST_COUNTER = re.compile(r"\[\s*(\d+)/(\d+)\]\s+(\S+)")


def pgo_stage(line: str) -> str | None:
    for marker, label in PGO_STAGES:
        if line.startswith(marker):
            return label
    return None


def training_progress(line: str) -> str | None:
    """'test 12/43 test_json' from regrtest's '0:00:31 load avg: 1.9 [12/43] test_json'."""
    match = _TEST_COUNTER.search(line)
    if match and ("load avg" in line or line.lstrip().startswith("[")):
        return f"test {match.group(1)}/{match.group(2)} {match.group(3)}"
    return None


_TRAINING_FAILED = re.compile(r"^make(\[\d+\])?: \*\*\* \[[^\]]*profile-run-stamp\] Error", re.M)
_FAILED_TEST = re.compile(r"^test (\S+) failed", re.M)


def training_failures(log_text: str) -> list[str] | None:
    """The tests that failed the PGO training run, if that is what stopped `make`; else None."""
    if not _TRAINING_FAILED.search(log_text):
        return None
    return sorted(set(_FAILED_TEST.findall(log_text)))


def profile_task(makefile: Path) -> str | None:
    """The Makefile's PROFILE_TASK (the training run's arguments), unexpanded; None if absent."""
    try:
        text = makefile.read_text("utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r"^PROFILE_TASK=[ \t]*(.+?)[ \t]*$", text, re.M)
    return match.group(1) if match else None


# Section headers of CPython's own module report (Tools/build/check_extension_modules.py).
_SECTIONS = {
    "The necessary bits to build these optional modules were not found:": "missing",
    "Following modules built successfully but were removed because they could not be imported:": "failed_import",
    "The following modules are *disabled* in configure script:": "disabled",
    "Failed to build these modules:": "failed",
}


def module_report(log_text: str) -> dict[str, list[str]]:
    """Modules CPython's build says it could not build, from the last report in the log.

    A PGO build prints the report once per build stage (each closed by a
    "Checked N modules" line); the last one counts.
    """
    report: dict[str, list[str]] = {}
    pending: dict[str, list[str]] = {}
    current: str | None = None
    for raw in log_text.splitlines():
        line = raw.strip()
        if line in _SECTIONS:
            current = _SECTIONS[line]
            pending[current] = []
        elif line.startswith("Checked ") and " modules (" in line:
            report, pending, current = pending, {}, None
        elif current is not None:
            if not line or line.startswith("To find the necessary bits"):
                current = None
            else:
                pending[current].extend(line.split())
    return pending or report


def check_required_modules(recipe: Recipe, report: Mapping[str, list[str]], log_path: Path) -> None:
    broken = {m for key in ("missing", "failed_import", "failed", "disabled") for m in report.get(key, [])}
    absent = [m for m in recipe.build.required_modules if KNOWN_MODULES[m] in broken]
    if absent:
        helpful = preflight.packages_for(absent)
        raise BuildError(
            "the build finished without required modules: " + ", ".join(absent),
            phase="compile",
            log_path=str(log_path),
            hint=(preflight.install_hint(helpful) + "\n" if helpful else "")
            + "or drop them from the recipe's build.required-modules",
        )


PARTITION_NONE = "-flto-partition=none"


def partition_lto(recipe: Recipe, tree: Path, log_path: Path) -> bool:
    """For `lto-partition = "auto"`: take configure's `-flto-partition=none` (GCC, CPython
    3.13 and earlier) out of the Makefile's flags, so GCC partitions the link-time
    optimization and runs its parts in parallel (`-flto=auto`), as CPython 3.14's
    configure does. True when the Makefile was changed."""
    if recipe.build.lto_partition != "auto":
        return False
    makefile = tree / "Makefile"
    text = makefile.read_text("utf-8")
    if PARTITION_NONE not in text:
        return False
    makefile.write_text(text.replace(PARTITION_NONE, "-flto=auto"), "utf-8")
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"### Makefile: {PARTITION_NONE} replaced by -flto=auto (lto-partition = auto)\n")
    return True


# `make install`'s byte-compiling of the standard library and of site-packages
# (Makefile.pre.in's libinstall, 3.12 to 3.14: two commands, each a continued line
# `-PYTHONPATH=$(DESTDIR)$(LIBDEST) $(RUNSHARED) \` then this, with `-o 0 -o 1 -o 2`).
COMPILEALL = "$(PYTHON_FOR_BUILD) -Wi $(DESTDIR)$(LIBDEST)/compileall.py"
_COMPILEALL_LINE = re.compile(r"^([ \t]+)(?=" + re.escape(COMPILEALL) + ")", re.M)
# What the pip step adds when the install does not byte-compile (ensurepip.mk passes it on).
PIP_NO_COMPILE = "PYBUILD12_PIP_OPTIONS=--no-compile"


def skip_compileall(tree: Path, log_path: Path) -> int:
    """Make `make install`'s compileall commands no-ops that the log still shows (`: ...`,
    the shell's null command, its words expanded and not run). Returns how many were
    changed: 0 when the Makefile has none in the form above, and then they run."""
    makefile = tree / "Makefile"
    text = makefile.read_text("utf-8")
    changed, count = _COMPILEALL_LINE.subn(r"\1: ", text)
    if count:
        makefile.write_text(changed, "utf-8")
        with open(log_path, "a", encoding="utf-8") as log:
            log.write(f"### Makefile: {count} compileall command(s) of make install made no-ops "
                      f"(': {COMPILEALL} ...'): no bytecode compiled at install\n")
    return count


def pip_compiling(step: Step) -> Step:
    """The pip step as it runs when `make install` byte-compiles after all: pip does too."""
    return replace(step, argv=tuple(a for a in step.argv if a != PIP_NO_COMPILE))


def check_variants_configured(recipe: Recipe, tree: Path, log_path: Path) -> None:
    """Stop right after configure when it did not take up a variant (an older commit
    warns about an unknown option and goes on), not after a whole build."""
    missing = variants.not_configured(tree, recipe.build.variants)
    if missing:
        raise BuildError(
            f"configure did not enable {', '.join(missing)}: this CPython does not know "
            + " ".join(variants.configure_args(missing)),
            phase="configure",
            log_path=str(log_path),
            hint="free-threading and the JIT exist from CPython 3.13: pick a newer recipe or commit",
        )


def configure_step(steps: Sequence[Step]) -> tuple[str, ...]:
    """The configure command line of a plan."""
    return next(s.argv for s in steps if s.phase == "configure")


def make_jobs(steps: Sequence[Step]) -> int:
    """The -jN of a plan's compile step."""
    return next(int(a[2:]) for s in steps if s.phase == "compile" for a in s.argv if a.startswith("-j"))
