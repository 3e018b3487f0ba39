import os
import time

import pytest

from pybuild12.store import artifacts


def _tree(root):
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "python3.13").write_text("#!/bin/sh\n")
    (root / "bin" / "python3.13").chmod(0o755)
    (root / "bin" / "python3").symlink_to("python3.13")
    (root / "lib").mkdir()
    (root / "lib" / "data.bin").write_bytes(os.urandom(100_000))
    return root


@pytest.mark.parametrize("tarfile_filters,gnu_tar", [(True, True), (False, True), (False, False)],
                         ids=["pep706", "before-pep706", "before-pep706-no-gnu-tar"])
def test_put_get_unpack_round_trip(tmp_path, monkeypatch, tarfile_filters, gnu_tar):
    if not tarfile_filters:
        monkeypatch.delattr(artifacts.tarfile, "data_filter", raising=False)
    if not gnu_tar:
        monkeypatch.setattr(artifacts.shutil, "which", lambda name, *a, **k: None)
    cache = artifacts.Cache(tmp_path / "cache")
    src = _tree(tmp_path / "src")
    made = cache.put("k" * 64, src, {"name": "3.13.5"})
    got = cache.get("k" * 64)
    assert got is not None and got.meta["sha256"] == made.meta["sha256"] and got.meta["name"] == "3.13.5"
    cache.unpack(got, tmp_path / "out")
    assert (tmp_path / "out" / "lib" / "data.bin").read_bytes() == (src / "lib" / "data.bin").read_bytes()
    assert os.readlink(tmp_path / "out" / "bin" / "python3") == "python3.13"
    assert os.access(tmp_path / "out" / "bin" / "python3.13", os.X_OK)
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.endswith(".part")] == []


def test_corrupted_artifact_is_refused_and_removed(tmp_path):
    cache = artifacts.Cache(tmp_path / "cache")
    made = cache.put("a" * 64, _tree(tmp_path / "src"), {})
    data = bytearray(made.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    made.path.write_bytes(bytes(data))
    assert cache.get("a" * 64) is None
    assert not made.path.exists() and list(cache) == []


def test_missing_sidecar_is_a_miss(tmp_path):
    cache = artifacts.Cache(tmp_path / "cache")
    cache.put("b" * 64, _tree(tmp_path / "src"), {})
    (tmp_path / "cache" / f"{'b' * 64}.json").unlink()
    # A miss, not an error: another install may be between writing the two files.
    assert cache.get("b" * 64) is None and list(cache) == []


def test_prune_and_clear(tmp_path):
    cache = artifacts.Cache(tmp_path / "cache")
    old = cache.put("c" * 64, _tree(tmp_path / "one"), {})
    sidecar = tmp_path / "cache" / f"{'c' * 64}.json"
    sidecar.write_text(sidecar.read_text().replace(str(old.meta["created"]), str(time.time() - 40 * 86400)))
    cache.put("d" * 64, _tree(tmp_path / "two"), {})
    assert [a.key for a in cache.prune(30 * 86400)] == ["c" * 64]
    assert [a.key for a in cache] == ["d" * 64]
    assert len(cache.clear()) == 1 and list(cache) == []


@pytest.mark.parametrize("tarfile_filters", [True, False], ids=["pep706", "before-pep706"])
def test_unsafe_member_is_refused_before_anything_is_written(tmp_path, monkeypatch, tarfile_filters):
    if not tarfile_filters:
        monkeypatch.delattr(artifacts.tarfile, "data_filter", raising=False)
    import io
    import json
    import tarfile

    import zstandard

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"owned"
        info = tarfile.TarInfo("../escaped.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    blob = zstandard.ZstdCompressor().compress(buf.getvalue())
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    key = "f" * 64
    (cache_dir / f"{key}.tar.zst").write_bytes(blob)
    import hashlib

    (cache_dir / f"{key}.json").write_text(json.dumps({"sha256": hashlib.sha256(blob).hexdigest()}))
    cache = artifacts.Cache(cache_dir)
    from pybuild12.core.errors import ArchiveError

    with pytest.raises(ArchiveError, match="refusing to unpack"):
        cache.unpack(cache.get(key), tmp_path / "out" / "prefix")
    assert not (tmp_path / "out" / "escaped.txt").exists()
