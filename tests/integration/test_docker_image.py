"""The Dockerfile, built twice with podman: the same inputs must give the same image.

No registry is reachable, so the base image (Debian minbase) and the builder base
(the same with the Dockerfile's build dependencies, passed as BUILDER_IMAGE so that
no build installs them again) are made here with mmdebstrap, in a container store
of the tests' own (overlay, or vfs where overlay cannot be mounted). The CPython
tarball goes into the build context, and the two builds run at once, each with
`--no-cache` and SOURCE_DATE_EPOCH, each in a store of its own (as on two machines:
nothing the one build leaves can reach the other). They build 3.13.5 plain (`INSTALL_OPTS=--no-pgo`):
that proves the image reproducible at the lowest cost. CI builds the image once (its
time budget has no room for the second build); the pair is `heavy`, run by hand with
`scripts/test --heavy`. What PGO adds to reproducibility (a recorded profile) is proved
by the `heavy` test at the end, which builds the image twice with the session's real
build's profile. Then a container creates an own-GIL sub-interpreter and runs
`pybuild12 verify`. Needs root, podman, buildah and mmdebstrap (scripts/test installs
them); skipped without, failed without under CI.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from containers import Store, ca_bundle, mmdebstrap, need_container_tools, tracked_files
from realbuild import RECIPE, ROOT, TARBALL, sources_dir

pytestmark = pytest.mark.integration

EPOCH = "1700000000"
BASE = "localhost/pybuild12-test-base:bookworm"
BUILDER = "localhost/pybuild12-test-builder:bookworm"


def build_dependencies() -> list[str]:
    """The packages the Dockerfile's build stage installs with apt."""
    builder = re.split(r"^FROM ", (ROOT / "Dockerfile").read_text(), flags=re.M)[1].replace("\\\n", " ")
    match = re.search(r"apt-get install -y -qq --no-install-recommends\s+(.+?)\s+&&", builder)
    assert match, "the Dockerfile's build stage no longer installs its packages the way this test reads them"
    return match.group(1).split()


@pytest.fixture(scope="module")
def store(request, tmp_path_factory) -> Store:
    """A store holding the base image (Debian minbase, made with mmdebstrap) and the
    builder base (the same with the Dockerfile's build dependencies, so that no build
    installs them again), and with --heavy its twin; removed, with every image built in
    them, at the end."""
    need_container_tools()
    work = tmp_path_factory.mktemp("images")
    tars = {BASE: work / "base.tar", BUILDER: work / "builder.tar"}
    mmdebstrap({BASE: ("bookworm", tars[BASE], []),
                BUILDER: ("bookworm", tars[BUILDER], ["--include=" + ",".join(build_dependencies())])})
    made = Store.holding(work, tars)
    for tar in tars.values():
        tar.unlink()
    if request.config.getoption("--heavy"):
        # The twin gets the very same images (an import would stamp them with another time).
        made.twin = Store(work / f"{made.driver}-twin", made.driver)
        for image in (BASE, BUILDER):
            archive = work / "image.oci"
            saved = made.podman("save", "--format", "oci-archive", "-o", str(archive), image)
            assert saved.returncode == 0, saved.stderr
            loaded = made.twin.podman("load", "-q", "-i", str(archive))
            assert loaded.returncode == 0, loaded.stderr
            archive.unlink()
            image_id = made.podman("image", "inspect", "--format", "{{.Id}}", image).stdout.strip()
            tagged = made.twin.podman("tag", image_id, image)
            assert tagged.returncode == 0, \
                f"{image} did not load into the twin store as the same image: {tagged.stderr}"
    yield made
    if made.twin is not None:
        made.twin.remove()
    made.remove()


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


def built_twice(store: Store, context: Path, name: str, how: tuple[str, ...] = PLAIN) -> tuple[str, ...]:
    """Build the image twice, both builds at once (one's configure, pip and apt steps run
    while the other compiles), each from scratch in a store of its own (`store` and its
    twin); returns the two image IDs. Without a twin (no --heavy), once: one ID."""
    argv = ["build", "--isolation", "chroot", "--network", "host", "--no-cache",
            "--timestamp", EPOCH, "--build-arg", f"BASE_IMAGE={BASE}", "--build-arg", f"BUILDER_IMAGE={BUILDER}",
            "--build-arg", f"RECIPE={RECIPE}", "--build-arg", "MIRROR=mirror", *how,
            "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}", "--build-arg", "TESTS=support"]
    ca = ca_bundle()
    if ca is not None:
        argv += ["--secret", f"id=ca,src={ca}"]
    stores = (store, store.twin) if store.twin is not None else (store,)
    order = ("first", "second")[:len(stores)]
    tags = [f"localhost/pybuild12-test:{name}-{n}" for n in order]
    logs = [context.parent / f"{name}-{n}.log" for n in order]
    running = []
    try:
        for where, tag, log in zip(stores, tags, logs, strict=True):
            with open(log, "w") as out:
                running.append(subprocess.Popen(["podman", *where.podman_options, *argv, "-t", tag, str(context)],
                                                stdout=out, stderr=subprocess.STDOUT))
        for proc, log in zip(running, logs, strict=True):
            assert proc.wait(timeout=3600) == 0, f"podman build failed (log: {log}):\n{log.read_text()[-4000:]}"
    finally:
        for proc in running:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return tuple(where.podman("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()
                 for where, tag in zip(stores, tags, strict=True))


@pytest.fixture(scope="module")
def images(context, store) -> tuple[str, ...]:
    return built_twice(store, context, "plain")


def saved_image(store: Store, image: str, out: Path) -> tuple[dict, list[dict[str, str]]]:
    """The image's config and, layer by layer in order, each member's header and content digest."""
    saved = store.podman("save", "--format", "docker-dir", "-o", str(out), image)
    assert saved.returncode == 0, saved.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    config = json.loads((out / manifest["config"]["digest"].split(":")[-1]).read_text())
    layers = []
    for layer in manifest["layers"]:
        members = {}
        with tarfile.open(out / layer["digest"].split(":")[-1]) as tar:
            for m in tar:
                content = tar.extractfile(m).read() if m.isfile() else b""
                members[m.name] = (f"{m.type!r} {m.mode:o} {m.uid}:{m.gid} {m.size} {m.mtime} {m.linkname} "
                                   f"{m.pax_headers} {hashlib.sha256(content).hexdigest()[:16]}")
        layers.append(members)
    return config, layers


def differences(store: Store, first: str, second: str, workdir: Path) -> str:
    """What differs between two images (the first in `store`, the second in its twin): the
    config's fields, then for each layer the members whose header or content differ (for
    the failure message; saved under workdir)."""
    (config0, layers0), (config1, layers1) = (saved_image(where, image, workdir / f"image{n}")
                                              for n, (where, image) in enumerate(((store, first),
                                                                                  (store.twin, second))))
    lines = [f"config {key}: {config0.get(key)!r} != {config1.get(key)!r}"
             for key in sorted(set(config0) | set(config1)) if key != "rootfs" and config0.get(key) != config1.get(key)]
    if len(layers0) != len(layers1):
        lines.append(f"{len(layers0)} layers against {len(layers1)}")
    # a different count of layers is said above; compare the layers both images have
    for n, (one, other) in enumerate(zip(layers0, layers1, strict=False)):
        for name in sorted(set(one) | set(other)):
            if one.get(name) != other.get(name):
                lines.append(f"layer {n} {name}: {one.get(name)} != {other.get(name)}")
    (workdir / "differences.txt").write_text("\n".join(lines))
    return f"{len(lines)} differences (all in {workdir / 'differences.txt'}):\n" + "\n".join(lines[:60])


@pytest.mark.heavy
def test_two_builds_give_the_same_image(store, images, tmp_path):
    first, second = images
    assert first
    assert first == second, differences(store, first, second, tmp_path)


def test_the_image_runs_an_own_gil_subinterpreter(store, images):
    code = ("import _interpreters as i, sys; cfg = i.new_config('isolated'); assert cfg.gil == 'own';"
            "n = i.create(cfg); i.run_string(n, 'import _interpreters as j; c = j.get_current(); "
            "print(c[0] if isinstance(c, tuple) else c)');"
            "print('created', n, sys.version.split()[0]); i.destroy(n)")
    proc = store.run_in(images[0], "python3", "-c", code)
    assert proc.returncode == 0, proc.stderr
    sub_id, created = proc.stdout.splitlines()
    assert created.split() == ["created", sub_id, RECIPE] and int(sub_id) > 0


def test_the_image_has_pybuild12_and_verifies_its_build(store, images):
    proc = store.run_in(images[0], "pybuild12", "verify", RECIPE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "high-level API" in proc.stdout and "failed" not in proc.stdout


def test_the_image_holds_no_toolchain(store, images):
    proc = store.run_in(images[0], "sh", "-c",
                        "command -v gcc cc make; ls /opt/pybuild12; "
                        "python3 -c 'import test.support, test.support.interpreters'")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["bin", "data", "tool"]


@pytest.mark.heavy
def test_two_pgo_builds_with_a_recorded_profile_give_the_same_image(context, store, real_build, tmp_path):
    """PGO builds are reproducible too, given the profile (about 15 minutes)."""
    assert real_build.install.returncode == 0, "the session's real build failed"
    (context / "profiles").mkdir(exist_ok=True)
    profile = f"profiles/{RECIPE}.profile.tar.zst"
    exported = real_build.cli("profile", "export", RECIPE, str(context / profile))
    assert exported.returncode == 0, exported.stderr
    # The session's build is PGO without LTO (realbuild.SESSION_OPTS): its profile is for that.
    how = ("--build-arg", f"PGO_PROFILE={profile}", "--build-arg", "INSTALL_OPTS=--no-lto")
    first, second = built_twice(store, context, "pgo", how)
    assert first == second, differences(store, first, second, tmp_path)
