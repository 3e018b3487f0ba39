"""The receipt: what was built and how, one typed record per installed build.

It lives in each prefix as `pybuild12.json`, and the artifact cache's metadata quotes
parts of it. `SCHEMA` numbers its layout; `Receipt.from_json` reads every receipt
pybuild12 has written (older ones lack the later fields, which take their defaults)
and keeps keys it does not know, so a receipt read and written again loses nothing.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from pybuild12 import __version__
from pybuild12.core import files

if TYPE_CHECKING:  # pragma: no cover
    from pybuild12.request.recipes import Recipe

FILE = "pybuild12.json"
SCHEMA = 1


@dataclass(frozen=True)
class RecipeFacts:
    """The recipe a build was made from, as it was then."""

    name: str = "?"
    path: str = ""
    version: str = "?"
    summary: str = ""
    content_sha256: str = ""
    alias_of: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> "RecipeFacts":
        data = data if isinstance(data, dict) else {}
        known = {f.name for f in fields(cls)}
        found = {k: v for k, v in data.items() if k in known}
        if "alias_of" in found:
            found["alias_of"] = tuple(found["alias_of"] or ())
        return cls(**found)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "version": self.version, "summary": self.summary,
                "content_sha256": self.content_sha256, "alias_of": list(self.alias_of)}


# The receipt's fields in the order they are written. The dict-valued ones are facts
# their own modules define (source: sources/fetch.py, verification: checks/verify.py,
# pgo_profile: install/compiling.py, ccache: builder/ccache.py, optimize: install/flow.py).
@dataclass(frozen=True)
class Receipt:
    name: str = "?"
    installed_at: str = ""
    pybuild12_version: str = ""
    python: str = ""  # the interpreter, relative to the prefix
    recipe: RecipeFacts = field(default_factory=RecipeFacts)
    source: dict[str, Any] = field(default_factory=dict)
    configure_args: tuple[str, ...] = ()
    make_jobs: int | None = None
    compiler: str = "unknown"
    host: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] | None = None  # None in a reproducible receipt
    log: str | None = None  # None in a reproducible receipt
    artifact: dict[str, Any] | None = None  # {"key", "from_cache", "origin"?}
    variants: tuple[str, ...] | None = None  # None: not recorded (receipts older than variants)
    optimize: dict[str, Any] | None = None  # --optimize max: level, llvm, toolchain, bolt
    configure_env: dict[str, str] | None = None
    pgo_profile: dict[str, Any] | None = None
    ccache: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    required_modules: tuple[str, ...] = ()
    # CPython's report of the modules it could not build; None when not known (older receipts).
    modules: dict[str, list[str]] | None = None
    # Whether `make install` byte-compiled the standard library (and pip its own files);
    # None when not recorded (receipts before --no-compile-bytecode: they all did).
    bytecode: bool | None = None
    reproducible: dict[str, Any] | None = None  # {"source_date_epoch": N} for SOURCE_DATE_EPOCH builds
    schema: int = SCHEMA
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, kept as read

    @property
    def version(self) -> str:
        return self.recipe.version

    @property
    def optimize_level(self) -> str:
        return (self.optimize or {}).get("level", "standard")

    @property
    def compiled_bytecode(self) -> bool:
        return self.bytecode is not False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Receipt":
        """A receipt from its JSON; an older one's missing fields take their defaults."""
        known = {f.name for f in fields(cls)} - {"extra"}
        found: dict[str, Any] = {k: v for k, v in data.items() if k in known}
        found["recipe"] = RecipeFacts.from_json(data.get("recipe"))
        for name in ("configure_args", "variants", "required_modules"):
            if name in found:
                found[name] = tuple(str(v) for v in found[name] or ())
        for name in ("source", "host"):
            if not isinstance(found.get(name), dict):
                found.pop(name, None)
        return cls(**found, extra={k: v for k, v in data.items() if k not in known})

    def to_json(self) -> dict[str, Any]:
        """The JSON of the receipt, its fields in order; a field that is None is left out."""
        data: dict[str, Any] = {"schema": self.schema}
        for f in fields(self):
            if f.name in ("schema", "extra"):
                continue
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name == "recipe":
                value = value.to_json()
            elif isinstance(value, tuple):
                value = list(value)
            data[f.name] = value
        return {**data, **self.extra}

    def made_reproducible(self, epoch: int) -> "Receipt":
        """The receipt without what differs between two runs of the same build (for
        SOURCE_DATE_EPOCH builds): no timings, log path, host name or kernel, and only
        the names of the verification checks that ran, not their outcome or figures."""
        verification = self.verification
        if verification is not None:
            # Which checks ran, not how each went: the parallelism check is inconclusive on a
            # busy machine, and an install only gets this far when no check failed.
            verification = {**verification, "checks": [c["name"] for c in verification.get("checks", [])]}
        return replace(self, timings=None, log=None, verification=verification,
                       installed_at=datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds"),
                       host={k: v for k, v in self.host.items() if k not in ("hostname", "release")},
                       reproducible={"source_date_epoch": epoch})


def new(recipe: Recipe, *, name: str, python: Path, configure_args: tuple[str, ...], make_jobs: int,
        compiler: str, source: dict[str, Any], host: dict[str, Any], timings: Mapping[str, float],
        log: Path) -> Receipt:
    """The receipt of a fresh install (the flow adds what its path found: artifact, profile, ...)."""
    return Receipt(
        name=name, installed_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        pybuild12_version=__version__, python=str(python),
        recipe=RecipeFacts(recipe.name, str(recipe.path), recipe.version, recipe.summary, recipe.content_sha256,
                           tuple(recipe.alias_of)),
        source=source, configure_args=tuple(configure_args), make_jobs=make_jobs, compiler=compiler, host=host,
        timings=dict(timings), log=str(log), variants=tuple(recipe.build.variants),
        required_modules=tuple(recipe.build.required_modules))


def host_facts() -> dict:
    """The machine a build was made on (a reproducible receipt keeps the machine and libc only)."""
    libc, libc_version = platform.libc_ver()
    return {
        "hostname": platform.node(),
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "libc": f"{libc} {libc_version}".strip(),
    }


def write(prefix: Path, receipt: Receipt) -> Path:
    return files.write_json(prefix / FILE, receipt.to_json())


def read(prefix: Path) -> Receipt | None:
    """The receipt in `prefix`; None when there is none or it is not a receipt."""
    try:
        data = json.loads((prefix / FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return Receipt.from_json(data)
    except TypeError:  # a field of the wrong kind: damaged, as an unreadable file is
        return None
