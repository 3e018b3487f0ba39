"""`pybuild12 compat`'s scan: what to probe in an environment, and the kept results.

Each distribution's entry points and extension modules are probed in a child of the
environment's interpreter (compatprobe.py), several distributions at once; a package
that still runs then gets the life-cycle probe. Results are kept per interpreter,
distribution, version and files (the RECORD's hashes; an editable install's source
tree by size and mtime): a second scan of an unchanged environment runs no child at
all; `refresh` probes again.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from pybuild12.checks import compatprobe
from pybuild12.checks.compat import (
    BROKEN,
    DISTRIBUTION,
    ENTRY,
    EXTENSION,
    FORMAT,
    HANG,
    MISSING,
    OK,
    STDLIB,
    TIMEOUT,
    V_FALLBACK,
    V_RUNS,
    Module,
    Package,
    Scan,
    check_names,
)
from pybuild12.core import files
from pybuild12.core.errors import CheckError


def _identity(python: Path, info: dict[str, Any]) -> str:
    """The interpreter behind `python` (a venv's python is its build's): path, version, binary."""
    real = Path(os.path.realpath(python))
    stat = real.stat()
    return f"{real}|{info.get('version')}|{stat.st_size}|{stat.st_mtime_ns}"


def _cache_file(cache_dir: Path, *key: Any) -> Path:
    text = json.dumps([FORMAT, *key])
    return cache_dir / f"{hashlib.sha256(text.encode()).hexdigest()}.json"


def _load(path: Path) -> Package | None:
    try:
        data = json.loads(path.read_text("utf-8"))
        modules = tuple(Module(**dict(m, fallback=tuple(m["fallback"]), stdlib=tuple(m["stdlib"])))
                        for m in data.pop("modules"))
        return Package(**dict(data, together_stdlib=tuple(data["together_stdlib"])), modules=modules)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _store(path: Path, package: Package) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_json(path, asdict(package))
    except OSError:
        pass  # a cache that cannot be written costs the next scan its speed only


@dataclass(frozen=True)
class _Target:
    name: str
    version: str | None
    origin: str
    modules: tuple[str, ...]
    kinds: dict[str, str] = field(default_factory=dict, hash=False)
    fingerprint: str = ""
    evidence: dict[str, Any] = field(default_factory=dict, hash=False)

    def cache_key(self, identity: str) -> tuple[Any, ...] | None:
        if self.origin == DISTRIBUTION:
            return (identity, self.origin, self.name, self.version, self.fingerprint, self.modules)
        if self.origin == STDLIB:
            return (identity, self.origin, self.modules)
        return None  # a module that no distribution claims can change unseen: probed each time


def entry_points(dist: dict[str, Any]) -> list[str]:
    """The top-level modules a user imports: the public ones (PyYAML's `yaml`, not its `_yaml`
    shim), or all of them when none is public. Private extension modules are probed anyway,
    as extension modules."""
    extensions = set(dist.get("extensions", []))
    public = [m for m in dist["modules"] if not m.startswith("_")]
    return public or [m for m in dist["modules"] if m not in extensions] or list(dist["modules"])


def targets(listing: dict[str, Any], wanted: Sequence[str], stdlib: Iterable[str],
            found: dict[str, str] | None = None) -> list[_Target]:
    """What to probe: every distribution's entry points and extension modules, or only the
    modules `wanted` (grouped by the distribution that ships them); then the standard
    library's extension modules, if asked. `found`: where each wanted module that no
    distribution ships comes from (stdlib, unowned or missing)."""
    dists = {d["name"]: d for d in listing["distributions"]}
    owner = {}
    for d in listing["distributions"]:
        for m in d["modules"] + d.get("extensions", []):
            owner.setdefault(m, d["name"])
    chosen: dict[str, list[str]] = {}
    loose: list[str] = []
    for name in wanted:
        dist = owner.get(name) or owner.get(name.split(".")[0])
        if dist:
            # A package asked for by name brings the extension modules it ships (lxml: lxml.etree ...).
            inside = [e for e in dists[dist].get("extensions", []) if e.startswith(name + ".")]
            chosen.setdefault(dist, []).extend(m for m in [name, *inside] if m not in chosen.get(dist, []))
        else:
            loose.append(name)
    if not wanted:
        for d in listing["distributions"]:
            entries = entry_points(d)
            chosen[d["name"]] = entries + [e for e in d.get("extensions", []) if e not in entries]
    result = []
    for name in sorted(chosen, key=str.lower):
        d = dists[name]
        # A module asked for by name is an entry point, whatever the distribution's top level is.
        entry = set(wanted) if wanted else set(entry_points(d))
        kinds = {m: (ENTRY if m in entry else EXTENSION) for m in chosen[name]}
        if chosen[name]:
            result.append(_Target(name, d["version"], DISTRIBUTION, tuple(chosen[name]), kinds,
                                  d.get("fingerprint", ""), d.get("evidence", {})))
    for name in loose:
        result.append(_Target(name, None, (found or {}).get(name, MISSING), (name,)))
    taken = {m for t in result for m in t.modules}
    result += [_Target(m, None, STDLIB, (m,)) for m in stdlib if m not in taken]
    return result


def _probe_target(python: Path, target: _Target, timeout: float, known: dict[str, bool]) -> Package:
    if target.origin == MISSING:
        return Package(target.name, None, MISSING, (Module(target.name, None, None, BROKEN, BROKEN, BROKEN, None,
                                                           "no such module in this environment"),))
    dist = target.name if target.origin == DISTRIBUTION else None
    modules = compatprobe.probe_modules(python, target.modules, dist, target.version, timeout, target.kinds)
    package = Package(target.name, target.version, target.origin, tuple(modules), evidence=target.evidence)
    if package.verdict in (V_RUNS, V_FALLBACK):
        usable = [m.name for m in modules if m.main == OK]
        status, detail = compatprobe.probe_together(python, usable, timeout)
        package = replace(package, together=status, together_detail=detail)
        if status != OK:
            # Through the standard library? (3.13's _datetime crashes when a sub-interpreter
            # imports it first.) Then: does the package still crash once the main one has?
            loaded = sorted({s for m in modules for s in m.stdlib})
            culprits = compatprobe.stdlib_culprits(python, loaded, timeout, known)
            if culprits:
                again, _ = compatprobe.probe_together(python, usable, timeout, first=culprits)
                package = replace(package, together_stdlib=culprits, together_own=again != OK)
    return package


def too_old(version: str) -> bool:
    try:
        return tuple(int(x) for x in version.split(".")[:2]) < (3, 12)
    except ValueError:
        return False


def scan(python: Path, *, cache_dir: Path, modules: Sequence[str] = (), stdlib: bool = False,
         jobs: int | None = None, timeout: float = TIMEOUT, refresh: bool = False,
         on_result: Callable[[Package, int, int], None] | None = None) -> Scan:
    """Probe the environment of `python`; `on_result(package, done, total)` hears of each."""
    check_names(modules)
    if not python.exists():
        raise CheckError(f"no interpreter at {python}")
    listing = compatprobe.ask(python, "--list")
    version = str(listing["python"].get("version", ""))
    if too_old(version):
        raise CheckError(f"{python} is Python {version}: no per-interpreter GIL before 3.12 (PEP 684), "
                         "so no package can run in sub-interpreters with their own GIL there",
                         hint="scan a 3.12+ interpreter: 'pybuild12 install 3.13', then "
                              "'pybuild12 venv 3.13 DIR' and install the packages there")
    extra = compatprobe.ask(python, "--stdlib")["modules"] if stdlib else []
    owned = {m for d in listing["distributions"] for m in d["modules"] + d.get("extensions", [])}
    loose = [m for m in modules if m not in owned and m.split(".")[0] not in owned]
    found = compatprobe.ask(python, "--find", *loose)["modules"] if loose else {}
    identity = _identity(python, listing["python"])
    todo = targets(listing, modules, extra, found)
    results: dict[int, Package] = {}
    cached = 0
    for index, target in enumerate(todo):
        key = target.cache_key(identity)
        hit = None if refresh or key is None else _load(_cache_file(cache_dir, *key))
        if hit is not None:
            results[index] = hit
            cached += 1
    missing = [i for i in range(len(todo)) if i not in results]
    done = len(results)
    known: dict[str, bool] = {}  # the standard library's modules that crash two interpreters alone

    def run(index: int) -> Package:
        return _probe_target(python, todo[index], timeout, known)

    with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
        for index, package in zip(missing, pool.map(run, missing), strict=True):
            results[index] = package
            done += 1
            key = todo[index].cache_key(identity)
            hung = package.together == HANG or any(HANG in (m.main, m.own_gil, m.legacy) for m in package.modules)
            if key is not None and not hung:  # a hang may be the machine's load: ask again next time
                _store(_cache_file(cache_dir, *key), package)
            if on_result:
                on_result(package, done, len(todo))
    return Scan(listing["python"], tuple(results[i] for i in range(len(todo))), cached)


def kept_results(cache_dir: Path) -> int:
    return sum(1 for _ in cache_dir.glob("*.json")) if cache_dir.is_dir() else 0


def clear_cache(cache_dir: Path) -> int:
    """Remove the kept results; return how many there were."""
    removed = 0
    for path in cache_dir.glob("*.json") if cache_dir.is_dir() else ():
        path.unlink(missing_ok=True)
        removed += 1
    return removed
