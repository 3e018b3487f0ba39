"""`pybuild12 list` and `pybuild12 which`: the commands that answer, from a shell's start-up
as often as by hand; each imports only what it reads."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Optional

import typer

from pybuild12.cli.common import NAME_HELP, build, command_group, err, interruptible, out, settings
from pybuild12.core.errors import PyBuild12Error

if TYPE_CHECKING:
    from pybuild12.request.recipes import Recipe

commands = command_group()


@commands.command("list")
@interruptible
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON to stdout.")) -> None:
    """Show available recipes and installed builds (version and prefix)."""
    from rich.table import Table  # lazy: for this command only

    from pybuild12.request import recipes  # lazy: the recipes, for this command only
    from pybuild12.store import (
        buildinfo,  # lazy: how each build was made, from its receipt
        registry,  # lazy: as above, the installed builds
    )

    paths = settings().paths
    available = []
    for name in recipes.available():
        try:
            r = recipes.load(name)
            available.append({"name": name, "version": r.version, "summary": r.summary,
                              "source": r.source.kind, "alias_of": r.name if r.alias_of else None,
                              "variants": _possible_variants(r)})
        except PyBuild12Error as exc:
            available.append({"name": name, "error": exc.message})
    builds = []
    for b in registry.installed(paths):
        source = b.receipt.source if b.receipt else {}
        made = buildinfo.facts(b.receipt)
        builds.append({"name": b.name, "version": b.version, "variants": list(b.variants),
                       "prefix": str(b.prefix), "python": str(b.python),
                       "source": source.get("url"), "commit": source.get("commit"), "receipt": b.receipt is not None,
                       "build": made.as_json() if made else None,
                       # The modules CPython's build could not build, by kind; None: not recorded.
                       "lacking": b.receipt.modules if b.receipt else None})
    kept = sorted(p.name for p in paths.kept.iterdir()) if paths.kept.is_dir() else []
    if as_json:
        out.print_json(json.dumps({"recipes": available, "installed": builds,
                                   "kept": [{"name": k, "path": str(paths.kept / k)} for k in kept]}))
        return
    table = Table(title="installed builds", title_justify="left", box=None)
    for col in ("name", "version", "variants", "optimizations", "compiler", "verified", "commit", "prefix"):
        table.add_column(col)
    for b in builds:
        made = b["build"] or {}
        table.add_row(b["name"], b["version"] if b["receipt"] else "? (no receipt)", "+".join(b["variants"]) or "-",
                      made.get("optimizations", "?"), _short_compiler(made.get("compiler", "?")),
                      made.get("verified", "?"),
                      (b["commit"] or "")[:12], b["prefix"])
    if builds:
        out.print(table)
    else:
        out.print("no builds installed")
    for b in builds:
        lacking = [f"{m} ({kind.replace('_', ' ')})" for kind, names in (b["lacking"] or {}).items() for m in names]
        if lacking:
            err.print(f"{b['name']} lacks: {', '.join(lacking)}")
    for k in kept:
        err.print(f"kept after a failed verification: {k} at {paths.kept / k} (running its install again installs "
                  "it without compiling; 'pybuild12 cache clear' removes it)")
    out.print()
    table = Table(title="available recipes", title_justify="left", box=None)
    for col in ("name", "version", "source", "variants", "summary"):
        table.add_column(col)
    for r in available:
        summary = r.get("error") or (f"→ {r['alias_of']}" if r.get("alias_of") else r["summary"])
        table.add_row(r["name"], r.get("version", "?"), r.get("source", "?"), ",".join(r.get("variants", [])) or "-",
                      summary)
    out.print(table)
    err.print("variants: add them to a recipe's name, "
              "e.g. 3.14t or 3.14+freethreaded, 3.14+debug, 3.14+jit, 3.14t+debug, "
              "3.13t+tsan, 3.13+asan, 3.13+ubsan")


def _short_compiler(banner: str) -> str:
    """`gcc (Debian 12.2.0-14+deb12u1) 12.2.0` -> `gcc 12.2.0`; clang's banner -> `clang 19.1.7`."""
    words = banner.split()
    if not words:
        return "?"
    version = next((w for w in reversed(words) if w[:1].isdigit() and "." in w), "")
    if "clang" in banner:
        version = next((w for w in words if w[:1].isdigit() and "." in w), version)
        return f"clang {version}".strip()
    return f"{words[0]} {version}".strip()


def _possible_variants(recipe: Recipe) -> list[str]:
    """The variants `recipe`'s CPython can be built as."""
    from pybuild12.request import variants  # lazy: read only by `list`

    found = []
    for variant in variants.ORDER:
        try:
            variants.check_supported(recipe.name, recipe.version, [variant])
        except PyBuild12Error:
            continue
        found.append(variant)
    return found


@commands.command("which")
@interruptible
def which(name: Optional[str] = typer.Argument(None, metavar="NAME", help=NAME_HELP)) -> None:
    """Print the path of a build's python."""
    sys.stdout.write(f"{build(name).python}\n")  # as it is: no markup, and no rich to import for it
