"""`pybuild12 install`: the whole flow, top to bottom.

recipe -> lock -> preflight -> source pin -> artifact key, then one of two paths:

- cached (`_from_cache`): the verified build from the local or the shared artifact
  cache, unpacked into staging;
- compiled (`_from_source`): fetch, extract (or checkout), configure, compile, install
  into staging; afterwards the PGO profile is kept and the build packed;

and on both: check -> verify -> receipt (`_receipt`) -> move into place -> --push.

Nothing reaches `<data>/pythons/<name>` before the staged build has passed
its check; a failure or Ctrl-C anywhere removes what this run created and
leaves an earlier install of the same name as it was.
"""

from __future__ import annotations

import os
import shlex
import shutil
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from pybuild12 import (artifacts, build, buildinfo, ccache, check, leftovers, locks, manifest, optimize, preflight,
                       profiles, publish, registry, remote, runner, runlog, signing, sources, staging, variants)
from pybuild12 import verify as verifier
from pybuild12.errors import BuildError, CheckError, RecipeError, UsageError
from pybuild12.paths import Paths
from pybuild12.recipes import Recipe
from pybuild12.runlog import Run
from pybuild12.report import Reporter


@dataclass(frozen=True)
class InstallOptions:
    name: str | None = None
    jobs: int | None = None
    configure_opts: tuple[str, ...] = ()
    force: bool = False
    keep_build: bool = False
    commit: str | None = None  # another commit of a git recipe
    verify: bool = True  # run the sub-interpreter checks 1-8 before installing
    no_cache: bool = False  # neither reuse nor store an artifact
    push: bool = False  # upload the build's artifact, signed, to PYBUILD12_CACHE_URL
    pgo_profile: Path | None = None  # build with this recorded PGO profile
    fresh_profile: bool = False  # train a new PGO profile even if one is recorded
    ccache: bool = False  # compile through ccache (also PYBUILD12_CCACHE=1)
    lto: bool | None = None  # True/False: build with/without --with-lto, whatever the recipe says
    optimizations: bool | None = None  # True/False: build with/without PGO (--enable-optimizations)
    optimize: str | None = None  # "standard" or "max" (clang, ThinLTO, PGO, BOLT), whatever the recipe says


@dataclass(frozen=True)
class Outcome:
    name: str
    prefix: Path
    python: Path
    receipt: dict
    log_path: Path | None
    already_installed: bool = False


@dataclass
class _Job:
    """One install of one build: what both paths (from the artifact cache, or compiled) need."""

    recipe: Recipe
    name: str
    options: InstallOptions
    paths: Paths
    env: dict[str, str]
    run: Run
    work: "_Workspace"
    prefix: Path
    staged: Path
    key: str
    inputs: dict
    steps: list
    expected_version: str | None
    toolchain: optimize.Toolchain | None = None


@dataclass
class _Made:
    """What a path put into staging, and the facts the receipt keeps about it."""

    python: Path
    source: dict
    artifact: artifacts.Artifact | None = None  # the build, packed: what --push uploads
    origin: str | None = None  # "local" or "shared": the artifact cache it came from
    pgo: dict | None = None
    ccache: dict | None = None
    verification: dict | None = None
    # CPython's own report of the modules it could not build (missing, disabled, failed,
    # failed_import); {} when it built them all, None when not known (an older artifact).
    modules: dict | None = None


def install(
    spec: str,
    options: InstallOptions = InstallOptions(),
    *,
    paths: Paths,
    reporter: Reporter = Reporter(),
    env: Mapping[str, str] | None = None,
) -> Outcome:
    env = dict(os.environ if env is None else env)
    recipe, name, expected_version = request(spec, options)
    user_opts = build.user_configure_opts(options.configure_opts, env)
    signer = publish.signer(env, paths, no_cache=options.no_cache) if options.push else None
    jobs = options.jobs or build.default_jobs()
    prefix = paths.prefix(name)
    epoch = registry.source_date_epoch(env)
    toolchain = optimize.require(env) if recipe.build.optimize == "max" else None
    # The compiler's version is in the artifact key and the receipt.
    compiler = toolchain.banner if toolchain else registry.compiler_version(env)

    with locks.for_build(paths, name, reporter):
        leftovers.reclaim(paths, name, reporter)
        existing = registry.read_receipt(prefix) if prefix.is_dir() else None
        changes = _changes(existing, recipe, prefix, user_opts, options) if existing is not None else []
        if existing is not None and not options.force:
            _refuse_changes(name, changes)
            outcome = Outcome(name, prefix, prefix / existing.get("python", ""), existing, None, already_installed=True)
            if signer is not None:
                publish.upload_installed(reporter, outcome, artifacts.Cache(paths.artifacts), env[remote.ENV], signer,
                                         spec, nullcontext())
            return outcome
        _preflight(recipe, env, reporter)
        run = runlog.start(paths, name, str(recipe.path), reporter)
        with _workspace(paths, name, recipe, run, env, keep=options.keep_build) as work:
            source_pin, resolution = sources.pin(recipe, paths=paths, run=run, env=env)
            inputs = artifacts.key_inputs(recipe_sha256=recipe.content_sha256, source_pin=source_pin,
                                          configure_args=list(build.configure_args(recipe, prefix, user_opts)),
                                          prefix=prefix, compiler=compiler, build_env=build.build_env(env),
                                          variants={**variants.key_inputs(recipe, env),
                                                    **optimize.key_inputs(recipe.build.optimize, toolchain),
                                                    **build.partition_key(recipe)})
            key = artifacts.key_of(inputs)
            pgo = _choose_profile(recipe, options, inputs, paths)
            steps = build.plan(recipe, prefix=prefix, destdir=work.stage_dir, jobs=jobs, user_opts=user_opts,
                               recorded_profile=pgo.profile is not None, env=env, toolchain=toolchain)
            job = _Job(recipe, name, options, paths, env, run, work, prefix,
                       staging.staged_prefix(work.stage_dir, prefix), key, inputs, steps, expected_version, toolchain)
            cache = None if options.no_cache else artifacts.Cache(paths.artifacts)
            hit, origin = _cached_build(cache, key, env, run, paths, inputs) if pgo.reuse_artifacts else (None, None)
            if hit is not None:
                made = _from_cache(job, cache, hit, origin)
            else:
                _say_why_compiling(reporter, name, cache, pgo, changes)
                made = _from_source(job, cache, pgo, resolution)
            receipt = _receipt(job, made, compiler)
            _warn_lacking(reporter, job.recipe, name, made.modules)
            registry.write_receipt(job.staged, receipt if epoch is None else registry.reproducible(receipt, epoch))
            _warn_if_in_use(prefix, reporter)
            staging.promote(job.staged, prefix)
            shutil.rmtree(paths.kept / name, ignore_errors=True)  # an earlier run's unverified build
        outcome = Outcome(name, prefix, prefix / receipt["python"], receipt, run.log_path)
        if signer is not None:
            publish.upload(reporter, outcome, made.artifact, made.origin, env[remote.ENV], signer, spec,
                           run.phase("upload", "to the shared cache"))
        return outcome


def _from_cache(job: _Job, cache: artifacts.Cache, hit: artifacts.Artifact, origin: str) -> _Made:
    """The cached path: unpack a verified build, check it (which imports the sub-interpreter
    module and creates an interpreter), and verify it again unless the artifact was
    verified on this machine (the local cache keeps what this machine built and verified,
    and what it fetched from the shared cache and verified) and its files match the
    manifest it was packed with."""
    with job.run.phase("unpack", "from the artifact cache"):
        cache.unpack(hit, job.staged)
    made = _Made(_check(job.run, job.staged, job.recipe, job.expected_version),
                 dict(hit.meta.get("source", {}), cached_artifact=job.key), artifact=hit, origin=origin,
                 pgo=hit.meta.get("pgo_profile"), modules=hit.meta.get("modules"))
    if not (job.staged / manifest.FILE).exists():  # packed before manifests were
        _write_manifest(job)
    elif origin == "local" and job.options.verify and (hit.meta.get("verification") or {}).get("ok") \
            and _unpacked_intact(job):
        made.verification = {**hit.meta["verification"], "reused": f"verified when artifact {job.key[:12]} was "
                             "packed; its files match the manifest"}
        job.run.log(f"verification of artifact {job.key} reused: every file matches its manifest")
        return made
    made.verification = _verify_if_asked(job, made.python)
    if made.verification is not None:
        try:
            made.artifact = cache.annotate(hit, verification=made.verification)  # the next reinstall reuses it
        except OSError as exc:
            job.run.reporter.warn(f"could not note the verification in the artifact cache ({exc.strerror})")
    _keep_if_unverified(job, made, cached=True)
    return made


def _unpacked_intact(job: _Job) -> bool:
    """Whether the unpacked build is byte for byte what was verified."""
    with job.run.phase("manifest", "compare every file with the artifact's manifest"):
        found = manifest.compare(job.staged, job.name)
    if not found.ok:
        job.run.reporter.warn(f"the unpacked build differs from its manifest ({len(found.changed)} changed, "
                              f"{len(found.missing)} missing, {len(found.added)} added): verifying it again")
    return found.ok


def _from_source(job: _Job, cache: artifacts.Cache | None, pgo: "_PgoPlan", resolution) -> _Made:
    """The compiled path: build, check, verify, then keep the profile and the packed build."""
    job.work.tree = sources.prepare(job.recipe, paths=job.paths, build_root=job.work.build_root, run=job.run,
                                    env=job.env, resolution=resolution)
    ccache_facts, report = _compile(job.run, job.recipe, job.steps, job.work, job.env, pgo,
                                    ccache.wanted(job.options.ccache, job.env), job.staged, job.prefix)
    try:
        python = _check(job.run, job.staged, job.recipe, job.expected_version)
    except CheckError as exc:  # not installed, not thrown away: kept for a look at what is wrong
        kept = _keep(job)
        raise CheckError(exc.message, log_path=exc.log_path or str(job.run.log_path),
                         hint=f"the build is kept at {kept} to look into; {exc.hint or 'see the log'}") from None
    made = _Made(python, job.work.tree.facts, ccache=ccache_facts, modules=lacking_modules(report))
    made.verification = _verify_if_asked(job, made.python)
    _write_manifest(job)  # before packing: a reinstall from the cache brings it along
    made.pgo = _keep_profile(job.run, pgo, job.work.tree.path, made.source, job.paths, store=not job.options.no_cache)
    if cache is not None:
        # Packed whatever its verification said: a retry installs it without compiling
        # (and verifies it again); only a verification that passed is ever reused.
        made.artifact = _pack(job.run, cache, job.key, job.staged,
                              {"inputs": job.inputs, "source": made.source, "name": job.name,
                               "version": job.recipe.version, "pgo_profile": made.pgo,
                               "verification": made.verification, "modules": made.modules})
    _keep_if_unverified(job, made, cached=made.artifact is not None)
    return made


def _receipt(job: _Job, made: _Made, compiler: str) -> dict:
    """The receipt of either path."""
    receipt = registry.new_receipt(job.recipe, job.name, made.python.relative_to(job.staged),
                                   build.configure_step(job.steps), build.make_jobs(job.steps), job.run.timings,
                                   job.run.log_path, compiler, made.source)
    receipt["artifact"] = {"key": job.key, "from_cache": made.origin is not None}
    if made.origin:
        receipt["artifact"]["origin"] = made.origin
    receipt["variants"] = list(job.recipe.build.variants)
    if job.toolchain is not None:
        receipt["optimize"] = {"level": job.recipe.build.optimize, "llvm": job.toolchain.version,
                               "toolchain": str(job.toolchain.bindir), "bolt": optimize.bolted(made.python)}
    configure_env = next(s.env for s in job.steps if s.phase == "configure")
    optional = {"configure_env": dict(configure_env) if configure_env else None, "pgo_profile": made.pgo,
                "ccache": made.ccache, "verification": made.verification}
    receipt.update({k: v for k, v in optional.items() if v})
    receipt["required_modules"] = list(job.recipe.build.required_modules)
    if made.modules is not None:
        receipt["modules"] = made.modules
    return receipt


def lacking_modules(report: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The standard library's extension modules the build lacks, from CPython's own report
    (build.module_report): missing (configure found no headers), disabled, failed, failed_import."""
    return {kind: sorted(names) for kind, names in report.items() if names}


def _warn_lacking(reporter: Reporter, recipe: Recipe, name: str, modules: dict | None) -> None:
    """A warning for each optional module the build lacks, but those the recipe does not need,
    with the package that provides what it needs."""
    unneeded = preflight.extensions_of(recipe.build.unneeded_modules)
    words = {"missing": "its headers were not found", "disabled": "configure disabled it",
             "failed": "it failed to compile", "failed_import": "it was built but could not be imported"}
    for kind, names in (modules or {}).items():
        for module in names:
            if module in unneeded or module.startswith(("_test", "xx", "_xx", "_ctypes_test")):
                continue
            packages = preflight.packages_of_extension(module)
            where = f"; {packages} provide(s) them" if packages and kind == "missing" else ""
            reporter.warn(f"the build lacks the {module} module ({words.get(kind, kind)}{where}); "
                          f"install that, then 'pybuild12 install {name} --force', or list it in the recipe's "
                          "build.unneeded-modules")


def _verify_if_asked(job: _Job, python: Path) -> dict | None:
    return _verify(job.run, python, job.recipe.build.variants) if job.options.verify else None


def _write_manifest(job: _Job) -> None:
    with job.run.phase("manifest", "sha256 of every file"):
        manifest.write(job.staged)


def _warn_if_in_use(prefix: Path, reporter: Reporter) -> None:
    users = leftovers.users_of(prefix) if prefix.exists() else {}
    if users:
        reporter.warn(f"{len(users)} running process(es) use the build being replaced (pid "
                      f"{', '.join(map(str, sorted(users)[:5]))}): they keep the files they have open, "
                      "and load any module they import from now on from the new build")


def _pack(run: Run, cache: artifacts.Cache, key: str, staged: Path, meta: dict) -> artifacts.Artifact | None:
    """Keep the build in the artifact cache; a cache that cannot take it (full,
    read-only) costs later reinstalls their speed, not this install."""
    verification = meta.get("verification")
    what = "the build (not verified)" if verification is None else (
        "the verified build" if verification.get("ok") else "the build (its verification failed)")
    try:
        with run.phase("cache", "pack " + what):
            return cache.put(key, staged, meta)
    except OSError as exc:
        run.reporter.warn(f"the build could not be kept in the artifact cache ({exc.strerror}: {exc.filename}); "
                          "installing it anyway")
        return None


@dataclass(frozen=True)
class _PgoPlan:
    key: str | None  # None: the recipe does not build with PGO
    inputs: dict
    profile: profiles.Profile | None  # the recorded profile to build with; None: train one
    origin: str  # "file", "recorded" or "trained"
    reuse_artifacts: bool


def _choose_profile(recipe: Recipe, options: InstallOptions, inputs: dict, paths: Paths) -> _PgoPlan:
    """Which PGO profile the build will use, checked before anything is built."""
    if options.pgo_profile is not None and options.fresh_profile:
        raise UsageError("--pgo-profile and --fresh-profile exclude each other")
    if not recipe.build.optimizations:
        if options.pgo_profile is not None or options.fresh_profile:
            raise RecipeError(f"recipe {recipe.name} builds without --enable-optimizations: it has no PGO profile",
                              hint="leave out --pgo-profile/--fresh-profile")
        return _PgoPlan(None, {}, None, "none", reuse_artifacts=True)
    pinputs = profiles.key_inputs(inputs)
    key = artifacts.key_of(pinputs)
    if options.pgo_profile is not None:
        given = profiles.read(options.pgo_profile)
        profiles.check_matches(given, pinputs)
        # An explicit profile is a build input: build with it rather than take a cached artifact.
        return _PgoPlan(key, pinputs, given, "file", reuse_artifacts=False)
    if options.fresh_profile:
        return _PgoPlan(key, pinputs, None, "trained", reuse_artifacts=False)
    recorded = None if options.no_cache else profiles.Store(paths.profiles).get(key)
    return _PgoPlan(key, pinputs, recorded, "recorded" if recorded else "trained", reuse_artifacts=True)


def _cached_build(cache: artifacts.Cache | None, key: str, env: Mapping[str, str], run: Run, paths: Paths,
                  inputs: Mapping | None = None) -> tuple[artifacts.Artifact | None, str | None]:
    """The artifact for `key` from the local cache, else from the shared one, and where it came from.

    The local cache is the user's own disk and is taken as it is; the shared one only
    with a trusted key's signature (see `remote`). The shared look-up's end line says
    what it came to (hit, miss, refused, unreachable), and its log line why; with the
    build's `inputs`, a miss also says when the store has the build for another prefix."""
    if cache is None:
        return None, None
    hit = cache.get(key)
    if hit is not None:
        return hit, "local"
    if env.get(remote.ENV):
        trusted = signing.trusted_keys(env, paths.config)
        shared = remote.SharedCache(env[remote.ENV], trusted)
        with run.phase("shared cache", "look up"):
            found = shared.lookup(key, cache, run.reporter.warn, inputs)
            run.reporter.phase_outcome(f"shared cache: {found}", ok=found.ok)
        run.log(f"shared cache {shared.shown}, artifact {key}: {found}")
        if found.artifact is not None:
            return found.artifact, "shared"
    return None, None


def _compile(run: Run, recipe: Recipe, steps, work: _Workspace, env: Mapping[str, str], pgo: _PgoPlan,
             use_ccache: bool, staged: Path, prefix: Path) -> tuple[dict | None, dict[str, list[str]]]:
    """Run the build steps, through ccache if asked; returns ccache's figures for the receipt
    and CPython's report of the modules it could not build."""
    env = leftovers.marked(env, work.build_root)
    tool = ccache.setup(env, work.build_root / ".ccache-bin") if use_ccache else None
    if use_ccache and tool is None:
        run.reporter.warn("ccache not found: compiling without it (apt-get install ccache / dnf install ccache)")
    if tool is None:
        return None, _build(run, recipe, steps, work.tree.path, env, pgo, staged, prefix)
    before = tool.stats(env)
    report = _build(run, recipe, steps, work.tree.path, tool.environment(env, work.build_root), pgo, staged, prefix)
    facts = ccache.summary(tool, before, tool.stats(env), env)
    run.log(f"ccache: {facts}")
    return facts, report


def _build(run: Run, recipe: Recipe, steps, tree: Path, env: Mapping[str, str], pgo: _PgoPlan,
           staged: Path, prefix: Path) -> dict[str, list[str]]:
    """Run the steps; returns CPython's report of the modules it could not build (after
    the last compile step: a PGO build prints one per stage)."""
    last_install = [s for s in steps if s.phase == "install"][-1]
    report: dict[str, list[str]] = {}
    for step in steps:
        _run_step(run, step, tree, env)
        if step is last_install:  # CPython's files and pip are in place
            _recompile_site_packages(run, recipe, staged, prefix, env)
        if step.phase == "configure" and pgo.profile is not None:
            with run.phase("profile", "restore the recorded PGO profile"):
                count = profiles.restore(pgo.profile, tree)
                run.log(f"restored {count} .gcda files from {pgo.profile.path} (key {pgo.key})")
        if step.phase == "configure":
            build.check_variants_configured(recipe, tree, run.log_path)
            build.partition_lto(recipe, tree, run.log_path)
            if recipe.build.optimize == "max":
                optimize.tune_bolt(tree, run.log_path)
        if step.phase == "compile":
            report = build.module_report(run.log_path.read_text("utf-8", errors="replace"))
            build.check_required_modules(recipe, report, run.log_path)
    return report


def _keep_profile(run: Run, pgo: _PgoPlan, tree: Path, facts: dict, paths: Paths, *, store: bool) -> dict | None:
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


def request(spec: str, options: InstallOptions) -> tuple[Recipe, str, str | None]:
    """The recipe to build, the build's name, and the version it must report (None: any)."""
    return variants.resolve(spec, name=options.name, commit=options.commit, optimizations=options.optimizations,
                            lto=options.lto, optimize=options.optimize)


def _preflight(recipe: Recipe, env: Mapping[str, str], reporter: Reporter) -> None:
    checks = preflight.run(recipe.build.required_modules, env, source_kind=recipe.source.kind)
    if "jit" in recipe.build.variants:
        checks += preflight.jit_toolchain(variants.llvm_major(recipe.version), env)
    for absent in preflight.enforce(checks):
        reporter.warn(f"{absent.what} not found: the {absent.name} module will be missing "
                      f"(apt-get install {absent.debian} / dnf install {absent.fedora})")


@dataclass
class _Workspace:
    build_root: Path
    stage_dir: Path
    tree: sources.SourceTree | None = None


@contextmanager
def _workspace(paths: Paths, name: str, recipe: Recipe, run: Run, env: Mapping[str, str], *,
               keep: bool) -> Iterator[_Workspace]:
    """The build tree and the staging directory of one run; both go when it ends, however it ends."""
    build_root = paths.builds / name
    shutil.rmtree(build_root, ignore_errors=True)
    work = _Workspace(build_root, staging.new_staging(paths.pythons, name))
    try:
        yield work
    except BaseException:
        run.log("### install failed; removing what this run created")
        raise
    finally:
        shutil.rmtree(work.stage_dir, ignore_errors=True)
        if keep:
            run.reporter.info(f"build tree kept at {build_root}")
        else:
            shutil.rmtree(build_root, ignore_errors=True)
            sources.release(recipe, work.tree, paths=paths, run=run, env=env)


def _verify(run: Run, python: Path, expect: tuple[str, ...]) -> dict:
    """Checks 1-8 on the staged interpreter, and the variant's own. A failed check fails
    the install, but only after the build is kept (`_keep_if_unverified`)."""
    with run.phase("verify", "sub-interpreters" + "".join(f", {v}" for v in expect)):
        report = verifier.run(python, expect=expect)
        for c in report.checks:
            run.log(f"verify {c.name}: {c.status}: {c.reason}")
            if c.status == verifier.INCONCLUSIVE:
                run.reporter.warn(f"{c.name}: {c.reason}")
    summary = report.as_json()
    summary.pop("python")  # the staging path, meaningless once installed
    return summary


def _keep_if_unverified(job: _Job, made: _Made, *, cached: bool) -> None:
    """A build whose verification failed is not installed, and not thrown away either:
    it moves to `<cache>/kept/<name>` (where `verify --python` can run it again) and,
    when `cached`, the artifact cache has it too, so running the same install again
    needs no compile."""
    if made.verification is None or made.verification.get("ok"):
        return
    kept = _keep(job)
    python = kept / made.python.relative_to(job.staged)
    failed = [c for c in made.verification.get("checks", []) if c.get("status") == verifier.FAILED]
    again = ("running the same install command again installs it from the artifact cache without compiling and "
             "verifies it again" if cached else "it is not in the artifact cache (--no-cache, or the cache could "
             "not take it)")
    raise CheckError(
        "verification failed:\n" + "\n".join(f"  {c['name']}: {c['reason']}" for c in failed),
        log_path=str(job.run.log_path),
        hint=f"the build is kept at {kept}: 'pybuild12 verify --python {python}' repeats the checks; {again}; "
        "add --no-verify to install it as it is")


def _keep(job: _Job) -> Path:
    """Move the staged build to `<cache>/kept/<name>` (one per name) and return where."""
    kept = job.paths.kept / job.name
    shutil.rmtree(kept, ignore_errors=True)
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(job.staged), kept)
    job.run.log(f"### the build failed its checks; it is kept at {kept}")
    return kept


def _changes(existing: dict, recipe: Recipe, prefix: Path, user_opts, options: InstallOptions) -> list[str]:
    """What this install asks for that the installed build of the same name is not."""
    return buildinfo.differences(existing, configure_args=build.configure_args(recipe, prefix, user_opts),
                                 optimize=recipe.build.optimize, recipe_sha256=recipe.content_sha256,
                                 commit=options.commit)


def _refuse_changes(name: str, changes: list[str]) -> None:
    if changes:
        raise UsageError(f"{name} is installed, but not as asked now:\n" + "\n".join(f"  {c}" for c in changes),
                         hint="add --force to replace it with the build asked for, or --name NAME to install that "
                         "beside it ('pybuild12 list' shows how each build was made)")


def installed_as_asked(spec: str, options: InstallOptions, *, paths: Paths,
                       env: Mapping[str, str] | None = None) -> Outcome | None:
    """The installed build an install of `spec` would answer "already installed" with;
    None when it would build (nothing installed, or --force). Refuses, as install does,
    when the installed build differs from what is asked. For work that must not run
    when nothing will be built (installing build dependencies)."""
    if options.force:
        return None
    env = dict(os.environ if env is None else env)
    recipe, name, _ = request(spec, options)
    prefix = paths.prefix(name)
    existing = registry.read_receipt(prefix) if prefix.is_dir() else None
    if existing is None:
        return None
    _refuse_changes(name, _changes(existing, recipe, prefix, build.user_configure_opts(options.configure_opts, env),
                                   options))
    return Outcome(name, prefix, prefix / existing.get("python", ""), existing, None, already_installed=True)


def _say_why_compiling(reporter: Reporter, name: str, cache: artifacts.Cache | None, pgo: "_PgoPlan",
                       changes: list[str]) -> None:
    """Before a compile that takes minutes: why no cached build could be used."""
    if changes:
        reporter.info(f"replacing {name}, which was built differently: " + "; ".join(changes))
    why = ("--no-cache" if cache is None else "a given or fresh PGO profile is a build input" if not pgo.reuse_artifacts
           else "the artifact cache has no build of these sources, options and compiler")
    reporter.info(f"compiling from source: {why}")


def _check(run: Run, staged: Path, recipe: Recipe, expected_version: str | None) -> Path:
    """Run the minimal check on the staged interpreter; return its path."""
    python = check.python_of(staged, recipe)
    with run.phase("check", str(python.relative_to(staged))):
        results = check.smoke(python, expected_version, recipe.build.required_modules, log_path=run.log_path)
        for r in results:
            run.log(f"check {r.name}: {'ok' if r.ok else 'FAILED'}: {r.detail}")
        check.enforce(results)
    return python


def _recompile_site_packages(run: Run, recipe: Recipe, staged: Path, prefix: Path, env: Mapping[str, str]) -> None:
    """Compile site-packages (pip, from ensurepip) again as if installed at the prefix.

    pip installed with `--root=DESTDIR` writes the staging path into its .pyc files
    (tracebacks name it, and it changes from run to run); CPython's own compileall
    strips it. Honours SOURCE_DATE_EPOCH (hash-checked .pyc) like `make install`.
    """
    sites = [p for p in staged.glob("lib/python3*/site-packages") if any(p.rglob("__pycache__"))]
    if not sites:
        return
    python = check.python_of(staged, recipe)
    clean = {k: v for k, v in env.items() if not k.startswith("PYTHON")}
    clean["PYTHONHASHSEED"] = "0"  # set constants marshal in a fixed order
    with run.phase("bytecode", "site-packages"):
        for site in sites:
            runner.call((str(python), "-m", "compileall", "-q", "-f", "-s", str(staged), "-p", str(prefix), str(site)),
                        phase="bytecode", log_path=run.log_path, env=clean)


def _run_step(run: Run, step: build.Step, tree: Path, env: Mapping[str, str]) -> None:
    stage = ""

    def on_line(line: str) -> None:
        nonlocal stage
        new_stage = build.pgo_stage(line)
        if new_stage:
            stage = new_stage
            run.reporter.status(stage)
        elif stage.startswith("PGO 2/3"):
            counter = build.training_progress(line)
            if counter:
                run.reporter.status(f"{stage}, {counter}")

    if step.env:
        env = {**env, **dict(step.env)}
        run.log("### environment: " + " ".join(f"{k}={shlex.quote(v)}" for k, v in step.env))
    with run.phase(step.phase, step.title):
        start = run.log_path.stat().st_size
        try:
            runner.call(step.argv, phase=step.title, log_path=run.log_path, cwd=tree, env=env, on_line=on_line)
        except BuildError:
            with open(run.log_path, "rb") as fh:
                fh.seek(start)
                failed = build.training_failures(fh.read().decode("utf-8", errors="replace"))
            task = build.profile_task(tree / "Makefile") if failed is not None else None
            if task is None:
                raise
            # CPython 3.13+ stops the build when a test of the training run fails (one did
            # here, only on a loaded machine); the profile is as good either way, so go on
            # as 3.12 and earlier do. The instrumented build is kept: this costs the training run.
            run.reporter.warn(f"a test of the PGO training run failed ({', '.join(failed) or 'see the log'}); "
                              "training again without stopping at failed tests, as CPython 3.12 does")
            run.log("### the PGO training run failed; running it again, failures tolerated")
            runner.call((*step.argv, f"PROFILE_TASK={task} || true"), phase=step.title, log_path=run.log_path,
                        cwd=tree, env=env, on_line=on_line)
