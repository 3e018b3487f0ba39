"""`pybuild12 compat`: which of an environment's packages can run in parallel.

For each distribution of the environment, `resources/compat_probe.py` imports every
entry point (its top-level modules) and every extension module it ships, in a child
process of the interpreter under test: in the main interpreter, in an own-GIL
sub-interpreter, in a shared-GIL one, and on a free-threaded build with the GIL
watched. One child a distribution, several at once: a module that crashes or hangs
ends its child, is reported as such, and the modules after it go on in a new child.
A package whose verdict is still "runs" then gets the life-cycle probe: its modules
used from a sub-interpreter and the main interpreter at once, then both ended.

A package's verdict is its worst module's, and names that module. One that imports in
a sub-interpreter only because its C part was refused there and it fell back to pure
Python (the main interpreter's import loaded an extension module that the
sub-interpreter's went without) "runs only through its pure-Python fallback".

Results are kept per interpreter, distribution, version and files (the RECORD's
hashes; an editable install's source tree by size and mtime): a second scan of an
unchanged environment runs no child at all; `refresh` probes again.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from pybuild12 import files, runner
from pybuild12.errors import CheckError, UsageError

TIMEOUT = 60.0  # seconds one module's probe may take
FORMAT = 2  # of the cached results; a change of the probe's meaning bumps it
OK, REFUSES, FAILS = "ok", "refuses", "fails"
CRASH, HANG, BROKEN = "crash", "hang", "broken"
REQUIREMENTS = ("subinterpreters", "freethreading")
ENTRY, EXTENSION = "entry point", "extension"
# Where a package comes from: a distribution, the standard library, a module on sys.path
# that no distribution claims, or nowhere (a name given with -m that is not installed).
DISTRIBUTION, STDLIB, UNOWNED, MISSING = "distribution", "stdlib", "unowned", "missing"

# Package verdicts about sub-interpreters, worst first.
V_CRASH, V_HANG, V_BROKEN = "crashes", "hangs", "does not import"
V_REFUSES, V_FAILS, V_TOGETHER = "refuses", "fails", "crashes together"
V_FALLBACK, V_RUNS, V_MISSING = "fallback", "runs", "not installed"


def check_names(names: Iterable[str]) -> None:
    """Refuse what cannot be a module name, before anything runs."""
    for name in names:
        if not name or not all(part.isidentifier() for part in name.split(".")):
            raise UsageError(f"-m {name!r}: not a module name",
                             hint="a module name is identifiers joined by dots, e.g. lxml.etree")


@dataclass(frozen=True)
class Module:
    name: str
    distribution: str | None  # None: the standard library, or a module no distribution claims
    version: str | None
    main: str  # ok, fails, crash, hang
    own_gil: str  # ok, refuses, fails, crash, hang (broken: it does not import in the main interpreter)
    legacy: str
    gil: str | None  # "off" or "on" after the import on a free-threaded build; None elsewhere
    detail: str
    kind: str = ENTRY
    fallback: tuple[str, ...] = ()  # extension modules the main import loaded and the own-GIL one went without

    @property
    def subinterpreters(self) -> bool:
        return self.own_gil == OK and not self.fallback

    @property
    def freethreading(self) -> bool | None:
        return None if self.gil is None else (self.main == OK and self.gil == "off")

    @property
    def verdict(self) -> str:
        """What this module alone does."""
        if self.main in (CRASH, HANG):
            return {CRASH: "crashes on import", HANG: "hangs on import"}[self.main]
        if self.main != OK:
            return "does not import here"
        words = {OK: "runs in own-GIL sub-interpreters", REFUSES: "refuses own-GIL sub-interpreters",
                 FAILS: "imports but fails in sub-interpreters", CRASH: "crashes in sub-interpreters",
                 HANG: "hangs in sub-interpreters"}
        text = words.get(self.own_gil, f"{self.own_gil} in sub-interpreters")
        if self.own_gil == OK and self.fallback:
            text = f"runs only without {', '.join(self.fallback)} (a pure-Python fallback)"
        if self.gil is not None:
            text += "; " + {"on": "turns the GIL back on", "off": "keeps the GIL off"}[self.gil]
        return text


@dataclass(frozen=True)
class Package:
    name: str
    version: str | None
    origin: str  # distribution, stdlib, unowned, missing
    modules: tuple[Module, ...]
    together: str | None = None  # ok, crash, hang; None: not run
    together_detail: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    def _worst(self) -> tuple[str, Module | None]:
        if self.origin == MISSING:
            return V_MISSING, None
        for status, verdict in ((CRASH, V_CRASH), (HANG, V_HANG)):
            for m in self.modules:
                if m.main == status or m.own_gil == status or m.legacy == status:
                    return verdict, m
        for m in self.modules:
            if m.kind == ENTRY and m.main != OK:
                return V_BROKEN, m
        imported = [m for m in self.modules if m.main == OK]  # an extension that cannot be imported alone is left out
        covered = {name for m in imported if m.own_gil == OK for name in m.fallback}
        for status, verdict in ((REFUSES, V_REFUSES), (FAILS, V_FAILS)):
            for m in imported:
                if m.own_gil == status and m.name not in covered:
                    return verdict, m
        if self.together in (CRASH, HANG):
            return V_TOGETHER, None
        for m in imported:
            if m.fallback:
                return V_FALLBACK, m
        return V_RUNS, None

    @property
    def verdict(self) -> str:
        """crashes, hangs, does not import, refuses, fails, crashes together, fallback, runs, not installed."""
        return self._worst()[0]

    @property
    def culprit(self) -> str | None:
        """The module the verdict rests on."""
        module = self._worst()[1]
        return module.name if module else None

    def reason(self, requirement: str = "subinterpreters") -> str:
        verdict, module = self._worst()
        named = f" ({module.name})" if module and module.name != self.name else ""
        if verdict == V_MISSING:
            return "not installed"
        if requirement == "freethreading" and verdict not in (V_CRASH, V_HANG, V_BROKEN):
            on = next((m for m in self.modules if m.main == OK and m.gil == "on"), None)
            if on is not None:
                return "turns the GIL back on" + (f" ({on.name})" if on.name != self.name else "")
            return "keeps the GIL off"
        if verdict == V_TOGETHER:
            also = [name for m in self.modules for name in m.fallback]
            return "crashes when used from two interpreters" + (
                f" (and its C part is refused there: {', '.join(also)})" if also else "")
        if verdict == V_FALLBACK and module is not None:
            return f"runs only through its pure-Python fallback (C part refused: {', '.join(module.fallback)})"
        return {
            V_CRASH: "crashes on import" if module and module.main == CRASH else "crashes in sub-interpreters",
            V_HANG: "hangs on import" if module and module.main == HANG else "hangs in sub-interpreters",
            V_BROKEN: "does not import here",
            V_REFUSES: "refuses own-GIL sub-interpreters",
            V_FAILS: "imports but fails in sub-interpreters",
            V_TOGETHER: "crashes when used from two interpreters",
            V_RUNS: "runs in own-GIL sub-interpreters",
        }[verdict] + named

    def meets(self, requirement: str, *, allow_fallback: bool = False) -> bool:
        verdict = self.verdict
        if requirement == "freethreading":
            return (verdict not in (V_CRASH, V_HANG, V_BROKEN, V_MISSING)
                    and all(m.gil == "off" for m in self.modules if m.main == OK))
        return verdict == V_RUNS or (allow_fallback and verdict == V_FALLBACK)

    def as_json(self, free_threaded: bool) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "origin": self.origin, "verdict": self.verdict,
                "reason": self.reason(), "module": self.culprit,
                "freethreading": self.reason("freethreading") if free_threaded else None,
                "together": self.together, "together_detail": self.together_detail, "evidence": self.evidence,
                "modules": [m.name for m in self.modules]}


@dataclass(frozen=True)
class Scan:
    python: dict[str, Any]
    packages: tuple[Package, ...]
    cached: int  # packages answered from the cache

    @property
    def free_threaded(self) -> bool:
        return bool(self.python.get("free_threaded"))

    @property
    def modules(self) -> tuple[Module, ...]:
        return tuple(m for p in self.packages for m in p.modules)

    def failing(self, requirement: str, *, allow_fallback: bool = False) -> list[Package]:
        return [p for p in self.packages if not p.meets(requirement, allow_fallback=allow_fallback)]

    def summary(self) -> list[str]:
        total = len(self.packages)
        runs = [p for p in self.packages if p.verdict == V_RUNS]
        fallback = [p for p in self.packages if p.verdict == V_FALLBACK]
        cannot = [p for p in self.packages if p.verdict not in (V_RUNS, V_FALLBACK)]
        line = f"{len(runs)} of {total} package{'s' * (total != 1)} can run in own-GIL sub-interpreters"
        if cannot:
            line += f"; {len(cannot)} cannot: " + ", ".join(f"{p.name} ({p.reason()})" for p in _by_name(cannot))
        if fallback:
            line += (f"; {len(fallback)} only through a pure-Python fallback: "
                     + ", ".join(f"{p.name} ({p.reason().split('(', 1)[1]}" for p in _by_name(fallback)))
        lines = [line]
        if self.free_threaded:
            failing = self.failing("freethreading")
            text = f"{total - len(failing)} of {total} package{'s' * (total != 1)} keep{'s' * (total == 1)} the GIL off"
            if failing:
                text += f"; {len(failing)} cannot: " + ", ".join(f"{p.name} ({p.reason('freethreading')})"
                                                                for p in _by_name(failing))
            lines.append(text)
        return lines

    def as_json(self) -> dict[str, Any]:
        return {"python": self.python, "cached": self.cached, "summary": self.summary(),
                "packages": [p.as_json(self.free_threaded) for p in self.packages],
                "modules": [dict(asdict(m), verdict=m.verdict, package=p.name)
                            for p in self.packages for m in p.modules]}


def _by_name(packages: Iterable[Package]) -> list[Package]:
    return sorted(packages, key=lambda p: p.name.lower())


# ------------------------------------------------------------------ the children


def _probe_path():
    return resources.as_file(resources.files("pybuild12").joinpath("resources/compat_probe.py"))


def _child_env() -> dict[str, str]:
    """The user's environment without what would change the verdicts: PYTHON_GIL forces
    the GIL on or off on a free-threaded build, whatever the extensions declare."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHON_GIL", "PYTHONPATH", "PYTHONHOME")}


def _ask(python: Path, *args: str, timeout: float = 120) -> dict[str, Any]:
    with _probe_path() as probe:
        try:
            proc = runner.capture([str(python), "-I", str(probe), *args], timeout=timeout, env=_child_env())
        except (OSError, runner.TimedOut) as exc:
            raise CheckError(f"cannot run {python}: {exc}") from None
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise CheckError(f"{python} could not list its modules: {tail}",
                         hint="compat needs Python 3.12 or newer (sub-interpreters with their own GIL)") from None


@dataclass
class _Child:
    lines: list[dict[str, Any]]
    returncode: int | None  # None: killed after `timeout` without a line
    stderr: str


def _run_child(python: Path, args: Sequence[str], timeout: float) -> _Child:
    """Run the probe; each line of JSON it prints must come within `timeout` seconds of the
    one before, else the child (and anything it started) is killed."""
    with _probe_path() as probe, tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen([str(python), "-I", str(probe), *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=errors, env=_child_env(), start_new_session=True)
        assert proc.stdout is not None
        lines: queue.Queue[bytes | None] = queue.Queue()

        def read() -> None:
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)  # the end: the child closed its output (it exited, or died)

        threading.Thread(target=read, daemon=True).start()
        found: list[dict[str, Any]] = []
        killed = False
        while True:
            try:
                line = lines.get(timeout=timeout)
            except queue.Empty:
                killed = True
                _kill(proc)
                break
            if line is None:
                break
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
        code = proc.wait()
        errors.seek(0)
        text = errors.read().decode("utf-8", errors="replace")
    return _Child(found, None if killed else code, text)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _death(child: _Child, timeout: float) -> tuple[str, str]:
    """(crash or hang, what happened) for a child that ended before its work was done."""
    if child.returncode is None:
        return HANG, f"no answer in {timeout:g} s (killed)"
    tail = (child.stderr.strip().splitlines() or [""])[-1].strip()
    if child.returncode < 0:
        return CRASH, f"the child died of {signal.Signals(-child.returncode).name} {tail}".strip()
    return CRASH, f"the child exited {child.returncode} without a report: {tail}".strip()


def probe_modules(python: Path, names: Sequence[str], dist: str | None, version: str | None, timeout: float,
                  kinds: dict[str, str] | None = None) -> list[Module]:
    """Probe `names` in as few children as a crash, a hang or a GIL turned on allow."""
    done: dict[str, Module] = {}
    todo = list(names)
    while todo:
        child = _run_child(python, ["--probe", *todo], timeout)
        seen: dict[str, dict[str, Any]] = {}
        current = None
        for line in child.lines:
            if "start" in line:
                current = line["start"]
                seen[current] = {}
            elif "done" in line:
                done[line["done"]] = _module(seen[line["done"]], line["done"], dist, version, kinds)
                current = None
            elif "module" in line and line["module"] in seen:
                seen[line["module"]].update(line)
        if current is not None:  # the child died (or hung) while probing `current`
            status, detail = _death(child, timeout)
            done[current] = _module(seen[current], current, dist, version, kinds, died=(status, detail))
        elif not any("stopped" in line for line in child.lines) and len(done) < len(names):
            status, detail = _death(child, timeout)
            for name in todo:
                if name not in done:
                    done[name] = Module(name, dist, version, status, status, status, None, detail,
                                        (kinds or {}).get(name, ENTRY))
        todo = [n for n in todo if n not in done]
    return [done[n] for n in names]


def _module(found: dict[str, Any], name: str, dist: str | None, version: str | None,
            kinds: dict[str, str] | None, died: tuple[str, str] | None = None) -> Module:
    """A Module from the steps a probe reported; `died`: the step after them crashed or hung."""
    steps = {k: found[k]["status"] for k in ("main", "own_gil", "legacy") if k in found}
    detail = next((found[k]["detail"] for k in ("main", "own_gil", "legacy") if k in found and found[k]["detail"]), "")
    if died is not None:
        died_in = next((k for k in ("main", "own_gil", "legacy") if k not in steps), None)
        where = {"main": "on import", "own_gil": "on import in an own-GIL sub-interpreter",
                 "legacy": "on import in a shared-GIL sub-interpreter", None: "after its probe"}[died_in]
        if died_in:
            steps[died_in] = died[0]
        detail = f"{died[0]} {where}: {died[1]}"
    main = steps.get("main", BROKEN)
    # Nothing to ask of a sub-interpreter about a module that does not import at all.
    own, legacy = (steps.get("own_gil", BROKEN), steps.get("legacy", BROKEN)) if main == OK else (BROKEN, BROKEN)
    gil = found.get("gil")
    missing = set((found.get("own_gil") or {}).get("missing", []))
    fallback = tuple(m for m in found.get("loaded", []) if m in missing) if own == OK else ()
    return Module(name, dist, version, main, own, legacy, None if not gil else ("on" if gil["enabled"] else "off"),
                  detail, (kinds or {}).get(name, ENTRY), fallback)


def probe_together(python: Path, names: Sequence[str], timeout: float) -> tuple[str, str]:
    """(ok, crash or hang; what happened) for `names` used from two interpreters at once."""
    child = _run_child(python, ["--together", *names], timeout)
    if child.returncode == 0 and any(line.get("together") == "ok" for line in child.lines):
        return OK, ""
    status, detail = _death(child, timeout)
    return status, detail


# ------------------------------------------------------------------ the scan


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
        modules = tuple(Module(**dict(m, fallback=tuple(m["fallback"]))) for m in data.pop("modules"))
        return Package(**data, modules=modules)
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
        entry = set(entry_points(d))
        kinds = {m: (ENTRY if m in entry else EXTENSION) for m in chosen[name]}
        if wanted:  # asked for by name: an entry point, whatever the distribution's top level is
            kinds = {m: (ENTRY if m in wanted else EXTENSION) for m in chosen[name]}
        if chosen[name]:
            result.append(_Target(name, d["version"], DISTRIBUTION, tuple(chosen[name]), kinds,
                                  d.get("fingerprint", ""), d.get("evidence", {})))
    for name in loose:
        result.append(_Target(name, None, (found or {}).get(name, MISSING), (name,)))
    taken = {m for t in result for m in t.modules}
    result += [_Target(m, None, STDLIB, (m,)) for m in stdlib if m not in taken]
    return result


def _probe_target(python: Path, target: _Target, timeout: float) -> Package:
    if target.origin == MISSING:
        return Package(target.name, None, MISSING, (Module(target.name, None, None, BROKEN, BROKEN, BROKEN, None,
                                                           "no such module in this environment"),))
    dist = target.name if target.origin == DISTRIBUTION else None
    modules = probe_modules(python, target.modules, dist, target.version, timeout, target.kinds)
    package = Package(target.name, target.version, target.origin, tuple(modules), evidence=target.evidence)
    if package.verdict in (V_RUNS, V_FALLBACK):
        usable = [m.name for m in modules if m.main == OK]
        status, detail = probe_together(python, usable, timeout)
        package = replace(package, together=status, together_detail=detail)
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
    listing = _ask(python, "--list")
    version = str(listing["python"].get("version", ""))
    if too_old(version):
        raise CheckError(f"{python} is Python {version}: no per-interpreter GIL before 3.12 (PEP 684), "
                         "so no package can run in sub-interpreters with their own GIL there",
                         hint="scan a 3.12+ interpreter: 'pybuild12 install 3.13', then "
                              "'pybuild12 venv 3.13 DIR' and install the packages there")
    extra = _ask(python, "--stdlib")["modules"] if stdlib else []
    owned = {m for d in listing["distributions"] for m in d["modules"] + d.get("extensions", [])}
    loose = [m for m in modules if m not in owned and m.split(".")[0] not in owned]
    found = _ask(python, "--find", *loose)["modules"] if loose else {}
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

    def run(index: int) -> Package:
        return _probe_target(python, todo[index], timeout)

    with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
        for index, package in zip(missing, pool.map(run, missing)):
            results[index] = package
            done += 1
            key = todo[index].cache_key(identity)
            hung = package.together == HANG or any(HANG in (m.main, m.own_gil, m.legacy) for m in package.modules)
            if key is not None and not hung:  # a hang may be the machine's load: ask again next time
                _store(_cache_file(cache_dir, *key), package)
            if on_result:
                on_result(package, done, len(todo))
    return Scan(listing["python"], tuple(results[i] for i in range(len(todo))), cached)


def clear_cache(cache_dir: Path) -> int:
    """Remove the kept results; return how many there were."""
    removed = 0
    for path in cache_dir.glob("*.json") if cache_dir.is_dir() else ():
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def evidence_words(package: Package) -> tuple[str, str]:
    """(wheel, classifier) as the table shows them."""
    ev = package.evidence or {}
    tags = ev.get("wheel_tags") or []
    if ev.get("free_threaded_wheel") is True:
        wheel = "free-threaded ABI"
    elif ev.get("free_threaded_wheel") is False:
        wheel = "GIL ABI only"
    else:
        wheel = "pure Python" if tags else "-"
    classifiers = ev.get("free_threading_classifiers") or []
    classifier = classifiers[0].rsplit("::", 1)[-1].strip() if classifiers else "-"
    return wheel, classifier
