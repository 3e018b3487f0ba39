"""The shared artifact cache: against pytest-httpserver, and against a real nginx with WebDAV."""

from __future__ import annotations

import json
import shutil
import socket

import pytest

import nginxserver
from fakecpython import make_recipe, make_tarball, needs_host_interpreters, passing_verifier
from pybuild12 import artifacts, remote
from pybuild12 import install as installer
from pybuild12.errors import RecipeError
from pybuild12.install import InstallOptions

KEY = "e" * 64


@pytest.fixture
def packed(tmp_path):
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "python3.13").write_text("#!/bin/sh\n")
    return artifacts.Cache(tmp_path / "origin").put(KEY, tree, {"name": "3.13.5"})


def test_fetch_downloads_checks_and_adopts(httpserver, packed, tmp_path):
    httpserver.expect_request(f"/c/{KEY}.json").respond_with_data(json.dumps(packed.meta))
    httpserver.expect_request(f"/c/{KEY}.tar.zst").respond_with_data(packed.path.read_bytes())
    local = artifacts.Cache(tmp_path / "local")
    warnings = []
    got = remote.SharedCache(httpserver.url_for("/c")).fetch(KEY, local, warnings.append)
    assert got is not None and warnings == []
    assert local.get(KEY) is not None and local.get(KEY).meta["sha256"] == packed.meta["sha256"]


def test_fetch_refuses_a_tampered_artifact(httpserver, packed, tmp_path):
    httpserver.expect_request(f"/c/{KEY}.json").respond_with_data(json.dumps(packed.meta))
    httpserver.expect_request(f"/c/{KEY}.tar.zst").respond_with_data(packed.path.read_bytes() + b"evil")
    local = artifacts.Cache(tmp_path / "local")
    warnings = []
    assert remote.SharedCache(httpserver.url_for("/c")).fetch(KEY, local, warnings.append) is None
    assert "does not match its sha256" in warnings[0]
    assert list(local) == [] and [p for p in local.directory.iterdir()] == []


def test_fetch_of_a_missing_key_is_a_quiet_miss(httpserver, tmp_path):
    warnings = []
    assert remote.SharedCache(httpserver.url_for("/c")).fetch(KEY, artifacts.Cache(tmp_path), warnings.append) is None
    assert warnings == []


def test_unreachable_store_warns_and_misses(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    warnings = []
    shared = remote.SharedCache(f"http://127.0.0.1:{port}/c")
    shared.session.adapters["http://"].max_retries.total = 0
    assert shared.fetch(KEY, artifacts.Cache(tmp_path), warnings.append) is None
    assert "unreachable" in warnings[0]


def test_push_puts_the_artifact_then_its_sidecar(httpserver, packed):
    httpserver.expect_request(f"/c/{KEY}.tar.zst", method="PUT").respond_with_data("", status=201)
    httpserver.expect_request(f"/c/{KEY}.json", method="PUT").respond_with_data("", status=201)
    remote.SharedCache(httpserver.url_for("/c")).push(packed)
    order = [(r.method, r.path) for r, _ in httpserver.log]
    assert order == [("PUT", f"/c/{KEY}.tar.zst"), ("PUT", f"/c/{KEY}.json")]
    assert httpserver.log[0][0].get_data() == packed.path.read_bytes()


def test_push_needs_the_url(tmp_path, paths):
    tarball, sha = make_tarball(tmp_path / "src")
    with pytest.raises(RecipeError, match="PYBUILD12_CACHE_URL"):
        installer.install(str(make_recipe(tmp_path, tarball, sha)), InstallOptions(push=True), paths=paths, env={})


@needs_host_interpreters
def test_a_fresh_machine_installs_from_a_real_nginx(tmp_path, paths, pybuild12_home, monkeypatch):
    monkeypatch.setattr(installer.verifier, "run", passing_verifier)
    url, server = nginxserver.start(tmp_path / "nginx")
    try:
        tarball, sha = make_tarball(tmp_path / "src")
        recipe = make_recipe(tmp_path, tarball, sha)
        env = {"PATH": __import__("os").environ["PATH"], remote.ENV: url}
        first = installer.install(str(recipe), InstallOptions(push=True), paths=paths, env=env)
        key = first.receipt["artifact"]["key"]
        stored = sorted(p.name for p in (tmp_path / "nginx" / "store" / "pybuild12").iterdir())
        assert stored == [f"{key}.json", f"{key}.tar.zst"]

        shutil.rmtree(pybuild12_home)  # a fresh machine with the same PYBUILD12_HOME path
        again = installer.install(str(recipe), paths=paths, env={**env, "FAKE_FAIL": "configure"})
        assert again.receipt["artifact"] == {"key": key, "from_cache": True, "origin": "shared"}
        assert "shared cache" in again.receipt["timings"] and "compile" not in again.receipt["timings"]

        shutil.rmtree(pybuild12_home)
        (tmp_path / "nginx" / "store" / "pybuild12" / f"{key}.tar.zst").write_bytes(b"tampered")
        rebuilt = installer.install(str(recipe), paths=paths, env=env)
        assert rebuilt.receipt["artifact"]["from_cache"] is False and "compile" in rebuilt.receipt["timings"]
    finally:
        server.terminate()
        server.wait(10)
