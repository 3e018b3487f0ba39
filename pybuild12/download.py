"""Fetch a tarball into the download cache, checksum first, mirror first.

Order of look-ups: the cache (if its sha256 still matches), then
`PYBUILD12_MIRROR` (a directory, or an http(s):// or file:// base, files looked
up by their original name), then the recipe's URL. Every download goes to a
`.part` file that is renamed only once it is complete and its sha256 matches,
so an interrupted or corrupted download never looks like a cached file.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional
from urllib.parse import urlparse
from urllib.request import url2pathname

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from pybuild12 import __version__, leftovers, locks
from pybuild12.errors import FetchError
from pybuild12.recipes import TarballSource

CHUNK = 1 << 16
CONNECT_TIMEOUT = 15.0  # seconds
READ_TIMEOUT = 60.0  # seconds without a byte; PYBUILD12_HTTP_TIMEOUT overrides
TIMEOUT_ENV = "PYBUILD12_HTTP_TIMEOUT"
RETRIES = 4  # urllib3's, for failures before the body starts
BODY_ATTEMPTS = 3  # whole downloads, for a body cut short
BACKOFF = 0.5  # seconds; doubled on each retry by urllib3
MIRROR_ENV = "PYBUILD12_MIRROR"
LOCKS = ".locks"  # in the download cache: one lock per file name

# progress(bytes_done, bytes_total_or_None, label)
Progress = Callable[[int, Optional[int], str], None]


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


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK * 16), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(
    source: TarballSource,
    cache_dir: Path,
    *,
    mirror: str | None = None,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
    waiting: Callable[[str], None] | None = None,
) -> Fetched:
    """Return a cached file whose sha256 matches the recipe, downloading if needed.

    One process at a time fetches a given file (two installs of one tarball under two
    names: the second waits, then finds it cached); `.part` files of that name left by
    a killed process are deleted first.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / source.filename

    def tell(holder: str) -> None:
        if waiting:
            waiting(f"waiting for {holder}, which is fetching {source.filename}")

    with locks.hold(cache_dir / LOCKS / f"{source.filename}.lock", tell):
        leftovers.sweep_parts(cache_dir, pattern=f"{source.filename}.*{leftovers.PART}", min_age=0)
        if target.exists():
            actual = sha256_of(target)
            if actual == source.sha256:
                return Fetched(target, "cache")
            if warn:
                warn(f"cached {target.name} no longer matches its sha256 ({actual[:12]}...); fetching it again")
            target.unlink()
        return _fetch_new(source, target, mirror, progress, warn)


def _fetch_new(source: TarballSource, target: Path, mirror: str | None, progress: Progress | None,
               warn: Callable[[str], None] | None) -> Fetched:
    failures: list[str] = []
    mismatches: list[str] = []
    for url in candidates(source, mirror):
        try:
            part, origin = _download_with_retries(url, target.parent, source.filename, progress, warn)
        except FetchError as exc:
            failures.append(f"{url}: {exc.message}")
            continue
        actual = sha256_of(part)
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
        f"{TIMEOUT_ENV} sets the read timeout (now {timeouts()[1]:g} s)",
    )


class _BodyCut(FetchError):
    """The connection failed after the body had started: worth another try."""


def _download_with_retries(url: str, cache_dir: Path, filename: str, progress: Progress | None,
                           warn: Callable[[str], None] | None) -> tuple[Path, str]:
    """urllib3 retries what fails before the body starts; a body cut short is fetched again here."""
    for attempt in range(1, BODY_ATTEMPTS):
        try:
            return _download(url, cache_dir, filename, progress)
        except _BodyCut as exc:
            if warn:
                warn(f"{url}: {exc.message}; trying again ({attempt + 1}/{BODY_ATTEMPTS})")
            time.sleep(BACKOFF * attempt)
    return _download(url, cache_dir, filename, progress)


def _download(url: str, cache_dir: Path, filename: str, progress: Progress | None) -> tuple[Path, str]:
    """Download into a new `.part` file (deleted on any failure); returns it and the final URL."""
    fd, part = leftovers.new_part(cache_dir, f"{filename}.")
    try:
        with os.fdopen(fd, "wb") as out:
            total, chunks, origin = _open(url)
            done = 0
            for chunk in chunks:
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total, filename)
        if total is not None and done != total:
            raise _BodyCut(f"got {done} bytes where {total} were announced")
        return part, origin
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _open(url: str) -> tuple[Optional[int], Iterator[bytes], str]:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        path = Path(url2pathname(parsed.path))
        if not path.is_file():
            raise FetchError("no such file")
        return path.stat().st_size, _read_file(path), url
    if parsed.scheme not in ("http", "https"):
        raise FetchError(f"unsupported URL scheme {parsed.scheme!r}")
    try:
        response = session().get(url, stream=True, timeout=timeouts())
    except requests.RequestException as exc:
        raise FetchError(_reason(exc)) from None
    if parsed.scheme == "https" and urlparse(response.url).scheme != "https":
        response.close()
        raise FetchError(f"redirected from https to {response.url}: refused (plain http has no protection in transit)")
    if response.status_code != 200:
        response.close()
        raise FetchError(f"HTTP {response.status_code}")
    length = response.headers.get("Content-Length")
    return (int(length) if length and length.isdigit() else None), _read_response(response), response.url


def timeouts() -> tuple[float, float]:
    """(connect, read) timeouts in seconds; PYBUILD12_HTTP_TIMEOUT sets the read timeout."""
    value = os.environ.get(TIMEOUT_ENV, "").strip()
    try:
        read = float(value) if value else READ_TIMEOUT
    except ValueError:
        raise FetchError(f"{TIMEOUT_ENV} must be a number of seconds, got {value!r}") from None
    if read <= 0:
        raise FetchError(f"{TIMEOUT_ENV} must be more than 0 seconds, got {value!r}")
    return min(CONNECT_TIMEOUT, read), read


def _read_file(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        yield from iter(lambda: fh.read(CHUNK), b"")


def _read_response(response: requests.Response) -> Iterator[bytes]:
    with response:
        try:
            yield from response.iter_content(CHUNK)
        except requests.RequestException as exc:
            raise _BodyCut(f"download interrupted: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "Max retries exceeded" in text:
        text = text.split("(Caused by", 1)[-1].strip(" )") or text
    return f"{type(exc).__name__}: {text}"[:300]


def session() -> requests.Session:
    """A session that retries connection errors and 5xx with exponential backoff."""
    retry = Retry(
        total=RETRIES,
        connect=RETRIES,
        read=RETRIES,
        status=RETRIES,
        backoff_factor=BACKOFF,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
    )
    s = requests.Session()
    s.headers["User-Agent"] = f"pybuild12/{__version__}"
    adapter = HTTPAdapter(max_retries=retry)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s

