"""Fetch a tarball into the download cache, checksum first, mirror first.

Order of look-ups: the cache (if its sha256 matches), then
`PYBUILD12_MIRROR` (a directory, or an http(s):// or file:// base, files looked
up by their original name), then the recipe's URL. Every download goes to a
`.part` file that is renamed only once it is complete and its sha256 matches,
so an interrupted or corrupted download never looks like a cached file.

The cache is keyed by the file's name (the name a mirror and the README use), and a
cached file is replaced only by a download that matches the recipe asking for it. A
cached file that does not match is left in place: it was checked when it was stored, so
it is most likely the good file of another recipe, and a recipe with a wrong sha256
must not cost that one its file (nor, offline, its build). A truly damaged cached file
is still replaced, by the first download that matches a correct recipe.

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
    recipe_file: str | Path | None = None,
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
    shows as a count towards the timeout instead of minutes of nothing. `recipe_file`
    is named by the error when nothing matches the sha256 it pins.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / source.filename

    def tell(holder: str) -> None:
        if waiting:
            waiting(f"waiting for {holder}, which is fetching {source.filename}")

    with locks.hold(cache_dir / LOCKS / f"{source.filename}.lock", tell):
        files.sweep_parts(cache_dir, pattern=f"{source.filename}.*{files.PART}", min_age=0)
        mismatches: list[tuple[str, str]] = []  # (where, the sha256 it hashed to)
        if target.exists():
            actual = files.sha256_of(target)
            if actual == source.sha256:
                return Fetched(target, "cache")
            mismatches.append((f"the cached file {target}", actual))
            if warn:
                warn(f"cached {target.name} has sha256 {actual[:12]}..., not the recipe's {source.sha256[:12]}...; "
                     "fetching it again (the cached file is left in place unless a download matches the recipe)")
        with http.Watchdog(stalled) as watch:
            return _fetch_new(source, target, mirror, progress, warn, watch, timeouts, mismatches, recipe_file)


def _fetch_new(source: TarballSource, target: Path, mirror: str | None, progress: Progress | None,
               warn: Callable[[str], None] | None, watch: http.Watchdog, timeouts: tuple[float, float],
               mismatches: list[tuple[str, str]], recipe_file: str | Path | None) -> Fetched:
    failures: list[str] = []
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
            part.unlink()  # never kept under the file's name: a later, correct recipe would find it
            mismatches.append((origin, actual))
            if warn:
                warn(f"{origin} has a different sha256 than the recipe pins; not using it")
            continue
        os.replace(part, target)  # over a cached file only when that one did not match this recipe
        return Fetched(target, origin)

    if mismatches:
        raise _wrong_pin(source, target, recipe_file, mismatches, failures)
    raise FetchError(
        f"could not download {source.filename}: " + "; ".join(failures),
        hint=f"check the network, or set {MIRROR_ENV} to a directory or http(s)/file URL "
        f"that holds {source.filename} (see 'Offline use' in the README); "
        f"{HTTP_TIMEOUT_ENV} sets how long a server may keep us waiting "
        f"(now {timeouts[1]:g} s, {http.TRIES} tries per URL)",
    )


def _wrong_pin(source: TarballSource, target: Path, recipe_file: str | Path | None,
               mismatches: list[tuple[str, str]], failures: list[str]) -> FetchError:
    """Nothing matched the recipe's sha256. Every file compared was either checked when it
    was cached or came from where the recipe points, so the pin is the likeliest culprit."""
    recipe = f"recipe {recipe_file}" if recipe_file else "the recipe"
    found = "; ".join(f"{where} hashed to {actual}" for where, actual in mismatches)
    message = (f"checksum mismatch for {source.filename}: the recipe's sha256 is probably wrong: {recipe} "
               f"expected {source.sha256}, but {found}")
    if failures:
        message += "; could not download it from " + "; ".join(failures)
    return FetchError(
        message,
        hint=f"nothing was extracted or installed, and the cache was left as it was. Compare the sha256 in "
        f"{recipe_file or 'the recipe'} with the one published beside {source.filename} (python.org lists "
        "it on the release page). If the recipe is right, the file is corrupt or tampered with: check the mirror"
        + (f", or delete the cached {target} to fetch it again" if target.exists() else ""),
    )
