"""`pybuild12 compat` against real interpreters (pyenv's 3.12.1 and 3.13.0) and a venv of
hand-made distributions: a pure-Python one, one that refuses sub-interpreters (it imports
readline, which 3.13 refuses there), one that fails only in them, one that crashes the
process on import and one that hangs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pybuild12 import compat

MODULES = {
    "purepkg": "VALUE = 1\n",
    "refusepkg": "import readline\n",
    "failpkg": ("import _interpreters\n"
                "cur, main = _interpreters.get_current(), _interpreters.get_main()\n"
                "if cur != main:\n    raise RuntimeError('refusing to run outside the main interpreter')\n"),
    "crashpkg": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
    "hangpkg": "import time\ntime.sleep(600)\n",
}


def pyenv_python(version: str) -> Path:
    try:
        prefix = subprocess.run(["pyenv", "prefix", version], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"pyenv's {version} is not installed")
    return Path(prefix) / "bin" / "python3"


def add_distribution(site: Path, name: str, version: str, source: str) -> None:
    (site / f"{name}.py").write_text(source)
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "RECORD").write_text(f"{name}.py,,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    python = pyenv_python("3.13.0")
    directory = tmp_path_factory.mktemp("compat") / "venv"
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(directory)], check=True)
    site = next(directory.glob("lib/python3.13/site-packages"))
    for name, source in MODULES.items():
        add_distribution(site, name, "1.0", source)
    return directory


@pytest.fixture
def scanned(venv, tmp_path):
    start = time.monotonic()
    result = compat.scan(venv / "bin" / "python", cache_dir=tmp_path / "cache", jobs=4, timeout=5)
    return result, time.monotonic() - start, tmp_path / "cache"


def by_name(scan: compat.Scan) -> dict[str, compat.Module]:
    return {m.name: m for m in scan.modules}


def test_each_module_gets_its_own_verdict_and_the_scan_survives_a_crash_and_a_hang(scanned):
    scan, took, _ = scanned
    modules = by_name(scan)
    assert set(modules) == set(MODULES)
    assert modules["purepkg"].verdict == "runs in own-GIL sub-interpreters"
    assert (modules["purepkg"].main, modules["purepkg"].legacy) == ("ok", "ok")
    assert modules["refusepkg"].own_gil == "refuses" and modules["refusepkg"].legacy == "ok"
    assert "does not support loading in subinterpreters" in modules["refusepkg"].detail
    assert modules["failpkg"].own_gil == "fails" and modules["failpkg"].legacy == "fails"
    assert "refusing to run outside the main interpreter" in modules["failpkg"].detail
    assert modules["crashpkg"].verdict == "crashes on import" and "SIGSEGV" in modules["crashpkg"].detail
    assert modules["hangpkg"].verdict == "hangs on import"
    assert all(m.distribution == m.name and m.version == "1.0" for m in scan.modules)
    assert took < 60  # the hang cost its timeout, not the scan


def test_summary_names_the_packages_that_cannot(scanned):
    scan, _, _ = scanned
    assert scan.summary() == [
        "1 of 5 packages can run in own-GIL sub-interpreters; 4 cannot: crashpkg (crashes on import), "
        "failpkg (imports but fails in sub-interpreters), hangpkg (hangs on import), "
        "refusepkg (refuses sub-interpreters)"]
    assert not scan.free_threaded and scan.modules[0].gil is None


def test_a_second_scan_of_an_unchanged_venv_runs_no_child(scanned, venv, monkeypatch):
    first, _, cache = scanned
    monkeypatch.setattr(compat, "probe_one", lambda python, name, *a, **k: pytest.fail(f"probed {name} again"
                        ) if name != "hangpkg" else compat.Module(name, name, "1.0", "hang", "hang", "hang", None, ""))
    start = time.monotonic()
    again = compat.scan(venv / "bin" / "python", cache_dir=cache, jobs=4, timeout=5)
    assert time.monotonic() - start < 1.0
    assert again.cached == 4  # all but the hang, which is asked again next time
    assert [m.verdict for m in again.modules] == [m.verdict for m in first.modules]


def test_a_new_version_of_a_package_is_probed_again(scanned, venv):
    _, _, cache = scanned
    site = next(venv.glob("lib/python3.13/site-packages"))
    info = site / "purepkg-1.0.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: purepkg\nVersion: 2.0\n")
    try:
        again = compat.scan(venv / "bin" / "python", cache_dir=cache, modules=["purepkg", "refusepkg"], timeout=5)
    finally:
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: purepkg\nVersion: 1.0\n")
    assert again.cached == 1 and by_name(again)["purepkg"].version == "2.0"


def test_312_refuses_more_of_the_standard_library(tmp_path):
    scan = compat.scan(pyenv_python("3.12.1"), cache_dir=tmp_path,
                       modules=["_decimal", "json"], timeout=30)
    modules = by_name(scan)
    assert modules["_decimal"].own_gil == "refuses" and modules["_decimal"].distribution is None
    assert modules["json"].own_gil == "ok"


def cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybuild12", "compat", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_cli_json_and_the_gate(venv):
    out = cli("--venv", str(venv), "--json", "--timeout", "5", "-m", "purepkg", "-m", "refusepkg",
              "--require", "subinterpreters")
    assert out.returncode == 7, out.stderr
    data = json.loads(out.stdout)
    assert [m["verdict"] for m in data["modules"]] == ["runs in own-GIL sub-interpreters", "refuses sub-interpreters"]
    assert data["summary"][0].startswith("1 of 2 packages can run in own-GIL sub-interpreters; 1 cannot: refusepkg")
    passing = cli("--venv", str(venv), "-m", "purepkg", "--require", "subinterpreters")
    assert passing.returncode == 0, passing.stderr
    assert "1 of 1 package can run in own-GIL sub-interpreters" in passing.stdout


def test_cli_refuses_what_it_cannot_answer(venv):
    not_ft = cli("--venv", str(venv), "-m", "purepkg", "--require", "freethreading")
    assert not_ft.returncode == 7 and "is not a free-threaded build" in not_ft.stderr
    bad = cli("--venv", str(venv), "--require", "speed")
    assert bad.returncode == 2 and "subinterpreters, freethreading" in bad.stderr
    both = cli("3.13.5", "--venv", str(venv))
    assert both.returncode == 2
    missing = cli("--venv", str(venv / "nowhere"))
    assert missing.returncode == 2 and "not a virtual environment?" in missing.stderr
