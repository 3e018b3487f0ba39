"""The compiled path's steps: configure, compile (through ccache if asked), install into
staging; and the PGO profile each build uses (recorded, given, or trained) and keeps."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from pybuild12.builder import ccache, optimize, plan, sanitizers
from pybuild12.checks import smoke
from pybuild12.core import leftovers, runner
from pybuild12.core.errors import BuildError, RecipeError, UsageError
from pybuild12.core.paths import Paths
from pybuild12.core.runlog import Run
from pybuild12.install.job import InstallOptions, Workspace
from pybuild12.request.recipes import Recipe
from pybuild12.store import key as keys, profiles
from pybuild12.store.key import key_of


@dataclass(frozen=True)
class PgoPlan:
    key: str | None  # None: the recipe does not build with PGO
    inputs: dict
    profile: profiles.Profile | None  # the recorded profile to build with; None: train one
    origin: str  # "file", "recorded" or "trained"
    reuse_artifacts: bool


def choose_profile(recipe: Recipe, options: InstallOptions, inputs: dict, paths: Paths) -> PgoPlan:
    """Which PGO profile the build will use, checked before anything is built."""
    if options.pgo_profile is not None and options.fresh_profile:
        raise UsageError("--pgo-profile and --fresh-profile exclude each other")
    if not recipe.build.optimizations:
        if options.pgo_profile is not None or options.fresh_profile:
            raise RecipeError(f"recipe {recipe.name} builds without --enable-optimizations: it has no PGO profile",
                              hint="leave out --pgo-profile/--fresh-profile")
        return PgoPlan(None, {}, None, "none", reuse_artifacts=True)
    pinputs = keys.profile_inputs(inputs)
    key = key_of(pinputs)
    if options.pgo_profile is not None:
        given = profiles.read(options.pgo_profile)
        profiles.check_matches(given, pinputs)
        # An explicit profile is a build input: build with it rather than take a cached artifact.
        return PgoPlan(key, pinputs, given, "file", reuse_artifacts=False)
    if options.fresh_profile:
        return PgoPlan(key, pinputs, None, "trained", reuse_artifacts=False)
    recorded = None if options.no_cache else profiles.Store(paths.profiles).get(key)
    return PgoPlan(key, pinputs, recorded, "recorded" if recorded else "trained", reuse_artifacts=True)


def keep_profile(run: Run, pgo: PgoPlan, tree: Path, facts: dict, paths: Paths, *, store: bool) -> dict | None:
    """Record a freshly trained profile (or keep a copy of a given one) for later builds."""
    if pgo.key is None:
        return None
    pgo_facts = {"key": pgo.key, "origin": pgo.origin}
    profile_store = profiles.Store(paths.profiles)
    if pgo.origin == "file":
        pgo_facts["file"] = str(pgo.profile.path)
        profile_store.adopt(pgo.profile)
    elif pgo.origin == "trained" and store:
        with run.phase("profile", "record the PGO profile"):
            recorded = profile_store.record(pgo.key, pgo.inputs, tree, {"source": facts})
        if recorded is None:
            run.reporter.warn("the build left no .gcda files: no PGO profile recorded")
    return pgo_facts


@dataclass(frozen=True)
class Compiled:
    """What the compiled path's steps found, for the receipt and the artifact."""

    ccache: dict | None  # ccache's figures; None without ccache
    report: dict[str, list[str]]  # CPython's report of the modules it could not build
    bytecode: bool  # whether `make install` byte-compiled the standard library


def compile_build(run: Run, recipe: Recipe, steps, work: Workspace, env: Mapping[str, str], pgo: PgoPlan,
                  use_ccache: bool, staged: Path, prefix: Path, timeout: float) -> Compiled:
    """Run the build steps, through ccache if asked."""
    env = leftovers.marked(env, work.build_root)
    # The build runs its python (sysconfig, ensurepip, compileall): a sanitizer build's with
    # the tree's suppressions, as CPython's CI builds it.
    env = {**env, **sanitizers.extend(sanitizers.options(recipe.build.variants, work.tree.path / "Tools",
                                                         freethreaded="freethreaded" in recipe.build.variants,
                                                         for_build=True,
                                                         symbolizer=sanitizers.symbolizer_of(env.get("CC"))), env)}
    tool = ccache.setup(env, work.build_root / ".ccache-bin") if use_ccache else None
    if use_ccache and tool is None:
        run.reporter.warn("ccache not found: compiling without it (apt-get install ccache / dnf install ccache)")
    if tool is None:
        return Compiled(None, *_build(run, recipe, steps, work.tree.path, env, pgo, staged, prefix, timeout))
    before = tool.stats(env)
    report, bytecode = _build(run, recipe, steps, work.tree.path, tool.environment(env, work.build_root), pgo,
                              staged, prefix, timeout)
    facts = ccache.summary(tool, before, tool.stats(env), env)
    run.log(f"ccache: {facts}")
    return Compiled(facts, report, bytecode)


def _build(run: Run, recipe: Recipe, steps, tree: Path, env: Mapping[str, str], pgo: PgoPlan,
           staged: Path, prefix: Path, timeout: float) -> tuple[dict[str, list[str]], bool]:
    """Run the steps; returns CPython's report of the modules it could not build (after
    the last compile step: a PGO build prints one per stage), and whether `make install`
    byte-compiled."""
    last_install = [s for s in steps if s.phase == "install"][-1]
    report: dict[str, list[str]] = {}
    bytecode = recipe.build.compiles_bytecode
    for step in steps:
        _run_step(run, plan.pip_compiling(step) if bytecode else step, tree, env, timeout)
        if step is last_install:  # CPython's files and pip are in place
            _recompile_site_packages(run, recipe, staged, prefix, env)
            sanitizers.install_suppressions(tree, staged, recipe.build.variants,
                                            sanitizers.symbolizer_of(env.get("CC")), recipe.version)
        if step.phase == "configure" and pgo.profile is not None:
            with run.phase("profile", "restore the recorded PGO profile"):
                count = profiles.restore(pgo.profile, tree)
                run.log(f"restored {count} .gcda files from {pgo.profile.path} (key {pgo.key})")
        if step.phase == "configure":
            plan.check_variants_configured(recipe, tree, run.log_path)
            plan.partition_lto(recipe, tree, run.log_path)
            if recipe.build.optimize == "max":
                optimize.tune_bolt(tree, run.log_path)
            if not bytecode:
                bytecode = _skip_compileall(run, tree)
        if step.phase == "compile":
            report = plan.module_report(run.log_path.read_text("utf-8", errors="replace"))
            plan.check_required_modules(recipe, report, run.log_path)
    return report, bytecode


def _skip_compileall(run: Run, tree: Path) -> bool:
    """Take `make install`'s compileall out of the configured Makefile; True when it could
    not be found there, so that the install byte-compiles after all (and pip with it)."""
    if plan.skip_compileall(tree, run.log_path):
        return False
    run.reporter.warn("the Makefile has no compileall command pybuild12 knows how to skip "
                      f"({plan.COMPILEALL}): make install byte-compiles the standard library anyway")
    run.log("### Makefile: no compileall command found to skip; make install byte-compiles as usual")
    return True


def _recompile_site_packages(run: Run, recipe: Recipe, staged: Path, prefix: Path, env: Mapping[str, str]) -> None:
    """Compile site-packages (pip, from ensurepip) again as if installed at the prefix.

    pip installed with `--root=DESTDIR` writes the staging path into its .pyc files
    (tracebacks name it, and it changes from run to run); CPython's own compileall
    strips it. Honours SOURCE_DATE_EPOCH (hash-checked .pyc) like `make install`.
    """
    sites = [p for p in staged.glob("lib/python3*/site-packages") if any(p.rglob("__pycache__"))]
    if not sites:
        return
    python = smoke.python_of(staged, recipe)
    clean = {k: v for k, v in env.items() if not k.startswith("PYTHON")}
    clean["PYTHONHASHSEED"] = "0"  # set constants marshal in a fixed order
    with run.phase("bytecode", "site-packages"):
        for site in sites:
            runner.call((str(python), "-m", "compileall", "-q", "-f", "-s", str(staged), "-p", str(prefix), str(site)),
                        phase="bytecode", log_path=run.log_path, env=clean)


def _run_step(run: Run, step: plan.Step, tree: Path, env: Mapping[str, str], timeout: float) -> None:
    stage = ""

    def on_line(line: str) -> None:
        nonlocal stage
        new_stage = plan.pgo_stage(line)
        if new_stage:
            stage = new_stage
            run.reporter.status(stage)
        elif stage.startswith("PGO 2/3"):
            counter = plan.training_progress(line)
            if counter:
                run.reporter.status(f"{stage}, {counter}")

    if step.env:
        env = {**env, **dict(step.env)}
        run.log("### environment: " + " ".join(f"{k}={shlex.quote(v)}" for k, v in step.env))
    with run.phase(step.phase, step.title):
        start = run.log_path.stat().st_size
        try:
            runner.call(step.argv, phase=step.title, log_path=run.log_path, cwd=tree, env=env, on_line=on_line,
                        timeout=timeout)
        except BuildError:
            with open(run.log_path, "rb") as fh:
                fh.seek(start)
                failed = plan.training_failures(fh.read().decode("utf-8", errors="replace"))
            task = plan.profile_task(tree / "Makefile") if failed is not None else None
            if task is None:
                raise
            # CPython 3.13+ stops the build when a test of the training run fails (one did
            # here, only on a loaded machine); the profile is as good either way, so go on
            # as 3.12 and earlier do. The instrumented build is kept: this costs the training run.
            run.reporter.warn(f"a test of the PGO training run failed ({', '.join(failed) or 'see the log'}); "
                              "training again without stopping at failed tests, as CPython 3.12 does")
            run.log("### the PGO training run failed; running it again, failures tolerated")
            runner.call((*step.argv, f"PROFILE_TASK={task} || true"), phase=step.title, log_path=run.log_path,
                        cwd=tree, env=env, on_line=on_line, timeout=timeout)
