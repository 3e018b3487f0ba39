"""The Dockerfile, built with podman: from a shared store in CI, from source (twice:
the same inputs must give the same image) in the heavy tier.

No registry is reachable, so the base image (Debian minbase) and the builder base
(the same with the Dockerfile's build dependencies, passed as BUILDER_IMAGE so that
no build installs them again) are made here with mmdebstrap, in a container store
of the tests' own (overlay, or vfs where overlay cannot be mounted).

CI builds the image once, from the session build's artifact: the store the run serves
it from (`shared_store`) is passed as CACHE_URL and CACHE_TRUST, with the session
build's PYBUILD12_HOME and options, so the image installs that build, signed and
checked, without compiling (what a team does with what its CI built). What this
proves: the Dockerfile's install, verification, pruning and final stage, and that the
image runs an own-GIL sub-interpreter and verifies; not that a compile inside the
image works. That is the heavy tier's (`scripts/test --heavy`): the image built from
source twice at once, `--no-cache` with SOURCE_DATE_EPOCH, each in a store of its own
(as on two machines), giving the same ID, with the same checks on it; and the pair
built with the session build's recorded PGO profile. Needs root, podman, buildah and
mmdebstrap (scripts/test installs them); skipped without, failed without under CI.
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
from timeline import record_build

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


def build_images(store: Store, context: Path, name: str, how: tuple[str, ...] = PLAIN, *,
                 twice: bool = True) -> tuple[str, ...]:
    """Build the image (`twice`: also in the twin store, both builds at once: one's
    configure, pip and apt steps run while the other compiles), each from scratch in a
    store of its own; returns the image IDs."""
    argv = ["build", "--isolation", "chroot", "--network", "host", "--no-cache",
            "--timestamp", EPOCH, "--build-arg", f"BASE_IMAGE={BASE}", "--build-arg", f"BUILDER_IMAGE={BUILDER}",
            "--build-arg", f"RECIPE={RECIPE}", *how,
            "--build-arg", f"SOURCE_DATE_EPOCH={EPOCH}", "--build-arg", "TESTS=support"]
    ca = ca_bundle()
    if ca is not None:
        argv += ["--secret", f"id=ca,src={ca}"]
    stores = (store, store.twin) if twice else (store,)
    assert None not in stores, "a second build needs the twin store (--heavy)"
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
    """The image built from source twice (heavy: the twin store exists only with --heavy)."""
    with record_build("image from source, twice at once (3.13.5 --no-pgo)"):
        return build_images(store, context, "plain", (*PLAIN, "--build-arg", "MIRROR=mirror"))


@pytest.fixture(scope="module")
def artifact_image(context, store, shared_store) -> str:
    """The image built once from the session build's artifact in the run's shared store."""
    recipe, *options = shared_store.install_args
    how = ("--build-arg", f"PYBUILD12_HOME={shared_store.home}", "--build-arg", f"CACHE_URL={shared_store.url}",
           "--build-arg", f"CACHE_TRUST={shared_store.trust}", "--build-arg", f"INSTALL_OPTS={' '.join(options)}")
    assert recipe == RECIPE
    with record_build("image from the shared store"):
        return build_images(store, context, "artifact", how, twice=False)[0]


@pytest.fixture(params=["artifact", pytest.param("source", marks=pytest.mark.heavy)])
def image(request) -> tuple[str, str]:
    """An image and its PYBUILD12_HOME: from the shared store (CI), or from source (heavy)."""
    if request.param == "artifact":
        return request.getfixturevalue("artifact_image"), str(request.getfixturevalue("shared_store").home)
    return request.getfixturevalue("images")[0], "/opt/pybuild12"


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


def test_the_image_installed_the_session_builds_artifact_without_compiling(store, artifact_image, shared_store,
                                                                         real_build):
    receipt = store.run_in(artifact_image, "cat", f"{shared_store.home}/data/pythons/{RECIPE}/pybuild12.json")
    assert receipt.returncode == 0, receipt.stderr
    made = json.loads(receipt.stdout)
    # from_cache: unpacked, not compiled (the receipt has no timings: SOURCE_DATE_EPOCH makes it reproducible)
    assert made["artifact"] == {"key": real_build.receipt["artifact"]["key"], "from_cache": True, "origin": "shared"}
    assert made["verification"]["ok"] is True


def test_the_image_runs_an_own_gil_subinterpreter(store, image):
    code = ("import _interpreters as i, sys; cfg = i.new_config('isolated'); assert cfg.gil == 'own';"
            "n = i.create(cfg); i.run_string(n, 'import _interpreters as j; c = j.get_current(); "
            "print(c[0] if isinstance(c, tuple) else c)');"
            "print('created', n, sys.version.split()[0]); i.destroy(n)")
    proc = store.run_in(image[0], "python3", "-c", code)
    assert proc.returncode == 0, proc.stderr
    sub_id, created = proc.stdout.splitlines()
    assert created.split() == ["created", sub_id, RECIPE] and int(sub_id) > 0


def test_the_image_has_pybuild12_and_verifies_its_build(store, image):
    proc = store.run_in(image[0], "pybuild12", "verify", RECIPE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "high-level API" in proc.stdout and "failed" not in proc.stdout


def test_the_image_holds_no_toolchain(store, image):
    proc = store.run_in(image[0], "sh", "-c",
                        f"command -v gcc cc make; ls {image[1]}; "
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
    with record_build("image from source with the recorded PGO profile, twice at once"):
        first, second = build_images(store, context, "pgo", (*how, "--build-arg", "MIRROR=mirror"))
    assert first == second, differences(store, first, second, tmp_path)
