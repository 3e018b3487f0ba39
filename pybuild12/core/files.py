"""Two things every store of pybuild12 does with files, done one way.

`sha256_of` hashes a file in blocks. `replacing` writes a file so that readers see
the old content or the new, never a part: the bytes go to a locked `.part` file
beside the target (a killed writer's part is swept later: `sweep_parts`) and
are renamed over it only once complete; on any failure the part is deleted.

A `.part` file gets the mode `open()` would give a new file (0666 less the umask), not
mkstemp's 0600: the receipt, the manifest, `.python-version` and the caches' files are
read by other users as any other tool's files are (`pybuild12 list` as a colleague).
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

BLOCK = 1 << 20


def sha256_of(path: Path) -> str:
    import hashlib  # lazy: hashing loads OpenSSL (3 ms), which the answering commands never need

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def replacing(path: Path, mode: str = "wb", *, perms: int | None = None) -> Iterator[IO]:
    """A file object whose content replaces `path` when the block ends without an error;
    `perms`: the file's mode (a secret's 0600) instead of the umask's. An error creating
    it names `path`, the file the user knows, not its temporary part."""
    try:
        fd, part = new_part(path.parent, f".{path.name}.", perms=perms)
    except OSError as exc:
        raise type(exc)(exc.errno, exc.strerror, str(path)) from None
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as fh:
            yield fh
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> Path:
    with replacing(path, "w") as fh:
        fh.write(text)
    return path


def write_json(path: Path, data: Any, **dumps: Any) -> Path:
    return write_text(path, json.dumps(data, **{"indent": 2, "sort_keys": True, **dumps}) + "\n")


PART = ".part"
MIN_AGE = 60.0  # seconds since the last write: a part younger than this is never swept


def new_part(directory: Path, prefix: str, *, perms: int | None = None) -> tuple[int, Path]:
    """A new, empty `.part` file in `directory`, locked for as long as the fd is open, with
    the mode a new file gets (`perms` if given), set before a byte is written."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=PART)
    try:
        os.fchmod(fd, 0o666 & ~umask() if perms is None else perms)
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        os.unlink(name)
        raise
    return fd, Path(name)


def usual_mode(path: Path) -> None:
    """Give an existing file, if there is one, the mode a new file gets (0666 less the umask)."""
    if path.is_file():
        os.chmod(path, 0o666 & ~umask())


_UMASK_LOCK = threading.Lock()
_STATUS = "/proc/self/status"


def umask() -> int:
    """The process's umask, read afresh (a test, or the program, may change it).

    os.umask can only read it by setting it, for the whole process: a thread creating a
    file in that instant would get the value set in between. Linux shows it in
    /proc/self/status (since 4.7) without changing it; elsewhere it is set under a lock
    (no two readers interleave) to 0o077 in between, so a file made in that instant is
    at worst more private, never less."""
    try:
        with open(_STATUS, encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def sweep_parts(directory: Path, *, pattern: str = f"*{PART}", min_age: float = MIN_AGE,
                now: float | None = None) -> list[Path]:
    """Delete the `.part` files (matching `pattern`) in `directory` that no live process holds."""
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    now = time.time() if now is None else now
    for part in directory.glob(pattern):
        try:
            if now - part.stat().st_mtime < min_age:
                continue  # perhaps created a moment ago and not locked yet
            fd = os.open(part, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live writer holds it
        else:
            part.unlink(missing_ok=True)
            removed.append(part)
        finally:
            os.close(fd)
    return removed
