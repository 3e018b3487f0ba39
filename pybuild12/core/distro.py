"""The host's distribution: which release it is, and which packages its package manager has.

A hint that names a package the machine cannot install sends the user in a circle
(`apt-get install clang-18` on Debian bookworm, which has no LLVM 18). So hints ask
apt which of the packages they would name exist here, and say what to do for the
others: for LLVM, its own packages at apt.llvm.org. The release is read from
os-release at run time, never assumed.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from pybuild12.core import runner
from pybuild12.core.errors import PrerequisiteError

OS_RELEASE = (Path("/etc/os-release"), Path("/usr/lib/os-release"))  # os-release(5): the first that exists
LLVM_APT = "https://apt.llvm.org"
_LABELS = {"debian": "Debian", "ubuntu": "Ubuntu", "fedora": "Fedora"}


@dataclass(frozen=True)
class Release:
    id: str  # ID: debian, ubuntu, fedora
    codename: str  # VERSION_CODENAME (bookworm, noble), else VERSION_ID
    name: str  # NAME's first word, or a known ID's spelling: Debian, Ubuntu
    like: tuple[str, ...] = ()  # ID_LIKE

    def __str__(self) -> str:
        return f"{self.name} {self.codename}".strip()

    @property
    def uses_apt(self) -> bool:
        return bool({"debian", "ubuntu"} & {self.id, *self.like})

    @property
    def uses_dnf(self) -> bool:
        return bool({"fedora", "rhel", "centos"} & {self.id, *self.like})


def parse(text: str) -> dict[str, str]:
    """os-release's KEY=value lines (values optionally quoted)."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            fields[key] = value
    return fields


def release(files: Iterable[Path] | None = None) -> Release | None:
    """This machine's release, or None where there is no os-release."""
    for path in (OS_RELEASE if files is None else files):
        try:
            fields = parse(path.read_text("utf-8", errors="replace"))
        except OSError:
            continue
        ident = fields.get("ID", "").lower()
        name = _LABELS.get(ident) or (fields.get("NAME", "").split() or [ident])[0]
        return Release(ident, fields.get("VERSION_CODENAME") or fields.get("VERSION_ID", ""), name,
                       tuple(fields.get("ID_LIKE", "").lower().split()))
    return None


def apt_installable(packages: Iterable[str], env: Mapping[str, str] | None = None) -> dict[str, bool] | None:
    """Which of `packages` apt can install here (its lists have a candidate version);
    None when apt cannot say: no apt-cache, or no package lists yet (a fresh container
    before `apt-get update`, where every package would look absent)."""
    wanted = sorted(set(packages))
    path = None if env is None else env.get("PATH")
    if not wanted or shutil.which("apt-cache", path=path) is None:
        return None
    try:
        sources = runner.capture(["apt-cache", "policy"], env=env)
        if sources.returncode != 0 or not any(line.rstrip().endswith(" Packages")
                                              for line in sources.stdout.splitlines()):
            return None
        found = runner.capture(["apt-cache", "policy", *wanted], env=env)
    except (OSError, runner.TimedOut, PrerequisiteError):
        return None
    if found.returncode != 0:
        return None
    candidates = _candidates(found.stdout)
    return {p: candidates.get(p, False) for p in wanted}


def _candidates(policy: str) -> dict[str, bool]:
    """apt-cache policy's answer, per package: whether it has a candidate. A package apt
    has never heard of is not in the answer at all; a virtual one has "(none)"."""
    found: dict[str, bool] = {}
    package = None
    for line in policy.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            package = line.rstrip()[:-1].split(":")[0]
            found[package] = False
        elif package and line.strip().startswith("Candidate:"):
            found[package] = line.split(":", 1)[1].strip() not in ("", "(none)")
    return found


def lacking(release_: Release | None, packages: Iterable[str], llvm: int | None = None) -> tuple[str, str | None]:
    """What to say of packages apt does not have here: that the release lacks them, and for
    LLVM's (`llvm`: its major version) where to get them instead."""
    what = f"{release_ if release_ is not None else 'this system'} has no {', '.join(packages)}"
    how = (f"LLVM's packages: {LLVM_APT} (its script: wget {LLVM_APT}/llvm.sh; sudo bash llvm.sh {llvm})"
           if llvm is not None else None)
    return what, how


@dataclass(frozen=True)
class AptPlan:
    """Debian packages split by what apt here can do with them."""

    label: str  # "Debian bookworm", or "Debian/Ubuntu" where the release is not apt's or unknown
    installable: tuple[str, ...]
    lacking: tuple[tuple[str, str | None], ...]  # (what, how) per LLVM version or other packages


def apt_plan(packages: Mapping[str, int | None], env: Mapping[str, str] | None = None) -> AptPlan:
    """`packages` (each with the LLVM major it belongs to, or None) as this machine's apt sees
    them; all installable where apt cannot say."""
    here = release()
    apt_here = here is not None and here.uses_apt
    have = apt_installable(packages, env) if apt_here else None
    names = sorted(packages)
    missing = [p for p in names if have is not None and not have.get(p, False)]
    groups: dict[int | None, list[str]] = {}
    for name in missing:
        groups.setdefault(packages[name], []).append(name)
    return AptPlan(str(here) if apt_here else "Debian/Ubuntu", tuple(p for p in names if p not in missing),
                   tuple(lacking(here, group, llvm) for llvm, group in groups.items()))


def install_lines(debian: Mapping[str, int | None], fedora: Iterable[str],
                  env: Mapping[str, str] | None = None) -> list[str]:
    """The lines of a hint that installs packages: apt-get for those this machine's apt has,
    where to get the others, and dnf's."""
    plan = apt_plan(debian, env)
    lines = []
    if plan.installable:
        lines.append(f"  {plan.label}: sudo apt-get install {' '.join(map(shlex.quote, plan.installable))}")
    lines += [f"  {what}" + (f"; {how}" if how else "") for what, how in plan.lacking]
    fedora = sorted(set(fedora))
    if fedora:
        lines.append(f"  Fedora: sudo dnf install {' '.join(map(shlex.quote, fedora))}")
    return lines
