"""Settings: every environment variable pybuild12 reads, read here and nowhere else.

The CLI makes one `Settings` per command (`Settings.from_env()`) and passes it down;
the modules below it take the values they need from it, never from `os.environ`.
Each value is parsed when first asked for, so a bad value fails the command that uses
it (a bad HTTP timeout fails a download, not `pybuild12 list`), with a message that
names the variable.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Mapping

from pybuild12.core.errors import UsageError
from pybuild12.core.paths import Paths

HOME_ENV = "PYBUILD12_HOME"  # one root for data, cache, logs and config (else the platform's dirs)
MIRROR_ENV = "PYBUILD12_MIRROR"  # a directory or URL looked up first for sources, by file name
HTTP_TIMEOUT_ENV = "PYBUILD12_HTTP_TIMEOUT"  # seconds a server may keep us waiting
STEP_TIMEOUT_ENV = "PYBUILD12_STEP_TIMEOUT"  # seconds one build step may take
CONFIGURE_OPTS_ENV = "PYBUILD12_CONFIGURE_OPTS"  # shell words added to every ./configure
CCACHE_ENV = "PYBUILD12_CCACHE"  # 1: compile through ccache
CACHE_URL_ENV = "PYBUILD12_CACHE_URL"  # the shared artifact cache
CACHE_TOKEN_ENV = "PYBUILD12_CACHE_TOKEN"  # a bearer token sent with every request to the shared cache
CACHE_TRUST_ENV = "PYBUILD12_CACHE_TRUST"  # public keys whose signatures are accepted
SIGNING_KEY_ENV = "PYBUILD12_CACHE_SIGNING_KEY"  # the key file `--push` signs with
SECRETS = (CACHE_TOKEN_ENV,)  # never handed to a build's commands
VERSION_ENV = "PYBUILD12_VERSION"  # the build a command means when none is named (as PYENV_VERSION)
DEBUG_ENV = "PYBUILD12_DEBUG"  # 1: show the traceback of an unexpected error
EPOCH_ENV = "SOURCE_DATE_EPOCH"  # reproducible builds: the date written into the build and the receipt

CONNECT_TIMEOUT = 15.0  # seconds
READ_TIMEOUT = 60.0  # seconds a server may keep us waiting, unless HTTP_TIMEOUT_ENV says otherwise
STEP_TIMEOUT = 4 * 3600.0  # seconds one build step may take, unless STEP_TIMEOUT_ENV says otherwise
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    env: Mapping[str, str] = field(default_factory=dict)  # the environment child processes get

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """The settings of this process's environment (or of `env`)."""
        return cls(dict(os.environ if env is None else env))

    def for_builds(self) -> "Settings":
        """These settings without the secrets (the shared cache's token), for the build's
        commands: configure, make and the training run need none of them."""
        return Settings({k: v for k, v in self.env.items() if k not in SECRETS})

    def _get(self, name: str) -> str:
        return self.env.get(name, "").strip()

    @cached_property
    def paths(self) -> Paths:
        home = self._get(HOME_ENV)
        return Paths.under(Path(home).expanduser().absolute()) if home else Paths.platform_default()

    @property
    def mirror(self) -> str | None:
        return self._get(MIRROR_ENV) or None

    @cached_property
    def http_timeouts(self) -> tuple[float, float]:
        """(connect, read) in seconds; HTTP_TIMEOUT_ENV sets the read timeout."""
        value = self._get(HTTP_TIMEOUT_ENV)
        try:
            read = float(value) if value else READ_TIMEOUT
        except ValueError:
            raise UsageError(f"{HTTP_TIMEOUT_ENV} must be a number of seconds, got {value!r}") from None
        if read <= 0:
            raise UsageError(f"{HTTP_TIMEOUT_ENV} must be more than 0 seconds, got {value!r}")
        return min(CONNECT_TIMEOUT, read), read

    @cached_property
    def step_timeout(self) -> float:
        value = self._get(STEP_TIMEOUT_ENV)
        try:
            seconds = float(value) if value else STEP_TIMEOUT
        except ValueError:
            seconds = -1.0
        if seconds <= 0:
            raise UsageError(f"{STEP_TIMEOUT_ENV} must be a number of seconds above 0, got {value!r}")
        return seconds

    @cached_property
    def configure_opts(self) -> tuple[str, ...]:
        try:
            return tuple(shlex.split(self.env.get(CONFIGURE_OPTS_ENV, "")))
        except ValueError as exc:
            raise UsageError(f"{CONFIGURE_OPTS_ENV} is not valid shell syntax: {exc}") from None

    @property
    def ccache(self) -> bool:
        return self._get(CCACHE_ENV).lower() in _TRUE

    @property
    def cache_url(self) -> str | None:
        return self.env.get(CACHE_URL_ENV) or None

    @property
    def cache_token(self) -> str | None:
        """The bearer token for the shared cache; surrounding whitespace (the newline of
        `$(cat token-file)`) is no part of it."""
        return self._get(CACHE_TOKEN_ENV) or None

    @property
    def cache_trust(self) -> str:
        return self.env.get(CACHE_TRUST_ENV, "")

    @property
    def signing_key(self) -> Path | None:
        named = self.env.get(SIGNING_KEY_ENV)
        return Path(named).expanduser() if named else None

    @property
    def version(self) -> str | None:
        return self._get(VERSION_ENV) or None

    @cached_property
    def source_date_epoch(self) -> int | None:
        value = self._get(EPOCH_ENV)
        if not value:
            return None
        if not value.isdigit():
            raise UsageError(f"{EPOCH_ENV} must be a number of seconds since 1970, got {value!r}",
                              hint=f"e.g. {EPOCH_ENV}=$(git log -1 --format=%ct)")
        return int(value)

    def check(self) -> None:
        """Refuse, before any work, a setting that does not parse (exit 2, naming it): a
        command that builds reads them all, some only minutes in."""
        for name in ("http_timeouts", "step_timeout", "configure_opts", "source_date_epoch"):
            getattr(self, name)
        url = self.cache_url
        if url and not url.lower().startswith(("http://", "https://")):
            raise UsageError(f"{CACHE_URL_ENV} must be an http:// or https:// URL, got {url[:80]!r}",
                             hint="the shared cache is an HTTP store, e.g. https://cache.example.com/pybuild12")

    @property
    def debug(self) -> bool:
        return self._get(DEBUG_ENV) not in ("", "0")
