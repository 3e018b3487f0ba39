"""The artifact cache with the real build: a reinstall unpacks the verified build."""

from __future__ import annotations

import json

import pytest

from realbuild import RECIPE, SESSION_OPTS

pytestmark = pytest.mark.integration


def test_the_build_was_packed(real_build):
    listed = json.loads(real_build.cli("cache", "list", "--json").stdout)
    assert [a["key"] for a in listed] == [real_build.receipt["artifact"]["key"]]
    assert listed[0]["name"] == RECIPE and listed[0]["size"] > 10_000_000


def test_reinstall_from_the_cache_is_checked_and_reuses_its_verification(real_build):
    proc = real_build.cli("install", RECIPE, *SESSION_OPTS, "--force")
    assert proc.returncode == 0, proc.stderr
    receipt = json.loads((real_build.prefix / "pybuild12.json").read_text())
    assert receipt["artifact"] == {"key": real_build.receipt["artifact"]["key"], "from_cache": True, "origin": "local"}
    # The check (imports, creates an interpreter) runs; the full verification made when the
    # build was packed is reused, since every unpacked file matches the manifest.
    assert set(receipt["timings"]) == {"unpack", "check", "manifest"}
    assert receipt["verification"]["ok"] is True and "match the manifest" in receipt["verification"]["reused"]
    assert receipt["source"]["sha256"] == real_build.receipt["source"]["sha256"]
    assert "✓ unpack" in proc.stderr and "✓ check" in proc.stderr and "✓ verify" not in proc.stderr
    ran = real_build.cli("run", RECIPE, "--", "-c", "import _interpreters, sys; print(sys.version.split()[0])")
    assert ran.stdout.strip() == RECIPE
