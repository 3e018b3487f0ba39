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
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Callable, Iterable

import requests

from pybuild12 import artifacts, download, leftovers, signing
from pybuild12.errors import FetchError

ENV = "PYBUILD12_CACHE_URL"
TRUST_HELP = ("'pybuild12 cache --help': trust the public key of the machines that --push with "
              f"'pybuild12 cache trust NAME:KEY' or {signing.TRUST_ENV}=NAME:KEY")


class SharedCache:
    def __init__(self, base_url: str, trusted: Iterable[signing.PublicKey] = ()) -> None:
        self.base = base_url.rstrip("/")
        self.trusted = list(trusted)
        self.session = download.session()

    def _url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def fetch(self, key: str, local: artifacts.Cache, warn: Callable[[str], None]) -> artifacts.Artifact | None:
        """Download the artifact for `key` into the local cache, signed and checked; None when
        the store lacks it or it cannot be trusted (the install then builds from source)."""
        if not self.trusted:
            warn(f"{ENV} is set but no key is trusted; building from source — see {TRUST_HELP}")
            return None
        meta = self._trusted_sidecar(key, warn)
        if meta is None:
            return None
        return self._download(key, meta, local, warn)

    def _trusted_sidecar(self, key: str, warn: Callable[[str], None]) -> dict | None:
        """The sidecar of `key` if a trusted key signed it: checked before the artifact's body is
        downloaded, so an unsigned upload costs one small GET."""
        try:
            response = self.session.get(self._url(f"{key}.json"), timeout=download.timeouts())
        except requests.RequestException as exc:
            warn(f"shared cache {self.base} unreachable ({type(exc).__name__}); building from source")
            return None
        if response.status_code != 200:
            return None
        try:
            meta = response.json()
            if not isinstance(meta, dict) or not isinstance(meta["sha256"], str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            warn(f"shared cache: the sidecar of {key[:12]} is not valid; ignoring it")
            return None
        verdict = signing.check(meta, key, self.trusted)
        if not verdict.ok:
            warn(f"shared cache: artifact {key[:12]} refused, {verdict.reason}; building from source")
            return None
        return meta

    def _download(self, key: str, meta: dict, local: artifacts.Cache,
                  warn: Callable[[str], None]) -> artifacts.Artifact | None:
        """Stream the artifact into the local cache, hashing it; refused unless it matches the signed sha256."""
        fd, tmp = leftovers.new_part(local.directory, f".{key}.")
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out, self.session.get(self._url(f"{key}{artifacts.SUFFIX}"), stream=True,
                                                               timeout=download.timeouts()) as response:
                if response.status_code != 200:
                    warn(f"shared cache has the sidecar of {key[:12]} but not its artifact (HTTP {response.status_code})")
                    tmp.unlink(missing_ok=True)
                    return None
                for chunk in response.iter_content(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != meta["sha256"]:
                tmp.unlink(missing_ok=True)
                warn(f"shared cache: artifact {key[:12]} does not match its sha256; refused, building from source")
                return None
            return local.adopt(key, tmp, meta)
        except requests.RequestException as exc:
            tmp.unlink(missing_ok=True)
            warn(f"shared cache download failed ({type(exc).__name__}); building from source")
            return None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def push(self, artifact: artifacts.Artifact, key: signing.SecretKey) -> None:
        """Upload an artifact, then its sidecar signed with `key`."""
        sidecar = json.dumps(signing.sign(artifacts.shareable(artifact.meta), key), sort_keys=True).encode()
        try:
            with open(artifact.path, "rb") as fh:
                response = self.session.put(self._url(artifact.path.name), data=fh, timeout=download.timeouts())
            response.raise_for_status()
            response = self.session.put(self._url(f"{artifact.key}.json"), data=sidecar,
                                        timeout=download.timeouts(), headers={"Content-Type": "application/json"})
            response.raise_for_status()
        except requests.RequestException as exc:
            raise FetchError(f"uploading {artifact.key[:12]} to the shared cache {self.base} failed: {exc}",
                             hint=f"check {ENV} and that the store accepts PUT") from None
