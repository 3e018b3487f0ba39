"""A non-editable install (a wheel) carries the recipes and the resource scripts."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=150)
    if proc.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{proc.stderr[-2000:]}")
    return next(out.glob("pybuild12-*.whl"))


def test_wheel_ships_every_recipe(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {f"pybuild12/recipes/{p.name}" for p in (ROOT / "recipes").glob("*.toml")}
    assert shipped and shipped <= names


def test_wheel_ships_the_resources_and_the_entry_point(wheel):
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    assert {"pybuild12/resources/smoke.py", "pybuild12/resources/prerequisites.toml",
            "pybuild12/resources/variants.toml", "pybuild12/resources/verify_variant.py",
            "pybuild12/resources/compat_probe.py"} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "pybuild12 = pybuild12.cli:main" in archive.read(entry_points).decode()


def _imported_packages() -> set[str]:
    """The top-level packages pybuild12's own modules import (the resource scripts run in
    the built interpreter and import the standard library only)."""
    import ast

    found = set()
    for path in (ROOT / "pybuild12").rglob("*.py"):
        if "resources" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"pybuild12"}


def test_every_imported_package_is_declared():
    import re

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["dependencies"]
    names = {re.match(r"[A-Za-z0-9_.-]+", d).group().lower().replace("-", "_") for d in declared}
    imported = _imported_packages()
    assert {"requests", "typer", "cryptography"} <= imported  # the scan sees imports
    assert imported <= names, f"imported but not declared in pyproject.toml: {sorted(imported - names)}"
