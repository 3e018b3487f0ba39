"""The file manifest of an install, and `pybuild12 verify --files`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pybuild12.core.errors import PyBuild12Error
from pybuild12.store import manifest, receipts
from pybuild12.store.receipts import Receipt


@pytest.fixture
def prefix(tmp_path):
    root = tmp_path / "prefix"
    (root / "bin").mkdir(parents=True)
    (root / "lib/python3.13/json").mkdir(parents=True)
    (root / "bin/python3.13").write_bytes(b"\x7fELF binary")
    (root / "bin/python3").symlink_to("python3.13")
    (root / "lib/python3.13/json/__init__.py").write_text("x = 1\n")
    (root / "lib/python3.13/os.py").write_text("y = 2\n")
    receipts.write(root, Receipt.from_json({"name": "p"}))
    manifest.write(root)
    return root


def test_manifest_lists_files_and_links_but_not_itself_or_the_receipt(prefix):
    files = json.loads((prefix / manifest.FILE).read_text())["files"]
    assert set(files) == {"bin/python3.13", "bin/python3", "lib/python3.13/json/__init__.py", "lib/python3.13/os.py"}
    assert files["bin/python3"] == {"link": "python3.13"}
    assert files["lib/python3.13/os.py"]["size"] == 6 and len(files["lib/python3.13/os.py"]["sha256"]) == 64


def test_untouched_prefix_matches(prefix):
    receipts.write(prefix, Receipt.from_json({"name": "p", "changed": True}))  # the receipt is not covered
    found = manifest.compare(prefix, "p")
    assert found.ok and found.checked == 4


def test_changed_missing_and_added_files_are_named(prefix):
    (prefix / "lib/python3.13/os.py").write_text("y = 3\n")  # same size, other bytes
    (prefix / "lib/python3.13/json/__init__.py").unlink()
    (prefix / "lib/python3.13/site.py").write_text("")
    (prefix / "bin/python3").unlink()
    (prefix / "bin/python3").symlink_to("/usr/bin/python3")
    found = manifest.compare(prefix, "p")
    assert found.changed == ("bin/python3", "lib/python3.13/os.py")
    assert found.missing == ("lib/python3.13/json/__init__.py",)
    assert found.added == ("lib/python3.13/site.py",)
    assert not found.ok


def test_bytecode_python_writes_at_import_is_not_added_but_listed_bytecode_still_counts(prefix):
    cache = prefix / "lib/python3.13/__pycache__"
    cache.mkdir()
    (cache / "os.cpython-313.pyc").write_bytes(b"listed")
    manifest.write(prefix)  # a build whose make install compiled os.py
    (cache / "os.cpython-313.pyc").write_bytes(b"other")  # changed
    json_cache = prefix / "lib/python3.13/json/__pycache__"
    json_cache.mkdir()
    (json_cache / "__init__.cpython-313.pyc").write_bytes(b"written at import")
    (json_cache / "__init__.cpython-313.opt-1.pyc").write_bytes(b"by python -O")
    (prefix / "lib/python3.13/stray.pyc").write_bytes(b"not in a __pycache__")
    (json_cache / "notes.txt").write_text("not bytecode")
    found = manifest.compare(prefix, "p")
    assert found.changed == ("lib/python3.13/__pycache__/os.cpython-313.pyc",)
    assert found.added == ("lib/python3.13/json/__pycache__/notes.txt", "lib/python3.13/stray.pyc")
    (cache / "os.cpython-313.pyc").unlink()
    assert manifest.compare(prefix, "p").missing == ("lib/python3.13/__pycache__/os.cpython-313.pyc",)
    # an artifact from elsewhere is compared strictly: a planted .pyc would run in place of its source
    strict = manifest.compare(prefix, "p", import_bytecode=False)
    assert "lib/python3.13/json/__pycache__/__init__.cpython-313.pyc" in strict.added
    assert "lib/python3.13/json/__pycache__/__init__.cpython-313.opt-1.pyc" in strict.added


def test_drop_import_bytecode_removes_the_pyc_and_the_directories_left_empty(prefix):
    for rel in ("lib/python3.13/__pycache__/os.cpython-313.pyc", "lib/python3.13/json/__pycache__/a.cpython-313.pyc",
                "lib/python3.13/json/__pycache__/a.cpython-313.opt-2.pyc"):
        (prefix / rel).parent.mkdir(exist_ok=True)
        (prefix / rel).write_bytes(b"pyc")
    (prefix / "lib/python3.13/json/__pycache__/keep.txt").write_text("")
    assert manifest.drop_import_bytecode(prefix) == 3
    assert not (prefix / "lib/python3.13/__pycache__").exists()
    assert [p.name for p in (prefix / "lib/python3.13/json/__pycache__").iterdir()] == ["keep.txt"]
    assert (prefix / "lib/python3.13/os.py").exists() and manifest.drop_import_bytecode(prefix) == 0


def test_missing_manifest_says_how_to_get_one(prefix):
    (prefix / manifest.FILE).unlink()
    with pytest.raises(PyBuild12Error, match="no file manifest") as info:
        manifest.compare(prefix, "p")
    assert "install p --force" in info.value.hint


def test_damaged_manifest(prefix):
    (prefix / manifest.FILE).write_text("{not json")
    with pytest.raises(PyBuild12Error, match="damaged"):
        manifest.compare(prefix, "p")


def cli(*args):
    return subprocess.run([sys.executable, "-m", "pybuild12", *args], capture_output=True, text=True, timeout=120)


def test_verify_files_command(paths, prefix):
    installed = paths.prefix("p")
    installed.parent.mkdir(parents=True)
    os.rename(prefix, installed)
    proc = cli("verify", "--files", "p")
    assert proc.returncode == 0 and "all 4 files match" in proc.stderr
    # python imported os and json from the build and wrote their bytecode: nothing to report
    for rel in ("lib/python3.13/__pycache__/os.cpython-313.pyc", "lib/python3.13/json/__pycache__/"
                "__init__.cpython-313.pyc"):
        (installed / rel).parent.mkdir(exist_ok=True)
        (installed / rel).write_bytes(b"bytecode")
    proc = cli("verify", "--files", "p")
    assert proc.returncode == 0 and "all 4 files match" in proc.stderr and proc.stdout == ""
    (installed / "lib/python3.13/os.py").write_text("tampered\n")
    (installed / "lib/python3.13/extra.py").write_text("")
    proc = cli("verify", "--files", "p")
    assert proc.returncode == 7
    assert proc.stdout.splitlines() == ["changed  lib/python3.13/os.py", "added    lib/python3.13/extra.py"]
    assert "1 changed, 0 missing, 1 added (of 4 files" in proc.stderr
    data = json.loads(cli("verify", "--files", "p", "--json").stdout)
    assert data["changed"] == ["lib/python3.13/os.py"] and data["added"] == ["lib/python3.13/extra.py"]
    assert data["ok"] is False


def test_verify_files_refuses_python_option(paths):
    proc = cli("verify", "--files", "--python", sys.executable)
    assert proc.returncode == 2 and "--files checks an installed build" in proc.stderr
