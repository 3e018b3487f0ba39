"""What a build is, read from its receipt, and how an install request differs from it.

`list` shows the first; `install` uses the second so that an installed build is what
was asked for, or the user is told what differs (uv and pyenv answer "already
installed" whatever the options; a build made without PGO must not pass for one made
with it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

from pybuild12.request.recipes import uses_lto
from pybuild12.store.receipts import Receipt

# configure options that the summary names by their meaning rather than as options
_NAMED = ("--enable-optimizations", "--with-lto", "--without-lto")


@dataclass(frozen=True)
class BuildFacts:
    pgo: bool
    lto: bool
    optimize: str  # "standard" or "max"
    variants: tuple[str, ...]
    compiler: str
    configure_options: tuple[str, ...]  # beyond --prefix, PGO and LTO
    verified: str  # "passed", "passed, N inconclusive", "failed", "not verified", "unknown"
    bytecode: bool  # whether `make install` byte-compiled the standard library

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "variants": list(self.variants), "configure_options": list(self.configure_options),
                "optimizations": self.optimizations}

    @property
    def optimizations(self) -> str:
        """One word for the table: pgo+lto, pgo, lto, none, max."""
        if self.optimize == "max":
            return "max"
        return "+".join(k for k, on in (("pgo", self.pgo), ("lto", self.lto)) if on) or "none"


def facts(receipt: Receipt | None) -> BuildFacts | None:
    if not receipt:
        return None
    args = list(receipt.configure_args)
    return BuildFacts(
        pgo="--enable-optimizations" in args,
        lto=uses_lto(args),
        optimize=receipt.optimize_level,
        variants=receipt.variants or (),
        compiler=receipt.compiler,
        configure_options=tuple(_other_options(args)),
        verified=verified_state(receipt),
        bytecode=receipt.compiled_bytecode,
    )


def verified_state(receipt: Receipt) -> str:
    verification = receipt.verification
    if not verification:
        return "not verified"
    checks = verification.get("checks", [])
    if checks and all(isinstance(c, str) for c in checks):  # reproducible receipts keep the names only
        return "passed"
    statuses = [c.get("status") for c in checks if isinstance(c, dict)]
    if not verification.get("ok", True) or "failed" in statuses:
        return "failed"
    inconclusive = statuses.count("inconclusive")
    return f"passed, {inconclusive} inconclusive" if inconclusive else "passed"


def _other_options(args: Sequence[str]) -> list[str]:
    return [a for a in args if not a.startswith("--prefix=") and a.split("=", 1)[0] not in _NAMED]


class Difference(str):
    """One way a build differs from a request, in words; `option` names what asks for it
    (pgo, lto, bytecode, optimize, configure, commit, recipe), so that an install can
    refuse only what the user asked for and answer the rest with the installed build."""

    option: str

    def __new__(cls, text: str, option: str) -> "Difference":
        made = super().__new__(cls, text)
        made.option = option
        return made


def differences(receipt: Receipt, *, configure_args: Sequence[str], optimize: str,
                recipe_sha256: str, commit: str | None, compile_bytecode: bool | None = None) -> list[Difference]:
    """What an install asking for `configure_args` (and the rest) would build differently
    from the installed build of `receipt`; empty when it is the same build.

    `compile_bytecode`: what the install or the recipe asks explicitly; None (neither
    says) takes the installed build as it is, so that a build installed before its
    variant's default changed is still the one asked for."""
    installed = list(receipt.configure_args)
    asked = list(configure_args)
    found: list[Difference] = []
    for option, label, on in (("pgo", "PGO (--enable-optimizations)", lambda a: "--enable-optimizations" in a),
                              ("lto", "LTO", uses_lto)):
        if on(installed) != on(asked):
            found.append(Difference(f"{label}: installed {_with(on(installed))}, asked {_with(on(asked))}", option))
    if compile_bytecode is not None and compile_bytecode != receipt.compiled_bytecode:
        found.append(Difference(f"stdlib bytecode compiled at install (--compile-bytecode): installed "
                                f"{_with(receipt.compiled_bytecode)}, asked {_with(compile_bytecode)}", "bytecode"))
    level = receipt.optimize_level
    if level != optimize:
        found.append(Difference(f"--optimize: installed {level}, asked {optimize}", "optimize"))
    added = [a for a in _other_options(asked) if a not in _other_options(installed)]
    dropped = [a for a in _other_options(installed) if a not in _other_options(asked)]
    if added:
        found.append(Difference("configure options the installed build lacks: " + " ".join(added), "configure"))
    if dropped:
        found.append(Difference("configure options of the installed build not asked now: " + " ".join(dropped),
                                "configure-dropped"))
    installed_commit = receipt.source.get("commit")
    if commit and installed_commit and not installed_commit.startswith(commit.lower()):
        found.append(Difference(f"commit: installed {installed_commit[:12]}, asked {commit}", "commit"))
    installed_sha = receipt.recipe.content_sha256
    if installed_sha and installed_sha != recipe_sha256:
        found.append(Difference("the recipe file changed since the build was installed", "recipe"))
    return found


def _with(on: bool) -> str:
    return "with" if on else "without"
