"""HTTP and file:// downloads into `.part` files: timeouts, retries, and stall reports.

Used by the source downloads (`sources/download.py`) and the shared cache
(`store/remote.py`), so both wait, retry and report a silent server the same way.

Waiting on a server. `PYBUILD12_HTTP_TIMEOUT` (default 60 s) is how long a
server may keep us waiting: for its answer to a request, or for more of a body
it has started to send. Each candidate URL gets TRIES (3) tries. A try is one
request, and it is repeated (after BACKOFF x its number of seconds) only when it
ends in one of these: no answer within the timeout; a body that stalls for the
timeout, is cut short, or is shorter than announced; the connection dropped
before an answer. So a server that accepts the connection and never answers
costs at most TRIES x PYBUILD12_HTTP_TIMEOUT seconds (plus 0.5 s + 1 s of
backoff) before the next candidate URL, and the user sees the wait counted
every second through the `stalled` callback. Apart from that, within each try
urllib3 repeats connecting (refused, or not connected within
min(15 s, the timeout)) and 5xx answers up to RETRIES (4) more times with
exponential backoff: those are quick failures or a busy server, not silence.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional
from urllib.parse import urlparse
from urllib.request import url2pathname

from pybuild12 import __version__
from pybuild12.core import files
from pybuild12.core.errors import FetchError
from pybuild12.core.settings import CONNECT_TIMEOUT, READ_TIMEOUT

if TYPE_CHECKING:
    import requests

CHUNK = 1 << 16
RETRIES = 4  # urllib3's, for refused connections and 5xx answers, within one try
TRIES = 3  # per URL, for a silent server or a body cut short (see the module docstring)
BACKOFF = 0.5  # seconds; doubled on each retry by urllib3
TICK = 1.0  # seconds between two reports of a wait on a server
TIMEOUTS = (CONNECT_TIMEOUT, READ_TIMEOUT)  # (connect, read); Settings.http_timeouts: the user's

# requests (and urllib3) are imported by the functions that make a request: they are
# most of the command's start-up time, and most commands never make one.

# progress(bytes_done, bytes_total_or_None, label)
Progress = Callable[[int, Optional[int], str], None]
# stalled(text): "waiting for <host> to answer (12 s of 60 s, try 2 of 3)", about once a
# TICK while a server keeps us waiting, then "downloading from <host>" once it sends again.
# Called from a watchdog thread (or the fetching one), never from two at once.
Stalled = Callable[[str], None]


class TryAgain(FetchError):
    """The server accepted the request and then failed it (silence, a body cut short):
    worth another try of the same URL."""


class HTTPStatus(FetchError):
    """The server answered, but not with the file (404, 401, ...)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def download(url: str, directory: Path, *, part_prefix: str, label: str, progress: Progress | None = None,
             warn: Callable[[str], None] | None = None, watch: "Watchdog | None" = None,
             retries: int = RETRIES, timeouts: tuple[float, float] = TIMEOUTS,
             auth: requests.auth.AuthBase | None = None) -> tuple[Path, str]:
    """Download `url` into a new `.part` file in `directory`; returns it and the URL it came
    from (after redirects). Up to TRIES tries; only a `TryAgain` failure earns the next one
    (`retries`: urllib3's, within each try). On any failure no part file is left.

    `auth` is for a store that wants credentials (the shared cache's token); without it,
    requests uses the URL's user:password@, else the netrc login for the host. requests
    drops the Authorization header on a redirect to another host."""
    watch = watch or Watchdog(None)
    failure = ""
    for attempt in range(1, TRIES + 1):
        if failure:
            if warn:
                warn(f"{shown(url)}: {failure}; trying again ({attempt}/{TRIES})")
            time.sleep(BACKOFF * (attempt - 1))
        watch.begin(url, attempt)
        try:
            return _download(url, directory, part_prefix, label, progress, watch, retries, timeouts, auth)
        except TryAgain as exc:
            failure = exc.message
        finally:
            watch.end()
    raise FetchError(f"{failure} ({TRIES} tries)")


def _download(url: str, directory: Path, part_prefix: str, label: str, progress: Progress | None,
              watch: "Watchdog", retries: int, timeouts: tuple[float, float],
              auth: requests.auth.AuthBase | None = None) -> tuple[Path, str]:
    fd, part = files.new_part(directory, part_prefix)
    try:
        with os.fdopen(fd, "wb") as out:
            total, chunks, origin = _open(url, watch, retries, timeouts, auth)
            done = 0
            for chunk in chunks:
                watch.heard()
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total, label)
        if total is not None and done != total:
            raise TryAgain(f"got {done} bytes where {total} were announced")
        return part, origin
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _open(url: str, watch: "Watchdog", retries: int, timeouts: tuple[float, float],
          auth: requests.auth.AuthBase | None = None) -> tuple[Optional[int], Iterator[bytes], str]:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        path = Path(url2pathname(parsed.path))
        if not path.is_file():
            raise FetchError("no such file")
        return path.stat().st_size, _read_file(path), url
    if parsed.scheme not in ("http", "https"):
        raise FetchError(f"unsupported URL scheme {parsed.scheme!r}")
    import requests

    connect, read = timeouts
    watch.asking(read)
    try:
        response = session(retry_reads=False, on_retry=watch.restart, retries=retries).get(
            url, stream=True, timeout=(connect, read), auth=auth)
    except requests.ReadTimeout:
        raise TryAgain(f"timed out: no answer within {read:g} s") from None
    except requests.RequestException as exc:
        raise (TryAgain if _dropped(exc) else FetchError)(_reason(exc)) from None
    if parsed.scheme == "https" and urlparse(response.url).scheme != "https":
        response.close()
        raise FetchError(f"redirected from https to {response.url}: refused (plain http has no protection in transit)")
    if response.status_code != 200:
        response.close()
        raise HTTPStatus(response.status_code)
    watch.answered(response.url)
    length = response.headers.get("Content-Length")
    return (int(length) if length and length.isdigit() else None), _read_response(response, read), response.url


def _dropped(exc: requests.RequestException) -> bool:
    """The connection was made and the request sent, then closed or reset before an answer."""
    import requests
    from urllib3.exceptions import ProtocolError

    return isinstance(exc, requests.ConnectionError) and bool(exc.args) and isinstance(exc.args[0], ProtocolError)


def _read_file(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        yield from iter(lambda: fh.read(CHUNK), b"")


def _read_response(response: requests.Response, read_timeout: float) -> Iterator[bytes]:
    import requests
    from urllib3.exceptions import ReadTimeoutError

    with response:
        try:
            yield from response.iter_content(CHUNK)
        except requests.RequestException as exc:
            if exc.args and isinstance(exc.args[0], ReadTimeoutError):
                raise TryAgain(f"download interrupted: timed out, no data for {read_timeout:g} s") from None
            raise TryAgain(f"download interrupted: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "Max retries exceeded" in text:
        text = text.split("(Caused by", 1)[-1].strip(" )") or text
    return f"{type(exc).__name__}: {text}"[:300]


def host_of(url: str) -> str:
    """host[:port] of a URL, without any user:password@ in front."""
    return urlparse(url).netloc.rpartition("@")[2] or url


def shown(url: str) -> str:
    """`url` as a message may show it: without the user:password@ it may carry
    (`https://user:pass@host/c` -> `https://host/c`)."""
    parsed = urlparse(url)
    if "@" not in parsed.netloc:
        return url
    return parsed._replace(netloc=parsed.netloc.rpartition("@")[2]).geturl()


class Watchdog:
    """Tells `stalled`, about once a TICK, that a server keeps us waiting, and for how long.

    The download itself blocks in socket reads that only the read timeout ends, so a
    silent server would otherwise mean a minute of nothing per try. One thread per
    fetch (and none when nobody listens) watches the clock; the fetching thread tells
    it when a try begins, when bytes arrive and when it stops waiting.
    """

    def __init__(self, stalled: Stalled | None) -> None:
        self._stalled = stalled
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._host = ""
        self._attempt = 0
        self._limit = 0.0
        self._since: float | None = None  # start of the present wait; None: not waiting on a server
        self._answered = False
        self._told = False
        self._thread = threading.Thread(target=self._run, name="pybuild12-fetch-watchdog", daemon=True)

    def __enter__(self) -> "Watchdog":
        if self._stalled is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join()

    def begin(self, url: str, attempt: int) -> None:
        """A try of `url` begins (the clock starts with `asking`); after a reported wait,
        the status line moves on to this try at once instead of showing the last count."""
        with self._lock:
            self._host, self._attempt = host_of(url), attempt
            self._since, self._answered = None, False
            if self._told:
                self._say(f"asking {self._host} (try {attempt} of {TRIES})")

    def asking(self, limit: float) -> None:
        """The request is about to go out; the server has `limit` seconds to answer."""
        self._start(limit=limit)

    def restart(self) -> None:
        """urllib3 is about to repeat the request (refused, 5xx): a new wait begins."""
        self._start()

    def answered(self, final_url: str) -> None:
        """Headers are in (from `final_url`, after any redirect); now the body is awaited."""
        with self._lock:
            self._host, self._answered = host_of(final_url), True

    def heard(self) -> None:
        """Bytes arrived: the wait starts over, and a reported stall is over."""
        with self._lock:
            if self._since is None:
                return
            self._since = time.monotonic()
            if self._told:
                self._told = False
                self._say(f"downloading from {self._host}")

    def end(self) -> None:
        with self._lock:
            self._since = None

    def _start(self, limit: float | None = None) -> None:
        with self._lock:
            if limit is not None:
                self._limit = limit
            self._since = time.monotonic()
            self._wake.notify()

    def _run(self) -> None:
        with self._lock:
            while not self._closed:
                self._wake.wait(self._tick())

    def _tick(self) -> float | None:
        """Report the present wait if it has lasted a whole TICK or more; return how long
        to sleep until the next whole TICK (None: until told of a new wait)."""
        if self._since is None:
            return None
        waited = time.monotonic() - self._since
        ticks = int(waited / TICK + 0.05)
        if ticks >= 1:
            self._say(self._message(ticks * TICK))
            self._told = True
        return max((ticks + 1) * TICK - waited, TICK / 20)

    def _message(self, waited: float) -> str:
        of_tries = f"try {self._attempt} of {TRIES}"
        if self._answered and waited > self._limit + TICK:  # bytes trickle in, under a CHUNK per timeout
            return f"receiving slowly from {self._host} ({of_tries})"
        what = "to send more" if self._answered else "to answer"
        return f"waiting for {self._host} {what} ({_seconds(waited)} of {self._limit:g} s, {of_tries})"

    def _say(self, text: str) -> None:
        if self._stalled is not None:
            self._stalled(text)


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if TICK >= 1 else f"{value:.1f} s"


@functools.cache
def _retry_type() -> type:
    """urllib3's Retry, telling `on_retry` before each repeat, so a watch of the wait
    can start its count again."""
    from urllib3.util.retry import Retry

    class _Retry(Retry):
        def __init__(self, *args: Any, on_retry: Callable[[], None] | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.on_retry = on_retry

        def new(self, **kw: Any) -> "_Retry":
            retry = super().new(**kw)
            retry.on_retry = self.on_retry
            return retry

        def increment(self, *args: Any, **kwargs: Any) -> "_Retry":
            retry = super().increment(*args, **kwargs)
            if self.on_retry is not None:
                self.on_retry()
            return retry

    return _Retry


def session(*, retry_reads: bool = True, on_retry: Callable[[], None] | None = None,
            retries: int = RETRIES) -> requests.Session:
    """A session that retries connection errors and 5xx with exponential backoff.

    `retry_reads=False` leaves a silent or dropped request to the caller (fetch counts
    those as tries, so a silent server costs TRIES timeouts, not RETRIES + 1 of them).
    `retries` below RETRIES is for look-ups that have a fallback (the shared cache: a
    busy store should cost a second, not the 7 s of four backed-off retries); such a
    session also ignores a 503's Retry-After, which could ask for minutes.
    """
    import requests
    from requests.adapters import HTTPAdapter

    retry = _retry_type()(
        total=retries,
        connect=retries,
        read=retries if retry_reads else False,
        status=retries,
        respect_retry_after_header=retries >= RETRIES,
        backoff_factor=BACKOFF,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
        on_retry=on_retry,
    )
    s = requests.Session()
    s.headers["User-Agent"] = f"pybuild12/{__version__}"
    adapter = HTTPAdapter(max_retries=retry)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s
