"""The Dockerfile, built twice with podman: the same inputs must give the same image.

The base image is made here with mmdebstrap (no registry is reachable), the
CPython tarball goes into the build context, and both builds run with
`--no-cache` and SOURCE_DATE_EPOCH. They build 3.13.5 plain (`INSTALL_OPTS=--no-pgo`):
that proves the image reproducible at the lowest cost (about a third of a PGO+LTO
build's time). What PGO adds to reproducibility (a recorded profile) is proved by
the `heavy` test at the end, which builds the image twice with the session's real
build's profile (run by hand: `scripts/test --heavy`).
Then a container creates an own-GIL sub-interpreter and runs `pybuild12 verify`.
Needs root, podman, buildah and mmdebstrap (scripts/test installs them); skipped
without.
"""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from realbuild import RECIPE, ROOT, TARBALL, sources_dir

pytestmark = pytest.mark.integration

EPOCH = "1700000000"
BASE = "localhost/pybuild12-test-base:bookworm"
PODMAN = ["podman", "--storage-driver", "vfs"]


def podman(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*PODMAN, *args], capture_output=True, text=True, **kwargs)


def run_in(image: str, *argv: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a command in a container of `image`, with the image's environment.

    Through buildah's chroot isolation, as the build's RUN steps: crun (`podman
    run`) cannot set rlimits or cgroups in every sandbox, this one included.
    """
    made = subprocess.run(["buildah", "--storage-driver", "vfs", "from", image], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    container = made.stdout.strip().splitlines()[-1]
    try:
        return subprocess.run(["buildah", "--storage-driver", "vfs", "run", "--isolation", "chroot", container, "--",
                               *argv], capture_output=True, text=True, timeout=timeout)
    finally:
        subprocess.run(["buildah", "--storage-driver", "vfs", "rm", container], capture_output=True)


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


@pytest.fixture(scope="module")
def base_image(tmp_path_factory) -> str:
    if os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("podman", "buildah", "mmdebstrap")):
        message = "needs root, podman, buildah and mmdebstrap (scripts/test installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    tar = tmp_path_factory.mktemp("base") / "bookworm.tar"
    made = subprocess.run(["mmdebstrap", "--variant=minbase", "--quiet", "bookworm", str(tar), apt_archive_uri()],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr[-2000:]
    imported = podman("import", str(tar), BASE)
    assert imported.returncode == 0, imported.stderr
    yield BASE
    podman("rmi", "-f", BASE)


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout:
        return [f for f in listed.stdout.split("\0") if f and (ROOT / f).exists()]
    skip = {".git", ".test-sources", ".pytest_cache", "__pycache__"}
    return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
            if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]


@pytest.fixture(scope="module")
def context(tmp_path_factory) -> Path:
    """The repository's files and the tarball under mirror/."""
    if not (sources_dir() / TARBALL).is_file():
        pytest.fail(f"{sources_dir() / TARBALL} is missing: run scripts/fetch-test-sources")
    ctx = tmp_path_factory.mktemp("context")
    for rel in tracked_files():
        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, ctx / rel)
    (ctx / "mirror").mkdir()
    shutil.copy(sources_dir() / TARBALL, ctx / "mirror" / TARBALL)
    return ctx


PLAIN = ("--build-arg", "INSTALL_OPTS=--no-pgo")


def build(context: Path, base: str, tag: str, how: tuple[str, ...] = PLAIN) -> str:
    argv = ["build", "--isolation", "chroot", "--network", "host", "--no-cache", "--timestamp", EPOCH,
            "--build-arg", f"BASE_IMAGE={base}", "--build-arg", f"RECIPE={RECIPE}", "--build-arg", "MIRROR=mirror",
            *how, "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}", "--build-arg", "TESTS=support", "-t", tag]
    ca = ca_bundle()
    if ca is not None:
        argv += ["--secret", f"id=ca,src={ca}"]
    proc = podman(*argv, str(context), timeout=3600)
    log = context.parent / f"{tag.replace(':', '-').replace('/', '-')}.log"
    log.write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, f"podman build failed (log: {log}):\n{(proc.stdout + proc.stderr)[-4000:]}"
    return podman("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()


def dangling() -> set[str]:
    listed = podman("images", "--quiet", "--no-trunc", "--filter", "dangling=true")
    return set(listed.stdout.split())


def built_twice(context: Path, base: str, name: str, how: tuple[str, ...] = PLAIN):
    before = dangling()
    tags = [f"localhost/pybuild12-test:{name}-{n}" for n in ("first", "second")]
    try:
        yield tuple(build(context, base, tag, how) for tag in tags)
    finally:
        # The builder stages stay behind as untagged images (with vfs storage, a full
        # copy of the file system each): remove those of these builds, and only those.
        podman("rmi", "-f", *tags)
        left = dangling() - before
        if left:
            podman("rmi", "-f", *sorted(left))


@pytest.fixture(scope="module")
def images(context, base_image):
    yield from built_twice(context, base_image, "plain")


def differences(first: str, second: str, workdir: Path) -> str:
    """Which layers, files and tar headers differ between two images (for the failure message)."""
    listings = []
    for n, image in enumerate((first, second)):
        out = workdir / f"image{n}"
        saved = podman("save", "--format", "docker-dir", "-o", str(out), image)
        assert saved.returncode == 0, saved.stderr
        lines = []
        for layer in sorted(out.iterdir()):
            if layer.stat().st_size > 1024 and tarfile.is_tarfile(layer):
                with tarfile.open(layer) as tar:
                    lines += [f"{m.name} {m.type!r} {m.mode:o} {m.uid}:{m.gid} {m.size} {m.mtime} {m.linkname} "
                              f"{m.pax_headers}" for m in tar]
        listings.append(lines)
    (workdir / "listing0.txt").write_text("\n".join(listings[0]))
    (workdir / "listing1.txt").write_text("\n".join(listings[1]))
    diff = list(difflib.unified_diff(listings[0], listings[1], lineterm="", n=0))
    return f"{len(diff)} lines of tar headers differ (listings in {workdir}):\n" + "\n".join(diff[:60])


def test_two_builds_give_the_same_image(images, tmp_path):
    first, second = images
    assert first
    assert first == second, differences(first, second, tmp_path)


def test_the_image_runs_an_own_gil_subinterpreter(images):
    code = ("import _interpreters as i, sys; cfg = i.new_config('isolated'); assert cfg.gil == 'own';"
            "n = i.create(cfg); i.run_string(n, 'import _interpreters as j; c = j.get_current(); print(c[0] if isinstance(c, tuple) else c)');"
            "print('created', n, sys.version.split()[0]); i.destroy(n)")
    proc = run_in(images[0], "python3", "-c", code)
    assert proc.returncode == 0, proc.stderr
    sub_id, created = proc.stdout.splitlines()
    assert created.split() == ["created", sub_id, RECIPE] and int(sub_id) > 0


def test_the_image_has_pybuild12_and_verifies_its_build(images):
    proc = run_in(images[0], "pybuild12", "verify", RECIPE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "high-level API" in proc.stdout and "failed" not in proc.stdout


def test_the_image_holds_no_toolchain(images):
    proc = run_in(images[0], "sh", "-c",
                  "command -v gcc cc make; ls /opt/pybuild12; python3 -c 'import test.support, test.support.interpreters'")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["bin", "data", "tool"]


@pytest.mark.heavy
def test_two_pgo_builds_with_a_recorded_profile_give_the_same_image(context, base_image, real_build, tmp_path):
    """PGO builds are reproducible too, given the profile (about 15 minutes)."""
    assert real_build.install.returncode == 0, "the session's real build failed"
    (context / "profiles").mkdir(exist_ok=True)
    profile = f"profiles/{RECIPE}.profile.tar.zst"
    exported = real_build.cli("profile", "export", RECIPE, str(context / profile))
    assert exported.returncode == 0, exported.stderr
    # The session's build is PGO without LTO (realbuild.SESSION_OPTS): its profile is for that.
    how = ("--build-arg", f"PGO_PROFILE={profile}", "--build-arg", "INSTALL_OPTS=--no-lto")
    for first, second in built_twice(context, base_image, "pgo", how):
        assert first == second, differences(first, second, tmp_path)
