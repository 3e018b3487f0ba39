"""`pybuild12 compat`: which of an environment's packages can run in parallel.

Every top-level module of the environment's distributions (and, when asked, the
standard library's extension modules) is imported by `resources/compat_probe.py`
in a child process of the interpreter under test: in the main interpreter, in an
own-GIL sub-interpreter, in a shared-GIL one, and on a free-threaded build with the
GIL watched. One child a module, several at once, each with a timeout, so a module
that crashes or hangs is reported as such and the scan goes on. Results are kept
per (interpreter, distribution, version): a second scan of an unchanged
environment runs no child at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from pybuild12 import files, runner
from pybuild12.errors import CheckError

TIMEOUT = 60.0
FORMAT = 1  # of the cached results; a change of the probe's meaning bumps it
OK, REFUSES, FAILS = "ok", "refuses", "fails"
CRASH, HANG, BROKEN = "crash", "hang", "broken"
REQUIREMENTS = ("subinterpreters", "freethreading")


@dataclass(frozen=True)
class Module:
    name: str
    distribution: str | None  # None: the standard library, or a module no distribution claims
    version: str | None
    main: str  # ok, fails, crash, hang
    own_gil: str  # ok, refuses, fails (or crash, hang, broken)
    legacy: str
    gil: str | None  # "off" or "on" after the import on a free-threaded build; None elsewhere
    detail: str

    @property
    def subinterpreters(self) -> bool:
        return self.own_gil == OK

    @property
    def freethreading(self) -> bool | None:
        return None if self.gil is None else (self.main == OK and self.gil == "off")

    def reason(self, requirement: str) -> str:
        """What this module does about `requirement` (subinterpreters or freethreading)."""
        if self.main in (CRASH, HANG):
            return {CRASH: "crashes on import", HANG: "hangs on import"}[self.main]
        if self.main != OK:
            return "does not import here"
        if requirement == "freethreading":
            return {"on": "turns the GIL back on", "off": "keeps the GIL off"}.get(self.gil or "", "")
        words = {OK: "runs in own-GIL sub-interpreters", REFUSES: "refuses sub-interpreters",
                 FAILS: "imports but fails in sub-interpreters"}
        return words.get(self.own_gil, f"{self.own_gil} in sub-interpreters")

    @property
    def verdict(self) -> str:
        parts = [self.reason("subinterpreters")]
        if self.main == OK and self.gil is not None:
            parts.append(self.reason("freethreading"))
        return "; ".join(parts)


@dataclass(frozen=True)
class Scan:
    python: dict[str, Any]
    modules: tuple[Module, ...]
    cached: int  # modules answered from the cache

    @property
    def free_threaded(self) -> bool:
        return bool(self.python.get("free_threaded"))

    def packages(self) -> dict[str, list[Module]]:
        """Modules by distribution (the standard library's under 'stdlib')."""
        grouped: dict[str, list[Module]] = {}
        for module in self.modules:
            grouped.setdefault(module.distribution or "stdlib", []).append(module)
        return grouped

    def failing(self, requirement: str) -> dict[str, list[Module]]:
        """The packages with a module that cannot meet `requirement`."""
        test = (lambda m: m.subinterpreters) if requirement == "subinterpreters" else (lambda m: m.freethreading)
        return {name: [m for m in mods if not test(m)] for name, mods in self.packages().items()
                if not all(test(m) for m in mods)}

    def summary(self) -> list[str]:
        total = len(self.packages())
        lines = [_sentence(total, self.failing("subinterpreters"), "subinterpreters",
                           "can run in own-GIL sub-interpreters")]
        if self.free_threaded:
            lines.append(_sentence(total, self.failing("freethreading"), "freethreading",
                                   "keeps the GIL off" if total == 1 else "keep the GIL off"))
        return lines

    def as_json(self) -> dict[str, Any]:
        return {"python": self.python, "cached": self.cached, "summary": self.summary(),
                "modules": [dict(asdict(m), verdict=m.verdict) for m in self.modules]}


def _sentence(total: int, failing: dict[str, list[Module]], requirement: str, can: str) -> str:
    good = total - len(failing)
    text = f"{good} of {total} package{'s' * (total != 1)} {can}"
    if failing:
        named = ", ".join(f"{name} ({'; '.join(sorted({m.reason(requirement) for m in mods}))})"
                          for name, mods in sorted(failing.items()))
        text += f"; {len(failing)} cannot: {named}"
    return text


def _probe_path():
    return resources.as_file(resources.files("pybuild12").joinpath("resources/compat_probe.py"))


def _ask(python: Path, *args: str, timeout: float = 120) -> dict[str, Any]:
    with _probe_path() as probe:
        try:
            proc = runner.capture([str(python), "-I", str(probe), *args], timeout=timeout)
        except (OSError, runner.TimedOut) as exc:
            raise CheckError(f"cannot run {python}: {exc}") from None
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise CheckError(f"{python} could not list its modules: {tail}",
                         hint="compat needs Python 3.12 or newer (sub-interpreters with their own GIL)") from None


def _identity(python: Path, info: dict[str, Any]) -> str:
    """The interpreter behind `python` (a venv's python is its build's): path, version, binary."""
    real = Path(os.path.realpath(python))
    stat = real.stat()
    return f"{real}|{info.get('version')}|{stat.st_size}|{stat.st_mtime_ns}"


def _cache_file(cache_dir: Path, identity: str, module: str, dist: str | None, version: str | None) -> Path:
    key = json.dumps([FORMAT, identity, module, dist, version])
    return cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()}.json"


def probe_one(python: Path, name: str, dist: str | None, version: str | None, timeout: float) -> Module:
    """One module in a child of `python`: its verdicts, or how the child died."""
    with _probe_path() as probe:
        try:
            proc = runner.capture([str(python), "-I", str(probe), name], timeout=timeout, new_session=True)
        except runner.TimedOut:
            return Module(name, dist, version, HANG, HANG, HANG, None, f"no answer in {timeout:g} s (killed)")
    if proc.returncode < 0:
        sig = signal.Signals(-proc.returncode).name
        tail = (proc.stderr.strip().splitlines() or [""])[-1]
        return Module(name, dist, version, CRASH, CRASH, CRASH, None, f"the child died of {sig} {tail}".strip())
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = (proc.stderr.strip().splitlines() or [""])[-1]
        return Module(name, dist, version, CRASH, CRASH, CRASH, None,
                      f"the child exited {proc.returncode} without a report: {tail}")
    gil = data.get("gil")
    main = data["main"]["status"]
    own, legacy = (data["own_gil"]["status"], data["legacy"]["status"]) if main == OK else (BROKEN, BROKEN)
    detail = next((data[k]["detail"] for k in ("main", "own_gil", "legacy") if data[k]["detail"]), "")
    return Module(name, dist, version, main, own, legacy,
                  None if gil is None else ("on" if gil["enabled"] else "off"), detail)


def targets(listing: dict[str, Any], wanted: Sequence[str], stdlib: Iterable[str]) -> list[tuple[str, str | None, str | None]]:
    """(module, distribution, version) to probe: every distribution's top-level modules,
    or only `wanted`; then the standard library's extension modules, if asked."""
    owner = {m: (d["name"], d["version"]) for d in listing["distributions"] for m in d["modules"]}
    if wanted:
        chosen = [(m, *owner.get(m.split(".")[0], (None, None))) for m in wanted]
    else:
        chosen = sorted(((m, d, v) for m, (d, v) in owner.items()), key=lambda t: (t[1].lower(), t[0]))
    chosen += [(m, None, None) for m in stdlib if m not in {c[0] for c in chosen}]
    return chosen


def scan(python: Path, *, cache_dir: Path, modules: Sequence[str] = (), stdlib: bool = False,
         jobs: int | None = None, timeout: float = TIMEOUT,
         on_result: Callable[[Module, int, int], None] | None = None) -> Scan:
    """Probe the environment of `python`; `on_result(module, done, total)` hears of each."""
    if not python.exists():
        raise CheckError(f"no interpreter at {python}")
    listing = _ask(python, "--list")
    extra = _ask(python, "--stdlib")["modules"] if stdlib else []
    identity = _identity(python, listing["python"])
    todo = targets(listing, modules, extra)
    found: dict[str, Module] = {}
    cached = 0
    for name, dist, version in todo:
        path = _cache_file(cache_dir, identity, name, dist, version)
        try:
            found[name] = Module(**json.loads(path.read_text("utf-8")))
            cached += 1
        except (OSError, ValueError, TypeError):
            continue
    missing = [t for t in todo if t[0] not in found]
    done = len(found)

    def run(target: tuple[str, str | None, str | None]) -> Module:
        return probe_one(python, *target, timeout=timeout)

    with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
        for module in pool.map(run, missing):
            found[module.name] = module
            done += 1
            if module.main not in (HANG,):  # a hang may be the machine's load: ask again next time
                _store(_cache_file(cache_dir, identity, module.name, module.distribution, module.version), module)
            if on_result:
                on_result(module, done, len(todo))
    return Scan(listing["python"], tuple(found[t[0]] for t in todo), cached)


def _store(path: Path, module: Module) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_json(path, asdict(module))
    except OSError:
        pass  # a cache that cannot be written costs the next scan its speed only
