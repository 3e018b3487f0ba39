"""Two things every store of pybuild12 does with files, done one way.

`sha256_of` hashes a file in blocks. `replacing` writes a file so that readers see
the old content or the new, never a part: the bytes go to a locked `.part` file
beside the target (a killed writer's part is swept later, see `leftovers`) and
are renamed over it only once complete; on any failure the part is deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

from pybuild12 import leftovers

BLOCK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def replacing(path: Path, mode: str = "wb") -> Iterator[IO]:
    """A file object whose content replaces `path` when the block ends without an error."""
    fd, part = leftovers.new_part(path.parent, f".{path.name}.")
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
