"""download.fetch against a local pytest-httpserver and file:// mirrors (loopback only)."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
from werkzeug import Response

from pybuild12.core import http
from pybuild12.core.errors import FetchError
from pybuild12.request.recipes import TarballSource
from pybuild12.sources import download

FILENAME = "Python-3.13.5.tar.xz"
UPSTREAM = f"/upstream/{FILENAME}"


@pytest.fixture
def payload() -> bytes:
    # Several CHUNKs, so progress is reported more than once.
    return os.urandom(5 * http.CHUNK + 123)


@pytest.fixture
def source(httpserver, payload) -> TarballSource:
    return TarballSource(url=httpserver.url_for(UPSTREAM), sha256=hashlib.sha256(payload).hexdigest())


@pytest.fixture
def cache_dir(paths):
    return paths.downloads


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(http, "BACKOFF", 0)


def _requested(httpserver) -> list[str]:
    return [request.path for request, _response in httpserver.log]


def _leftovers(cache_dir) -> list[str]:
    return sorted(p.name for p in cache_dir.iterdir() if p.name != download.LOCKS) if cache_dir.exists() else []


# ------------------------------------------------------------------ basics


def test_downloads_into_cache_dir(httpserver, source, payload, cache_dir):
    httpserver.expect_request(UPSTREAM).respond_with_data(payload)
    fetched = download.fetch(source, cache_dir)
    assert fetched.origin == source.url
    assert fetched.path == cache_dir / FILENAME
    assert fetched.path.read_bytes() == payload
    assert _leftovers(cache_dir) == [FILENAME]
    assert _requested(httpserver) == [UPSTREAM]


def test_user_agent_names_pybuild12(httpserver, source, payload, cache_dir):
    httpserver.expect_request(UPSTREAM).respond_with_data(payload)
    download.fetch(source, cache_dir)
    request, _ = httpserver.log[0]
    assert request.headers["User-Agent"].startswith("pybuild12/")


def test_cache_hit_makes_no_request(httpserver, source, payload, cache_dir):
    cache_dir.mkdir(parents=True)
    (cache_dir / FILENAME).write_bytes(payload)
    httpserver.expect_request(UPSTREAM).respond_with_data(b"should not be used")
    fetched = download.fetch(source, cache_dir)
    assert fetched.origin == "cache"
    assert fetched.path.read_bytes() == payload
    assert httpserver.log == []


def test_second_fetch_comes_from_cache(httpserver, source, payload, cache_dir):
    httpserver.expect_request(UPSTREAM).respond_with_data(payload)
    assert download.fetch(source, cache_dir).origin == source.url
    assert download.fetch(source, cache_dir).origin == "cache"
    assert len(httpserver.log) == 1


def test_stale_cache_is_fetched_again_with_a_warning(httpserver, source, payload, cache_dir):
    cache_dir.mkdir(parents=True)
    (cache_dir / FILENAME).write_bytes(b"an older, different file")
    httpserver.expect_request(UPSTREAM).respond_with_data(payload)
    warnings: list[str] = []
    fetched = download.fetch(source, cache_dir, warn=warnings.append)
    assert fetched.origin == source.url
    assert fetched.path.read_bytes() == payload
    assert _requested(httpserver) == [UPSTREAM]
    assert len(warnings) == 1 and FILENAME in warnings[0] and "sha256" in warnings[0]


# ------------------------------------------------------------------ mirrors


def test_candidates_put_mirror_first(source, tmp_path):
    assert download.candidates(source, None) == [source.url]
    found = download.candidates(source, str(tmp_path / "mirror") + "/")
    assert found == [(tmp_path / "mirror" / FILENAME).as_uri(), source.url]
    assert download.candidates(source, "http://mirror.example/base/") == [
        f"http://mirror.example/base/{FILENAME}",
        source.url,
    ]


def test_mirror_as_plain_directory(httpserver, source, payload, cache_dir, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / FILENAME).write_bytes(payload)
    httpserver.expect_request(UPSTREAM).respond_with_data(payload)
    fetched = download.fetch(source, cache_dir, mirror=str(mirror))
    assert fetched.origin == (mirror / FILENAME).as_uri()
    assert fetched.path.read_bytes() == payload
    assert httpserver.log == []


def test_mirror_as_file_url(httpserver, source, payload, cache_dir, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / FILENAME).write_bytes(payload)
    httpserver.expect_request(UPSTREAM).respond_with_data(payload)
    fetched = download.fetch(source, cache_dir, mirror=mirror.as_uri())
    assert fetched.origin == f"{mirror.as_uri()}/{FILENAME}"
    assert fetched.path.read_bytes() == payload
    assert httpserver.log == []


def test_mirror_as_http_base(httpserver, source, payload, cache_dir):
    httpserver.expect_request(f"/mirror/{FILENAME}").respond_with_data(payload)
    httpserver.expect_request(UPSTREAM).respond_with_data(payload)
    fetched = download.fetch(source, cache_dir, mirror=httpserver.url_for("/mirror/"))
    assert fetched.origin == httpserver.url_for(f"/mirror/{FILENAME}")
    assert fetched.path.read_bytes() == payload
    assert _requested(httpserver) == [f"/mirror/{FILENAME}"]


def test_mirror_beats_failing_upstream(httpserver, source, payload, cache_dir, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / FILENAME).write_bytes(payload)
    httpserver.expect_request(UPSTREAM).respond_with_data(b"gone", status=404)
    fetched = download.fetch(source, cache_dir, mirror=str(mirror))
    assert fetched.origin.startswith("file://")
    assert fetched.path.read_bytes() == payload


def test_mirror_without_the_file_falls_back_to_upstream(httpserver, source, payload, cache_dir, tmp_path):
    mirror = tmp_path / "empty-mirror"
    mirror.mkdir()
    httpserver.expect_request(UPSTREAM).respond_with_data(payload)
    warnings: list[str] = []
    fetched = download.fetch(source, cache_dir, mirror=str(mirror), warn=warnings.append)
    assert fetched.origin == source.url
    assert fetched.path.read_bytes() == payload


def test_mirror_with_wrong_content_falls_back_with_warning(httpserver, source, payload, cache_dir, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / FILENAME).write_bytes(b"tampered" + payload)
    httpserver.expect_request(UPSTREAM).respond_with_data(payload)
    warnings: list[str] = []
    fetched = download.fetch(source, cache_dir, mirror=str(mirror), warn=warnings.append)
    assert fetched.origin == source.url
    assert fetched.path.read_bytes() == payload
    assert _requested(httpserver) == [UPSTREAM]
    assert len(warnings) == 1
    assert (mirror / FILENAME).as_uri() in warnings[0] and "sha256" in warnings[0]
    assert _leftovers(cache_dir) == [FILENAME]


def test_mirror_directory_with_spaces_in_its_path(httpserver, source, payload, cache_dir, tmp_path):
    mirror = tmp_path / "my mirror"
    mirror.mkdir()
    (mirror / FILENAME).write_bytes(payload)
    fetched = download.fetch(source, cache_dir, mirror=str(mirror))
    assert fetched.origin == (mirror / FILENAME).as_uri()
    assert fetched.path.read_bytes() == payload
    assert httpserver.log == []


def test_http_mirror_with_wrong_content_falls_back(httpserver, source, payload, cache_dir):
    httpserver.expect_request(f"/mirror/{FILENAME}").respond_with_data(b"stale mirror copy")
    httpserver.expect_request(UPSTREAM).respond_with_data(payload)
    warnings: list[str] = []
    fetched = download.fetch(source, cache_dir, mirror=httpserver.url_for("/mirror"), warn=warnings.append)
    assert fetched.origin == source.url
    assert _requested(httpserver) == [f"/mirror/{FILENAME}", UPSTREAM]
    assert len(warnings) == 1 and "/mirror/" in warnings[0]


def test_redirect_is_followed(httpserver, source, payload, cache_dir):
    httpserver.expect_request(UPSTREAM).respond_with_data(
        b"", status=302, headers={"Location": httpserver.url_for("/cdn/real.tar.xz")}
    )
    httpserver.expect_request("/cdn/real.tar.xz").respond_with_data(payload)
    fetched = download.fetch(source, cache_dir)
    assert fetched.path == cache_dir / FILENAME  # stored under the recipe's file name
    assert fetched.path.read_bytes() == payload
    assert _requested(httpserver) == [UPSTREAM, "/cdn/real.tar.xz"]


# ------------------------------------------------------------------ failures


def test_checksum_mismatch_everywhere(httpserver, source, cache_dir, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / FILENAME).write_bytes(b"mirror has the wrong bytes")
    httpserver.expect_request(UPSTREAM).respond_with_data(b"upstream has the wrong bytes too")
    warnings: list[str] = []
    with pytest.raises(FetchError) as info:
        download.fetch(source, cache_dir, mirror=str(mirror), warn=warnings.append)
    err = info.value
    assert "checksum mismatch" in err.message
    assert source.sha256 in err.message
    assert hashlib.sha256(b"upstream has the wrong bytes too").hexdigest() in err.message
    assert err.hint and "nothing was extracted" in err.hint
    assert len(warnings) == 2
    assert _leftovers(cache_dir) == []  # neither the file nor a .part file


def test_checksum_mismatch_takes_precedence_over_unreachable(httpserver, source, cache_dir):
    httpserver.expect_request(f"/mirror/{FILENAME}").respond_with_data(b"wrong")
    httpserver.expect_request(UPSTREAM).respond_with_data(b"gone", status=404)
    with pytest.raises(FetchError) as info:
        download.fetch(source, cache_dir, mirror=httpserver.url_for("/mirror"))
    assert "checksum mismatch" in info.value.message
    assert _leftovers(cache_dir) == []


def test_nothing_reachable(cache_dir, payload, no_backoff, refused_url):
    source = TarballSource(url=refused_url(f"/{FILENAME}"), sha256=hashlib.sha256(payload).hexdigest())
    start = time.monotonic()
    with pytest.raises(FetchError) as info:
        download.fetch(source, cache_dir, mirror=refused_url("/mirror"))
    assert time.monotonic() - start < 10
    err = info.value
    assert "could not download" in err.message and FILENAME in err.message
    assert "checksum mismatch" not in err.message
    assert err.hint and "PYBUILD12_MIRROR" in err.hint
    assert _leftovers(cache_dir) == []


def test_missing_file_mirror_and_404_upstream(httpserver, source, cache_dir, tmp_path):
    httpserver.expect_request(UPSTREAM).respond_with_data(b"gone", status=404)
    with pytest.raises(FetchError) as info:
        download.fetch(source, cache_dir, mirror=str(tmp_path / "nowhere"))
    err = info.value
    assert "no such file" in err.message and "HTTP 404" in err.message
    assert "PYBUILD12_MIRROR" in err.hint
    assert _leftovers(cache_dir) == []


def test_interrupted_download_leaves_no_part_file(httpserver, source, payload, cache_dir, no_backoff):
    def short_body(request):
        response = Response(payload[:1000])
        response.headers["Content-Length"] = str(len(payload))  # promises more than it sends
        return response

    httpserver.expect_request(UPSTREAM).respond_with_handler(short_body)
    with pytest.raises(FetchError) as info:
        download.fetch(source, cache_dir)
    assert "interrupted" in info.value.message
    assert _leftovers(cache_dir) == []


def test_unsupported_url_scheme(cache_dir, payload):
    source = TarballSource(url=f"ftp://127.0.0.1/{FILENAME}", sha256=hashlib.sha256(payload).hexdigest())
    with pytest.raises(FetchError) as info:
        download.fetch(source, cache_dir)
    assert "unsupported URL scheme 'ftp'" in info.value.message


# ------------------------------------------------------------------ retries


def test_retries_503_then_succeeds(httpserver, source, payload, cache_dir, no_backoff):
    httpserver.expect_oneshot_request(UPSTREAM).respond_with_data(b"busy", status=503)
    httpserver.expect_oneshot_request(UPSTREAM).respond_with_data(b"busy", status=503)
    httpserver.expect_request(UPSTREAM).respond_with_data(payload)
    fetched = download.fetch(source, cache_dir)
    assert fetched.origin == source.url
    assert fetched.path.read_bytes() == payload
    assert [response.status_code for _request, response in httpserver.log] == [503, 503, 200]


def test_persistent_503_gives_up_after_retries(httpserver, source, cache_dir, no_backoff):
    httpserver.expect_request(UPSTREAM).respond_with_data(b"busy", status=503)
    with pytest.raises(FetchError) as info:
        download.fetch(source, cache_dir)
    assert "HTTP 503" in info.value.message
    assert len(httpserver.log) == http.RETRIES + 1
    assert _leftovers(cache_dir) == []


@pytest.mark.timing  # a wall-clock bound: run alone (scripts/test), not beside a busy worker
def test_404_fails_at_once(httpserver, source, cache_dir):
    # BACKOFF is left at its real value: a 404 must not be retried at all.
    httpserver.expect_request(UPSTREAM).respond_with_data(b"gone", status=404)
    start = time.monotonic()
    with pytest.raises(FetchError) as info:
        download.fetch(source, cache_dir)
    assert time.monotonic() - start < 2
    assert "HTTP 404" in info.value.message
    assert len(httpserver.log) == 1
    assert _leftovers(cache_dir) == []


# ------------------------------------------------------------------ progress


def _record_progress(calls):
    def progress(done, total, label):
        calls.append((done, total, label))

    return progress


def test_progress_over_http(httpserver, source, payload, cache_dir):
    httpserver.expect_request(UPSTREAM).respond_with_data(payload)
    calls: list = []
    download.fetch(source, cache_dir, progress=_record_progress(calls))
    assert len(calls) > 1
    done = [c[0] for c in calls]
    assert done == sorted(done) and len(set(done)) == len(done)  # strictly increasing
    assert done[-1] == len(payload)
    assert {c[1] for c in calls} == {len(payload)}
    assert {c[2] for c in calls} == {FILENAME}


def test_progress_from_file_mirror(httpserver, source, payload, cache_dir, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / FILENAME).write_bytes(payload)
    calls: list = []
    download.fetch(source, cache_dir, mirror=str(mirror), progress=_record_progress(calls))
    done = [c[0] for c in calls]
    assert len(done) > 1 and done == sorted(set(done))
    assert done[-1] == len(payload)
    assert {c[1] for c in calls} == {len(payload)}


def test_no_progress_on_cache_hit(source, payload, cache_dir):
    cache_dir.mkdir(parents=True)
    (cache_dir / FILENAME).write_bytes(payload)
    calls: list = []
    assert download.fetch(source, cache_dir, progress=_record_progress(calls)).origin == "cache"
    assert calls == []


# ------------------------------------------------------------------ a recipe with a wrong sha256

RECIPE = "recipes/3.13.5-mine.toml"
WRONG = "0123456789abcdef" * 4


def _cached_by_a_good_recipe(httpserver, source, payload, cache_dir) -> bytes:
    httpserver.expect_request(UPSTREAM).respond_with_data(payload)
    assert download.fetch(source, cache_dir).origin == source.url
    return (cache_dir / FILENAME).read_bytes()


def _assert_blames_the_recipe(err: FetchError, payload: bytes) -> None:
    assert err.exit_code == 5
    assert "the recipe's sha256 is probably wrong" in err.message
    assert RECIPE in err.message and f"expected {WRONG}" in err.message
    assert f"hashed to {hashlib.sha256(payload).hexdigest()}" in err.message
    assert err.hint and RECIPE in err.hint and "nothing was extracted" in err.hint


def test_wrong_sha256_offline_leaves_the_good_cached_file(httpserver, source, payload, cache_dir, refused_url):
    good = _cached_by_a_good_recipe(httpserver, source, payload, cache_dir)
    bad = TarballSource(url=refused_url(UPSTREAM), sha256=WRONG)
    with pytest.raises(FetchError) as info:
        download.fetch(bad, cache_dir, recipe_file=RECIPE)
    _assert_blames_the_recipe(info.value, payload)
    assert "cached" in info.value.message and "could not download" in info.value.message
    assert (cache_dir / FILENAME).read_bytes() == good
    assert _leftovers(cache_dir) == [FILENAME]
    assert download.fetch(source, cache_dir).origin == "cache"  # the good recipe still finds it


def test_wrong_sha256_with_a_mirror_leaves_the_good_cached_file(httpserver, source, payload, cache_dir, tmp_path,
                                                                refused_url):
    good = _cached_by_a_good_recipe(httpserver, source, payload, cache_dir)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / FILENAME).write_bytes(payload)
    bad = TarballSource(url=refused_url(UPSTREAM), sha256=WRONG)
    warnings: list[str] = []
    with pytest.raises(FetchError) as info:
        download.fetch(bad, cache_dir, mirror=str(mirror), recipe_file=RECIPE, warn=warnings.append)
    _assert_blames_the_recipe(info.value, payload)
    assert (mirror / FILENAME).as_uri() in info.value.message
    assert (cache_dir / FILENAME).read_bytes() == good
    assert _leftovers(cache_dir) == [FILENAME]  # the mirror's copy was not kept beside it
    assert any("left in place" in w for w in warnings)


def test_wrong_sha256_with_the_file_downloadable_leaves_the_good_cached_file(httpserver, source, payload,
                                                                             cache_dir):
    good = _cached_by_a_good_recipe(httpserver, source, payload, cache_dir)
    bad = TarballSource(url=source.url, sha256=WRONG)
    with pytest.raises(FetchError) as info:
        download.fetch(bad, cache_dir, recipe_file=RECIPE)
    _assert_blames_the_recipe(info.value, payload)
    assert (cache_dir / FILENAME).read_bytes() == good
    assert _leftovers(cache_dir) == [FILENAME]


def test_truncated_cached_file_is_replaced_for_a_correct_recipe(httpserver, source, payload, cache_dir, tmp_path):
    cache_dir.mkdir(parents=True)
    (cache_dir / FILENAME).write_bytes(payload[:1000])
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / FILENAME).write_bytes(payload)
    fetched = download.fetch(source, cache_dir, mirror=str(mirror))
    assert fetched.origin == (mirror / FILENAME).as_uri()
    assert (cache_dir / FILENAME).read_bytes() == payload
    assert download.fetch(source, cache_dir).origin == "cache"
