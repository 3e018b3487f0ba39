"""Configure options checked against the configure script that will run them.

CPython's configure only warns of an option it does not know ("configure: WARNING:
unrecognized options: --enable-optimisations") and goes on: a typo in `--configure-opt`,
`PYBUILD12_CONFIGURE_OPTS` or a recipe's `configure-args` would silently build something
else, minutes later. Each option is checked against what this very source's
`configure --help` lists (options come and go between versions: `--disable-gil` from
3.13, `--enable-experimental-jit` from 3.13), before configure runs.
"""

from __future__ import annotations

import difflib
import re
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

from pybuild12.core import runner
from pybuild12.core.errors import BuildError, UsageError

# An option as `configure --help` lists it, at the start of a line or after a comma:
# "  --with-lto=[full|thin|no|yes]", "  -q, --quiet, --silent".
_LISTED = re.compile(r"(?:^\s+|,\s*)(--?[A-Za-z][A-Za-z0-9_-]*)", re.MULTILINE)
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")  # CC=clang: configure takes any VAR=VALUE
# autoconf's generic forms (--enable-FEATURE), not options of their own
_PLACEHOLDERS = {"--enable-FEATURE", "--disable-FEATURE", "--with-PACKAGE", "--without-PACKAGE"}


def known(help_text: str) -> frozenset[str]:
    """The option names `configure --help` lists, with the other spelling of each feature
    or package (`--disable-ipv6` for `--enable-ipv6`, `--without-doc-strings` for
    `--with-doc-strings`)."""
    found = set(_LISTED.findall(help_text)) - _PLACEHOLDERS
    for name in list(found):
        for one, other in (("--enable-", "--disable-"), ("--with-", "--without-")):
            if name.startswith(one):
                found.add(other + name[len(one):])
            elif name.startswith(other):
                found.add(one + name[len(other):])
    return frozenset(found)


def unknown(options: Iterable[str], help_text: str) -> list[str]:
    """The options (as given) whose name this configure does not list."""
    names = known(help_text)
    return [o for o in options if not _VARIABLE.match(o) and o.split("=", 1)[0] not in names]


def check(options: Iterable[str], help_text: str, *, version: str) -> None:
    """Refuse configure options this configure does not know, each with a "did you mean"."""
    bad = unknown(options, help_text)
    if not bad:
        return
    names = sorted(known(help_text))
    said = []
    for option in bad:
        close = difflib.get_close_matches(option.split("=", 1)[0], names, n=1, cutoff=0.75)
        said.append(f"{option} (did you mean {close[0]}?)" if close else option)
    raise UsageError(
        f"CPython {version}'s configure does not know {'this option' if len(bad) == 1 else 'these options'}: "
        + ", ".join(said),
        hint="configure would only warn and build without it; check the spelling (from --configure-opt, "
        "PYBUILD12_CONFIGURE_OPTS or the recipe's configure-args), or see the source's './configure --help'",
    )


def help_text(tree: Path, env: Mapping[str, str], log_path: Path | None = None) -> str:
    """What `configure --help` prints in the source tree `tree` (a fraction of a second:
    it stops before any test)."""
    proc = runner.capture(["sh", "./configure", "--help"], cwd=tree, env=env, log_path=log_path)
    if proc.returncode != 0 or "--prefix" not in proc.stdout:
        raise BuildError(f"'./configure --help' failed in {tree} (exit {proc.returncode})",
                         phase="configure", log_tail=(proc.stdout + proc.stderr)[-2000:],
                         hint="is this a CPython source tree at a commit that builds?")
    return proc.stdout


def script_help(script: str, env: Mapping[str, str], log_path: Path | None = None) -> str:
    """`configure --help` of a configure script taken alone from its source (autoconf
    looks for one source file first, Include/object.h for CPython)."""
    with tempfile.TemporaryDirectory(prefix="pybuild12-configure-") as tmp:
        tree = Path(tmp)
        (tree / "configure").write_text(script, encoding="utf-8")
        (tree / "Include").mkdir()
        (tree / "Include" / "object.h").touch()
        return help_text(tree, env, log_path)
