"""The shared artifact cache: against pytest-httpserver, and against a real nginx with WebDAV.

Only artifacts whose sidecar a trusted key signed are installed from it; see signing.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import requests
from rich.console import Console

import nginxserver
from fakecpython import HOST_MINOR, make_recipe, make_tarball, needs_host_interpreters, passing_verifier
from faultserver import FaultServer
from pybuild12 import install as installer
from pybuild12.checks import verify as verifier
from pybuild12.cli.console import RichReporter
from pybuild12.core import http, paths as paths_module
from pybuild12.core.errors import FetchError, UsageError
from pybuild12.core.report import Reporter
from pybuild12.core.runlog import Run
from pybuild12.core.settings import Settings
from pybuild12.install import InstallOptions, flow, publish
from pybuild12.store import artifacts, key as keys, remote, signing

KEY = "e" * 64


@pytest.fixture
def packed(tmp_path):
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "python3.13").write_text("#!/bin/sh\n")
    return artifacts.Cache(tmp_path / "origin").put(KEY, tree, {"name": "3.13.5", "inputs": {"source": "f" * 64}})


@pytest.fixture
def ci():
    return signing.generate("team-ci-1")


def serve(httpserver, sidecar: dict, body: bytes) -> None:
    httpserver.expect_request(f"/c/{KEY}.json").respond_with_data(json.dumps(sidecar))
    httpserver.expect_request(f"/c/{KEY}.tar.zst").respond_with_data(body)


def fetch(httpserver, tmp_path, trusted) -> tuple[artifacts.Artifact | None, list[str], list[str]]:
    """Fetch KEY; the result, the warnings, and the paths the store was asked for."""
    warnings: list[str] = []
    got = remote.SharedCache(httpserver.url_for("/c"), trusted).fetch(KEY, artifacts.Cache(tmp_path / "local"),
                                                                       warnings.append)
    return got, warnings, [r.path for r, _ in httpserver.log]


def test_fetch_downloads_checks_and_adopts(httpserver, packed, ci, tmp_path):
    serve(httpserver, signing.sign(packed.meta, ci), packed.path.read_bytes())
    got, warnings, _ = fetch(httpserver, tmp_path, [ci.public])
    assert got is not None and warnings == []
    local = artifacts.Cache(tmp_path / "local").get(KEY)
    assert local is not None and local.meta["sha256"] == packed.meta["sha256"]
    assert local.meta["signatures"][0]["key"] == "team-ci-1"


def test_fetch_refuses_a_tampered_artifact(httpserver, packed, ci, tmp_path):
    serve(httpserver, signing.sign(packed.meta, ci), packed.path.read_bytes() + b"evil")
    got, warnings, _ = fetch(httpserver, tmp_path, [ci.public])
    assert got is None and "does not match its sha256" in warnings[0]
    local = artifacts.Cache(tmp_path / "local")
    assert list(local) == [] and list(local.directory.iterdir()) == []


def test_an_unsigned_sidecar_is_refused_before_the_artifact_is_downloaded(httpserver, packed, ci, tmp_path):
    serve(httpserver, packed.meta, packed.path.read_bytes())
    got, warnings, asked = fetch(httpserver, tmp_path, [ci.public])
    assert got is None and asked == [f"/c/{KEY}.json"]
    assert warnings == [f"shared cache: artifact {KEY[:12]} refused, it is unsigned; building from source"]


def test_a_sidecar_signed_by_an_unknown_key_is_refused_naming_it(httpserver, packed, ci, tmp_path):
    serve(httpserver, signing.sign(packed.meta, signing.generate("mallory-1")), packed.path.read_bytes())
    got, warnings, asked = fetch(httpserver, tmp_path, [ci.public])
    assert got is None and asked == [f"/c/{KEY}.json"]
    assert "signed only by keys not trusted here: mallory-1" in warnings[0]


def test_a_re_hashed_sidecar_keeps_a_signature_that_no_longer_verifies(httpserver, packed, ci, tmp_path):
    planted = packed.path.read_bytes() + b"evil"
    forged = {**signing.sign(packed.meta, ci), "sha256": hashlib.sha256(planted).hexdigest()}
    serve(httpserver, forged, planted)
    got, warnings, asked = fetch(httpserver, tmp_path, [ci.public])
    assert got is None and asked == [f"/c/{KEY}.json"]
    assert "the signature by trusted key team-ci-1 does not verify" in warnings[0]


def test_a_signed_sidecar_of_another_artifact_is_refused(httpserver, packed, ci, tmp_path):
    other = signing.sign({**packed.meta, "key": "d" * 64}, ci)
    serve(httpserver, other, packed.path.read_bytes())
    got, warnings, asked = fetch(httpserver, tmp_path, [ci.public])
    assert got is None and asked == [f"/c/{KEY}.json"] and "another artifact (dddddddddddd)" in warnings[0]


def test_without_a_trusted_key_the_store_is_not_asked(httpserver, packed, ci, tmp_path):
    serve(httpserver, signing.sign(packed.meta, ci), packed.path.read_bytes())
    got, warnings, asked = fetch(httpserver, tmp_path, [])
    assert got is None and asked == []
    assert len(warnings) == 1
    assert warnings[0].startswith("PYBUILD12_CACHE_URL is set but no key is trusted; building from source — see ")
    assert "pybuild12 cache trust" in warnings[0] and signing.TRUST_ENV in warnings[0]


def test_fetch_of_a_missing_key_is_a_quiet_miss(httpserver, ci, tmp_path):
    httpserver.expect_request(f"/c/{KEY}.json").respond_with_data("not found", status=404)
    got, warnings, _ = fetch(httpserver, tmp_path, [ci.public])
    assert got is None and warnings == []


def test_unreachable_store_warns_and_misses(tmp_path, ci, refused_url):
    warnings = []
    shared = remote.SharedCache(refused_url("/c"), [ci.public])
    shared.session.adapters["http://"].max_retries.total = 0
    assert shared.fetch(KEY, artifacts.Cache(tmp_path), warnings.append) is None
    assert "unreachable" in warnings[0]


# -- why the shared cache was not used -------------------------------------------------------------


def look_up(base: str, trusted, tmp_path, inputs=None) -> tuple[remote.Lookup, list[str]]:
    warnings: list[str] = []
    found = remote.SharedCache(base, trusted).lookup(KEY, artifacts.Cache(tmp_path / "local"), warnings.append,
                                                      inputs)
    return found, warnings


def test_a_forbidden_store_says_so_and_what_to_check(ci, tmp_path):
    with FaultServer({f"{KEY}.json": b"{}"}) as server:
        found, warnings = look_up(f"{server.url}/403", [ci.public], tmp_path)
    assert found.artifact is None and found.status == remote.DENIED and not found.ok
    assert str(found) == f"denied: 403 from {server.url}/403"
    assert len(warnings) == 1 and f"HTTP 403 from {server.url}/403/{KEY}.json" in warnings[0]
    assert "check the credentials in PYBUILD12_CACHE_URL" in warnings[0]
    assert server.hits[f"/403/{KEY}.json"] == 1  # a refusal is not asked again


@pytest.mark.timing  # a wall-clock bound: run alone (scripts/test), not beside a busy worker
def test_a_failing_store_costs_one_quick_retry_then_a_warning(ci, tmp_path):
    with FaultServer({f"{KEY}.json": b"{}"}) as server:
        start = time.monotonic()
        found, warnings = look_up(f"{server.url}/500", [ci.public], tmp_path)
        elapsed = time.monotonic() - start
    assert server.hits[f"/500/{KEY}.json"] == 2, server.hits  # the look-up and one retry, no more
    assert elapsed < 2.0, elapsed  # the retry is immediate: no back-off sleeps
    assert found.status == remote.UNREACHABLE and str(found) == f"unreachable: 500 from {server.url}/500"
    assert warnings == [f"shared cache not used: HTTP 500 from {server.url}/500/{KEY}.json (again on a retry); "
                        "building from source"]


def test_messages_show_the_store_without_its_credentials(ci, packed, httpserver, tmp_path, refused_url):
    assert http.shown("https://user:pass@cache.example/c") == "https://cache.example/c"
    assert http.shown("https://cache.example:8443/c") == "https://cache.example:8443/c"
    with FaultServer({f"{KEY}.json": b"{}"}) as server:
        for mode in ("403", "500"):
            found, warnings = look_up(server.url.replace("//", "//builder:s3cret@") + f"/{mode}", [ci.public],
                                      tmp_path)
            said = " ".join([str(found), *warnings])
            assert f"{server.url}/{mode}" in said and "s3cret" not in said and "builder" not in said, said
    found, warnings = look_up(refused_url().replace("//", "//builder:s3cret@") + "/c", [ci.public], tmp_path)
    assert found.status == remote.UNREACHABLE and warnings and "s3cret" not in " ".join([str(found), *warnings])

    httpserver.expect_request(f"/c/{KEY}.tar.zst", method="PUT").respond_with_data("no", status=403)
    with pytest.raises(FetchError) as info:
        remote.SharedCache(httpserver.url_for("/c").replace("//", "//builder:s3cret@")).push(packed, ci)
    assert f"failed: 403 FORBIDDEN from {httpserver.url_for('/c')}/{KEY}.tar.zst" in info.value.message
    assert "s3cret" not in info.value.message and "builder" not in info.value.message


@pytest.mark.parametrize("case, line", [("hit", "✓ shared cache: hit"), ("miss", "✓ shared cache: miss"),
                                        ("unsigned", "! shared cache: refused: unsigned"),
                                        ("500", "! shared cache: unreachable: 500 from http://localhost:")])
def test_the_look_up_line_says_what_it_came_to(case, line, httpserver, packed, ci, tmp_path, paths):
    if case == "hit":
        serve(httpserver, signing.sign(packed.meta, ci), packed.path.read_bytes())
    elif case == "unsigned":
        serve(httpserver, packed.meta, packed.path.read_bytes())
    else:
        status = 404 if case == "miss" else 500
        httpserver.expect_request(f"/c/{KEY}.json").respond_with_data("", status=status)
    shown = io.StringIO()
    run = Run(tmp_path / "run.log", RichReporter(Console(file=shown, width=200, highlight=False)))
    env = {remote.ENV: httpserver.url_for("/c"), signing.TRUST_ENV: str(ci.public)}
    hit, origin = flow._cached_build(artifacts.Cache(tmp_path / "local"), KEY, Settings.from_env(env), run, paths)
    assert (hit is not None, origin) == ((True, "shared") if case == "hit" else (False, None))
    end = shown.getvalue().splitlines()[-1]
    assert end.startswith(line) and "look up" not in end, shown.getvalue()
    outcome = end[2:].removeprefix("shared cache: ").rsplit(" ", 1)[0].strip()
    assert f"artifact {KEY}: {outcome}" in (tmp_path / "run.log").read_text()


def test_a_miss_under_another_prefix_names_it(httpserver, ci, tmp_path):
    """The index entry of the prefix-less inputs points at a signed sidecar of the same build elsewhere."""
    ours = {"source": "f" * 64, "prefix": "/home/me/pb/data/pythons/3.13.5",
            "configure_args": ["--prefix=/home/me/pb/data/pythons/3.13.5", "--enable-optimizations"]}
    theirs = {**ours, "prefix": "/opt/pb/data/pythons/3.13.5",
              "configure_args": ["--prefix=/opt/pb/data/pythons/3.13.5", "--enable-optimizations"]}
    other = keys.key_of(theirs)
    unrelated = "b" * 64  # listed, but its sidecar is of other inputs: never named
    httpserver.expect_request(f"/c/{KEY}.json").respond_with_data("", status=404)
    httpserver.expect_request(f"/c/by-inputs/{keys.prefixless_key(ours)}.json").respond_with_json(
        {"keys": [other, unrelated]})
    httpserver.expect_request(f"/c/{other}.json").respond_with_json(
        signing.sign({"inputs": theirs, "key": other, "sha256": "0" * 64}, ci))
    httpserver.expect_request(f"/c/{unrelated}.json").respond_with_json(
        signing.sign({"inputs": {**theirs, "source": "e" * 64}, "key": unrelated, "sha256": "0" * 64}, ci))
    found, warnings = look_up(httpserver.url_for("/c"), [ci.public], tmp_path, ours)
    assert found.status == remote.MISS and found.artifact is None
    assert str(found) == "miss: built for prefix /opt/pb/data/pythons/3.13.5 only"
    assert warnings == ["the shared cache has this build for prefix /opt/pb/data/pythons/3.13.5, not "
                        "/home/me/pb/data/pythons/3.13.5; builds are keyed by their install prefix: set "
                        "PYBUILD12_HOME to /opt/pb to use it"]

    mallory = signing.generate("mallory-1")  # the same claim signed by a key not trusted here: no hint
    found, warnings = look_up(httpserver.url_for("/c"), [mallory.public], tmp_path, ours)
    assert str(found) == "miss" and warnings == []


def test_the_hint_for_another_prefix_says_what_reaches_it():
    assert paths_module.home_of("/opt/pb/data/pythons/3.13.5") == (paths_module.Path("/opt/pb"), "3.13.5")
    assert paths_module.home_of("/home/ci/.local/share/pybuild12/pythons/3.13.5") is None
    assert remote.moved_hint("/opt/pb/data/pythons/ci-3.13", "/home/me/data/pythons/3.13.5").endswith(
        "set PYBUILD12_HOME to /opt/pb and --name ci-3.13 to use it")
    assert "prefix '/opt/my builds/data/pythons/x'," in remote.moved_hint("/opt/my builds/data/pythons/x", "/y")
    assert "\x1b" not in remote.moved_hint("/opt/\x1b[2J/data/pythons/x", "/y")  # no terminal escapes
    assert remote.moved_hint("/home/ci/.local/share/pybuild12/pythons/3.13.5", "/x/data/pythons/3.13.5").endswith(
        "install it where that prefix is (the data directory of the machine that pushed it)")


def test_push_puts_the_artifact_then_its_signed_sidecar_then_the_index(httpserver, packed, ci):
    index = f"/c/by-inputs/{keys.prefixless_key(packed.meta['inputs'])}.json"
    httpserver.expect_request(f"/c/{KEY}.tar.zst", method="PUT").respond_with_data("", status=201)
    httpserver.expect_request(f"/c/{KEY}.json", method="PUT").respond_with_data("", status=201)
    httpserver.expect_request(index, method="GET").respond_with_json({"keys": ["a" * 64, KEY, "not a key"]})
    httpserver.expect_request(index, method="PUT").respond_with_data("", status=201)
    remote.SharedCache(httpserver.url_for("/c")).push(packed, ci)
    order = [(r.method, r.path) for r, _ in httpserver.log]
    assert order == [("PUT", f"/c/{KEY}.tar.zst"), ("PUT", f"/c/{KEY}.json"), ("GET", index), ("PUT", index)]
    assert httpserver.log[0][0].get_data() == packed.path.read_bytes()
    sidecar = json.loads(httpserver.log[1][0].get_data())
    assert signing.check(sidecar, KEY, [ci.public]).ok and "signatures" not in packed.meta
    assert json.loads(httpserver.log[3][0].get_data()) == {"keys": ["a" * 64, KEY]}  # KEY once, newest last


def test_a_failed_push_is_a_fetch_error(httpserver, packed, ci):
    httpserver.expect_request(f"/c/{KEY}.tar.zst", method="PUT").respond_with_data("no", status=403)
    with pytest.raises(FetchError, match="uploading eeeeeeeeeeee to the shared cache .* failed: 403"):
        remote.SharedCache(httpserver.url_for("/c")).push(packed, ci)
    assert len(httpserver.log) == 1  # no sidecar for an artifact that is not there


def test_push_needs_the_url(tmp_path, paths):
    tarball, sha = make_tarball(tmp_path / "src")
    with pytest.raises(UsageError, match="PYBUILD12_CACHE_URL"):
        installer.install(str(make_recipe(tmp_path, tarball, sha)), InstallOptions(push=True), paths=paths,
                          settings=Settings.from_env({}))


def test_push_needs_a_signing_key_before_anything_is_built(tmp_path, paths):
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha)
    with pytest.raises(UsageError, match="--push needs a signing key") as info:
        installer.install(str(recipe), InstallOptions(push=True), paths=paths, settings=Settings.from_env({remote.ENV: "http://x.invalid/c"}))
    assert "pybuild12 cache keygen" in info.value.hint
    assert not paths.logs.exists() and not paths.pythons.exists()


# -- whole installs against a real nginx --------------------------------------------------------


class Warnings(Reporter):
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warn(self, text: str) -> None:
        self.warnings.append(text)


@pytest.fixture
def nginx(tmp_path):
    url, server = nginxserver.start(tmp_path / "nginx")
    yield url, tmp_path / "nginx"
    server.terminate()
    server.wait(10)


@pytest.fixture
def store_env(nginx, ci, tmp_path, monkeypatch):
    """The environment of a fleet machine: the store, the CI key trusted, the CI key to sign with."""
    monkeypatch.setattr(verifier, "run", passing_verifier)
    signing.write_secret(tmp_path / "ci.key", ci)
    return {"PATH": os.environ["PATH"], remote.ENV: nginx[0], signing.TRUST_ENV: str(ci.public),
            signing.SIGNING_KEY_ENV: str(tmp_path / "ci.key")}


def stored(nginx) -> list[str]:
    """The artifacts and sidecars in the store (not the index)."""
    directory = nginx[1] / "store" / "pybuild12"
    return sorted(p.name for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []


def indexed(nginx) -> dict[str, list[str]]:
    """The store's index: prefix-less key -> the keys of the artifacts built from those inputs."""
    directory = nginx[1] / "store" / "pybuild12" / remote.INDEX
    return {p.stem: json.loads(p.read_text())["keys"] for p in directory.iterdir()} if directory.is_dir() else {}


def sidecar_in_store(nginx, key: str) -> dict:
    return json.loads((nginx[1] / "store" / "pybuild12" / f"{key}.json").read_text())


@needs_host_interpreters
def test_a_fresh_machine_installs_from_a_real_nginx(tmp_path, paths, pybuild12_home, nginx, store_env, ci):
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha)
    first = installer.install(str(recipe), InstallOptions(push=True), paths=paths,
                              settings=Settings.from_env(store_env))
    key = first.receipt.artifact["key"]
    assert stored(nginx) == [f"{key}.json", f"{key}.tar.zst"]
    assert signing.check(sidecar_in_store(nginx, key), key, [ci.public]).signer == "team-ci-1"
    inputs = sidecar_in_store(nginx, key)["inputs"]
    assert indexed(nginx) == {keys.prefixless_key(inputs): [key]}

    shutil.rmtree(pybuild12_home)  # a fresh machine with the same PYBUILD12_HOME path
    again = installer.install(str(recipe), paths=paths,
                              settings=Settings.from_env({**store_env, "FAKE_FAIL": "configure"}))
    assert again.receipt.artifact == {"key": key, "from_cache": True, "origin": "shared"}
    assert "shared cache" in again.receipt.timings and "compile" not in again.receipt.timings
    puts = (nginx[1] / "access.log").read_text().count('"PUT ')
    assert installer.install(str(recipe), InstallOptions(push=True), paths=paths,
                             settings=Settings.from_env(store_env)).already_installed
    assert (nginx[1] / "access.log").read_text().count('"PUT ') == puts == 3  # the store has it already

    shutil.rmtree(pybuild12_home)
    (nginx[1] / "store" / "pybuild12" / f"{key}.tar.zst").write_bytes(b"tampered")
    rebuilt = installer.install(str(recipe), paths=paths, settings=Settings.from_env(store_env))
    assert rebuilt.receipt.artifact["from_cache"] is False and "compile" in rebuilt.receipt.timings


@needs_host_interpreters
def test_a_build_pushed_from_another_home_is_named_on_a_miss(tmp_path, paths, pybuild12_home, nginx, store_env):
    recipe = make_recipe(tmp_path, *make_tarball(tmp_path / "src"))
    pusher = Warnings()
    installer.install(str(recipe), InstallOptions(push=True), paths=paths, settings=Settings.from_env(store_env),
                      reporter=pusher)
    assert not [w for w in pusher.warnings if "install prefix" in w]  # the store had nothing: a plain miss

    elsewhere = Settings.from_env({"PYBUILD12_HOME": str(tmp_path / "elsewhere")}).paths
    reporter = Warnings()
    other = installer.install(str(recipe), paths=elsewhere, settings=Settings.from_env(store_env), reporter=reporter)
    assert other.receipt.artifact["from_cache"] is False and "compile" in other.receipt.timings
    assert [w for w in reporter.warnings if "install prefix" in w] == [
        f"the shared cache has this build for prefix {paths.prefix('fake')}, not {elsewhere.prefix('fake')}; "
        f"builds are keyed by their install prefix: set PYBUILD12_HOME to {pybuild12_home} to use it"]

    shutil.rmtree(pybuild12_home)  # that machine, fresh, at the home the hint names: it takes the pushed build
    hinted = installer.install(str(recipe), paths=Settings.from_env({"PYBUILD12_HOME": str(pybuild12_home)}).paths,
                               settings=Settings.from_env({**store_env, "FAKE_FAIL": "configure"}))
    assert hinted.receipt.artifact["origin"] == "shared"


@needs_host_interpreters
def test_a_planted_artifact_without_a_trusted_signature_is_refused(tmp_path, paths, pybuild12_home, nginx,
                                                                   store_env):
    """Whoever can PUT can plant a build with a matching sha256; it must not be installed."""
    recipe = make_recipe(tmp_path, *make_tarball(tmp_path / "src", mark="one"))
    evil = make_recipe(tmp_path / "evil", *make_tarball(tmp_path / "evil", mark="evil"))
    mine = installer.install(str(recipe), paths=paths, settings=Settings.from_env({"PATH": os.environ["PATH"]}))
    key = mine.receipt.artifact["key"]
    meta = artifacts.Cache(paths.artifacts).get(key).meta
    planted = installer.install(str(evil), InstallOptions(force=True), paths=paths,
                                settings=Settings.from_env({"PATH": os.environ["PATH"]}))
    planted = artifacts.Cache(paths.artifacts).get(planted.receipt.artifact["key"])
    for name, data in ((f"{key}.tar.zst", planted.path.read_bytes()),
                       (f"{key}.json", json.dumps({**meta, "sha256": planted.meta["sha256"]}).encode())):
        assert requests.put(f"{nginx[0]}/{name}", data=data, timeout=10).status_code in (201, 204)

    for sidecar, why in ((None, "it is unsigned"),
                         (signing.sign({**meta, "sha256": planted.meta["sha256"]}, signing.generate("mallory-1")),
                          "it is signed only by keys not trusted here: mallory-1")):
        if sidecar is not None:
            assert requests.put(f"{nginx[0]}/{key}.json", data=json.dumps(sidecar), timeout=10).ok
        shutil.rmtree(pybuild12_home)  # a fresh machine
        reporter = Warnings()
        got = installer.install(str(recipe), paths=paths, settings=Settings.from_env(store_env), reporter=reporter)
        assert got.receipt.artifact["from_cache"] is False and "compile" in got.receipt.timings
        assert (got.prefix / f"lib/python{HOST_MINOR}/build-mark.txt").read_text().strip() == "one"
        assert f"shared cache: artifact {key[:12]} refused, {why}; building from source" in reporter.warnings
    access = (nginx[1] / "access.log").read_text()
    assert f"GET /pybuild12/{key}.json" in access and f"GET /pybuild12/{key}.tar.zst" not in access


@needs_host_interpreters
def test_push_uploads_a_local_cache_hit(tmp_path, paths, pybuild12_home, nginx, store_env, ci):
    recipe = make_recipe(tmp_path, *make_tarball(tmp_path / "src"))
    # no --push: the local cache has it
    first = installer.install(str(recipe), paths=paths, settings=Settings.from_env(store_env))
    key = first.receipt.artifact["key"]
    assert stored(nginx) == []

    installed = installer.install(str(recipe), InstallOptions(push=True), paths=paths,
                                  settings=Settings.from_env(store_env))
    assert installed.already_installed and stored(nginx) == [f"{key}.json", f"{key}.tar.zst"]

    for name in stored(nginx):
        (nginx[1] / "store" / "pybuild12" / name).unlink()
    again = installer.install(str(recipe), InstallOptions(force=True, push=True), paths=paths,
                              settings=Settings.from_env({**store_env, "FAKE_FAIL": "configure"}))
    assert again.receipt.artifact == {"key": key, "from_cache": True, "origin": "local"}
    assert stored(nginx) == [f"{key}.json", f"{key}.tar.zst"]
    assert signing.check(sidecar_in_store(nginx, key), key, [ci.public]).ok

    shutil.rmtree(pybuild12_home)  # and a fresh machine takes it from there
    fresh = installer.install(str(recipe), paths=paths,
                              settings=Settings.from_env({**store_env, "FAKE_FAIL": "configure"}))
    assert fresh.receipt.artifact["origin"] == "shared"


@needs_host_interpreters
def test_push_of_an_installed_build_missing_from_the_local_cache_says_so(tmp_path, paths, nginx, store_env):
    recipe = make_recipe(tmp_path, *make_tarball(tmp_path / "src"))
    installer.install(str(recipe), InstallOptions(no_cache=True), paths=paths, settings=Settings.from_env(store_env))
    with pytest.raises(publish.PushFailed, match="not in the local artifact cache; fake IS installed") as info:
        installer.install(str(recipe), InstallOptions(push=True), paths=paths, settings=Settings.from_env(store_env))
    assert info.value.exit_code == 5 and f"pybuild12 install {recipe} --force --push" in info.value.hint
    assert stored(nginx) == []


@needs_host_interpreters
def test_a_failed_upload_leaves_the_build_installed_and_says_how_to_retry(tmp_path, paths, httpserver, nginx,
                                                                          store_env):
    httpserver.expect_request(re.compile("^/broken/"), method="PUT").respond_with_data("read-only", status=405)
    recipe = make_recipe(tmp_path, *make_tarball(tmp_path / "src"))
    broken = {**store_env, remote.ENV: httpserver.url_for("/broken")}
    with pytest.raises(publish.PushFailed) as info:
        installer.install(str(recipe), InstallOptions(push=True), paths=paths, settings=Settings.from_env(broken))
    failure = info.value
    assert failure.exit_code == FetchError.exit_code == 5
    assert "fake IS installed" in failure.message and "and in the local artifact cache" in failure.message
    assert f"pybuild12 install {recipe} --force --push" in failure.hint
    assert failure.outcome.python.is_file() and (paths.prefix("fake") / "pybuild12.json").is_file()
    key = failure.outcome.receipt.artifact["key"]

    retry = installer.install(str(recipe), InstallOptions(force=True, push=True), paths=paths,
                              settings=Settings.from_env({**store_env, "FAKE_FAIL": "configure"}))
    assert retry.receipt.artifact["origin"] == "local" and stored(nginx) == [f"{key}.json", f"{key}.tar.zst"]


@needs_host_interpreters
def test_cli_push_without_a_signing_key_is_refused_before_building(tmp_path, nginx):
    recipe = make_recipe(tmp_path, *make_tarball(tmp_path / "src"))
    env = {k: v for k, v in os.environ.items() if k != signing.SIGNING_KEY_ENV}
    out = subprocess.run([sys.executable, "-m", "pybuild12", "install", str(recipe), "--push"], capture_output=True,
                         text=True, env={**env, remote.ENV: nginx[0]}, timeout=60)
    assert out.returncode == UsageError.exit_code
    assert "--push needs a signing key" in out.stderr and "pybuild12 cache keygen" in out.stderr
    assert "fetch" not in out.stderr and stored(nginx) == []
