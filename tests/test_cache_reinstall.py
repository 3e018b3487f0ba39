"""Reinstalling from the local artifact cache: the verification made when the build was
packed is reused when every unpacked file matches the manifest; otherwise it runs again."""

from __future__ import annotations

import pytest

from fakecpython import make_recipe, make_tarball, needs_host_interpreters, passing_verifier
from pybuild12 import install as installer
from pybuild12.checks import verify as verifier
from pybuild12.install import InstallOptions
from pybuild12.store import manifest, registry

pytestmark = needs_host_interpreters


@pytest.fixture
def verifications(monkeypatch) -> list:
    calls = []

    def counting(python, **kwargs):
        calls.append(python)
        return passing_verifier(python, **kwargs)

    monkeypatch.setattr(verifier, "run", counting)
    return calls


@pytest.fixture
def fake(tmp_path):
    return make_recipe(tmp_path, *make_tarball(tmp_path / "src"))


def reinstall(fake, paths, **options):
    registry.remove(paths, "fake")
    return installer.install(str(fake), InstallOptions(**options), paths=paths)


def test_a_verified_artifact_is_not_verified_again(fake, paths, verifications):
    first = installer.install(str(fake), paths=paths)
    assert len(verifications) == 1
    again = reinstall(fake, paths)
    assert again.receipt.artifact["origin"] == "local" and len(verifications) == 1
    reused = again.receipt.verification
    assert "its files match the manifest" in reused["reused"]
    assert reused["checks"] == first.receipt.verification["checks"]
    assert "verify" not in again.receipt.timings and "check" in again.receipt.timings


def test_files_that_differ_from_the_manifest_are_verified_again(fake, paths, verifications, monkeypatch):
    installer.install(str(fake), paths=paths)
    real = manifest.compare

    def one_changed(prefix, name):
        found = real(prefix, name)
        return manifest.Differences(changed=("bin/python",), missing=found.missing, added=found.added,
                                    checked=found.checked)

    monkeypatch.setattr(manifest, "compare", one_changed)
    again = reinstall(fake, paths)
    assert len(verifications) == 2 and "reused" not in again.receipt.verification


def test_an_artifact_packed_without_verification_is_verified_on_reinstall(fake, paths, verifications):
    installer.install(str(fake), InstallOptions(verify=False), paths=paths)
    assert verifications == []
    again = reinstall(fake, paths)
    assert len(verifications) == 1 and "reused" not in again.receipt.verification


def test_a_verification_made_on_reinstall_is_kept_for_the_next(fake, paths, verifications):
    installer.install(str(fake), InstallOptions(verify=False), paths=paths)
    reinstall(fake, paths)
    assert len(verifications) == 1  # verified now, and noted beside the artifact
    third = reinstall(fake, paths)
    assert len(verifications) == 1 and "reused" in third.receipt.verification


def test_another_machines_verification_is_not_adopted(tmp_path, paths):
    from pybuild12.store import artifacts

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "x").write_text("x")
    origin = artifacts.Cache(tmp_path / "origin").put("k" * 64, tree, {"verification": {"ok": True}})
    paths.artifacts.mkdir(parents=True)
    copy = paths.artifacts / "copy.part"
    copy.write_bytes(origin.path.read_bytes())
    adopted = artifacts.Cache(paths.artifacts).adopt("k" * 64, copy, origin.meta)
    assert "verification" not in adopted.meta
    assert "verification" not in artifacts.Cache(paths.artifacts).get("k" * 64).meta


def test_only_artifacts_packed_here_skip_the_vetting_pass(tmp_path, paths, monkeypatch):
    from pybuild12.store import artifacts

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "x").write_text("x")
    vetted = []
    monkeypatch.setattr(artifacts.Cache, "_vet", lambda self, artifact, dest: vetted.append(artifact.key))
    own = artifacts.Cache(paths.artifacts).put("a" * 64, tree, {})
    assert own.meta["packed_here"] is True
    artifacts.Cache(paths.artifacts).unpack(own, tmp_path / "out1")
    assert vetted == [] and (tmp_path / "out1" / "x").read_text() == "x"
    foreign = artifacts.Artifact(own.key, own.path, artifacts.shareable(own.meta))
    assert "packed_here" not in foreign.meta
    artifacts.Cache(paths.artifacts).unpack(foreign, tmp_path / "out2")
    assert vetted == [own.key]
