"""Artifacts through a CI cache's directory: `cache export`, `cache import`, and an install
that refuses a tampered one (fake CPython, real install orchestration, real archives)."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from fakecpython import make_recipe, make_tarball, needs_host_interpreters, passing_verifier
from pybuild12 import install as installer
from pybuild12.checks import verify as verifier
from pybuild12.cli.app import app
from pybuild12.core.report import Reporter
from pybuild12.store import artifacts, signing, transfer

pytestmark = needs_host_interpreters


@pytest.fixture
def verifications(monkeypatch):
    ran = []

    def counting(python, **kwargs):
        ran.append(python)
        return passing_verifier(python, **kwargs)

    monkeypatch.setattr(verifier, "run", counting)
    return ran


@pytest.fixture
def exported(tmp_path, paths, verifications):
    """A build installed, verified and exported to a CI cache's directory; then the home
    wiped, as on a fresh runner (the same home path: builds are keyed by their prefix)."""
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha, build="optimizations = false\n")
    first = installer.install(str(recipe), paths=paths)
    ci_cache = tmp_path / "ci-cache"
    result = CliRunner().invoke(app, ["cache", "export", first.name, "--to", str(ci_cache)])
    assert result.exit_code == 0, result.output
    for directory in (paths.data, paths.cache):
        shutil.rmtree(directory)
    verifications.clear()
    return recipe, first, ci_cache


def imported(ci_cache, *args):
    result = CliRunner().invoke(app, ["cache", "import", str(ci_cache), *args])
    assert result.exit_code == 0, result.output
    return result


def test_an_exported_build_is_imported_and_installed_without_compiling_or_verifying_again(exported, paths,
                                                                                          verifications):
    recipe, first, ci_cache = exported
    assert imported(ci_cache).stdout.split() == [first.receipt.artifact["key"]]
    again = installer.install(str(recipe), paths=paths)
    assert again.receipt.artifact == {"key": first.receipt.artifact["key"], "from_cache": True, "origin": "imported"}
    assert "compile" not in again.receipt.timings and "manifest" in again.receipt.timings
    assert verifications == [] and "exported" in again.receipt.verification["reused"]


def test_an_archive_that_differs_from_its_sidecar_is_refused_at_import(exported, paths):
    recipe, first, ci_cache = exported
    archive = next(ci_cache.glob(f"*{artifacts.SUFFIX}"))
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    result = imported(ci_cache)
    assert "refused: the archive does not match the sha256 of its sidecar" in result.stderr
    assert "imported 0 artifact(s), refused 1" in result.stderr and result.stdout == ""
    again = installer.install(str(recipe), paths=paths)
    assert again.receipt.artifact["from_cache"] is False and "compile" in again.receipt.timings


class Warnings(Reporter):
    def __init__(self) -> None:
        self.said: list[str] = []

    def warn(self, text: str) -> None:
        self.said.append(text)


def test_a_file_changed_inside_a_consistent_archive_is_refused_by_its_manifest(exported, paths, tmp_path):
    recipe, first, ci_cache = exported
    key = first.receipt.artifact["key"]
    archive, sidecar = ci_cache / f"{key}{artifacts.SUFFIX}", ci_cache / f"{key}.json"
    tree = tmp_path / "tree"
    artifacts.Cache(ci_cache).unpack(artifacts.Artifact(key, archive, {}), tree)
    (tree / "bin" / first.receipt.python.rsplit("/", 1)[-1]).write_text("#!/bin/sh\necho planted\n")
    meta = json.loads(sidecar.read_text())
    meta["sha256"] = artifacts.pack(archive, tree, sorted(p.name for p in tree.iterdir()))
    sidecar.write_text(json.dumps(meta))
    assert imported(ci_cache).stdout.split() == [key]  # its sha256 matches: taken in, to be compared
    warnings = Warnings()
    again = installer.install(str(recipe), paths=paths, reporter=warnings)
    assert again.receipt.artifact["from_cache"] is False and "compile" in again.receipt.timings
    assert any(f"imported artifact {key[:12]} refused: 1 file(s) changed, 0 missing, 0 added" in w
               for w in warnings.said), warnings.said
    assert artifacts.Cache(paths.artifacts).get(key).meta.get(transfer.IMPORTED) is None  # the new build's own


def test_signed_imports_take_only_what_a_trusted_key_signed(exported, paths, tmp_path, monkeypatch):
    recipe, first, ci_cache = exported
    refused = imported(ci_cache, "--signed")
    assert "refused" in refused.stderr and "imported 0" in refused.stderr
    team = signing.generate("team-ci-1")
    key_file = tmp_path / "signing-key"
    signing.write_secret(key_file, team)
    monkeypatch.setenv("PYBUILD12_CACHE_SIGNING_KEY", str(key_file))
    monkeypatch.setenv("PYBUILD12_CACHE_TRUST", str(team.public))
    # export again from the imported build's cache entry, signed this time
    imported(ci_cache)
    installer.install(str(recipe), paths=paths)
    signed_dir = tmp_path / "signed"
    result = CliRunner().invoke(app, ["cache", "export", first.name, "--to", str(signed_dir), "--sign"])
    assert result.exit_code == 0 and "signed by team-ci-1" in result.stderr
    artifacts.Cache(paths.artifacts).clear()
    assert imported(signed_dir, "--signed").stdout.split() == [first.receipt.artifact["key"]]


def test_export_of_a_build_the_cache_lacks_says_how_to_pack_it(tmp_path, paths, verifications):
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha, build="optimizations = false\n")
    installer.install(str(recipe), installer.InstallOptions(no_cache=True), paths=paths)
    result = CliRunner().invoke(app, ["cache", "export", "fake", "--to", str(tmp_path / "out")])
    assert result.exit_code != 0 and "has no artifact of fake" in result.output and "--force" in result.output
    assert imported(tmp_path / "absent").stderr.startswith("nothing to import")
