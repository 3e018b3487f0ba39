"""The artifact key: everything that shapes a build's binary, listed in one place.

Two builds with the same key are interchangeable, so a mistake here reuses the wrong
binary. The inputs, all of them:

- `format`: this list's own version (a change to it makes every key new);
- `recipe_sha256`: the recipe file's content; `source`: the tarball's sha256 or the
  resolved commit;
- `configure_args`: the whole ./configure line, the prefix and the user's options in it;
- `prefix`: builds are not relocatable;
- `compiler`: the first line of the compiler's `--version`; `build_env`: CC, CFLAGS and
  the like, when set;
- `system`, `machine`, `libc`: the platform;
- `variants` (when any); `llvm`: the LLVM that compiles the JIT's stencils, or the one
  of `--optimize max`, which builds everything (`optimize` is then "max");
- `lto_partition`: a partitioned GCC LTO link (when not "none");
- `compile_bytecode`: false when `make install` does not byte-compile the standard
  library (the artifact then has no .pyc).

Inputs that only some builds have join only when set, so the keys of builds without
them stay as they were. The PGO profile's key is derived from these inputs
(`profile_inputs`), and the shared cache's prefix-free index too (`prefixless_key`).
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from pybuild12.builder.optimize import Toolchain
    from pybuild12.request.recipes import Recipe

FORMAT = 1
PROFILE_FORMAT = 1
# What a PGO profile does not depend on: where the build is installed, the recipe's text
# (its pins and options are inputs of their own), and how GCC partitions the LTO link
# (a partitioned build uses the profile of a serial one), nor whether `make install`
# byte-compiles (that comes after the training run).
NOT_IN_PROFILE = ("prefix", "recipe_sha256", "lto_partition", "compile_bytecode")


def inputs(*, recipe_sha256: str, source_pin: str, configure_args: Sequence[str], prefix: Path | str,
           compiler: str, build_env: Mapping[str, str] | None = None,
           variants: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The key's inputs; `variants` holds the optional ones (see `optional`)."""
    libc, libc_version = platform.libc_ver()
    return {**(variants or {}),
            "format": FORMAT,
            "recipe_sha256": recipe_sha256,
            "source": source_pin,
            "configure_args": list(configure_args),
            "prefix": str(prefix),
            "compiler": compiler,
            "build_env": dict(build_env or {}),
            "system": platform.system(),
            "machine": platform.machine(),
            "libc": f"{libc} {libc_version}".strip()}


def optional(recipe: "Recipe", *, jit_llvm: str | None = None,
             toolchain: "Toolchain | None" = None) -> dict[str, Any]:
    """The inputs only some builds have: the variants, the JIT's LLVM (`jit_llvm`: its full
    version, probed by the caller), `--optimize max` with its toolchain's LLVM, a
    partitioned LTO link, and an install that does not byte-compile."""
    found: dict[str, Any] = {}
    if recipe.build.variants:
        found["variants"] = list(recipe.build.variants)
        if "jit" in recipe.build.variants:
            found["llvm"] = jit_llvm or "unknown"
    if recipe.build.optimize != "standard":
        found["optimize"] = recipe.build.optimize
        found["llvm"] = toolchain.version if toolchain else "missing"
    if recipe.build.lto_partition != "none":
        found["lto_partition"] = recipe.build.lto_partition
    if not recipe.build.compiles_bytecode:
        found["compile_bytecode"] = False
    return found


def key_of(key_inputs: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key_inputs, sort_keys=True).encode()).hexdigest()


def without_prefix(key_inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A build's inputs but for where it is installed: the same for a build of the same
    sources, options and compiler under another prefix (another PYBUILD12_HOME or name)."""
    rest = {k: v for k, v in key_inputs.items() if k != "prefix"}
    rest["configure_args"] = [a for a in key_inputs.get("configure_args", ()) if not a.startswith("--prefix=")]
    return rest


def prefixless_key(key_inputs: Mapping[str, Any]) -> str:
    """What the shared cache indexes artifacts by, to tell a miss that only the prefix causes."""
    return key_of(without_prefix(key_inputs))


def profile_inputs(key_inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What shapes a PGO profile: the artifact's inputs but those in NOT_IN_PROFILE (the
    prefix also leaves the configure line)."""
    derived = {k: v for k, v in without_prefix(key_inputs).items() if k not in NOT_IN_PROFILE}
    derived["profile_format"] = PROFILE_FORMAT
    return derived
