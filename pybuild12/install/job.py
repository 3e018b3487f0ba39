"""What one install is asked for, what it makes, and what it answers with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pybuild12.builder import optimize
from pybuild12.core.paths import Paths
from pybuild12.core.runlog import Run
from pybuild12.core.settings import Settings
from pybuild12.request.recipes import Recipe
from pybuild12.sources import fetch as sources
from pybuild12.store import artifacts


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
    compile_bytecode: bool | None = None  # True/False: make install byte-compiles the stdlib, whatever the default
    # What make install does when neither compile_bytecode nor the recipe says (None: as the
    # variants say). A default, not a choice: an installed build made otherwise still answers.
    default_bytecode: bool | None = None


@dataclass
class Job:
    """One install of one build: what both paths (from the artifact cache, or compiled) need."""

    recipe: Recipe
    name: str
    options: InstallOptions
    paths: Paths
    settings: Settings  # its env is what the build's commands run with
    run: Run
    work: "Workspace"
    prefix: Path
    staged: Path
    key: str
    inputs: dict
    steps: list
    expected_version: str | None
    toolchain: optimize.Toolchain | None = None
    # the configure options the user chose (the recipe's configure-args, --configure-opt,
    # PYBUILD12_CONFIGURE_OPTS): checked against the source's configure before it runs
    chosen_configure_opts: tuple[str, ...] = ()


@dataclass
class Made:
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
    bytecode: bool = True  # whether `make install` byte-compiled the standard library


@dataclass
class Workspace:
    build_root: Path
    stage_dir: Path
    tree: sources.SourceTree | None = None
