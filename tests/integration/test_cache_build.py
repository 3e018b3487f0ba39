"""The artifact cache with the real build: a reinstall unpacks the verified build."""

from __future__ import annotations

import json

import pytest

from realbuild import RECIPE

pytestmark = pytest.mark.integration


def test_the_build_was_packed(real_build):
    listed = json.loads(real_build.cli("cache", "list", "--json").stdout)
    assert [a["key"] for a in listed] == [real_build.receipt["artifact"]["key"]]
    assert listed[0]["name"] == RECIPE and listed[0]["size"] > 10_000_000


def test_reinstall_from_the_cache_is_verified_and_says_so(real_build):
    proc = real_build.cli("install", RECIPE, "--force")
    assert proc.returncode == 0, proc.stderr
    receipt = json.loads((real_build.prefix / "pybuild12.json").read_text())
    assert receipt["artifact"] == {"key": real_build.receipt["artifact"]["key"], "from_cache": True, "origin": "local"}
    assert set(receipt["timings"]) == {"unpack", "check", "verify"}
    assert receipt["verification"]["ok"] is True
    assert receipt["source"]["sha256"] == real_build.receipt["source"]["sha256"]
    assert "✓ unpack" in proc.stderr and "✓ verify" in proc.stderr
    ran = real_build.cli("run", RECIPE, "--", "-c", "import _interpreters, sys; print(sys.version.split()[0])")
    assert ran.stdout.strip() == RECIPE
