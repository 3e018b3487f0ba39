"""Recorded PGO profiles: keys, the file format, and what restoring refuses."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import zstandard

from pybuild12.core.errors import ArchiveError, RecipeError
from pybuild12.store import key as keys, profiles

INPUTS = {"format": 1, "recipe_sha256": "r" * 64, "source": "s" * 64, "prefix": "/p/one",
          "configure_args": ["--prefix=/p/one", "--enable-optimizations"], "compiler": "gcc 12.2",
          "system": "Linux", "machine": "x86_64", "libc": "glibc 2.36"}


def trained_tree(root: Path) -> Path:
    tree = root / "Python-3.13.5"
    for rel, text in {"Python/ceval.gcda": "a", "Modules/_decimal/_decimal.gcda": "b", "Python/ceval.o": "obj"}.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text)
    return tree


def test_key_ignores_prefix_and_recipe_text_but_not_what_shapes_code():
    base = keys.key_of(keys.profile_inputs(INPUTS))
    moved = dict(INPUTS, prefix="/elsewhere", recipe_sha256="x" * 64,
                 configure_args=["--prefix=/elsewhere", "--enable-optimizations"])
    assert keys.key_of(keys.profile_inputs(moved)) == base
    for change in ({"source": "t" * 64}, {"compiler": "gcc 13.1"},
                   {"configure_args": ["--prefix=/p/one", "--enable-optimizations", "--with-lto"]}):
        assert keys.key_of(keys.profile_inputs(dict(INPUTS, **change))) != base


@pytest.mark.parametrize("tarfile_filters", [True, False], ids=["pep706", "before-pep706"])
def test_record_packs_only_gcda_and_restore_puts_them_back(tmp_path, tarfile_filters, monkeypatch):
    if not tarfile_filters:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    store = profiles.Store(tmp_path / "store")
    pinputs = keys.profile_inputs(INPUTS)
    key = keys.key_of(pinputs)
    recorded = store.record(key, pinputs, trained_tree(tmp_path / "a"), {"source": {"url": "u"}})
    assert recorded.meta["files"] == 2 and store.get(key).meta["inputs"] == pinputs
    fresh = tmp_path / "b" / "Python-3.13.5"
    fresh.mkdir(parents=True)
    assert profiles.restore(store.get(key), fresh) == 2
    assert (fresh / "Python/ceval.gcda").read_text() == "a" and (fresh / profiles.STAMP).exists()
    assert not (fresh / "Python/ceval.o").exists()


def test_tree_without_gcda_records_nothing(tmp_path):
    (tmp_path / "t").mkdir()
    assert profiles.Store(tmp_path / "s").record("k", {}, tmp_path / "t", {}) is None


def test_mismatch_names_what_differs(tmp_path):
    store = profiles.Store(tmp_path / "store")
    pinputs = keys.profile_inputs(INPUTS)
    profile = store.record("k", pinputs, trained_tree(tmp_path), {})
    profiles.check_matches(profile, pinputs)
    with pytest.raises(RecipeError) as info:
        profiles.check_matches(profile, dict(pinputs, compiler="clang 16"))
    assert "compiler: profile has 'gcc 12.2', this build has 'clang 16'" in info.value.message
    with pytest.raises(RecipeError) as info:
        profiles.check_matches(profile, dict(pinputs, build_env={"CFLAGS": "-O1"}))
    assert "build_env: profile has {}, this build has {'CFLAGS': '-O1'}" in info.value.message


def test_a_profile_recorded_before_build_env_counts_as_recorded_without_flags(tmp_path):
    store = profiles.Store(tmp_path / "store")
    older = {k: v for k, v in keys.profile_inputs(INPUTS).items() if k != "build_env"}
    profile = store.record("k", older, trained_tree(tmp_path), {})
    profiles.check_matches(profile, dict(older, build_env={}))
    with pytest.raises(RecipeError, match="build_env"):
        profiles.check_matches(profile, dict(older, build_env={"CC": "clang"}))


def write_profile(path: Path, members: list[tuple[tarfile.TarInfo, bytes]], meta: dict | None = None) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = json.dumps(meta or {"format": 1, "key": "k", "inputs": {}}).encode()
        info = tarfile.TarInfo(profiles.META)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for info, body in members:
            tar.addfile(info, io.BytesIO(body) if body else None)
    path.write_bytes(zstandard.ZstdCompressor().compress(buf.getvalue()))
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, body: bytes = b"x", linkname: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    info.size = len(body) if kind == tarfile.REGTYPE else 0
    return info, body if kind == tarfile.REGTYPE else b""


@pytest.mark.parametrize("bad", [
    member("../escape.gcda"),
    member("/etc/evil.gcda"),
    member("Python/notes.txt"),
    member("Python/link.gcda", tarfile.SYMTYPE, linkname="/etc/passwd"),
    member("Python/hard.gcda", tarfile.LNKTYPE, linkname="../../outside"),
    member("dev.gcda", tarfile.CHRTYPE),
])
@pytest.mark.parametrize("tarfile_filters", [True, False], ids=["pep706", "before-pep706"])
def test_restore_refuses_anything_but_gcda_files_inside_the_tree(tmp_path, bad, tarfile_filters, monkeypatch):
    if not tarfile_filters:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    profile = profiles.read(write_profile(tmp_path / "p.tar.zst", [member("Python/ok.gcda"), bad]))
    tree = tmp_path / "tree"
    tree.mkdir()
    with pytest.raises(ArchiveError):
        profiles.restore(profile, tree)
    assert not (tmp_path / "escape.gcda").exists() and not (tree / profiles.STAMP).exists()


def test_read_refuses_a_tarball_without_the_description(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info, body = member("Python/ceval.gcda")
        tar.addfile(info, io.BytesIO(body))
    path = tmp_path / "p.tar.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(buf.getvalue()))
    with pytest.raises(ArchiveError, match="no pybuild12-profile.json"):
        profiles.read(path)
    with pytest.raises(ArchiveError, match="unsupported"):
        profiles.read(write_profile(tmp_path / "q.tar.zst", [], meta={"format": 99}))
    with pytest.raises(ArchiveError, match="cannot read"):
        profiles.read(tmp_path / "missing.tar.zst")
