"""core/files: the atomic writer's modes, and reading the umask without changing it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import mode_of, umask
from pybuild12.core import files


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002], ids=oct)
@pytest.mark.parametrize("proc", [True, False], ids=["proc", "no-proc"])
def test_umask_is_read_and_left_as_it_was(mask, proc, monkeypatch, tmp_path):
    if not proc:  # not Linux: os.umask's set-and-put-back
        monkeypatch.setattr(files, "_STATUS", str(tmp_path / "absent"))
    with umask(mask):
        assert files.umask() == mask
        assert os.umask(mask) == mask  # put back as it was


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)], ids=oct)
def test_written_files_get_the_mode_a_new_file_gets(tmp_path, mask, mode):
    with umask(mask):
        assert mode_of(files.write_text(tmp_path / "a.txt", "one")) == mode
        assert mode_of(files.write_json(tmp_path / "a.txt", {"two": 2})) == mode
        fd, part = files.new_part(tmp_path / "sub", "x.")
        os.close(fd)
        assert mode_of(part) == mode


def test_perms_overrides_the_umask_from_the_start(tmp_path):
    with umask(0o022):
        with files.replacing(tmp_path / "secret", "w", perms=0o600) as fh:
            assert mode_of(Path(f"/proc/self/fd/{fh.fileno()}").resolve()) == 0o600  # before a byte is written
            fh.write("key")
    assert mode_of(tmp_path / "secret") == 0o600


def test_usual_mode_opens_a_private_file_up_to_the_umask(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text("{}")
    path.chmod(0o600)
    with umask(0o022):
        files.usual_mode(path)
        files.usual_mode(tmp_path / "absent")  # nothing there: nothing done
    assert mode_of(path) == 0o644


def test_a_file_that_cannot_be_written_is_named_not_its_temporary_part(tmp_path):
    directory = tmp_path / "project"
    directory.mkdir()
    (directory / "blocker").write_text("")
    target = directory / "blocker" / ".python-version"  # its directory is a file: no .part can be made there
    with pytest.raises(OSError) as info:
        files.write_text(target, "3.13.5\n")
    assert info.value.filename == str(target)
