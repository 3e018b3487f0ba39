"""The staged build proved before it is installed: the minimal check, the verifier, the
modules it lacks; and a build that fails them kept (not installed, not thrown away)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Mapping

from pybuild12.builder import preflight
from pybuild12.checks import smoke, verify as verifier
from pybuild12.core.errors import CheckError
from pybuild12.core.report import Reporter
from pybuild12.core.runlog import Run
from pybuild12.install.job import Job, Made
from pybuild12.request.recipes import Recipe
from pybuild12.store import manifest


def check_staged(run: Run, staged: Path, recipe: Recipe, expected_version: str | None) -> Path:
    """Run the minimal check on the staged interpreter; return its path."""
    python = smoke.python_of(staged, recipe)
    with run.phase("check", str(python.relative_to(staged))):
        results = smoke.smoke(python, expected_version, recipe.build.required_modules, log_path=run.log_path)
        for r in results:
            run.log(f"check {r.name}: {'ok' if r.ok else 'FAILED'}: {r.detail}")
        smoke.enforce(results)
    return python


def verify_staged(run: Run, python: Path, expect: tuple[str, ...]) -> dict:
    """Checks 1-8 on the staged interpreter, and the variant's own. A failed check fails
    the install, but only after the build is kept (`keep_if_unverified`)."""
    with run.phase("verify", "sub-interpreters" + "".join(f", {v}" for v in expect)):
        report = verifier.run(python, expect=expect)
        for c in report.checks:
            run.log(f"verify {c.name}: {c.status}: {c.reason}")
            if c.status == verifier.INCONCLUSIVE:
                run.reporter.warn(f"{c.name}: {c.reason}")
    summary = report.as_json()
    summary.pop("python")  # the staging path, meaningless once installed
    return summary


def verify_if_asked(job: Job, python: Path) -> dict | None:
    return verify_staged(job.run, python, job.recipe.build.variants) if job.options.verify else None


def keep_if_unverified(job: Job, made: Made, *, cached: bool) -> None:
    """A build whose verification failed is not installed, and not thrown away either:
    it moves to `<cache>/kept/<name>` (where `verify --python` can run it again) and,
    when `cached`, the artifact cache has it too, so running the same install again
    needs no compile."""
    if made.verification is None or made.verification.get("ok"):
        return
    kept = keep(job)
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


def keep(job: Job) -> Path:
    """Move the staged build to `<cache>/kept/<name>` (one per name) and return where."""
    kept = job.paths.kept / job.name
    shutil.rmtree(kept, ignore_errors=True)
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(job.staged), kept)
    job.run.log(f"### the build failed its checks; it is kept at {kept}")
    return kept


def lacking_modules(report: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The standard library's extension modules the build lacks, from CPython's own report
    (build.module_report): missing (configure found no headers), disabled, failed, failed_import."""
    return {kind: sorted(names) for kind, names in report.items() if names}


def warn_lacking(reporter: Reporter, recipe: Recipe, name: str, modules: dict | None) -> None:
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


def write_manifest(job: Job, *, bytecode: bool = True) -> None:
    """The manifest of the staged build. A build whose `make install` compiled no bytecode
    is listed (and packed) as `make install` left it: without the .pyc that its checks'
    imports wrote (which ones depends on the checks that ran; Python writes them again
    at the first import)."""
    with job.run.phase("manifest", "sha256 of every file"):
        if not bytecode:
            dropped = manifest.drop_import_bytecode(job.staged)
            job.run.log(f"### removed {dropped} .pyc file(s) from the staged build: it is installed without bytecode")
        manifest.write(job.staged)
