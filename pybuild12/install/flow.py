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

import shutil
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Mapping

from pybuild12.builder import configopts, optimize, plan, preflight, sanitizers
from pybuild12.core import files, leftovers, locks, runlog, staging
from pybuild12.core.errors import CheckError, PyBuild12Error
from pybuild12.core.paths import Paths
from pybuild12.core.report import Reporter
from pybuild12.core.runlog import Run
from pybuild12.core.settings import Settings
from pybuild12.install import answer, publish
from pybuild12.install.compiling import PgoPlan, choose_profile, compile_build, keep_profile
from pybuild12.install.job import InstallOptions, Job, Made, Workspace
from pybuild12.install.keying import compiler_of, key_inputs, request
from pybuild12.install.verification import (
    check_staged,
    keep,
    keep_if_unverified,
    lacking_modules,
    verify_if_asked,
    warn_lacking,
    write_manifest,
)
from pybuild12.request import variants
from pybuild12.request.recipes import Recipe
from pybuild12.sources import fetch
from pybuild12.store import artifacts, manifest, receipts, remote, signing, transfer
from pybuild12.store.key import key_of
from pybuild12.store.receipts import Receipt
from pybuild12.store.registry import Installed


def install(
    spec: str,
    options: InstallOptions = InstallOptions(),
    *,
    paths: Paths,
    reporter: Reporter = Reporter(),
    settings: Settings | None = None,
) -> Installed:
    """Install `spec`; `settings` are those of this process's environment unless given."""
    settings = settings or Settings.from_env()
    settings.check()
    recipe, name, expected_version = request(spec, options)
    user_opts = plan.user_configure_opts(options.configure_opts, settings.configure_opts)
    # Answered before any probe and without the lock (a user who may not write here gets the
    # answer too); with --push, under the lock below, where the upload follows.
    found = None if options.push else answer.find(spec, recipe, name, user_opts, options, paths=paths,
                                                  settings=settings, reporter=reporter)
    if found is not None:
        return found
    # The build, its probes and preflight need no secret; a sanitizer build has its clang as CC.
    build_settings = Settings(sanitizers.build_environment(recipe.build.variants, settings.for_builds().env))
    env = dict(build_settings.env)
    signer = publish.signer(settings, paths, no_cache=options.no_cache) if options.push else None
    jobs = options.jobs or plan.default_jobs()
    prefix = paths.prefix(name)
    epoch = settings.source_date_epoch
    toolchain, compiler = compiler_of(recipe, env)

    with locks.for_build(paths, name, reporter):
        leftovers.reclaim(paths, name, reporter)
        existing = receipts.read(prefix) if prefix.is_dir() else None
        changes = answer.changes(existing, recipe, prefix, user_opts, options) if existing is not None else []
        if existing is not None and not options.force:  # --push, or installed while we waited
            outcome = answer.of_name(name, existing, recipe, prefix, user_opts, options,
                                     answer.options_checker(recipe, name, user_opts, paths=paths, settings=settings,
                                                            reporter=reporter))
            if signer is not None:
                publish.upload_installed(reporter, outcome, artifacts.Cache(paths.artifacts), _store(settings), signer,
                                         spec, nullcontext())
            return outcome
        _preflight(recipe, env, reporter)
        run = runlog.start(paths, name, str(recipe.path), reporter)
        with _workspace(paths, name, recipe, run, settings, keep=options.keep_build) as work:
            source_pin, resolution = fetch.pin(recipe, paths=paths, settings=settings, run=run)
            inputs = key_inputs(recipe, source_pin, plan.configure_args(recipe, prefix, user_opts), prefix,
                                 compiler, env, toolchain)
            key = key_of(inputs)
            pgo = choose_profile(recipe, options, inputs, paths)
            steps = plan.plan(recipe, prefix=prefix, destdir=work.stage_dir, jobs=jobs, user_opts=user_opts,
                               recorded_profile=pgo.profile is not None, env=env, toolchain=toolchain)
            job = Job(recipe, name, options, paths, build_settings, run, work, prefix,
                       staging.staged_prefix(work.stage_dir, prefix), key, inputs, steps, expected_version, toolchain,
                       chosen_configure_opts=(*recipe.build.configure_args, *user_opts))
            cache = None if options.no_cache else artifacts.Cache(paths.artifacts)
            hit, origin = (_cached_build(cache, key, settings, run, paths, inputs) if pgo.reuse_artifacts
                           else (None, None))
            made = _from_cache(job, cache, hit, origin) if hit is not None else None
            if made is None:
                _say_why_compiling(reporter, name, cache, pgo, changes)
                made = _from_source(job, cache, pgo, resolution)
            receipt = _receipt(job, made, compiler)
            warn_lacking(reporter, job.recipe, name, made.modules)
            receipts.write(job.staged, receipt if epoch is None else receipt.made_reproducible(epoch))
            _warn_if_in_use(prefix, reporter)
            staging.promote(job.staged, prefix)
            shutil.rmtree(paths.kept / name, ignore_errors=True)  # an earlier run's unverified build
        outcome = Installed(name, prefix, receipt, run.log_path)
        if signer is not None:
            publish.upload(reporter, outcome, made.artifact, made.origin, _store(settings), signer, spec,
                           run.phase("upload", "to the shared cache"))
        return outcome


def _from_cache(job: Job, cache: artifacts.Cache, hit: artifacts.Artifact, origin: str) -> Made | None:
    """The cached path: unpack a verified build, check it (which imports the sub-interpreter
    module and creates an interpreter), and verify it again unless the artifact was
    verified on this machine (the local cache keeps what this machine built and verified,
    and what it fetched from the shared cache and verified) and its files match the
    manifest it was packed with. An artifact imported from a CI cache must match its
    manifest file for file, or it is refused (None: compile instead); its recorded
    verification is reused only then."""
    with job.run.phase("unpack", "from the artifact cache"):
        cache.unpack(hit, job.staged)
        files.usual_mode(job.staged / manifest.FILE)  # an artifact packed before it was written so: 0600
    if origin == transfer.IMPORTED and not _imported_intact(job, cache, hit):
        return None
    made = Made(check_staged(job.run, job.staged, job.recipe, job.expected_version),
                 dict(hit.source, cached_artifact=job.key), artifact=hit, origin=origin,
                 pgo=hit.pgo_profile, modules=hit.modules, bytecode=hit.bytecode)
    if not (job.staged / manifest.FILE).exists():  # packed before manifests were
        write_manifest(job)
    elif origin == transfer.IMPORTED and job.options.verify and (hit.verification or {}).get("ok"):
        made.verification = {**hit.verification, "reused": f"verified by the run that exported artifact "
                             f"{job.key[:12]}; its files match the manifest"}
        job.run.log(f"verification of imported artifact {job.key} reused: every file matches its manifest")
        return made
    elif origin == "local" and job.options.verify and (hit.verification or {}).get("ok") \
            and _unpacked_intact(job):
        made.verification = {**hit.verification, "reused": f"verified when artifact {job.key[:12]} was "
                             "packed; its files match the manifest"}
        job.run.log(f"verification of artifact {job.key} reused: every file matches its manifest")
        return made
    made.verification = verify_if_asked(job, made.python)
    if made.verification is not None:
        try:
            made.artifact = cache.annotate(hit, verification=made.verification)  # the next reinstall reuses it
        except OSError as exc:
            job.run.reporter.warn(f"could not note the verification in the artifact cache ({exc.strerror})")
    keep_if_unverified(job, made, cached=True)
    return made


def _imported_intact(job: Job, cache: artifacts.Cache, hit: artifacts.Artifact) -> bool:
    """Whether an imported artifact unpacked into exactly the files of its manifest; if not,
    it leaves the cache and the staging directory, and the install compiles."""
    try:
        with job.run.phase("manifest", "compare every file with the imported artifact's manifest"):
            found = manifest.compare(job.staged, job.name, import_bytecode=False)  # before anything imported
    except PyBuild12Error as exc:
        what = exc.message.replace(str(job.staged), "the unpacked build")
    else:
        if found.ok:
            return True
        what = (f"{len(found.changed)} file(s) changed, {len(found.missing)} missing, {len(found.added)} added "
                "against its manifest")
    job.run.reporter.warn(f"imported artifact {hit.key[:12]} refused: {what}; removed from the cache, building "
                          "from source")
    job.run.log(f"imported artifact {hit.key} refused: {what}")
    cache.remove(hit.key)
    shutil.rmtree(job.staged, ignore_errors=True)
    return False


def _unpacked_intact(job: Job) -> bool:
    """Whether the unpacked build is byte for byte what was verified."""
    with job.run.phase("manifest", "compare every file with the artifact's manifest"):
        # unlisted .pyc are not "added": the check's imports write them where make install compiled none
        found = manifest.compare(job.staged, job.name)
    if not found.ok:
        job.run.reporter.warn(f"the unpacked build differs from its manifest ({len(found.changed)} changed, "
                              f"{len(found.missing)} missing, {len(found.added)} added): verifying it again")
    return found.ok


def _from_source(job: Job, cache: artifacts.Cache | None, pgo: "PgoPlan", resolution) -> Made:
    """The compiled path: build, check, verify, then keep the profile and the packed build."""
    job.work.tree = fetch.prepare(job.recipe, paths=job.paths, settings=job.settings, build_root=job.work.build_root,
                                    run=job.run, resolution=resolution)
    if job.chosen_configure_opts:  # configure would only warn of a typo, and build without it
        help_text = configopts.help_text(job.work.tree.path, job.settings.env, job.run.log_path)
        configopts.check(job.chosen_configure_opts, help_text, version=job.recipe.version)
    compiled = compile_build(job.run, job.recipe, job.steps, job.work, job.settings.env, pgo,
                             job.options.ccache or job.settings.ccache, job.staged, job.prefix,
                             job.settings.step_timeout)
    try:
        python = check_staged(job.run, job.staged, job.recipe, job.expected_version)
    except CheckError as exc:  # not installed, not thrown away: kept for a look at what is wrong
        kept = keep(job)
        raise CheckError(exc.message, log_path=exc.log_path or str(job.run.log_path),
                         hint=f"the build is kept at {kept} to look into; {exc.hint or 'see the log'}") from None
    made = Made(python, job.work.tree.facts, ccache=compiled.ccache, modules=lacking_modules(compiled.report),
                bytecode=compiled.bytecode)
    made.verification = verify_if_asked(job, made.python)
    write_manifest(job, bytecode=made.bytecode)  # before packing: a reinstall from the cache brings it along
    made.pgo = keep_profile(job.run, pgo, job.work.tree.path, made.source, job.paths, store=not job.options.no_cache)
    if cache is not None:
        # Packed whatever its verification said: a retry installs it without compiling
        # (and verifies it again); only a verification that passed is ever reused.
        made.artifact = _pack(job.run, cache, job.key, job.staged,
                              {"inputs": job.inputs, "source": made.source, "name": job.name,
                               "version": job.recipe.version, "pgo_profile": made.pgo,
                               "verification": made.verification, "modules": made.modules,
                               "bytecode": made.bytecode})
    keep_if_unverified(job, made, cached=made.artifact is not None)
    return made


def _receipt(job: Job, made: Made, compiler: str) -> Receipt:
    """The receipt of either path."""
    receipt = receipts.new(job.recipe, name=job.name, python=made.python.relative_to(job.staged),
                           configure_args=tuple(plan.configure_step(job.steps)[1:]),
                           make_jobs=plan.make_jobs(job.steps), compiler=compiler, source=made.source,
                           host=receipts.host_facts(), timings=job.run.timings, log=job.run.log_path)
    artifact = {"key": job.key, "from_cache": made.origin is not None,
                **({"origin": made.origin} if made.origin else {})}
    optimized = None
    if job.toolchain is not None:
        optimized = {"level": job.recipe.build.optimize, "llvm": job.toolchain.version,
                     "toolchain": str(job.toolchain.bindir), "bolt": optimize.bolted(made.python)}
    configure_env = next(s.env for s in job.steps if s.phase == "configure")
    return replace(receipt, artifact=artifact, optimize=optimized,
                   configure_env=dict(configure_env) if configure_env else None, pgo_profile=made.pgo or None,
                   ccache=made.ccache or None, verification=made.verification or None, modules=made.modules,
                   bytecode=made.bytecode)


def _cached_build(cache: artifacts.Cache | None, key: str, settings: Settings, run: Run, paths: Paths,
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
        return hit, transfer.IMPORTED if hit.meta.get(transfer.IMPORTED) else "local"
    if settings.cache_url:
        shared = _store(settings, signing.trusted_keys(settings.cache_trust, paths.config))
        with run.phase("shared cache", "look up"):
            found = shared.lookup(key, cache, run.reporter.warn, inputs, stalled=run.reporter.status,
                                  progress=run.reporter.progress)
            run.reporter.phase_outcome(f"shared cache: {found}", ok=found.ok)
        run.log(f"shared cache {shared.shown}, artifact {key}: {found}")
        if found.artifact is not None:
            return found.artifact, "shared"
    return None, None


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


def _warn_if_in_use(prefix: Path, reporter: Reporter) -> None:
    users = leftovers.users_of(prefix) if prefix.exists() else {}
    if users:
        reporter.warn(f"{len(users)} running process(es) use the build being replaced (pid "
                      f"{', '.join(map(str, sorted(users)[:5]))}): they keep the files they have open, "
                      "and load any module they import from now on from the new build")


def _store(settings: Settings, trusted=()) -> remote.SharedCache:
    """The shared cache the settings name (PYBUILD12_CACHE_URL), with their HTTP timeouts and
    the token of PYBUILD12_CACHE_TOKEN."""
    return remote.SharedCache(settings.cache_url or "", trusted, timeouts=settings.http_timeouts,
                              token=settings.cache_token)


def _preflight(recipe: Recipe, env: Mapping[str, str], reporter: Reporter) -> None:
    checks = preflight.run(recipe.build.required_modules, env, source_kind=recipe.source.kind)
    if "jit" in recipe.build.variants:
        checks += preflight.jit_toolchain(variants.llvm_major(recipe.version), env)
    checks += preflight.sanitizer_toolchain(variants.sanitizers_of(recipe.build.variants), env)
    for absent in preflight.enforce(checks):
        reporter.warn(f"{absent.what} not found: the {absent.name} module will be missing "
                      f"(apt-get install {absent.debian} / dnf install {absent.fedora})")


@contextmanager
def _workspace(paths: Paths, name: str, recipe: Recipe, run: Run, settings: Settings, *,
               keep: bool) -> Iterator[Workspace]:
    """The build tree and the staging directory of one run; both go when it ends, however it ends."""
    build_root = paths.builds / name
    shutil.rmtree(build_root, ignore_errors=True)
    work = Workspace(build_root, staging.new_staging(paths.pythons, name))
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
            fetch.release(recipe, work.tree, paths=paths, settings=settings, run=run)


def _say_why_compiling(reporter: Reporter, name: str, cache: artifacts.Cache | None, pgo: "PgoPlan",
                       changes: list[str]) -> None:
    """Before a compile that takes minutes: why no cached build could be used."""
    if changes:
        reporter.info(f"replacing {name}, which was built differently: " + "; ".join(changes))
    why = ("--no-cache" if cache is None else "a given or fresh PGO profile is a build input" if not pgo.reuse_artifacts
           else "the artifact cache has no build of these sources, options and compiler")
    reporter.info(f"compiling from source: {why}")
