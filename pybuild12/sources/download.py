"""Fetch a tarball into the download cache, checksum first, mirror first.

Order of look-ups: the cache (if its sha256 still matches), then
`PYBUILD12_MIRROR` (a directory, or an http(s):// or file:// base, files looked
up by their original name), then the recipe's URL. Every download goes to a
`.part` file that is renamed only once it is complete and its sha256 matches,
so an interrupted or corrupted download never looks like a cached file.

Waiting on a server, retries and stall reports: see `core/http.py`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pybuild12.core import files, http, locks
from pybuild12.core.errors import FetchError
from pybuild12.core.http import Progress, Stalled
from pybuild12.core.settings import HTTP_TIMEOUT_ENV, MIRROR_ENV
from pybuild12.request.recipes import TarballSource

LOCKS = ".locks"  # in the download cache: one lock per file name


@dataclass(frozen=True)
class Fetched:
    path: Path
    origin: str  # "cache", or the URL / path it came from


def candidates(source: TarballSource, mirror: str | None) -> list[str]:
    """Where to look, in order: the mirror (if any), then the recipe's URL."""
    found = []
    if mirror:
        base = mirror.rstrip("/")
        if "://" not in base:
            base = Path(base).expanduser().absolute().as_uri()
        found.append(f"{base}/{source.filename}")
    found.append(source.url)
    return found


def fetch(
    source: TarballSource,
    cache_dir: Path,
    *,
    mirror: str | None = None,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
    waiting: Callable[[str], None] | None = None,
    stalled: Stalled | None = None,
    timeouts: tuple[float, float] = http.TIMEOUTS,
) -> Fetched:
    """Return a cached file whose sha256 matches the recipe, downloading if needed.

    One process at a time fetches a given file (two installs of one tarball under two
    names: the second waits, then finds it cached, and `waiting` says for whom); `.part`
    files of that name left by a killed process are deleted first. `stalled` hears, every
    second, how long a server has kept us waiting (see `Stalled`), so a silent mirror
    shows as a count towards the timeout instead of minutes of nothing.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / source.filename

    def tell(holder: str) -> None:
        if waiting:
            waiting(f"waiting for {holder}, which is fetching {source.filename}")

    with locks.hold(cache_dir / LOCKS / f"{source.filename}.lock", tell):
        files.sweep_parts(cache_dir, pattern=f"{source.filename}.*{files.PART}", min_age=0)
        if target.exists():
            actual = files.sha256_of(target)
            if actual == source.sha256:
                return Fetched(target, "cache")
            if warn:
                warn(f"cached {target.name} no longer matches its sha256 ({actual[:12]}...); fetching it again")
            target.unlink()
        with http.Watchdog(stalled) as watch:
            return _fetch_new(source, target, mirror, progress, warn, watch, timeouts)


def _fetch_new(source: TarballSource, target: Path, mirror: str | None, progress: Progress | None,
               warn: Callable[[str], None] | None, watch: http.Watchdog, timeouts: tuple[float, float]) -> Fetched:
    failures: list[str] = []
    mismatches: list[str] = []
    urls = candidates(source, mirror)
    for index, url in enumerate(urls):
        try:
            part, origin = http.download(url, target.parent, part_prefix=f"{source.filename}.",
                                         label=source.filename, progress=progress, warn=warn, watch=watch,
                                         timeouts=timeouts)
        except FetchError as exc:
            failures.append(f"{url}: {exc.message}")
            if warn and index + 1 < len(urls):
                warn(f"{url}: {exc.message}; trying {urls[index + 1]}")
            continue
        actual = files.sha256_of(part)
        if actual != source.sha256:
            part.unlink()
            mismatches.append(f"{origin}: got sha256 {actual}")
            if warn:
                warn(f"{origin} has a different sha256 than the recipe pins; not using it")
            continue
        os.replace(part, target)
        return Fetched(target, origin)

    if mismatches:
        raise FetchError(
            f"checksum mismatch for {source.filename}: expected sha256 {source.sha256}; "
            + "; ".join(mismatches),
            hint="nothing was extracted or installed. The file may be corrupt or tampered with; "
            "check the mirror, or the recipe's sha256 if you wrote it yourself",
        )
    raise FetchError(
        f"could not download {source.filename}: " + "; ".join(failures),
        hint=f"check the network, or set {MIRROR_ENV} to a directory or http(s)/file URL "
        f"that holds {source.filename} (see 'Offline use' in the README); "
        f"{HTTP_TIMEOUT_ENV} sets how long a server may keep us waiting "
        f"(now {timeouts[1]:g} s, {http.TRIES} tries per URL)",
    )


