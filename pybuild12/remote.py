"""The shared artifact cache of a team or CI fleet: any HTTP(S) store answering GET and PUT.

`PYBUILD12_CACHE_URL` names its base (nginx with its WebDAV module does, for
example). Each artifact travels with its JSON sidecar, which carries the
artifact's sha256; what is downloaded is hashed on the way in and refused on
a mismatch, so the store needs no trust. Uploads are opt-in (`--push`) and put
the sidecar last: a reader never sees a sidecar before its artifact is whole.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Callable

import requests

from pybuild12 import artifacts, download, leftovers
from pybuild12.errors import FetchError

ENV = "PYBUILD12_CACHE_URL"


class SharedCache:
    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.session = download.session()

    def _url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def fetch(self, key: str, local: artifacts.Cache, warn: Callable[[str], None]) -> artifacts.Artifact | None:
        """Download the artifact for `key` into the local cache, checked; None when the store lacks it."""
        try:
            meta_response = self.session.get(self._url(f"{key}.json"), timeout=download.timeouts())
        except requests.RequestException as exc:
            warn(f"shared cache {self.base} unreachable ({type(exc).__name__}); building from source")
            return None
        if meta_response.status_code != 200:
            return None
        try:
            meta = meta_response.json()
            expected = meta["sha256"]
        except (ValueError, KeyError, TypeError):
            warn(f"shared cache: the sidecar of {key[:12]} is not valid; ignoring it")
            return None
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
            if digest.hexdigest() != expected:
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

    def push(self, artifact: artifacts.Artifact) -> None:
        """Upload an artifact, then its sidecar."""
        try:
            with open(artifact.path, "rb") as fh:
                response = self.session.put(self._url(artifact.path.name), data=fh, timeout=download.timeouts())
            response.raise_for_status()
            response = self.session.put(self._url(f"{artifact.key}.json"), data=json.dumps(artifact.meta).encode(),
                                        timeout=download.timeouts(), headers={"Content-Type": "application/json"})
            response.raise_for_status()
        except requests.RequestException as exc:
            raise FetchError(f"uploading to the shared cache {self.base} failed: {exc}",
                             hint=f"the build is installed and in the local cache; check {ENV} and that the store accepts PUT") from None
