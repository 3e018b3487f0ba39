import os

import pytest

from pybuild12.core import staging
from pybuild12.core.errors import NotInstalledError
from pybuild12.store import receipts, registry
from pybuild12.store.receipts import Receipt


def _install(paths, name, version="3.13.5"):
    prefix = paths.prefix(name)
    (prefix / "bin").mkdir(parents=True)
    receipts.write(prefix,
                   Receipt.from_json({"name": name, "python": "bin/python3.13", "recipe": {"version": version}}))
    return prefix


def test_receipt_round_trip_carries_schema(paths):
    prefix = _install(paths, "3.13.5")
    data = receipts.read(prefix)
    assert data.schema == receipts.SCHEMA and data.name == "3.13.5"
    assert not list(prefix.glob("*.tmp"))


def test_installed_lists_builds_not_staging_dirs(paths):
    _install(paths, "3.13.5")
    _install(paths, "3.12.13", "3.12.13")
    staging.new_staging(paths.pythons, "3.14.10")
    (paths.pythons / "handmade").mkdir()
    found = {b.name: b for b in registry.installed(paths)}
    assert sorted(found) == ["3.12.13", "3.13.5", "handmade"]
    assert found["3.12.13"].version == "3.12.13"
    assert found["3.13.5"].python == paths.prefix("3.13.5") / "bin/python3.13"
    assert found["handmade"].receipt is None and found["handmade"].version == "?"


def test_get_unknown_names_the_installed_ones(paths):
    _install(paths, "3.13.5")
    with pytest.raises(NotInstalledError) as info:
        registry.get(paths, "3.14")
    assert "3.13.5" in info.value.hint and "pybuild12 install 3.14" in info.value.hint


@pytest.mark.parametrize("name", ["../x", ".staging-3.13.5-x", "a/b"])
def test_get_refuses_paths(paths, name):
    (paths.pythons / ".staging-3.13.5-x").mkdir(parents=True)
    with pytest.raises(NotInstalledError):
        registry.get(paths, name)


def test_remove_deletes_only_that_build(paths):
    _install(paths, "3.13.5")
    other = _install(paths, "3.12.13")
    registry.remove(paths, "3.13.5")
    assert not paths.prefix("3.13.5").exists()
    assert other.exists()
    assert [p.name for p in paths.pythons.iterdir()] == ["3.12.13"]


def test_reproducible_receipt_drops_what_changes_between_runs():
    def receipt(status: str, seconds: float, host: str) -> dict:
        return {"name": "3.13.5", "timings": {"compile": seconds}, "log": f"/logs/{seconds}.log",
                "installed_at": "now", "host": {"hostname": host, "release": "6.1", "machine": "x86_64"},
                "verification": {"ok": True, "checks": [{"name": "parallelism", "status": status,
                                                         "figures": {"speedup": seconds}}]}}

    one = Receipt.from_json(receipt("passed", 301.5, "a")).made_reproducible(1700000000).to_json()
    two = Receipt.from_json(receipt("inconclusive", 299.0, "b")).made_reproducible(1700000000).to_json()
    assert one == two
    assert one["installed_at"] == "2023-11-14T22:13:20+00:00" and one["verification"]["checks"] == ["parallelism"]
    assert one["host"] == {"machine": "x86_64"} and "timings" not in one and "log" not in one


def test_a_free_threaded_build_names_its_interpreter_by_its_kind(paths):
    prefix = _install(paths, "3.13.5+freethreaded")  # receipt from before: bin/python3.13
    (prefix / "bin/python3.13t").write_text("")
    os.link(prefix / "bin/python3.13t", prefix / "bin/python3.13")
    assert registry.get(paths, "3.13.5+freethreaded").python == prefix / "bin/python3.13"  # no variants recorded
    receipts.write(prefix, Receipt.from_json({"name": "x", "python": "bin/python3.13", "variants": ["freethreaded"]}))
    assert registry.get(paths, "3.13.5+freethreaded").python == prefix / "bin/python3.13t"
    debug = prefix / "bin/python3.13td"
    assert registry.kind_python(prefix / "bin/python3.13", ["freethreaded", "debug"]) == prefix / "bin/python3.13t"
    (prefix / "bin/python3.13t").rename(debug)  # a free-threaded debug build has only the td name
    assert registry.kind_python(prefix / "bin/python3.13", ["freethreaded", "debug"]) == debug
    assert registry.kind_python(prefix / "bin/python3.13", ["debug"]) == prefix / "bin/python3.13"
