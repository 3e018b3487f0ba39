"""The artifact key an install uses, and `pybuild12 key`: the same key without building.

The install and `pybuild12 key` go through `key_inputs` alike, so a CI cache keyed on
`pybuild12 key` holds exactly the build the install that follows looks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from pybuild12.builder import configopts, optimize, plan, preflight, sanitizers
from pybuild12.core import runlog
from pybuild12.core.paths import Paths
from pybuild12.core.report import Reporter
from pybuild12.core.settings import Settings
from pybuild12.install.job import InstallOptions
from pybuild12.request import resolve, variants
from pybuild12.request.recipes import GitSource, Recipe
from pybuild12.sources import fetch, gitsource
from pybuild12.store import key as keys


def request(spec: str, options: InstallOptions) -> tuple[Recipe, str, str | None]:
    """The recipe to build, the build's name, and the version it must report (None: any)."""
    return resolve.resolve(spec, name=options.name, commit=options.commit, optimizations=options.optimizations,
                           lto=options.lto, optimize=options.optimize, compile_bytecode=options.compile_bytecode,
                           default_bytecode=options.default_bytecode)


def compiler_of(recipe: Recipe, env: Mapping[str, str]) -> tuple[optimize.Toolchain | None, str]:
    """`--optimize max`'s toolchain (None otherwise), and the compiler's version line, which
    the key and the receipt hold."""
    toolchain = optimize.require(env) if recipe.build.optimize == "max" else None
    return toolchain, toolchain.banner if toolchain else preflight.compiler_version(env)


def key_inputs(recipe: Recipe, source_pin: str, configure_args, prefix: Path, compiler: str,
               env: Mapping[str, str], toolchain: optimize.Toolchain | None) -> dict:
    """The artifact key's inputs (see `store.key`), the JIT's LLVM probed on this machine."""
    llvm = variants.llvm_major(recipe.version) if "jit" in recipe.build.variants else None
    jit_llvm = preflight.llvm_version(llvm, env) if llvm else None
    optional = keys.optional(recipe, jit_llvm=jit_llvm, toolchain=toolchain)
    # pybuild12's suppressions of a version's known CPython reports are installed with a
    # sanitizer build: another list is another artifact.
    known = [line for sanitizer in variants.sanitizers_of(recipe.build.variants)
             for line in sanitizers.known_races(sanitizer, recipe.version)]
    if known:
        optional["known_suppressions"] = known
    return keys.inputs(recipe_sha256=recipe.content_sha256, source_pin=source_pin, configure_args=configure_args,
                       prefix=prefix, compiler=compiler, build_env=plan.build_env(env), variants=optional)


@dataclass(frozen=True)
class Keyed:
    """What `pybuild12 key` answers: the build an install would make, and its key."""

    name: str
    version: str
    prefix: Path
    key: str
    inputs: dict[str, Any]
    source: str  # the tarball's sha256 or the resolved commit

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "prefix": str(self.prefix), "key": self.key,
                "source": self.source, "inputs": self.inputs}


def artifact_key(spec: str, options: InstallOptions = InstallOptions(), *, paths: Paths,
                 reporter: Reporter = Reporter(), settings: Settings | None = None) -> Keyed:
    """The key an install of `spec` with `options` would use, without building: a git
    recipe's commit is resolved (which may fetch, unless it is a full hash), the compiler
    probed."""
    settings = settings or Settings.from_env()
    settings.check()
    recipe, name, _ = request(spec, options)
    env = sanitizers.build_environment(recipe.build.variants, settings.env)
    user_opts = plan.user_configure_opts(options.configure_opts, settings.configure_opts)
    prefix = paths.prefix(name)
    toolchain, compiler = compiler_of(recipe, env)
    if isinstance(recipe.source, GitSource) and gitsource.FULL_HASH.match(recipe.source.commit):
        source_pin = recipe.source.commit.lower()  # what the install resolves it to: no fetch needed
    elif isinstance(recipe.source, GitSource):
        run = runlog.start(paths, name, str(recipe.path), reporter, command="key")
        source_pin, _ = fetch.pin(recipe, paths=paths, settings=settings, run=run)
    else:
        source_pin = recipe.source.sha256
    # a key for a build whose configure would ignore an option is no key at all
    check_configure_opts(recipe, name, source_pin, user_opts, paths=paths, settings=settings, reporter=reporter)
    inputs = key_inputs(recipe, source_pin, plan.configure_args(recipe, prefix, user_opts), prefix, compiler, env,
                        toolchain)
    return Keyed(name, recipe.version, prefix, keys.key_of(inputs), inputs, source_pin)


def check_configure_opts(recipe: Recipe, name: str, source_pin: str | None, user_opts, *, paths: Paths,
                         settings: Settings, reporter: Reporter) -> None:
    """Refuse configure options (the recipe's configure-args, the user's) that the
    source's own configure does not know, reading `configure` alone (a tarball is fetched
    into the download cache). `source_pin` None: a git commit not resolved yet, left to
    the install's check in the extracted tree."""
    chosen = (*recipe.build.configure_args, *user_opts)
    if not chosen or source_pin is None:
        return
    env = sanitizers.build_environment(recipe.build.variants, settings.env)
    run = runlog.start(paths, name, str(recipe.path), reporter, command="configure-help")
    script = fetch.configure_script(recipe, source_pin, paths=paths, settings=settings, run=run)
    configopts.check(chosen, configopts.script_help(script, env, run.log_path), version=recipe.version)


def known_pin(recipe: Recipe) -> str | None:
    """What a recipe builds, when known without fetching: a tarball's sha256, a full commit."""
    if isinstance(recipe.source, GitSource):
        return recipe.source.commit.lower() if gitsource.FULL_HASH.match(recipe.source.commit) else None
    return recipe.source.sha256
