"""`pybuild12 compat` against real interpreters (pyenv's 3.12.1 and 3.13.0) and a venv of
hand-made distributions: a pure-Python one, one that refuses sub-interpreters (it imports
readline, which 3.13 refuses there), one that fails only in them, one that crashes the
process on import, one that hangs, and two that ship an extension module (3.13's own
readline module, copied into the package): one imports it and falls back to pure Python
when it is refused, the other leaves it to be imported on its own, as lxml does with
lxml.etree. Real packages from PyPI are in tests/integration/test_compat_build.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pybuild12.checks import compat, compatprobe, compatscan

MODULES = {
    "purepkg": "VALUE = 1\n",
    "refusepkg": "import readline\n",
    "failpkg": ("import _interpreters\n"
                "cur, main = _interpreters.get_current(), _interpreters.get_main()\n"
                "if cur != main:\n    raise RuntimeError('refusing to run outside the main interpreter')\n"),
    "crashpkg": "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
    "hangpkg": "import time\ntime.sleep(600)\n",
    # 3.13's _datetime crashes the process when a sub-interpreter imports it before the main
    # interpreter does: a package that imports datetime crashes together through it.
    "datetimepkg": "import datetime\n",
    # Imports only without another distribution's C part (as requests without charset_normalizer's).
    "usesdeppkg": "try:\n    from subpkg import readline\nexcept ImportError:\n    readline = None\n",
}
# Packages of their own directory, with a copy of an extension module (name: source of __init__).
PACKAGES = {
    "fallbackpkg": ("try:\n    from fallbackpkg import readline as _speedups\n"
                    "except ImportError:\n    _speedups = None\n"),
    "subpkg": "",
}
# Imported in a sub-interpreter, then in the main one: the process aborts at exit, as
# msgpack 1.2.4 does on 3.13 (a stand-in; the real one is in the integration tests).
TOGETHER = ("import _interpreters, atexit, os\n"
            "MARK = os.path.join(os.path.dirname(__file__), f'.imported-in-a-sub-{os.getpid()}')\n"
            "if _interpreters.get_current() != _interpreters.get_main():\n"
            "    open(MARK, 'w').close()\n"
            "elif os.path.exists(MARK):\n"
            "    os.unlink(MARK)\n"
            "    atexit.register(os.abort)\n")


def pyenv_python(version: str) -> Path:
    try:
        prefix = subprocess.run(["pyenv", "prefix", version], capture_output=True, text=True, check=True,
                                timeout=60).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"pyenv's {version} is not installed")
    return Path(prefix) / "bin" / "python3"


def add_distribution(site: Path, name: str, version: str, files: dict[str, str | Path], *, extra: str = "",
                     wheel: str = "") -> Path:
    """Write `files` (relative path: text, or a file to copy) and a dist-info naming them."""
    for rel, content in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.copy(content, site / rel)
        else:
            (site / rel).write_text(content)
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{extra}")
    listed = [*files, f"{info.name}/METADATA", f"{info.name}/RECORD"]
    if wheel:
        (info / "WHEEL").write_text(f"Wheel-Version: 1.0\n{wheel}")
        listed.append(f"{info.name}/WHEEL")
    (info / "RECORD").write_text("".join(f"{rel},,\n" for rel in listed))
    return info


def readline_extension(python: Path) -> Path:
    dynload = Path(subprocess.run([str(python), "-c", "import readline; print(readline.__file__)"],
                                  capture_output=True, text=True, check=True, timeout=60).stdout.strip())
    return dynload


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    python = pyenv_python("3.13.0")
    directory = tmp_path_factory.mktemp("compat") / "venv"
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(directory)], check=True, timeout=120)
    site = next(directory.glob("lib/python3.13/site-packages"))
    for name, source in MODULES.items():
        add_distribution(site, name, "1.0", {f"{name}.py": source})
    extension = readline_extension(python)
    for name, init in PACKAGES.items():
        add_distribution(site, name, "1.0", {f"{name}/__init__.py": init, f"{name}/{extension.name}": extension},
                         wheel="Tag: cp313-cp313-linux_x86_64\n")
    add_distribution(site, "togetherpkg", "1.0", {"togetherpkg.py": TOGETHER},
                     extra="Classifier: Programming Language :: Python :: Free Threading :: 2 - Beta\n",
                     wheel="Tag: py3-none-any\n")
    add_distribution(site, "bothpkg", "1.0", {"bothpkg.py": "import datetime\n" + TOGETHER})
    return directory


@pytest.fixture(scope="module")
def scanned(venv, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    start = time.monotonic()
    result = compatscan.scan(venv / "bin" / "python", cache_dir=cache, jobs=4, timeout=5)
    return result, time.monotonic() - start, cache


def packages(scan: compat.Scan) -> dict[str, compat.Package]:
    return {p.name: p for p in scan.packages}


def modules(scan: compat.Scan) -> dict[str, compat.Module]:
    return {m.name: m for m in scan.modules}


def test_each_package_gets_its_worst_modules_verdict_and_the_scan_survives_a_crash_and_a_hang(scanned):
    scan, took, _ = scanned
    found = packages(scan)
    assert set(found) == {*MODULES, *PACKAGES, "togetherpkg", "bothpkg"}
    assert found["purepkg"].reason() == "runs in own-GIL sub-interpreters" and found["purepkg"].verdict == "runs"
    # The refused module is named from CPython's own message: readline, deeper than refusepkg.
    assert found["refusepkg"].reason() == "refuses own-GIL sub-interpreters (readline)"
    assert "does not support loading in subinterpreters" in modules(scan)["refusepkg"].detail
    assert modules(scan)["refusepkg"].legacy == "ok"  # a shared GIL is fine
    assert found["failpkg"].reason() == "imports but fails in sub-interpreters"
    assert "refusing to run outside the main interpreter" in modules(scan)["failpkg"].detail
    assert found["crashpkg"].reason() == "crashes on import" and "SIGSEGV" in modules(scan)["crashpkg"].detail
    assert found["hangpkg"].reason() == "hangs on import"
    assert all(p.version == "1.0" for p in scan.packages)
    assert took < 60  # the hang cost its timeout, not the scan


def test_an_extension_module_is_probed_even_when_the_package_never_imports_it(scanned):
    """As lxml: `import lxml` works in a sub-interpreter, `import lxml.etree` is refused."""
    scan, _, _ = scanned
    sub = packages(scan)["subpkg"]
    assert [m.name for m in sub.modules] == ["subpkg", "subpkg.readline"]
    assert modules(scan)["subpkg"].own_gil == "ok" and modules(scan)["subpkg.readline"].kind == "extension"
    assert sub.verdict == "refuses" and sub.culprit == "subpkg.readline"
    assert sub.reason() == "refuses own-GIL sub-interpreters (subpkg.readline)"


def test_a_package_that_only_imports_through_its_fallback_is_not_said_to_run(scanned):
    scan, _, _ = scanned
    fallback = packages(scan)["fallbackpkg"]
    assert modules(scan)["fallbackpkg"].own_gil == "ok"  # the import itself works...
    assert modules(scan)["fallbackpkg"].fallback == ("fallbackpkg.readline",)  # ...without its C part
    assert fallback.verdict == "fallback"
    assert fallback.reason() == "runs only through its pure-Python fallback (C part refused: fallbackpkg.readline)"
    assert fallback.together == "ok"
    # Another distribution's C part: named as a dependency's.
    uses = packages(scan)["usesdeppkg"]
    assert uses.verdict == "fallback" and uses.refused_parts == ("subpkg.readline",)
    assert uses.reason() == "runs only through a pure-Python fallback (a dependency's C part refused: subpkg.readline)"


def test_a_crash_when_used_from_two_interpreters_is_reported(scanned):
    scan, _, _ = scanned
    together = packages(scan)["togetherpkg"]
    assert modules(scan)["togetherpkg"].own_gil == "ok"
    assert together.together == "crash" and "SIGABRT" in together.together_detail
    assert together.reason() == "crashes when used from two interpreters"
    assert together.together_stdlib == () and together.together_own is None


def test_a_crash_together_through_the_standard_library_names_it(scanned, venv):
    """3.13's _datetime: the crash is the standard library's, and goes away when the main
    interpreter imports it first; a package that crashes by itself too is told apart."""
    scan, _, _ = scanned
    found = packages(scan)
    assert modules(scan)["datetimepkg"].stdlib == ("_datetime",)
    assert found["datetimepkg"].together == "crash" and found["datetimepkg"].together_stdlib == ("_datetime",)
    assert found["datetimepkg"].together_own is False
    assert found["datetimepkg"].reason() == ("crashes when used from two interpreters "
                                             "(through the standard library's _datetime only)")
    assert found["bothpkg"].together_stdlib == ("_datetime",) and found["bothpkg"].together_own is True
    assert found["bothpkg"].reason() == ("crashes when used from two interpreters "
                                         "(by itself and through the standard library's _datetime)")
    assert scan.summary()[1] == ("Python 3.13.0's _datetime crashes the process (at exit) when a sub-interpreter "
                                 "imported it first and the main interpreter imports it while that sub-interpreter "
                                 "lives; importing _datetime in the main interpreter before any sub-interpreter "
                                 "does avoids the crash of datetimepkg")
    # Ground truth, apart from the probe: the same imports, in this order, in the venv's python.
    python = str(venv / "bin" / "python")
    both = ("import _interpreters, sys\n{first}i = _interpreters.create(_interpreters.new_config('isolated'))\n"
            "_interpreters.exec(i, 'import datetimepkg')\nimport datetimepkg\n_interpreters.destroy(i)\n")
    sub_first = subprocess.run([python, "-c", both.format(first="")], capture_output=True, timeout=60)
    main_first = subprocess.run([python, "-c", both.format(first="import _datetime\n")], capture_output=True,
                                timeout=60)
    assert sub_first.returncode < 0 and main_first.returncode == 0, (sub_first, main_first)


def test_summary_names_the_packages_that_cannot_and_those_on_a_fallback(scanned):
    scan, _, _ = scanned
    assert scan.summary() == [
        "1 of 11 packages can run in own-GIL sub-interpreters; 8 cannot: "
        "bothpkg (crashes when used from two interpreters (by itself and through the standard library's _datetime)), "
        "crashpkg (crashes on import), "
        "datetimepkg (crashes when used from two interpreters (through the standard library's _datetime only)), "
        "failpkg (imports but fails in sub-interpreters), hangpkg (hangs on import), "
        "refusepkg (refuses own-GIL sub-interpreters (readline)), "
        "subpkg (refuses own-GIL sub-interpreters (subpkg.readline)), "
        "togetherpkg (crashes when used from two interpreters); "
        "2 only through a pure-Python fallback: fallbackpkg (C part refused: fallbackpkg.readline), "
        "usesdeppkg (a dependency's C part refused: subpkg.readline)",
        "Python 3.13.0's _datetime crashes the process (at exit) when a sub-interpreter imported it first and the main "
        "interpreter imports it while that sub-interpreter lives; importing _datetime in the main interpreter before "
        "any sub-interpreter does avoids the crash of datetimepkg"]
    assert not scan.free_threaded and scan.modules[0].gil is None


def test_evidence_is_what_the_wheel_and_the_metadata_claim(scanned):
    scan, _, _ = scanned
    found = packages(scan)
    assert found["subpkg"].evidence["wheel_tags"] == ["cp313-cp313-linux_x86_64"]
    assert found["subpkg"].evidence["free_threaded_wheel"] is False
    assert compat.evidence_words(found["subpkg"]) == ("GIL ABI only", "-")
    assert found["togetherpkg"].evidence["free_threaded_wheel"] is None  # a pure wheel says nothing
    assert compat.evidence_words(found["togetherpkg"]) == ("pure Python", "2 - Beta")
    assert found["purepkg"].evidence["wheel_tags"] == [] and compat.evidence_words(found["purepkg"]) == ("-", "-")


def test_a_second_scan_of_an_unchanged_venv_runs_no_child(scanned, venv, monkeypatch):
    first, _, cache = scanned
    probed = []

    def child(python, args, timeout):  # a probe's child that hangs costs its timeout: none is run
        probed.append(args)
        return compatprobe._Child([], None, "")

    monkeypatch.setattr(compatprobe, "_run_child", child)
    again = compatscan.scan(venv / "bin" / "python", cache_dir=cache, jobs=4, timeout=5)
    assert probed and all("hangpkg" in args for args in probed), probed
    assert again.cached == 10  # all but the hang, which is asked again next time
    assert [p.reason() for p in again.packages] == [p.reason() for p in first.packages]


def test_refresh_probes_again(scanned, venv):
    _, _, cache = scanned
    again = compatscan.scan(venv / "bin" / "python", cache_dir=cache, modules=["purepkg"], timeout=5, refresh=True)
    assert again.cached == 0 and packages(again)["purepkg"].verdict == "runs"


def test_a_new_version_of_a_package_is_probed_again(scanned, venv):
    _, _, cache = scanned
    site = next(venv.glob("lib/python3.13/site-packages"))
    info = site / "purepkg-1.0.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: purepkg\nVersion: 2.0\n")
    try:
        again = compatscan.scan(venv / "bin" / "python", cache_dir=cache, modules=["purepkg", "refusepkg"], timeout=5)
    finally:
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: purepkg\nVersion: 1.0\n")
    assert again.cached == 1 and packages(again)["purepkg"].version == "2.0"


def test_an_edited_editable_install_is_probed_again(tmp_path):
    python = pyenv_python("3.13.0")
    venv = tmp_path / "venv"
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    site = next(venv.glob("lib/python3.13/site-packages"))
    source = tmp_path / "project"
    (source / "editpkg").mkdir(parents=True)
    (source / "editpkg" / "__init__.py").write_text("VALUE = 1\n")
    info = add_distribution(site, "editpkg", "1.0", {"__editable__.editpkg-1.0.pth": f"{source}\n"})
    (info / "direct_url.json").write_text(json.dumps({"url": source.as_uri(), "dir_info": {"editable": True}}))
    (info / "top_level.txt").write_text("editpkg\n")
    cache = tmp_path / "cache"
    first = compatscan.scan(venv / "bin" / "python", cache_dir=cache, timeout=10)
    assert packages(first)["editpkg"].verdict == "runs" and packages(first)["editpkg"].evidence["editable"]
    assert compatscan.scan(venv / "bin" / "python", cache_dir=cache, timeout=10).cached == 1
    # The same name and version, new code: what the cache must not answer for.
    (source / "editpkg" / "__init__.py").write_text("import readline\n")
    again = compatscan.scan(venv / "bin" / "python", cache_dir=cache, timeout=10)
    assert again.cached == 0 and packages(again)["editpkg"].verdict == "refuses"


def test_312_refuses_more_of_the_standard_library(tmp_path):
    scan = compatscan.scan(pyenv_python("3.12.1"), cache_dir=tmp_path, modules=["_decimal", "json"], timeout=30)
    found = packages(scan)
    assert found["_decimal"].verdict == "refuses" and found["_decimal"].origin == "stdlib"
    assert found["json"].verdict == "runs"


def cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybuild12", "compat", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_cli_json_and_the_gate(venv):
    out = cli("--venv", str(venv), "--json", "--timeout", "5", "-m", "purepkg", "-m", "refusepkg",
              "--require", "subinterpreters")
    assert out.returncode == 7, out.stderr
    data = json.loads(out.stdout)
    assert [p["reason"] for p in data["packages"]] == ["runs in own-GIL sub-interpreters",
                                                       "refuses own-GIL sub-interpreters (readline)"]
    assert data["summary"][0].startswith("1 of 2 packages can run in own-GIL sub-interpreters; 1 cannot: refusepkg")
    assert data["packages"][0]["evidence"] == {"wheel_tags": [], "free_threaded_wheel": None,
                                               "free_threading_classifiers": [], "editable": False}
    passing = cli("--venv", str(venv), "-m", "purepkg", "--require", "subinterpreters")
    assert passing.returncode == 0, passing.stderr
    assert "1 of 1 package can run in own-GIL sub-interpreters" in passing.stdout


def test_the_gate_fails_on_a_fallback_unless_allowed(venv):
    gate = cli("--venv", str(venv), "-m", "fallbackpkg", "--require", "subinterpreters")
    assert gate.returncode == 7, gate.stdout + gate.stderr
    assert "error: --require subinterpreters: 1 package falls short: fallbackpkg" in gate.stderr
    assert "only through a pure-Python fallback: fallbackpkg" in " ".join(gate.stdout.split())
    allowed = cli("--venv", str(venv), "-m", "fallbackpkg", "--require", "subinterpreters", "--allow-fallback")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


def test_the_active_venv_is_scanned_and_allow_fallback_needs_the_gate(venv, tmp_path):
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "PYBUILD12_HOME": str(tmp_path)}
    out = cli("-m", "purepkg", "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["python"]["prefix"] == str(venv)
    lone = cli("--venv", str(venv), "-m", "purepkg", "--allow-fallback")
    assert lone.returncode == 2 and "--allow-fallback goes with --require subinterpreters" in lone.stderr


def test_evidence_columns_in_the_table(venv):
    out = cli("--venv", str(venv), "-m", "togetherpkg", "-m", "subpkg", "--evidence",
              env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line for line in out.stdout.splitlines() if line.strip()}
    assert "pure Python" in rows["togetherpkg"] and "2 - Beta" in rows["togetherpkg"]
    assert "GIL ABI only" in rows["subpkg"]


def test_cli_refuses_what_it_cannot_answer(venv):
    not_ft = cli("--venv", str(venv), "-m", "purepkg", "--require", "freethreading")
    assert not_ft.returncode == 7 and "is not a free-threaded build" in not_ft.stderr
    bad = cli("--venv", str(venv), "--require", "speed")
    assert bad.returncode == 2 and "subinterpreters, freethreading" in bad.stderr
    both = cli("3.13.5", "--venv", str(venv))
    assert both.returncode == 2
    missing = cli("--venv", str(venv / "nowhere"))
    assert missing.returncode == 2 and "not a virtual environment?" in missing.stderr


@pytest.mark.parametrize("name", ["", "a;b", "a b", "1x", "lxml..etree", "-x"])
def test_a_malformed_module_name_is_a_usage_error(venv, name):
    out = cli("--venv", str(venv), "-m", name)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "not a module name" in out.stderr and "Traceback" not in out.stderr


def test_an_unknown_module_is_not_installed_not_stdlib(venv):
    out = cli("--venv", str(venv), "--json", "-m", "nosuchmod", "-m", "json")
    assert out.returncode == 0, out.stderr
    found = {p["name"]: p for p in json.loads(out.stdout)["packages"]}
    assert found["nosuchmod"]["origin"] == "missing" and found["nosuchmod"]["reason"] == "not installed"
    assert found["json"]["origin"] == "stdlib" and found["json"]["verdict"] == "runs"


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="the test runner's Python has per-interpreter GILs")
def test_an_interpreter_before_312_is_refused_before_anything_runs(tmp_path):
    out = cli("--python", sys.executable, env={**os.environ, "PYBUILD12_HOME": str(tmp_path)})
    assert out.returncode == 7, out.stdout + out.stderr
    assert "no per-interpreter GIL before 3.12" in " ".join(out.stderr.split())
    assert out.stdout == "" and not (tmp_path / "cache" / "compat").exists()


def test_cache_clear_forgets_the_verdicts(venv, tmp_path):
    env = {**os.environ, "PYBUILD12_HOME": str(tmp_path)}
    assert cli("--venv", str(venv), "-m", "purepkg", env=env).returncode == 0
    assert list((tmp_path / "cache" / "compat").glob("*.json"))
    listed = subprocess.run([sys.executable, "-m", "pybuild12", "cache", "list"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert listed.returncode == 0 and "and 1 kept compat result(s)" in listed.stderr, listed.stderr
    cleared = subprocess.run([sys.executable, "-m", "pybuild12", "cache", "clear"], capture_output=True, text=True,
                             env=env, timeout=60)
    assert cleared.returncode == 0 and "1 kept compat result(s)" in cleared.stderr
    assert not list((tmp_path / "cache" / "compat").glob("*.json"))
