"""Safe extraction of source archives.

Uses tarfile's `data` filter (PEP 706), which refuses absolute paths, `..`
components, links that lead outside the tree, and device files. On the few
Python versions that predate PEP 706 the same rules are checked by hand.
"""

from __future__ import annotations

import lzma
import os
import shutil
import tarfile
import zlib
from pathlib import Path

from pybuild12.core.errors import ArchiveError, from_os_error

# PEP 706 names; on older Pythons the hand-written check raises ValueError.
_FilterError = getattr(tarfile, "FilterError", ValueError)


def extract(archive: Path, dest: Path) -> Path:
    """Extract `archive` into the empty directory `dest`; return the source root.

    CPython tarballs hold one top-level directory (Python-X.Y.Z); the root is
    that directory, or `dest` itself for archives without one.
    """
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter=_strict_data_filter)
            else:  # Python before PEP 706 (3.10.12, 3.11.4)
                members = tar.getmembers()
                for member in members:
                    vet(member, dest)
                tar.extractall(dest, members=members)
            # tarfile stops at the end-of-archive blocks; reading on to the end
            # makes the decompressor check its trailer (gzip's CRC, xz's check).
            if tar.fileobj is not None:
                while tar.fileobj.read(1 << 20):
                    pass
    except (_FilterError, UnsafeMember) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise ArchiveError(
            f"refusing to extract {archive.name}: {exc}",
            hint="the archive tries to write outside its own directory; do not use it",
        ) from None
    except (tarfile.TarError, EOFError, OSError, lzma.LZMAError, zlib.error, ValueError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        if isinstance(exc, OSError) and (full := from_os_error(exc)) is not None:
            raise full from None  # a full disk, not a damaged archive
        raise ArchiveError(
            f"cannot extract {archive.name}: {exc}",
            hint=f"the file may be damaged; delete {archive} and try again",
        ) from None
    entries = [p for p in dest.iterdir()]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return dest


class UnsafeMember(ValueError):
    """A tar member that would write outside the tree, link out of it, or is a device."""


def vet(member: tarfile.TarInfo, dest: Path) -> None:
    """Raise UnsafeMember unless `member` is safe to extract into `dest` (the rules of
    the `data` filter, absolute names refused), on any Python this project supports."""
    try:
        if hasattr(tarfile, "data_filter"):
            _strict_data_filter(member, str(dest))
        else:  # Python 3.10.0-3.10.11 and 3.11.0-3.11.3 (Debian bookworm's 3.11.2)
            _checked(member, dest)
    except (_FilterError, ValueError) as exc:
        raise UnsafeMember(str(exc)) from None


def extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> None:
    """Extract one member that `vet` accepted."""
    if hasattr(tarfile, "data_filter"):
        tar.extract(member, dest, filter="data")
    else:
        tar.extract(member, dest, set_attrs=not member.isdir())


def _strict_data_filter(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
    """The `data` filter, except that absolute names are refused, not made relative.

    An archive that names absolute paths was not made by `make dist`; refusing
    it says so, where silently rebasing it would hide the fact.
    """
    if member.name.startswith("/") or os.path.isabs(member.name):
        raise tarfile.AbsolutePathError(member)
    return tarfile.data_filter(member, path)


def _checked(member: tarfile.TarInfo, dest: Path) -> tarfile.TarInfo:
    root = os.path.realpath(dest)
    target = os.path.realpath(os.path.join(root, member.name))
    if os.path.isabs(member.name) or os.path.commonpath([root, target]) != root:
        raise ValueError(f"{member.name!r} would be extracted outside the destination")
    if member.issym() or member.islnk():
        # a symlink's target is relative to its directory, a hard link's to the archive's root
        base = os.path.dirname(target) if member.issym() else root
        link = os.path.realpath(os.path.join(base, member.linkname))
        if os.path.isabs(member.linkname) or os.path.commonpath([root, link]) != root:
            raise ValueError(f"{member.name!r} links outside the destination")
    if member.isdev():
        raise ValueError(f"{member.name!r} is a device file")
    return member
