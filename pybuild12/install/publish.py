"""`install --push`: upload a build's artifact, signed, to the shared cache.

The signing key is looked up before anything is built (an install that can only end
in an unsigned upload, which no machine would accept, should not start), and the
upload runs once the build is in place, so a failed upload is reported as what it
is: the build installed, the upload not done.
"""

from __future__ import annotations

import shlex
from typing import ContextManager

from pybuild12.core.errors import FetchError, UsageError
from pybuild12.core.paths import Paths
from pybuild12.core.report import Reporter
from pybuild12.core.settings import Settings
from pybuild12.store import artifacts, remote, signing
from pybuild12.store.registry import Installed


class PushFailed(FetchError):
    """The build is installed, but --push could not upload it: exit 5, with the install kept."""

    def __init__(self, message: str, *, outcome: Installed, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.outcome = outcome


def signer(settings: Settings, paths: Paths, *, no_cache: bool) -> signing.SecretKey:
    """The key --push signs with; refused at once without a shared cache or a key."""
    if no_cache or not settings.cache_url:
        raise UsageError(f"--push needs the shared cache: set {remote.ENV}, and leave out --no-cache")
    key = signing.signing_key(settings.signing_key, paths.config)
    if key is None:
        raise UsageError(f"--push needs a signing key: set {signing.SIGNING_KEY_ENV} to a key file, or create "
                         f"{paths.config / signing.SECRET_FILE}",
                         hint="'pybuild12 cache keygen NAME' creates one and prints the public key the machines "
                              "that install from the shared cache must trust")
    return key


def upload(reporter: Reporter, outcome: Installed, artifact: artifacts.Artifact | None, origin: str | None,
           store: remote.SharedCache, key: signing.SecretKey, spec: str, phase: ContextManager) -> None:
    """Upload the installed build's artifact, signed by `key`."""
    if origin == "shared":
        reporter.info("--push: the build came from the shared cache, which has it already")
        return
    installed = f"{outcome.name} IS installed ({outcome.python})"
    retry = f"pybuild12 install {shlex.quote(spec)} --force --push"
    if artifact is None:
        raise PushFailed(f"nothing was uploaded to the shared cache: the build is not in the local artifact cache; "
                         f"{installed}", outcome=outcome,
                         hint=f'"{retry}" installs it again through the artifact cache (building it if need be) '
                              "and uploads it")
    reporter.info(f"uploading the artifact of {outcome.name} (installed at {outcome.prefix}), signed by {key.name}")
    try:
        with phase:
            store.push(artifact, key)
    except FetchError as exc:
        raise PushFailed(f"{exc.message}; {installed} and in the local artifact cache", outcome=outcome,
                         hint=f'{exc.hint}; then "{retry}" (with any other options you gave) takes the build '
                              "from the local artifact cache and uploads it in seconds") from None


def upload_installed(reporter: Reporter, outcome: Installed, cache: artifacts.Cache, store: remote.SharedCache,
                     key: signing.SecretKey, spec: str, phase: ContextManager) -> None:
    """--push of a build installed earlier uploads its artifact from the local cache, where
    the install kept it, rather than do nothing while the user expects an upload."""
    facts = (outcome.receipt.artifact if outcome.receipt else None) or {}
    artifact = cache.get(facts["key"]) if facts.get("key") else None
    upload(reporter, outcome, artifact, facts.get("origin"), store, key, spec, phase)
