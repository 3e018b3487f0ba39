"""What the integration tests share: the recipe they build and the build itself."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from filelock import FileLock

from timeline import record_build

ROOT = Path(__file__).resolve().parents[2]
RECIPE = "3.13.5"
TARBALL = f"Python-{RECIPE}.tar.xz"
# The session's shared build: --enable-optimizations (PGO) as the mission asks, without
# LTO, which triples the compile (about 15 minutes more here) and has tests of its own:
# the default PGO+LTO build is the heavy test_lto_build.py, run by hand (CI's budget).
SESSION_OPTS = ("--no-lto",)


def sources_dir() -> Path:
    """Where scripts/fetch-test-sources put the tarball."""
    return Path(os.environ.get("PYBUILD12_TEST_SOURCES", ROOT / ".test-sources"))


def once(shared: Path, name: str, make: Callable[[], dict]) -> dict:
    """`make()` run once for the whole test run, whichever xdist worker asks first; the
    others wait for it and get what it returned (JSON). `shared` is a directory every
    worker of the run sees (the `shared_dir` fixture)."""
    result = shared / f"{name}.json"
    with FileLock(str(shared / f"{name}.lock")):
        if not result.exists():
            result.write_text(json.dumps(make()))
        return json.loads(result.read_text())


def completed(proc: subprocess.CompletedProcess) -> dict:
    """A finished process as JSON (for `once`)."""
    return {"args": [str(a) for a in proc.args], "returncode": proc.returncode, "stdout": proc.stdout,
            "stderr": proc.stderr}


def run_of(data: dict) -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(data["args"], data["returncode"], data["stdout"], data["stderr"])


@dataclass(frozen=True)
class SharedStore:
    """The session build's artifact, signed and served as a team's shared store would
    serve it: what the image and the fresh machine install from instead of compiling."""
    url: str
    trust: str  # the public key that signed it (PYBUILD12_CACHE_TRUST)
    home: Path  # the PYBUILD12_HOME it was built in: builds are not relocatable
    install_args: tuple[str, ...]  # the request that gives the same key

    def env(self) -> dict[str, str]:
        return {"PYBUILD12_HOME": str(self.home), "PYBUILD12_CACHE_URL": self.url,
                "PYBUILD12_CACHE_TRUST": self.trust}


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


def apart_env(home: Path, *, mirror: str | None = None, extra_env: dict | None = None) -> dict:
    """The environment of pybuild12 with a home of its own (and the mirror)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYBUILD12_")}
    env.update(extra_env or {})
    env["PYBUILD12_HOME"] = str(home)
    if mirror:
        env["PYBUILD12_MIRROR"] = mirror
    return env


def install_apart(home: Path, *args: str, mirror: str | None = None,
                  extra_env: dict | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    """`pybuild12 install ARGS` into a home of its own (a build besides the session's
    shared one), its wall and CPU time recorded for the run's summary; its output goes
    to the test's stderr. Returns the run and its env."""
    env = apart_env(home, mirror=mirror, extra_env=extra_env)
    with record_build(" ".join(Path(a).name for a in args)):
        proc = subprocess.run([sys.executable, "-m", "pybuild12", "install", *args], env=env, capture_output=True,
                              text=True, timeout=3600)
    sys.stderr.write(proc.stderr)
    return proc, env


def compile_extension(python: Path, name: str, source: str, into: Path, *, dist: str | None = None) -> Path:
    """Compile C `source` into module `name` for `python` (its headers and EXT_SUFFIX) in
    `into`; with `dist`, also a dist-info there naming it, as pip would leave one."""
    info = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('include')); "
                           "print(sysconfig.get_config_var('EXT_SUFFIX'))"], capture_output=True, text=True,
                          check=True)
    include, suffix = info.stdout.split()
    c_file = into / f"{name}.c"
    c_file.write_text(source)
    target = into / f"{name}{suffix}"
    subprocess.run(["cc", "-shared", "-fPIC", f"-I{include}", str(c_file), "-o", str(target)], check=True)
    c_file.unlink()
    if dist:
        meta = into / f"{dist}-1.0.dist-info"
        meta.mkdir()
        (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (meta / "RECORD").write_text(f"{target.name},,\n{meta.name}/METADATA,,\n{meta.name}/RECORD,,\n")
    return target


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests_seen: list[str] = []

    def log_message(self, format, *args):
        QuietHandler.requests_seen.append(self.path)
