"""archive.extract: normal archives, hostile archives, damaged archives."""

from __future__ import annotations

import io
import random
import tarfile
from pathlib import Path

import pytest

from pybuild12.core.errors import ArchiveError
from pybuild12.sources import archive


def _file(name: str, data: bytes = b"content\n") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    return info, data


def _dir(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return info, None


def _link(name: str, target: str, *, hard: bool = False) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info, None


def make_archive(path: Path, members, mode: str = "w:xz") -> Path:
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


@pytest.fixture(params=["pep706", "before-pep706"])
def work(request, tmp_path, monkeypatch) -> Path:
    """A directory with room around `dest` so escapes have somewhere to land.

    Every test runs twice: with tarfile's `data` filter, and as on a Python that
    predates it (3.10.0-3.10.11, 3.11.0-3.11.3, such as Debian bookworm's 3.11.2).
    """
    if request.param == "before-pep706":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    (tmp_path / "archives").mkdir()
    return tmp_path


# ------------------------------------------------------------------- normal


@pytest.mark.parametrize("mode,suffix", [("w:xz", "tar.xz"), ("w:gz", "tar.gz")])
def test_normal_archive_returns_single_top_level_dir(work, mode, suffix):
    src = make_archive(
        work / "archives" / f"Python-3.13.5.{suffix}",
        [
            _dir("Python-3.13.5"),
            _file("Python-3.13.5/configure", b"#!/bin/sh\n"),
            _dir("Python-3.13.5/Lib"),
            _file("Python-3.13.5/Lib/os.py", b"# os\n"),
            _link("Python-3.13.5/python-config", "configure"),
        ],
        mode,
    )
    dest = work / "dest"
    root = archive.extract(src, dest)
    assert root == dest / "Python-3.13.5"
    assert (root / "configure").read_bytes() == b"#!/bin/sh\n"
    assert (root / "Lib" / "os.py").read_bytes() == b"# os\n"
    assert (root / "python-config").is_symlink()
    assert (root / "python-config").resolve() == (root / "configure").resolve()


def test_archive_without_top_level_dir_returns_dest(work):
    src = make_archive(work / "archives" / "flat.tar.gz", [_file("a.txt"), _file("b.txt")], "w:gz")
    dest = work / "dest"
    assert archive.extract(src, dest) == dest
    assert sorted(p.name for p in dest.iterdir()) == ["a.txt", "b.txt"]


def test_single_top_level_file_returns_dest(work):
    src = make_archive(work / "archives" / "one.tar.xz", [_file("only.txt")])
    dest = work / "dest"
    assert archive.extract(src, dest) == dest


def test_hard_link_inside_the_tree_is_fine(work):
    src = make_archive(
        work / "archives" / "hl.tar.xz",
        [_dir("P"), _file("P/a.txt", b"same"), _link("P/b.txt", "P/a.txt", hard=True)],
    )
    root = archive.extract(src, work / "dest")
    assert (root / "b.txt").read_bytes() == b"same"


# ------------------------------------------------------------------ hostile


def _refused(src: Path, dest: Path) -> ArchiveError:
    with pytest.raises(ArchiveError) as info:
        archive.extract(src, dest)
    err = info.value
    assert src.name in err.message
    assert "refusing" in err.message
    assert err.hint and "outside" in err.hint
    assert not dest.exists(), "a refused archive must leave no partial tree behind"
    return err


def test_dotdot_member_is_refused(work):
    escape = work / "escaped.txt"
    src = make_archive(
        work / "archives" / "dotdot.tar.xz",
        [_dir("Python-3.13.5"), _file("Python-3.13.5/ok.txt"), _file("../escaped.txt", b"pwned")],
    )
    _refused(src, work / "dest")
    assert not escape.exists()


def test_nested_dotdot_member_is_refused(work):
    escape = work / "escaped.txt"
    src = make_archive(
        work / "archives" / "nested.tar.gz",
        [_dir("Python-3.13.5"), _file("Python-3.13.5/../../escaped.txt", b"pwned")],
        "w:gz",
    )
    _refused(src, work / "dest")
    assert not escape.exists()


def test_absolute_member_is_not_written_outside(work):
    target = work / "outside" / "absolute.txt"
    src = make_archive(work / "archives" / "abs.tar.xz", [_file(str(target), b"pwned")])
    dest = work / "dest"
    try:
        archive.extract(src, dest)
    except ArchiveError:
        pass
    assert not target.exists()
    assert not (work / "outside").exists()


def test_absolute_member_is_refused(work):
    target = work / "outside" / "absolute.txt"
    src = make_archive(work / "archives" / "abs.tar.xz", [_file(str(target), b"pwned")])
    _refused(src, work / "dest")
    assert not target.exists()


@pytest.mark.parametrize("link_target", ["/etc", "../..", "../../outside"])
def test_symlink_out_of_the_tree_is_refused(work, link_target):
    (work / "outside").mkdir()
    src = make_archive(
        work / "archives" / "symlink.tar.xz",
        [
            _dir("Python-3.13.5"),
            _link("Python-3.13.5/evil", link_target),
            # Would land outside via the link if the link were created.
            _file("Python-3.13.5/evil/pwned.txt", b"pwned"),
        ],
    )
    _refused(src, work / "dest")
    # Where pwned.txt would have landed through each link: /etc, work/, work/outside.
    assert not Path("/etc/pwned.txt").exists()
    assert not (work / "pwned.txt").exists()
    assert not (work / "outside" / "pwned.txt").exists()


@pytest.mark.parametrize("link_target", ["../secret.txt", "Python-3.13.5/../../secret.txt"])
def test_hard_link_out_of_the_tree_is_refused(work, link_target):
    secret = work / "secret.txt"
    secret.write_bytes(b"secret")
    src = make_archive(
        work / "archives" / "hardlink.tar.xz",
        [
            _dir("Python-3.13.5"),
            _link("Python-3.13.5/leak", link_target, hard=True),
            # If the link existed, writing this member would overwrite the secret through it.
            _file("Python-3.13.5/leak", b"overwritten"),
        ],
    )
    _refused(src, work / "dest")
    assert secret.read_bytes() == b"secret"
    assert secret.stat().st_nlink == 1


def test_absolute_hard_link_is_refused(work):
    secret = work / "secret.txt"
    secret.write_bytes(b"secret")
    src = make_archive(
        work / "archives" / "abs-hardlink.tar.xz",
        [_dir("P"), _link("P/leak", str(secret), hard=True)],
    )
    _refused(src, work / "dest")
    assert secret.stat().st_nlink == 1


def test_device_file_is_refused(work):
    info = tarfile.TarInfo("P/null")
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    src = make_archive(work / "archives" / "dev.tar.xz", [_dir("P"), (info, None)])
    _refused(src, work / "dest")


# ------------------------------------------------------------------ damaged


def _compressible(size: int = 400_000) -> bytes:
    rng = random.Random(1234)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"python", b"interp", b"\n"]
    return b" ".join(rng.choice(words) for _ in range(size // 5))


def _good_archive(work: Path, suffix: str) -> Path:
    mode = "w:" + suffix.rsplit(".", 1)[-1]
    return make_archive(
        work / "archives" / f"Python-3.13.5.{suffix}",
        [_dir("Python-3.13.5"), _file("Python-3.13.5/big.txt", _compressible())],
        mode,
    )


def _damaged(err: ArchiveError, src: Path, dest: Path) -> None:
    assert src.name in err.message and "cannot extract" in err.message
    assert err.hint and "damaged" in err.hint and str(src) in err.hint
    assert not dest.exists()


@pytest.mark.parametrize("suffix", ["tar.xz", "tar.gz"])
def test_truncated_archive(work, suffix):
    src = _good_archive(work, suffix)
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])
    dest = work / "dest"
    with pytest.raises(ArchiveError) as info:
        archive.extract(src, dest)
    _damaged(info.value, src, dest)


def test_not_an_archive(work):
    src = work / "archives" / "Python-3.13.5.tar.xz"
    src.write_bytes(b"<html>404 Not Found</html>\n" * 20)
    dest = work / "dest"
    with pytest.raises(ArchiveError) as info:
        archive.extract(src, dest)
    _damaged(info.value, src, dest)


def test_empty_file(work):
    src = work / "archives" / "Python-3.13.5.tar.gz"
    src.write_bytes(b"")
    dest = work / "dest"
    with pytest.raises(ArchiveError) as info:
        archive.extract(src, dest)
    _damaged(info.value, src, dest)


def _flip_middle(src: Path) -> None:
    data = bytearray(src.read_bytes())
    middle = len(data) // 2
    for i in range(middle, middle + 32):
        data[i] ^= 0xFF
    src.write_bytes(bytes(data))


def test_corrupt_xz_archive(work):
    src = _good_archive(work, "tar.xz")
    _flip_middle(src)
    dest = work / "dest"
    with pytest.raises(ArchiveError) as info:
        archive.extract(src, dest)
    _damaged(info.value, src, dest)


def test_corrupt_gz_archive(work):
    src = _good_archive(work, "tar.gz")
    _flip_middle(src)
    dest = work / "dest"
    with pytest.raises(ArchiveError) as info:
        archive.extract(src, dest)
    _damaged(info.value, src, dest)


def test_archive_error_exit_code():
    assert ArchiveError.exit_code == 5
