"""Network faults against a loopback server that misbehaves on purpose (faultserver.py).

Whatever the fault, a download ends either with the exact pinned file in the
cache or with a FetchError that says what happened and what to do; a partial
or wrong file is never left where a later run could use it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
import time

import pytest

from faultserver import FaultServer, self_signed
from pybuild12.core import files, http
from pybuild12.core.errors import FetchError, UsageError
from pybuild12.core.settings import HTTP_TIMEOUT_ENV, Settings
from pybuild12.request.recipes import TarballSource
from pybuild12.sources import download

NAME = "Python-3.13.5.tar.xz"
pytestmark = pytest.mark.fault("network")


@pytest.fixture
def payload() -> bytes:
    return os.urandom(6 * http.CHUNK + 77)


@pytest.fixture
def server(payload):
    with FaultServer({NAME: payload}) as s:
        yield s


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    monkeypatch.setattr(http, "BACKOFF", 0)


def source_at(base: str, payload: bytes, mode: str = "ok") -> TarballSource:
    return TarballSource(url=f"{base}/{mode}/{NAME}", sha256=hashlib.sha256(payload).hexdigest())


def parts(paths) -> list[str]:
    return sorted(p.name for p in paths.downloads.glob("*.part")) if paths.downloads.exists() else []


def fetch(paths, source, **kwargs):
    warnings: list[str] = []
    kwargs.setdefault("timeouts", Settings.from_env().http_timeouts)  # PYBUILD12_HTTP_TIMEOUT, as a test sets it
    return download.fetch(source, paths.downloads, warn=warnings.append, **kwargs), warnings


def assert_nothing_kept(paths):
    assert parts(paths) == []
    assert not (paths.downloads / NAME).exists()


def test_connection_refused_is_a_clear_error(paths, payload, refused_url):
    with pytest.raises(FetchError) as info:
        fetch(paths, source_at(refused_url(), payload))
    assert "could not download" in info.value.message and "Connection refused" in info.value.message
    assert download.MIRROR_ENV in info.value.hint
    assert_nothing_kept(paths)


def test_reset_mid_body_is_retried_then_reported(paths, payload, server):
    with pytest.raises(FetchError) as info:
        fetch(paths, source_at(server.url, payload, "reset"))
    assert "download interrupted" in info.value.message
    assert server.hits[f"/reset/{NAME}"] == http.TRIES
    assert_nothing_kept(paths)


def test_one_reset_is_survived_by_a_retry(paths, payload, server):
    fetched, warnings = fetch(paths, source_at(server.url, payload, "reset-once"))
    assert fetched.path.read_bytes() == payload
    assert server.hits[f"/reset-once/{NAME}"] == 2
    assert any("trying again (2/3)" in w for w in warnings)
    assert parts(paths) == []


def test_persistent_500_gives_up_after_the_retries(paths, payload, server):
    with pytest.raises(FetchError) as info:
        fetch(paths, source_at(server.url, payload, "500"))
    assert "HTTP 500" in info.value.message
    assert server.hits[f"/500/{NAME}"] == http.RETRIES + 1
    assert_nothing_kept(paths)


def test_two_500s_then_success(paths, payload, server):
    fetched, _ = fetch(paths, source_at(server.url, payload, "500-twice"))
    assert fetched.path.read_bytes() == payload and server.hits[f"/500-twice/{NAME}"] == 3


def host_of(server: FaultServer) -> str:
    return server.url.split("://", 1)[1]  # 127.0.0.1:port


def said(texts: list[str], pattern: str) -> bool:
    return any(re.fullmatch(pattern, text) for text in texts)


@pytest.fixture
def ticks(monkeypatch) -> list[str]:
    """What fetch's `stalled` callback was told, with a wait reported every 0.1 s."""
    monkeypatch.setattr(http, "TICK", 0.1)
    return []


def test_silent_server_is_given_up_on_after_its_tries_counting_the_wait(paths, payload, server, monkeypatch, ticks):
    monkeypatch.setenv(HTTP_TIMEOUT_ENV, "0.5")
    start = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(paths, source_at(server.url, payload, "silent"), stalled=ticks.append)
    elapsed = time.monotonic() - start
    host = host_of(server)
    assert f"/silent/{NAME}: timed out: no answer within 0.5 s (3 tries)" in info.value.message
    assert "0.5 s" in info.value.hint and HTTP_TIMEOUT_ENV in info.value.hint
    assert server.hits[f"/silent/{NAME}"] == http.TRIES == 3  # not (RETRIES + 1) x 3: urllib3 does not retry
    # Not the server's 30 s of silence a try: the 0.5 s were heeded. Loose, as it runs beside
    # other tests (-n auto); the ticks below tell the 0.5 s exactly.
    assert elapsed < 20
    assert said(ticks, rf"waiting for {host} to answer \(0\.[1-5] s of 0\.5 s, try 1 of 3\)")
    assert said(ticks, rf"waiting for {host} to answer \(0\.[1-5] s of 0\.5 s, try 3 of 3\)")
    assert_nothing_kept(paths)


def test_silent_mirror_falls_through_to_the_recipe_url(paths, payload, server, monkeypatch, ticks):
    monkeypatch.setenv(HTTP_TIMEOUT_ENV, "0.3")
    source = source_at(server.url, payload)
    start = time.monotonic()
    fetched, warnings = fetch(paths, source, mirror=f"{server.url}/silent", stalled=ticks.append)
    assert time.monotonic() - start < 20  # not the server's 30 s of silence (see the test above)
    assert fetched.origin == source.url and fetched.path.read_bytes() == payload
    assert server.hits[f"/silent/{NAME}"] == http.TRIES
    assert any(w.startswith(f"{server.url}/silent/{NAME}: timed out: no answer within 0.3 s")
               and w.endswith(f"trying {source.url}") for w in warnings)
    assert said(ticks, rf"waiting for {host_of(server)} to answer \(0\.[1-3] s of 0\.3 s, try 3 of 3\)")


def test_a_body_that_stalls_is_counted_then_tried_again(paths, payload, server, monkeypatch, ticks):
    monkeypatch.setenv(HTTP_TIMEOUT_ENV, "0.4")
    start = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(paths, source_at(server.url, payload, "stall"), stalled=ticks.append)
    assert time.monotonic() - start < 20  # not the server's 30 s of silence
    assert "download interrupted: timed out, no data for 0.4 s (3 tries)" in info.value.message
    assert server.hits[f"/stall/{NAME}"] == http.TRIES
    assert said(ticks, rf"waiting for {host_of(server)} to send more \(0\.[1-4] s of 0\.4 s, try 2 of 3\)")
    assert_nothing_kept(paths)


def test_a_late_answer_within_the_timeout_is_waited_for_once(paths, payload, server, monkeypatch, ticks):
    """Counting the wait in short ticks must not cut the request short or send it again."""
    monkeypatch.setenv(HTTP_TIMEOUT_ENV, "2")
    fetched, warnings = fetch(paths, source_at(server.url, payload, "late"), stalled=ticks.append)
    host = host_of(server)
    assert fetched.path.read_bytes() == payload and warnings == []
    assert server.hits[f"/late/{NAME}"] == 1
    assert said(ticks[:1], rf"waiting for {host} to answer \(0\.\d s of 2 s, try 1 of 3\)")
    assert ticks[-1] == f"downloading from {host}"


def test_a_server_that_hangs_up_without_answering_is_tried_again(paths, payload, server):
    with pytest.raises(FetchError) as info:
        fetch(paths, source_at(server.url, payload, "hangup"))
    assert "Connection aborted" in info.value.message and "(3 tries)" in info.value.message
    assert server.hits[f"/hangup/{NAME}"] == http.TRIES
    assert_nothing_kept(paths)


def test_no_stalled_report_for_a_prompt_server(paths, payload, server, ticks):
    fetch(paths, source_at(server.url, payload), stalled=ticks.append)
    assert ticks == []


def test_bad_timeout_setting_is_refused(paths, payload, server, monkeypatch):
    monkeypatch.setenv(HTTP_TIMEOUT_ENV, "soon")
    with pytest.raises(UsageError, match="PYBUILD12_HTTP_TIMEOUT must be a number") as info:  # a setting: exit 2
        fetch(paths, source_at(server.url, payload))
    assert info.value.exit_code == 2


def test_body_shorter_than_announced_is_never_used(paths, payload, server):
    with pytest.raises(FetchError) as info:
        fetch(paths, source_at(server.url, payload, "short"))
    assert "interrupted" in info.value.message or "announced" in info.value.message
    assert server.hits[f"/short/{NAME}"] == http.TRIES
    assert_nothing_kept(paths)


def test_body_longer_than_announced_stops_at_the_announced_length(paths, payload, server):
    fetched, _ = fetch(paths, source_at(server.url, payload, "long"))
    assert fetched.path.read_bytes() == payload


def test_wrong_announced_length_ends_in_a_checksum_refusal(paths, payload, server):
    with pytest.raises(FetchError) as info:
        fetch(paths, source_at(server.url, payload, "lying"))
    assert "checksum mismatch" in info.value.message and "nothing was extracted" in info.value.hint
    assert_nothing_kept(paths)


def test_redirect_to_another_host_is_followed_and_recorded(paths, payload, server):
    with FaultServer({NAME: payload}) as other:
        server.redirect_to = other.url
        fetched, _ = fetch(paths, source_at(server.url, payload, "redirect"))
    assert fetched.path.read_bytes() == payload
    assert fetched.origin == f"{other.url}/ok/{NAME}"  # the receipt says where the bytes came from


def test_redirect_to_a_host_that_is_down(paths, payload, server, refused_url):
    server.redirect_to = refused_url()
    with pytest.raises(FetchError, match="Connection refused"):
        fetch(paths, source_at(server.url, payload, "redirect"))
    assert_nothing_kept(paths)


def test_redirect_to_a_server_with_other_bytes_is_refused(paths, payload, server):
    with FaultServer({NAME: b"not the pinned file"}) as other:
        server.redirect_to = other.url
        with pytest.raises(FetchError, match="checksum mismatch"):
            fetch(paths, source_at(server.url, payload, "redirect"))
    assert_nothing_kept(paths)


def test_https_download_works_and_a_redirect_down_to_http_is_refused(paths, payload, tmp_path, monkeypatch):
    made = self_signed(tmp_path)
    if made is None:
        pytest.skip("no openssl command to make a certificate")
    context, cert = made
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    with FaultServer({NAME: payload}, tls=context) as secure, FaultServer({NAME: payload}) as plain:
        fetched, _ = fetch(paths, source_at(secure.url, payload))
        assert fetched.path.read_bytes() == payload and fetched.origin.startswith("https://")
        fetched.path.unlink()
        secure.redirect_to = plain.url
        with pytest.raises(FetchError) as info:
            fetch(paths, source_at(secure.url, payload, "redirect"))
    assert "redirected from https to http://" in info.value.message and "refused" in info.value.message
    assert plain.hits[f"/ok/{NAME}"] <= 1  # the body is never read into the cache
    assert_nothing_kept(paths)


def test_part_file_of_a_killed_download_is_swept(paths, payload, server):
    paths.downloads.mkdir(parents=True)
    stale = paths.downloads / f"{NAME}.x1y2z3.part"
    stale.write_bytes(payload[:1000])
    fetched, _ = fetch(paths, source_at(server.url, payload))
    assert fetched.path.read_bytes() == payload and not stale.exists()


def test_part_file_held_by_a_live_process_is_kept(tmp_path):
    part = tmp_path / f"{NAME}.live.part"
    part.write_bytes(b"x")
    os.utime(part, (time.time() - 3600, time.time() - 3600))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)", str(part)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        assert files.sweep_parts(tmp_path) == [] and part.exists()
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert files.sweep_parts(tmp_path) == [part] and not part.exists()


def test_young_part_file_is_kept_even_unlocked(tmp_path):
    part = tmp_path / f"{NAME}.new.part"
    part.write_bytes(b"x")
    assert files.sweep_parts(tmp_path) == [] and part.exists()


def test_new_part_is_locked_while_open(tmp_path):
    fd, part = files.new_part(tmp_path, "f.")
    try:
        probe = os.open(part, os.O_RDONLY)
        with pytest.raises(BlockingIOError):
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(probe)
    finally:
        os.close(fd)


def test_two_processes_fetching_one_file_download_it_once(paths, payload, server, tmp_path):
    """The second waits for the first (and says so), then takes the file from the cache."""
    # About 3.5 s of transfer: the second process must start (imports and all) while the
    # first is still downloading, even on a loaded machine or beside xdist's other worker.
    server.trickle_delay = 0.5
    source = source_at(server.url, payload, "trickle")
    script = (
        "import sys; from pathlib import Path; from pybuild12.sources import download; "
        "from pybuild12.request.recipes import TarballSource\n"
        "src = TarballSource(url=sys.argv[1], sha256=sys.argv[2])\n"
        "got = download.fetch(src, Path(sys.argv[3]), waiting=lambda m: print('WAIT', m, flush=True))\n"
        "print('ORIGIN', got.origin, flush=True)\n"
    )
    argv = [sys.executable, "-c", script, source.url, source.sha256, str(paths.downloads)]
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not parts(paths) and time.monotonic() < deadline:
        time.sleep(0.01)
    second = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    out1, _ = first.communicate(timeout=30)
    out2, _ = second.communicate(timeout=30)
    assert first.returncode == 0 and second.returncode == 0
    assert f"ORIGIN {source.url}" in out1
    assert "WAIT waiting for pid" in out2 and f"fetching {NAME}" in out2 and "ORIGIN cache" in out2
    assert server.hits[f"/trickle/{NAME}"] == 1
    assert (paths.downloads / NAME).read_bytes() == payload


# -- the shared cache's artifact download: the same tries and stall reports --------------


@pytest.fixture
def shared_store(tmp_path):
    """A FaultServer holding one signed artifact (sidecar always served whole), the key
    that signed it, and a local artifact cache to download into."""
    from pybuild12.store import artifacts, signing

    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "python3").write_bytes(os.urandom(300_000))  # incompressible: a body worth cutting
    packed = artifacts.Cache(tmp_path / "origin").put("e" * 64, tree, {"name": "x", "inputs": {}})
    key = signing.generate("ci")
    sidecar = signing.sign(packed.meta, key)
    files = {f"{packed.key}.json": json.dumps(sidecar).encode(), packed.path.name: packed.path.read_bytes()}
    with FaultServer(files, silence=5, always_ok=frozenset({f"{packed.key}.json"})) as store:
        yield store, packed, key, artifacts.Cache(tmp_path / "local")


def test_a_shared_cache_artifact_cut_short_is_tried_again_like_a_source(shared_store):
    from pybuild12.store import remote

    store, packed, key, local = shared_store
    warnings: list[str] = []
    shared = remote.SharedCache(f"{store.url}/reset-once", [key.public], timeouts=Settings.from_env().http_timeouts)
    found = shared.lookup(packed.key, local, warnings.append)
    assert found.status == remote.HIT and found.artifact.path.read_bytes() == packed.path.read_bytes()
    assert store.hits[f"/reset-once/{packed.path.name}"] == 2
    assert any("trying again (2/3)" in w for w in warnings)
    assert not list(local.directory.glob("*.part"))


def test_a_stalled_shared_cache_artifact_is_counted_then_given_up(shared_store, monkeypatch, ticks):
    from pybuild12.store import remote

    store, packed, key, local = shared_store
    monkeypatch.setenv(HTTP_TIMEOUT_ENV, "0.4")
    warnings: list[str] = []
    shared = remote.SharedCache(f"{store.url}/stall", [key.public], timeouts=Settings.from_env().http_timeouts)
    found = shared.lookup(packed.key, local, warnings.append, stalled=ticks.append)
    assert found.status == remote.UNREACHABLE and found.artifact is None
    assert store.hits[f"/stall/{packed.path.name}"] == http.TRIES
    assert said(ticks, rf"waiting for {host_of(store)} to send more \(0\.[1-4] s of 0\.4 s, try 2 of 3\)")
    assert any("no data for 0.4 s (3 tries)" in w and "building from source" in w for w in warnings)
    assert not list(local.directory.glob("*.part")) and local.get(packed.key) is None
