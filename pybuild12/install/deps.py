"""`install --install-deps`: what a build needs from the system's package manager,
installed with apt-get or dnf (as root, or through sudo) before the build starts."""

from __future__ import annotations

import os
import shutil
import time
from typing import Callable, Mapping

from pybuild12.builder import preflight
from pybuild12.core import runner
from pybuild12.core.errors import BuildError, PrerequisiteError
from pybuild12.core.paths import Paths
from pybuild12.core.report import Reporter
from pybuild12.core.settings import Settings
from pybuild12.install.flow import request
from pybuild12.install.job import InstallOptions
from pybuild12.request import variants

DEPS_TIMEOUT = 1800.0  # seconds for apt-get or dnf


def install_deps(spec: str, options: InstallOptions, *, paths: Paths, reporter: Reporter,
                 on_line: Callable[[str], None] | None = None, env: Mapping[str, str] | None = None) -> None:
    """Install what the build of `spec` needs: the usual build dependencies, and for a JIT
    build the clang and llvm-readobj of the LLVM its CPython pins. The package manager's
    output goes to `on_line` (default: `reporter.info`) and to a log of its own."""
    env = Settings.from_env(env).env  # what the checks and apt-get see
    checks = preflight.doctor(str(paths.data), env)
    recipe = request(spec, options)[0]
    groups: tuple[str, ...] = ()
    if "jit" in recipe.build.variants:
        checks = [c for c in checks if c.group != "jit"]
        checks += preflight.jit_toolchain(variants.llvm_major(recipe.version), env)
        groups += ("jit",)
    if recipe.build.optimize == "max":
        groups += ("optimize",)
    chosen = variants.sanitizers_of(recipe.build.variants)
    if chosen:
        checks = [c for c in checks if c.group != "sanitizers"]
        checks += preflight.sanitizer_toolchain(chosen, env)
        groups += ("sanitizers",)
    command = preflight.install_command(checks, groups=groups)
    if command is None:
        reporter.info("build dependencies: nothing missing (or no apt-get/dnf here)")
        return
    if command[0] == "sudo" and shutil.which("sudo") is None:
        raise PrerequisiteError(
            "installing the build dependencies needs root, and sudo is not installed",
            hint=f"as root, run: {' '.join(command[1:])}; then run the same pybuild12 command again "
            "(without --install-deps)")
    apt = command[0] == "apt-get" or command[:2] == ["sudo", "apt-get"]
    if apt:  # with the lists there are, before anything runs (no lists yet: apt cannot say, so after the update)
        preflight.refuse_uninstallable(checks, command)
    log = paths.logs / f"install-deps-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    show = on_line or reporter.info
    try:
        if apt:
            update = [*command[: command.index("apt-get")], "apt-get", "update", "-qq"]
            reporter.info(f"running: {' '.join(update)} (log: {log})")
            try:
                runner.call(update, phase="update the package lists", log_path=log, on_line=show, interactive=True,
                            timeout=DEPS_TIMEOUT)
            except BuildError:
                reporter.warn("apt-get update failed; installing from the lists there are")
            preflight.refuse_uninstallable(checks, command)  # with fresh lists: a package this release lacks
        reporter.info(f"running: {' '.join(command)} (log: {log})")
        runner.call(command, phase="install the build dependencies", log_path=log, on_line=show, interactive=True,
                    timeout=DEPS_TIMEOUT)
    except BuildError as exc:
        raise PrerequisiteError(exc.message, hint=f"the log: {log}; install the packages yourself, then run the "
                                "same command again") from None
