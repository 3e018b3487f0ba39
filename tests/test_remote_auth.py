"""A shared cache that wants credentials: the token of PYBUILD12_CACHE_TOKEN, a netrc login,
USER:PASSWORD in the URL; against a real nginx asking for them (tests/nginxserver.py).

A refusal costs the look-up (the install builds from source, warned in one line) or the
push (exit 5, the build installed); the messages say which credentials the store refused
and never show them.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console

import nginxserver
from fakecpython import HOST_MINOR, make_recipe, make_tarball, needs_host_interpreters
from pybuild12.cli.console import RichReporter
from pybuild12.core import http
from pybuild12.core.errors import FetchError
from pybuild12.core.runlog import Run
from pybuild12.core.settings import CACHE_TOKEN_ENV, Settings
from pybuild12.install import flow
from pybuild12.store import artifacts, remote, signing

KEY = "e" * 64
TOKEN = "pb12-right-T0KEN"
WRONG_TOKEN = "pb12-wrong-T0KEN"
PASSWORD = "netrc-Pa55word"
WRONG_PASSWORD = "netrc-Wr0ng"
URL_USER, URL_PASSWORD = "urluser", "url-Pa55word"
SECRETS = (TOKEN, WRONG_TOKEN, PASSWORD, WRONG_PASSWORD, URL_PASSWORD)


@pytest.fixture(autouse=True)
def netrc(tmp_path, monkeypatch):
    """The netrc file requests reads: the test's own (absent until written), never the user's
    ~/.netrc; and no token from the environment the tests run in."""
    path = tmp_path / "netrc"
    monkeypatch.setenv("NETRC", str(path))
    monkeypatch.delenv(CACHE_TOKEN_ENV, raising=False)
    return path


def login(netrc, password: str, user: str = "builder") -> None:
    netrc.write_text(f"machine 127.0.0.1\n  login {user}\n  password {password}\n")


@pytest.fixture
def store(tmp_path):
    """start(auth, ...) -> (URL, nginx's directory): nginx wanting credentials (see nginxserver.start)."""
    started = []

    def start(auth: str | None, **kwargs) -> tuple[str, object]:
        root = tmp_path / f"nginx-{len(started)}"
        url, proc = nginxserver.start(root, auth, **kwargs)
        started.append(proc)
        return url, root

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def packed(tmp_path):
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "python3.13").write_text("#!/bin/sh\n")
    return artifacts.Cache(tmp_path / "origin").put(KEY, tree, {"name": "3.13.5", "inputs": {"source": "f" * 64}})


@pytest.fixture
def ci():
    return signing.generate("team-ci-1")


def look_up(url: str, ci, tmp_path, token: str | None = None) -> tuple[remote.Lookup, list[str]]:
    """Look KEY up, into a local cache of its own; what it came to and the warnings."""
    warnings: list[str] = []
    local = artifacts.Cache(Path(tempfile.mkdtemp(dir=tmp_path, prefix="local-")))
    found = remote.SharedCache(url, [ci.public], token=token).lookup(KEY, local, warnings.append)
    return found, warnings


def stored(root) -> list[str]:
    directory = root / "store" / "pybuild12"
    return sorted(p.name for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []


def served(root, path: str, count: int = 0) -> list[str]:
    """The status codes nginx answered GETs of `path` with, in order, once there are `count`:
    nginx writes the log line after sending the answer, so it may come a moment later."""
    deadline = time.monotonic() + 5
    while True:
        codes = [line.split('" ')[1].split()[0] for line in (root / "access.log").read_text().splitlines()
                 if f'"GET /pybuild12/{path} ' in line]
        if len(codes) >= count or time.monotonic() > deadline:
            return codes
        time.sleep(0.02)


def with_login(url: str, user: str, password: str) -> str:
    return url.replace("http://", f"http://{user}:{password}@")


def assert_no_secret(*texts: str) -> None:
    said = "\n".join(texts)
    for secret in (*SECRETS, URL_USER):
        assert secret not in said, f"{secret!r} shown in: {said}"


# -- the token ---------------------------------------------------------------------------------


def test_the_token_setting():
    assert Settings.from_env({CACHE_TOKEN_ENV: f"  {TOKEN}\n"}).cache_token == TOKEN  # $(cat token-file)
    assert Settings.from_env({CACHE_TOKEN_ENV: ""}).cache_token is None
    assert Settings.from_env({}).cache_token is None
    shared = flow._store(Settings.from_env({remote.ENV: "https://cache.example/c", CACHE_TOKEN_ENV: TOKEN}))
    assert shared.token == TOKEN and shared.session.auth is shared.auth is not None
    assert TOKEN not in repr(shared) and TOKEN not in repr(shared.auth)
    assert flow._store(Settings.from_env({remote.ENV: "https://cache.example/c"})).auth is None  # netrc's turn


def test_the_right_token_reads_and_pushes(store, packed, ci, tmp_path):
    url, root = store("bearer", token=TOKEN)
    remote.SharedCache(url, token=TOKEN).push(packed, ci)
    assert stored(root) == [f"{KEY}.json", f"{KEY}.tar.zst"]
    assert (root / "store" / "pybuild12" / remote.INDEX).is_dir()  # the index entry went up too

    found, warnings = look_up(url, ci, tmp_path, TOKEN)
    assert found.status == remote.HIT and warnings == []
    assert found.artifact.meta["sha256"] == packed.meta["sha256"]
    assert served(root, f"{KEY}.tar.zst", 1) == ["200"]  # the download carried the token too

    found, _ = look_up(url, ci, tmp_path)  # the store does want it
    assert found.status == remote.DENIED


@pytest.mark.parametrize("token", [WRONG_TOKEN, None], ids=["wrong", "missing"])
def test_a_wrong_or_missing_token_is_denied_in_one_line(token, store, packed, ci, tmp_path):
    url, root = store("bearer", token=TOKEN)
    remote.SharedCache(url, token=TOKEN).push(packed, ci)
    found, warnings = look_up(url, ci, tmp_path, token)  # no exception: the install builds from source
    assert found.status == remote.DENIED and found.artifact is None and not found.ok
    assert str(found) == f"denied: 401 from {url}"
    if token:
        said = f"with the token in {CACHE_TOKEN_ENV}; check that the token is valid and may read the store"
    else:
        said = (f"without credentials; set {CACHE_TOKEN_ENV}, add 127.0.0.1 to ~/.netrc, or check the credentials "
                f"in {remote.ENV} (https://USER:PASSWORD@HOST/...)")
    assert warnings == [f"shared cache not used: HTTP 401 from {url}/{KEY}.json {said}; building from source"]
    assert served(root, f"{KEY}.json", 1) == ["401"] and served(root, f"{KEY}.tar.zst") == []
    assert_no_secret(str(found), *warnings)


# -- a netrc login, and a login in the URL -----------------------------------------------------


def test_a_netrc_login_reads_and_pushes(store, packed, ci, netrc, tmp_path):
    url, root = store("basic", password=PASSWORD)
    login(netrc, PASSWORD)
    shared = remote.SharedCache(url)
    assert shared.auth is None and shared.credentials() == "the netrc login for 127.0.0.1 (~/.netrc or $NETRC)"
    shared.push(packed, ci)
    assert stored(root) == [f"{KEY}.json", f"{KEY}.tar.zst"]

    found, warnings = look_up(url, ci, tmp_path)
    assert found.status == remote.HIT and warnings == [] and served(root, f"{KEY}.tar.zst", 1) == ["200"]

    netrc.unlink()  # and without it the store says no
    found, warnings = look_up(url, ci, tmp_path)
    assert found.status == remote.DENIED and "without credentials" in warnings[0]


def test_a_wrong_netrc_password_is_denied(store, packed, ci, netrc, tmp_path):
    url, root = store("basic", password=PASSWORD)
    remote.SharedCache(with_login(url, "builder", PASSWORD)).push(packed, ci)
    login(netrc, WRONG_PASSWORD)
    found, warnings = look_up(url, ci, tmp_path)
    assert found.status == remote.DENIED and str(found) == f"denied: 401 from {url}"
    assert warnings == [f"shared cache not used: HTTP 401 from {url}/{KEY}.json with the netrc login for 127.0.0.1 "
                        "(~/.netrc or $NETRC); check that login's password and that it may read the store; "
                        "building from source"]
    assert_no_secret(str(found), *warnings)


def test_a_login_in_the_url_works_and_wins_over_netrc(store, packed, ci, netrc, tmp_path):
    url, root = store("basic", user=URL_USER, password=URL_PASSWORD)
    login(netrc, WRONG_PASSWORD, user=URL_USER)  # the URL's own login is the one used
    remote.SharedCache(with_login(url, URL_USER, URL_PASSWORD)).push(packed, ci)
    assert stored(root) == [f"{KEY}.json", f"{KEY}.tar.zst"]
    found, warnings = look_up(with_login(url, URL_USER, URL_PASSWORD), ci, tmp_path)
    assert found.status == remote.HIT and warnings == []

    found, warnings = look_up(with_login(url, URL_USER, "not-it"), ci, tmp_path)
    assert found.status == remote.DENIED
    assert f"with the USER:PASSWORD in {remote.ENV}; check them and that they may read the store" in warnings[0]
    assert_no_secret(str(found), *warnings)


# -- pushes the store refuses ------------------------------------------------------------------


@pytest.mark.parametrize("given, refused", [
    ("token", f"the store refused the token in {CACHE_TOKEN_ENV}"),
    ("netrc", "the store refused the netrc login for 127.0.0.1 (~/.netrc or $NETRC)"),
    ("url", f"the store refused the USER:PASSWORD in {remote.ENV}"),
    ("nothing", "the store wants credentials to write, none were sent"),
])
def test_a_push_with_a_wrong_credential_says_which_was_refused(given, refused, store, packed, ci, netrc):
    url, root = store("bearer" if given in ("token", "nothing") else "basic", token=TOKEN, password=PASSWORD)
    if given == "netrc":
        login(netrc, WRONG_PASSWORD)
    base = with_login(url, URL_USER, URL_PASSWORD) if given == "url" else url
    with pytest.raises(FetchError) as info:
        remote.SharedCache(base, token=WRONG_TOKEN if given == "token" else None).push(packed, ci)
    failure = info.value
    assert failure.message == (f"uploading {KEY[:12]} to the shared cache {url} failed: 401 Unauthorized from "
                               f"{url}/{KEY}.tar.zst: {refused}")
    assert "\n" not in failure.message and failure.exit_code == 5
    if given == "nothing":
        assert failure.hint.startswith(f"set {CACHE_TOKEN_ENV}, add 127.0.0.1 to ~/.netrc, or ")
    else:
        assert failure.hint.endswith("may write to the store")
    assert stored(root) == []  # no sidecar for an artifact that is not there
    assert_no_secret(failure.message, failure.hint, str(failure))


@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_a_store_anyone_may_read_wants_credentials_only_to_push(auth, store, packed, ci, netrc, tmp_path):
    url, root = store(auth, token=TOKEN, password=PASSWORD, open_reads=True)
    with pytest.raises(FetchError, match="the store wants credentials to write, none were sent"):
        remote.SharedCache(url).push(packed, ci)
    if auth == "basic":
        login(netrc, PASSWORD)
    remote.SharedCache(url, token=TOKEN if auth == "bearer" else None).push(packed, ci)
    netrc.unlink(missing_ok=True)
    found, warnings = look_up(url, ci, tmp_path)  # read without any credentials
    assert found.status == remote.HIT and warnings == []


# -- never shown -------------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["token", "netrc", "url"])
def test_secrets_are_never_shown_nor_logged(given, store, packed, ci, netrc, tmp_path, paths):
    """A failing look-up through the install flow (its console and its log) and a failing push."""
    url, root = store("bearer" if given == "token" else "basic", token=TOKEN, password=PASSWORD)
    pusher = remote.SharedCache(url, token=TOKEN) if given == "token" else \
        remote.SharedCache(with_login(url, "builder", PASSWORD))
    pusher.push(packed, ci)  # the store has the artifact: what the look-up meets is the refusal
    env = {remote.ENV: url, signing.TRUST_ENV: str(ci.public)}
    if given == "token":
        env[CACHE_TOKEN_ENV] = WRONG_TOKEN
    elif given == "netrc":
        login(netrc, WRONG_PASSWORD)
    else:
        env[remote.ENV] = with_login(url, URL_USER, URL_PASSWORD)
    shown = io.StringIO()
    run = Run(tmp_path / "run.log", RichReporter(Console(file=shown, width=200, highlight=False)))
    settings = Settings.from_env(env)
    hit, origin = flow._cached_build(artifacts.Cache(tmp_path / "local"), KEY, settings, run, paths)
    assert hit is None and origin is None
    console, log = shown.getvalue(), (tmp_path / "run.log").read_text()
    assert "HTTP 401" in console and "denied: 401" in console and f"artifact {KEY}: denied: 401" in log
    with pytest.raises(FetchError) as info:
        flow._store(settings).push(packed, ci)
    assert "the store refused" in info.value.message
    assert_no_secret(console, log, info.value.message, info.value.hint, str(info.value), repr(flow._store(settings)))


def test_an_error_that_quotes_the_url_loses_its_login(packed, ci):
    bad = f"http://{URL_USER}:{URL_PASSWORD}@127.0.0.1:99999/c"  # requests' InvalidURL quotes it whole
    with pytest.raises(FetchError) as info:
        remote.SharedCache(bad).push(packed, ci)
    assert info.value.message == ("uploading eeeeeeeeeeee to the shared cache http://127.0.0.1:99999/c failed: "
                                  f"Failed to parse: http://127.0.0.1:99999/c/{KEY}.tar.zst")
    assert_no_secret(info.value.message, info.value.hint)


# -- redirects ---------------------------------------------------------------------------------


class Recorder:
    """A loopback server on 127.0.0.1 (another host than pytest-httpserver's "localhost")
    answering GET with `body` and PUT with 201; it records each request's Authorization."""

    def __init__(self, body: bytes) -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.seen.append(("GET", self.path, self.headers.get("Authorization")))
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.seen.append(("PUT", self.path, self.headers.get("Authorization")))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "Recorder":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("elsewhere", [True, False], ids=["another-host", "same-host"])
def test_the_token_does_not_follow_a_redirect_to_another_host(elsewhere, httpserver, packed, ci, tmp_path):
    """An artifact served from elsewhere (a CDN, a bucket) must not get the store's token."""
    body = packed.path.read_bytes()
    httpserver.expect_request(f"/c/{KEY}.json").respond_with_data(json.dumps(signing.sign(packed.meta, ci)))
    httpserver.expect_request(f"/same/{KEY}.tar.zst").respond_with_data(body)
    httpserver.expect_request(f"/c/{KEY}.json", method="PUT").respond_with_data("", status=201)
    httpserver.expect_request(f"/c/{remote.INDEX}/", method="GET").respond_with_data("", status=404)
    with Recorder(body) as cdn:
        target = cdn.url if elsewhere else httpserver.url_for("").rstrip("/")
        for method, status in (("GET", 302), ("PUT", 307)):
            where = "cdn" if elsewhere else "same"
            httpserver.expect_request(f"/c/{KEY}.tar.zst", method=method).respond_with_data(
                "", status=status, headers={"Location": f"{target}/{where}/{KEY}.tar.zst"})
        if not elsewhere:
            httpserver.expect_request(f"/same/{KEY}.tar.zst", method="PUT").respond_with_data("", status=201)
        found, warnings = look_up(httpserver.url_for("/c"), ci, tmp_path, TOKEN)
        assert found.status == remote.HIT, warnings
        remote.SharedCache(httpserver.url_for("/c"), token=TOKEN).push(packed, ci)
    bearer = f"Bearer {TOKEN}"
    asked = [(r.method, r.path, r.headers.get("Authorization")) for r, _ in httpserver.log]
    assert ("GET", f"/c/{KEY}.json", bearer) in asked and ("GET", f"/c/{KEY}.tar.zst", bearer) in asked
    assert ("PUT", f"/c/{KEY}.tar.zst", bearer) in asked and ("PUT", f"/c/{KEY}.json", bearer) in asked
    if elsewhere:
        assert cdn.seen == [("GET", f"/cdn/{KEY}.tar.zst", None), ("PUT", f"/cdn/{KEY}.tar.zst", None)]
    else:  # the same host keeps it: the check above can fail
        assert cdn.seen == []
        assert ("GET", f"/same/{KEY}.tar.zst", bearer) in asked and ("PUT", f"/same/{KEY}.tar.zst", bearer) in asked


def test_source_downloads_never_carry_the_token(httpserver, tmp_path):
    """core/http.download sends credentials only when given them (the shared cache's)."""
    httpserver.expect_request("/src/Python-3.13.5.tgz").respond_with_data(b"tarball")
    url = httpserver.url_for("/src/Python-3.13.5.tgz")
    part, _ = http.download(url, tmp_path, part_prefix="plain.", label="source")
    assert part.read_bytes() == b"tarball"
    part, _ = http.download(url, tmp_path, part_prefix="token.", label="artifact", auth=remote._auth(url, TOKEN))
    assert [r.headers.get("Authorization") for r, _ in httpserver.log] == [None, f"Bearer {TOKEN}"]


# -- the command line ----------------------------------------------------------------------------


@needs_host_interpreters
def test_cli_with_a_wrong_token_builds_from_source_and_a_push_exits_5(tmp_path, store, ci, netrc):
    url, root = store("bearer", token=TOKEN)
    recipe = make_recipe(tmp_path, *make_tarball(tmp_path / "src"))
    signing.write_secret(tmp_path / "ci.key", ci)
    env = {**os.environ, remote.ENV: url, CACHE_TOKEN_ENV: WRONG_TOKEN, signing.TRUST_ENV: str(ci.public),
           signing.SIGNING_KEY_ENV: str(tmp_path / "ci.key")}
    denied = f"shared cache not used: HTTP 401 from {url}/"

    def cli(*args: str, home: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pybuild12", "install", str(recipe), "--no-verify", *args],
                              capture_output=True, text=True, env={**env, "PYBUILD12_HOME": str(tmp_path / home)},
                              timeout=150)

    pushed = cli("--push", home="pusher")
    assert pushed.returncode == 5, pushed.stderr
    python = tmp_path / "pusher" / "data" / "pythons" / "fake" / "bin" / f"python{HOST_MINOR}"
    assert pushed.stdout.strip() == str(python) and python.is_file()  # installed, not pushed
    lines = pushed.stderr.splitlines()
    assert any(denied in line and f"with the token in {CACHE_TOKEN_ENV}" in line for line in lines), lines
    failure = next(line for line in lines if line.startswith("error: uploading"))
    assert f"the store refused the token in {CACHE_TOKEN_ENV}" in failure and "fake IS installed" in failure
    assert "✓ compile with PGO" in pushed.stderr and stored(root) == []

    plain = cli(home="fresh")
    assert plain.returncode == 0, plain.stderr
    lines = plain.stderr.splitlines()
    assert any(denied in line and line.endswith("building from source") for line in lines), lines
    assert "✓ compile with PGO" in plain.stderr and plain.stdout.strip().endswith(f"/fake/bin/python{HOST_MINOR}")
    assert_no_secret(pushed.stdout, pushed.stderr, plain.stdout, plain.stderr)



def test_the_token_never_reaches_the_builds_commands(tmp_path, paths, monkeypatch):
    """configure, make and the training run get the environment without the store's token."""
    from fakecpython import HOST, make_recipe, make_tarball, passing_verifier
    from pybuild12 import install as installer
    from pybuild12.checks import verify as verifier
    from pybuild12.core.settings import Settings

    if HOST is None:
        pytest.skip("no CPython 3.12+ for the fake CPython to wrap")
    monkeypatch.setattr(verifier, "run", passing_verifier)
    seen = []

    class Recording(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            seen.append(dict(kwargs.get("env") or {}))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", Recording)
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha, build="optimizations = false\n")
    settings = Settings.from_env({**os.environ, "PYBUILD12_CACHE_TOKEN": "s3cret-token"})
    installer.install(str(recipe), paths=paths, settings=settings)
    assert any("PYBUILD12_HOME" in env for env in seen)  # the steps got an environment of their own
    assert not any("PYBUILD12_CACHE_TOKEN" in env for env in seen)
    assert Settings({"PYBUILD12_CACHE_TOKEN": "t", "X": "1"}).for_builds().env == {"X": "1"}
