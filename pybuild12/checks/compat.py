"""`pybuild12 compat`'s verdicts: which of an environment's packages can run in parallel.

What a probe found about each module (Module), and the verdict of each package
(Package): the worst of its modules'. A package that imports in a sub-interpreter
only because its C part was refused there and it fell back to pure Python (the main
interpreter's import loaded an extension module that the sub-interpreter's went
without) "runs only through its pure-Python fallback". How the modules are probed:
compatprobe.py; what is probed and kept: compatscan.py.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from pybuild12.core.errors import UsageError

TIMEOUT = 60.0  # seconds one module's probe may take
FORMAT = 3  # of the cached results; a change of the probe's meaning bumps it
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
_REFUSED = re.compile(r"module ([\w.]+) does not support loading in subinterpreters")


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
    stdlib: tuple[str, ...] = ()  # the standard library's compiled modules the main import loaded

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
    # The standard library's compiled modules that crash two interpreters on their own, when
    # the crash together happens through them; together_own: whether the package still
    # crashes with those imported by the main interpreter first (None: not asked).
    together_stdlib: tuple[str, ...] = ()
    together_own: bool | None = None

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
        # An extension that cannot be imported alone is left out; public modules are named
        # before private ones (lxml.etree rather than lxml._elementpath).
        imported = sorted((m for m in self.modules if m.main == OK),
                          key=lambda m: (m.kind != ENTRY, any(p.startswith("_") for p in m.name.split("."))))
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
        if verdict == V_REFUSES and module is not None:
            # The module CPython refused may lie deeper than the one imported (numpy:
            # numpy._core._multiarray_umath): its own message names it.
            refused = _REFUSED.search(module.detail)
            if refused and refused.group(1) not in (self.name, module.name):
                named = f" ({refused.group(1)})"
        if verdict == V_MISSING:
            return "not installed"
        if requirement == "freethreading" and verdict not in (V_CRASH, V_HANG, V_BROKEN):
            on = next((m for m in self.modules if m.main == OK and m.gil == "on"), None)
            if on is not None:
                return "turns the GIL back on" + (f" ({on.name})" if on.name != self.name else "")
            return "keeps the GIL off"
        if verdict == V_TOGETHER:
            notes = []
            if self.together_stdlib:
                notes.append(("by itself and " if self.together_own else "")
                             + f"through the standard library's {', '.join(self.together_stdlib)}"
                             + ("" if self.together_own else " only"))
            own, others = self._parts([name for m in self.modules for name in m.fallback])
            if own:
                notes.append(f"{'its' if not notes else 'and its'} C part is refused there: {', '.join(own)}")
            if others:
                notes.append(f"a dependency's C part is refused there: {', '.join(others)}")
            return "crashes when used from two interpreters" + (f" ({'; '.join(notes)})" if notes else "")
        if verdict == V_FALLBACK:
            return f"runs only through {'its' if self._parts(self.refused_parts)[0] else 'a'} pure-Python fallback " \
                   f"({self.refused_words()})"
        return {
            V_CRASH: "crashes on import" if module and module.main == CRASH else "crashes in sub-interpreters",
            V_HANG: "hangs on import" if module and module.main == HANG else "hangs in sub-interpreters",
            V_BROKEN: "does not import here",
            V_REFUSES: "refuses own-GIL sub-interpreters",
            V_FAILS: "imports but fails in sub-interpreters",
            V_TOGETHER: "crashes when used from two interpreters",
            V_RUNS: "runs in own-GIL sub-interpreters",
        }[verdict] + named

    @property
    def refused_parts(self) -> tuple[str, ...]:
        """The extension modules a fallback verdict rests on (those its module went without)."""
        module = self._worst()[1]
        return module.fallback if module is not None else ()

    def _parts(self, names: Iterable[str]) -> tuple[list[str], list[str]]:
        """(this package's own extension modules among `names`, its dependencies')."""
        tops = {m.name.split(".")[0] for m in self.modules}
        names = list(dict.fromkeys(names))
        return [n for n in names if n.split(".")[0] in tops], [n for n in names if n.split(".")[0] not in tops]

    def refused_words(self) -> str:
        """"C part refused: simplejson._speedups", or what a dependency's is (requests:
        charset_normalizer.md) when the package imports only without it."""
        own, others = self._parts(self.refused_parts)
        return "; ".join(([f"C part refused: {', '.join(own)}"] if own else [])
                         + ([f"a dependency's C part refused: {', '.join(others)}"] if others else []))

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
                "together": self.together, "together_detail": self.together_detail,
                "together_stdlib": list(self.together_stdlib), "together_own": self.together_own,
                "evidence": self.evidence,
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
                     + ", ".join(f"{p.name} ({p.refused_words()})" for p in _by_name(fallback)))
        lines = [line]
        through = {}  # the standard library's culprit: the packages that crash together only through it
        for p in _by_name(self.packages):
            if p.verdict == V_TOGETHER and p.together_stdlib and not p.together_own:
                through.setdefault(", ".join(p.together_stdlib), []).append(p.name)
        for culprit, names in through.items():
            lines.append(f"Python {self.python.get('version', '')}'s {culprit} crashes the process (at exit) when "
                         f"a sub-interpreter imported it first and the main interpreter imports it while that "
                         f"sub-interpreter lives; importing {culprit} in the main interpreter before any "
                         f"sub-interpreter does avoids the crash of {', '.join(names)}")
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
