"""store/receipts.py: the receipt as one typed record, read from every receipt pybuild12 has written."""

from __future__ import annotations

import json

from pybuild12.store import receipts
from pybuild12.store.receipts import Receipt

# A receipt as the install writes it today (the layout of SCHEMA 1).
FULL = {
    "schema": 1, "name": "3.13.5+freethreaded", "installed_at": "2026-12-01T10:00:00+00:00",
    "pybuild12_version": "0.9.0", "python": "bin/python3.13t",
    "recipe": {"name": "3.13.5", "path": "/r/3.13.5.toml", "version": "3.13.5", "summary": "CPython 3.13.5",
               "content_sha256": "c" * 64, "alias_of": ["3.13"]},
    "source": {"kind": "tarball", "url": "https://x/Python-3.13.5.tar.xz", "sha256": "s" * 64},
    "configure_args": ["--prefix=/p", "--enable-optimizations", "--disable-gil"], "make_jobs": 2,
    "compiler": "gcc (Debian 12.2.0-14) 12.2.0", "host": {"hostname": "h", "machine": "x86_64"},
    "timings": {"compile": 300.5}, "log": "/logs/x.log", "artifact": {"key": "k" * 64, "from_cache": False},
    "variants": ["freethreaded"], "pgo_profile": {"key": "p" * 64, "origin": "trained"},
    "verification": {"ok": True, "checks": [{"name": "parallelism", "status": "passed"}]},
    "required_modules": ["ssl", "zlib"], "modules": {"missing": ["_tkinter"]}, "bytecode": False,
}


def test_todays_receipt_reads_into_types_and_writes_back_the_same_json():
    receipt = Receipt.from_json(FULL)
    assert receipt.version == "3.13.5" and receipt.recipe.alias_of == ("3.13",)
    assert receipt.variants == ("freethreaded",) and receipt.configure_args[-1] == "--disable-gil"
    assert receipt.artifact["key"] == "k" * 64 and receipt.optimize is None and receipt.optimize_level == "standard"
    assert receipt.bytecode is False and receipt.compiled_bytecode is False
    assert receipt.to_json() == FULL


def test_an_old_receipt_reads_with_defaults_and_keeps_what_it_had():
    old = {"schema": 1, "name": "3.12.13", "python": "bin/python3.12", "recipe": {"version": "3.12.13"},
           "configure_args": ["--prefix=/p"]}
    receipt = Receipt.from_json(old)
    assert receipt.variants is None  # not recorded: names.kind_of falls back to the build's name
    assert receipt.required_modules == () and receipt.modules is None and receipt.timings is None
    assert receipt.recipe.name == "?" and receipt.version == "3.12.13"
    written = receipt.to_json()
    assert {k: written[k] for k in old} == {**old, "recipe": {**receipt.recipe.to_json(), "version": "3.12.13"}}
    assert "variants" not in written and "timings" not in written and "bytecode" not in written
    assert receipt.bytecode is None and receipt.compiled_bytecode is True  # every build before the option did


def test_keys_this_version_does_not_know_are_kept(tmp_path):
    receipts.write(tmp_path, Receipt.from_json({**FULL, "from_the_future": {"x": 1}}))
    again = receipts.read(tmp_path)
    assert again.extra == {"from_the_future": {"x": 1}}
    assert json.loads((tmp_path / receipts.FILE).read_text())["from_the_future"] == {"x": 1}


def test_what_is_not_a_receipt_reads_as_none(tmp_path):
    assert receipts.read(tmp_path) is None
    (tmp_path / receipts.FILE).write_text("[1, 2]")
    assert receipts.read(tmp_path) is None
    (tmp_path / receipts.FILE).write_text('{"name": "x", "source": "not a table", "host": 3}')
    assert receipts.read(tmp_path).source == {}  # a damaged field takes its default, the rest is read


def test_a_reproducible_receipt_drops_what_changes_between_runs():
    one = Receipt.from_json(FULL).made_reproducible(1700000000)
    assert one.timings is None and one.log is None and one.host == {"machine": "x86_64"}
    assert one.verification["checks"] == ["parallelism"] and one.reproducible == {"source_date_epoch": 1700000000}
    assert "timings" not in one.to_json() and one.installed_at == "2023-11-14T22:13:20+00:00"
