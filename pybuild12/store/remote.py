"""The shared artifact cache of a team or CI fleet: any HTTP(S) store answering GET and PUT.

`PYBUILD12_CACHE_URL` names its base (nginx with its WebDAV module does, for
example). Each artifact travels with its JSON sidecar, which carries the
artifact's sha256 and Ed25519 signatures over it (see `signing`). Whoever can
PUT to the store could write a matching sha256 too, so the store is not trusted:
an install takes an artifact only when a key it trusts (PYBUILD12_CACHE_TRUST,
the trusted-keys file) signed its sidecar, checks that before downloading the
artifact itself, then hashes the download on the way in. Uploads are opt-in
(`--push`), signed, and put the sidecar last: a reader never sees a sidecar
before its artifact is whole.

The store's layout: `<key>.tar.zst` and `<key>.json` per artifact, and
`by-inputs/<prefixless key>.json`, an index listing the keys of the artifacts
built from the same inputs under any prefix. Builds are not relocatable, so the
prefix is part of the key; the index lets a miss say that the store has the build
for another prefix (another PYBUILD12_HOME) instead of building silently. The index
is unsigned and rewritten by each push (two pushes at once may lose an entry: it
only serves a hint); what it points to counts only through a trusted signature.

A look-up is one attempt and at most one quick retry: the install has a fallback
(building), so a busy or broken store costs a second, and the reason is shown.

Credentials. A store that wants them for PUT (or GET too) gets, on every request
(the sidecar and index GETs, the artifact's download, the uploads), the first of:
the bearer token in PYBUILD12_CACHE_TOKEN (`Authorization: Bearer ...`); the
USER:PASSWORD@ of PYBUILD12_CACHE_URL (HTTP basic); the login for the store's host
in ~/.netrc (or the file $NETRC names), which requests applies when a request has
no credentials of its own. The URL's pair is passed explicitly so that it wins over
a netrc entry, as with curl. requests drops them on a redirect to another host (an
artifact served from a CDN does not get the store's token). Messages name which
credentials were used, never their value: URLs go through `http.shown`, and a 401
or 403 says "the token in PYBUILD12_CACHE_TOKEN", "the netrc login for HOST".
"""

from __future__ import annotations

import functools
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping
from urllib.parse import urlparse

from pybuild12.core import files, http, paths
from pybuild12.core.errors import FetchError, quoted
from pybuild12.core.settings import CACHE_TOKEN_ENV as TOKEN_ENV, CACHE_URL_ENV as ENV
from pybuild12.store import artifacts, key as keys, signing

if TYPE_CHECKING:
    import requests  # imported where used: see core/http.py

TRUST_HELP = ("'pybuild12 cache --help': trust the public key of the machines that --push with "
              f"'pybuild12 cache trust NAME:KEY' or {signing.TRUST_ENV}=NAME:KEY")
LOOKUP_RETRIES = 1  # one quick retry of a refused connection or a 5xx, then build from source
INDEX = "by-inputs"
INDEX_KEEP = 20  # keys an index entry keeps (the newest)
INDEX_MAX_BYTES = 64 << 10
_KEY = re.compile(r"^[0-9a-f]{64}$")

HIT, MISS, REFUSED, DENIED, UNREACHABLE, UNUSED = "hit", "miss", "refused", "denied", "unreachable", "not used"


@dataclass(frozen=True)
class Lookup:
    """What a look-up came to: the artifact, or the reason there is none."""

    status: str  # HIT, MISS, REFUSED (signature, sha256), DENIED (401/403), UNREACHABLE, UNUSED
    detail: str = ""
    artifact: artifacts.Artifact | None = None

    @property
    def ok(self) -> bool:
        """Whether the store answered as a store should (a miss is a fine answer)."""
        return self.status in (HIT, MISS)

    def __str__(self) -> str:
        return f"{self.status}: {self.detail}" if self.detail else self.status


class SharedCache:
    def __init__(self, base_url: str, trusted: Iterable[signing.PublicKey] = (), *,
                 timeouts: tuple[float, float] = http.TIMEOUTS, token: str | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.timeouts = timeouts
        self.shown = http.shown(self.base)
        self.trusted = list(trusted)
        self.token = token or None
        self.auth = _auth(self.base, self.token)  # None: requests looks in netrc
        self.session = http.session(retries=LOOKUP_RETRIES, retry_reads=False)  # silence: one timeout
        self.session.auth = self.auth

    def __repr__(self) -> str:
        return f"SharedCache({self.shown!r})"

    @property
    def host(self) -> str:
        """The store's host name, as netrc files name it (no port, no user:password@)."""
        return urlparse(self.base).hostname or self.shown

    def credentials(self) -> str:
        """Which credentials the store's requests carry, for a message ("" for none); never
        their value."""
        if self.token:
            return f"the token in {TOKEN_ENV}"
        if self.auth is not None:
            return f"the USER:PASSWORD in {ENV}"
        from requests.utils import get_netrc_auth

        if get_netrc_auth(self.base):
            return f"the netrc login for {self.host} (~/.netrc or $NETRC)"
        return ""

    def _hidden(self, text: str) -> str:
        """`text` (an error's, which may quote the URL: requests' InvalidURL does) without the
        URL's user:password@ and with the token blanked."""
        login = urlparse(self.base).netloc.rpartition("@")[0]
        text = text.replace(f"{login}@", "") if login else text
        return text.replace(self.token, "***") if self.token else text

    def _what_to_check(self, used: str, verb: str) -> str:
        """What to check after a 401 or 403 to a request that carried `used` (see `credentials`)."""
        if not used:
            return (f"set {TOKEN_ENV}, add {self.host} to ~/.netrc, or check the credentials in {ENV} "
                    "(https://USER:PASSWORD@HOST/...)")
        if self.token:
            return f"check that the token is valid and may {verb} the store"
        if self.auth is not None:
            return f"check them and that they may {verb} the store"
        return f"check that login's password and that it may {verb} the store"

    def _url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def fetch(self, key: str, local: artifacts.Cache, warn: Callable[[str], None]) -> artifacts.Artifact | None:
        """The artifact of `key`, or None (see `lookup`)."""
        return self.lookup(key, local, warn).artifact

    def lookup(self, key: str, local: artifacts.Cache, warn: Callable[[str], None],
               inputs: Mapping[str, Any] | None = None, *, stalled: http.Stalled | None = None,
               progress: http.Progress | None = None) -> Lookup:
        """Download the artifact for `key` into the local cache, signed and checked; when the
        store lacks it or it cannot be trusted, why (warned, but for a plain miss). With the
        build's `inputs`, a miss looks for the same build under another prefix."""
        if not self.trusted:
            warn(f"{ENV} is set but no key is trusted; building from source — see {TRUST_HELP}")
            return Lookup(UNUSED, "no key trusted")
        found = self._trusted_sidecar(key, warn)
        if isinstance(found, Lookup):
            if found.status == MISS and inputs is not None:
                elsewhere = self._other_prefixes(key, inputs)
                if elsewhere:
                    warn(moved_hint(elsewhere[0], str(inputs.get("prefix", ""))))
                    return Lookup(MISS, f"built for prefix {_path(elsewhere[0])} only")
            return found
        return self._download(key, found, local, warn, stalled, progress)

    def _get(self, name: str, **kwargs: Any) -> requests.Response | str:
        """GET `name` from the store; or, when it did not answer, the name of the error."""
        import requests

        try:
            return self.session.get(self._url(name), timeout=self.timeouts, **kwargs)
        except requests.RequestException as exc:
            return type(exc).__name__

    def _trusted_sidecar(self, key: str, warn: Callable[[str], None]) -> dict | Lookup:
        """The sidecar of `key` if a trusted key signed it: checked before the artifact's body is
        downloaded, so an unsigned upload costs one small GET."""
        response = self._get(f"{key}.json")
        if isinstance(response, str):
            warn(f"shared cache {self.shown} unreachable ({response}); building from source")
            return Lookup(UNREACHABLE, f"{response} at {self.shown}")
        if response.status_code in (404, 410):
            return Lookup(MISS)
        if response.status_code != 200:
            return self._refused_answer(response, warn)
        try:
            meta = response.json()
            if not isinstance(meta, dict) or not isinstance(meta["sha256"], str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            warn(f"shared cache: the sidecar of {key[:12]} is not valid; ignoring it")
            return Lookup(REFUSED, "invalid sidecar")
        verdict = signing.check(meta, key, self.trusted)
        if not verdict.ok:
            warn(f"shared cache: artifact {key[:12]} refused, {verdict.reason}; building from source")
            return Lookup(REFUSED, verdict.reason.removeprefix("it is "))
        return meta

    def _refused_answer(self, response: requests.Response, warn: Callable[[str], None]) -> Lookup:
        """An answer that is neither the file nor its absence: warned, with what to check."""
        status, url = response.status_code, http.shown(response.url or self.base)
        response.close()
        if status in (401, 403):
            used = self.credentials()
            sent = f"with {used}" if used else "without credentials"
            warn(f"shared cache not used: HTTP {status} from {url} {sent}; {self._what_to_check(used, 'read')}; "
                 "building from source")
            return Lookup(DENIED, f"{status} from {self.shown}")
        warn(f"shared cache not used: HTTP {status} from {url}"
             + (" (again on a retry)" if status >= 500 else "") + "; building from source")
        return Lookup(UNREACHABLE, f"{status} from {self.shown}")

    def _download(self, key: str, meta: dict, local: artifacts.Cache, warn: Callable[[str], None],
                  stalled: http.Stalled | None, progress: http.Progress | None) -> Lookup:
        """Download the artifact into the local cache, as source downloads are (timeouts, tries,
        stall reports: `core/http.py`); refused unless it matches the signed sha256."""
        url = self._url(f"{key}{artifacts.SUFFIX}")
        try:
            with http.Watchdog(stalled) as watch:
                part, _ = http.download(url, local.directory, part_prefix=f".{key}.", label=f"artifact {key[:12]}",
                                        progress=progress, warn=warn, watch=watch, retries=LOOKUP_RETRIES,
                                        timeouts=self.timeouts, auth=self.auth)
        except http.HTTPStatus as exc:
            warn(f"shared cache has the sidecar of {key[:12]} but not its artifact "
                 f"(HTTP {exc.status} from {http.shown(url)}); building from source")
            return Lookup(MISS if exc.status in (404, 410) else UNREACHABLE, f"{exc.status} from {self.shown}")
        except FetchError as exc:
            reason = self._hidden(exc.message)
            warn(f"shared cache download failed ({reason}); building from source")
            return Lookup(UNREACHABLE, f"{reason} at {self.shown}")
        try:
            if files.sha256_of(part) != meta["sha256"]:
                part.unlink(missing_ok=True)
                warn(f"shared cache: artifact {key[:12]} does not match its sha256; refused, building from source")
                return Lookup(REFUSED, "sha256 mismatch")
            return Lookup(HIT, artifact=local.adopt(key, part, meta))
        except BaseException:
            part.unlink(missing_ok=True)
            raise

    # -- the index by prefix-less inputs -------------------------------------------------------

    def _index_name(self, inputs: Mapping[str, Any]) -> str:
        return f"{INDEX}/{keys.prefixless_key(inputs)}.json"

    def _indexed_keys(self, name: str) -> list[str]:
        """The keys an index entry lists; [] when it is absent, unreadable or too big."""
        response = self._get(name, stream=True)
        if isinstance(response, str):
            return []
        with response:
            if response.status_code != 200:
                return []
            body = response.raw.read(INDEX_MAX_BYTES + 1, decode_content=True)
        try:
            keys = json.loads(body)["keys"] if len(body) <= INDEX_MAX_BYTES else []
        except (ValueError, KeyError, TypeError):
            return []
        return [k for k in keys if isinstance(k, str) and _KEY.match(k)] if isinstance(keys, list) else []

    def _other_prefixes(self, key: str, inputs: Mapping[str, Any]) -> list[str]:
        """The prefixes the store has this build for, each proven by a trusted signature over
        inputs that differ from `inputs` only in the prefix. Costs a GET of the index entry,
        and one per candidate (newest first, three at most)."""
        wanted = keys.prefixless_key(inputs)
        found = []
        for other in [k for k in reversed(self._indexed_keys(self._index_name(inputs))) if k != key][:3]:
            response = self._get(f"{other}.json")
            if isinstance(response, str) or response.status_code != 200:
                continue
            try:
                meta = response.json()
                prefix = meta["inputs"]["prefix"]
                same = keys.prefixless_key(meta["inputs"]) == wanted
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            if same and isinstance(prefix, str) and signing.check(meta, other, self.trusted).ok:
                found.append(prefix)
        return found

    # -- uploads --------------------------------------------------------------------------------

    def push(self, artifact: artifacts.Artifact, key: signing.SecretKey) -> None:
        """Upload an artifact, then its sidecar signed with `key`, then its index entry."""
        import requests

        sidecar = json.dumps(signing.sign(artifacts.shareable(artifact.meta), key), sort_keys=True).encode()
        uploads = http.session()  # an upload has no fallback: the usual retries
        uploads.auth = self.auth
        try:
            with open(artifact.path, "rb") as fh:
                response = uploads.put(self._url(artifact.path.name), data=fh, timeout=self.timeouts)
            _raise_for_status(response)
            response = uploads.put(self._url(f"{artifact.key}.json"), data=sidecar,
                                   timeout=self.timeouts, headers={"Content-Type": "application/json"})
            _raise_for_status(response)
        except requests.RequestException as exc:
            failed = f"uploading {artifact.key[:12]} to the shared cache {self.shown} failed: {self._hidden(str(exc))}"
            status = exc.response.status_code if exc.response is not None else None
            if status not in (401, 403):
                raise FetchError(failed, hint=f"check {ENV} and that the store accepts PUT") from None
            used = self.credentials()
            refused = f"the store refused {used}" if used else "the store wants credentials to write, none were sent"
            raise FetchError(f"{failed}: {refused}", hint=self._what_to_check(used, "write to")) from None
        if isinstance(artifact.meta.get("inputs"), dict):
            self._index(artifact.key, artifact.meta["inputs"], uploads)

    def _index(self, key: str, inputs: Mapping[str, Any], uploads: requests.Session) -> None:
        """Add `key` to the index entry of its prefix-less inputs. Best effort: the artifact is
        uploaded already, and the index only serves the hint about other prefixes."""
        import requests

        name = self._index_name(inputs)
        keys = [k for k in self._indexed_keys(name) if k != key] + [key]
        body = json.dumps({"keys": keys[-INDEX_KEEP:]}).encode()
        try:
            uploads.put(self._url(name), data=body, timeout=self.timeouts,
                        headers={"Content-Type": "application/json"})
        except requests.RequestException:
            pass


def _auth(base: str, token: str | None) -> requests.auth.AuthBase | None:
    """The credentials every request to the store carries: the token, else the URL's
    USER:PASSWORD@ (explicit, so that a netrc entry for the host does not override them);
    None leaves requests to look the host up in netrc."""
    if token:
        return _bearer_type()(token)
    if "@" not in urlparse(base).netloc:
        return None
    from requests.auth import HTTPBasicAuth
    from requests.utils import get_auth_from_url

    login = get_auth_from_url(base)  # ("", "") unless both are there, as requests reads a URL
    return HTTPBasicAuth(*login) if any(login) else None


@functools.cache
def _bearer_type() -> type:
    """requests' AuthBase for a bearer token; made on first use, as requests is imported."""
    from requests.auth import AuthBase

    class BearerToken(AuthBase):
        """`Authorization: Bearer <token>` on each request; requests drops the header when a
        redirect leaves the host."""

        def __init__(self, token: str) -> None:
            self._token = token

        def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
            request.headers["Authorization"] = f"Bearer {self._token}"
            return request

        def __repr__(self) -> str:
            return "BearerToken(<hidden>)"

    return BearerToken


def _raise_for_status(response: requests.Response) -> None:
    """requests' raise_for_status, saying the URL without the credentials it may hold."""
    import requests

    if response.status_code >= 400:
        reason = f" {response.reason}" if response.reason else ""
        raise requests.HTTPError(f"{response.status_code}{reason} from {http.shown(response.url)}",
                                 response=response)


def moved_hint(other: str, ours: str) -> str:
    """The warning for a build the store has under another prefix only."""
    base = (f"the shared cache has this build for prefix {_path(other)}, not {_path(ours)}; builds are keyed by "
            "their install prefix")
    where = paths.home_of(other)
    if where is None:
        return f"{base}: install it where that prefix is (the data directory of the machine that pushed it)"
    home, name = where
    rename = f" and --name {_path(name)}" if Path(ours).name != name else ""
    return f"{base}: set PYBUILD12_HOME to {_path(str(home))}{rename} to use it"


def _path(text: str) -> str:
    """A path from the store for a message: whole and ready to paste into a shell, unless it
    holds what a terminal should not be sent (then `quoted`, shortened)."""
    return shlex.quote(text) if text.isprintable() and len(text) <= 4096 else quoted(text)
