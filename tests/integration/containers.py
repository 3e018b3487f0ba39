"""Containers without a registry: Debian root file systems made with mmdebstrap from
this machine's own Debian archive, imported into a podman/buildah store of the tests'
own, run through buildah's chroot isolation. Used by the Docker image test and the
fresh-machine set-up test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from realbuild import ROOT


def need_container_tools() -> None:
    """Skip (fail under CI) without root, podman, buildah and mmdebstrap."""
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("podman", "buildah", "mmdebstrap")):
        message = "needs root, podman, buildah and mmdebstrap (scripts/test installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


class Store:
    """A container store of these tests' own, not the machine's: overlay where the kernel
    mounts it (as root here), else vfs, which copies the whole file system for each layer."""

    def __init__(self, directory: Path, driver: str) -> None:
        self.directory = directory
        self.driver = driver
        self.twin: Store | None = None  # a second store with the same base images, for a second build
        # The run root must be a short path (podman takes at most 50 characters there).
        self.runroot = Path(tempfile.mkdtemp(prefix="pb12-"))
        self.options = ["--root", str(directory / "root"), "--runroot", str(self.runroot),
                        "--storage-driver", driver]
        # podman's runtime directory (/run/libpod by default) is the store's own too: `system
        # reset` empties it, and a store in use beside this one must not lose it.
        self.podman_options = [*self.options, "--tmpdir", str(self.runroot / "libpod")]

    @classmethod
    def holding(cls, directory: Path, images: dict[str, Path]) -> Store:
        """A store (overlay if a container of the first image runs on it, else vfs) into
        which each root file system tarball of `images` (name -> tar) is imported."""
        first, *rest = images.items()
        tried = []
        for driver in ("overlay", "vfs"):
            made = cls(directory / driver, driver)
            imported = made.podman("import", str(first[1]), first[0])
            problem = imported.stderr.strip() if imported.returncode else made.why_not_run(first[0])
            if not problem:
                break
            tried.append(f"{driver}: {problem[-1500:]}")
            made.remove()
        else:
            pytest.fail("podman can run a container with neither overlay nor vfs storage here:\n" + "\n".join(tried))
        for image, tar in rest:
            imported = made.podman("import", str(tar), image)
            assert imported.returncode == 0, imported.stderr
        return made

    def podman(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["podman", *self.podman_options, *args], capture_output=True, text=True, **kwargs)

    def buildah(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["buildah", *self.options, *args], capture_output=True, text=True, **kwargs)

    def container(self, image: str) -> str:
        """A new working container of `image` (remove it with buildah rm)."""
        made = self.buildah("from", image)
        assert made.returncode == 0, made.stderr
        return made.stdout.strip().splitlines()[-1]

    def run_argv(self, container: str, *argv: str, user: str | None = None, env: dict[str, str] | None = None,
                 workdir: str | None = None, own_hosts: bool = False) -> list[str]:
        """The buildah command line that runs `argv` in `container` (host network, chroot
        isolation: crun cannot set rlimits or cgroups in every sandbox, this one included;
        with `own_hosts`, the container's /etc/hosts instead of the host's)."""
        options = ["--isolation", "chroot", "--network", "host", *(["--no-hosts"] if own_hosts else [])]
        if user:
            options += ["--user", user]
        for name, value in (env or {}).items():
            options += ["--env", f"{name}={value}"]
        if workdir:
            options += ["--workingdir", workdir]
        return ["buildah", *self.options, "run", *options, container, "--", *argv]

    def run_in(self, image: str, *argv: str, timeout: int = 300) -> subprocess.CompletedProcess:
        """Run a command in a new container of `image`, with the image's environment."""
        container = self.container(image)
        try:
            return subprocess.run(self.run_argv(container, *argv), capture_output=True, text=True, timeout=timeout)
        finally:
            self.buildah("rm", container)

    def why_not_run(self, image: str) -> str:
        """Why a container of `image` cannot run a command here ("" when it can)."""
        made = self.buildah("from", image)
        if made.returncode != 0:
            return f"buildah from: {made.stderr.strip()}"
        container = made.stdout.strip().splitlines()[-1]
        ran = self.buildah("run", "--isolation", "chroot", container, "--", "true")
        self.buildah("rm", container)
        return f"buildah run: {ran.stderr.strip()}" if ran.returncode else ""

    def remove(self) -> None:
        self.podman("system", "reset", "--force")
        shutil.rmtree(self.directory, ignore_errors=True)
        shutil.rmtree(self.runroot, ignore_errors=True)


def mmdebstrap(jobs: dict[str, tuple[str, Path, list[str]]]) -> None:
    """Make root file system tarballs with mmdebstrap (minbase), all at once: it waits on
    the network and dpkg more than on the CPU. `jobs`: name -> (suite, tar, options)."""
    uri = apt_archive_uri()
    making = {name: subprocess.Popen(["mmdebstrap", "--variant=minbase", "--quiet", *options, suite, str(tar), uri],
                                     stderr=subprocess.PIPE, text=True)
              for name, (suite, tar, options) in jobs.items()}
    for name, proc in making.items():
        _, err = proc.communicate(timeout=1800)
        assert proc.returncode == 0, f"mmdebstrap for {name}: {err[-2000:]}"


def apt_archive_uri() -> str:
    """The Debian archive this machine's apt uses (deb822 or one-line sources)."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line[0].isspace())
            if "deb" in fields.get("Types", "").split() and fields.get("URIs", "").strip():
                return fields["URIs"].split()[0]
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]:
        if path.exists():
            for line in path.read_text().splitlines():
                words = line.split()
                if words[:1] == ["deb"]:
                    return next(w for w in words[1:] if "://" in w)
    pytest.skip("no Debian archive in this machine's apt sources")


def ca_bundle() -> Path | None:
    """The CA bundle pip uses here (a TLS-inspecting network needs it inside the build too)."""
    configured = os.environ.get("PIP_CERT") or subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.cert"], capture_output=True, text=True).stdout.strip()
    for candidate in (configured, "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def tracked_files() -> list[str]:
    """The repository's files as a clone has them (git's list; without git, every file but caches)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout:
        return [f for f in listed.stdout.split("\0") if f and (ROOT / f).exists()]
    skip = {".git", ".test-sources", ".pytest_cache", "__pycache__", ".venv"}
    return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]
