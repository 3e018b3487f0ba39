"""What the integration tests share: the recipe they build and the build itself."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECIPE = "3.13.5"
TARBALL = f"Python-{RECIPE}.tar.xz"


def sources_dir() -> Path:
    """Where scripts/fetch-test-sources put the tarball."""
    return Path(os.environ.get("PYBUILD12_TEST_SOURCES", ROOT / ".test-sources"))


@dataclass(frozen=True)
class RealBuild:
    home: Path
    env: dict
    mirror: str
    install: subprocess.CompletedProcess
    receipt: dict  # as the install wrote it (later tests may reinstall)

    def cli(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pybuild12", *args], env=self.env,
                              capture_output=True, text=True, **kwargs)

    @property
    def prefix(self) -> Path:
        return self.home / "data" / "pythons" / RECIPE


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests_seen: list[str] = []

    def log_message(self, format, *args):
        QuietHandler.requests_seen.append(self.path)
