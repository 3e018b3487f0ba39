"""`pybuild12 compat` on a venv of the real build, with real packages from PyPI, each
verdict checked against an import done here, in the venv's interpreter, the way a user
would do it.

Picked because they differ (seen on 3.13): six, pure Python; numpy, refusing own-GIL
sub-interpreters at its top level; lxml, whose top level imports there while its C
modules (lxml.etree) refuse; simplejson, which imports there only because it falls back
to pure Python when its C part is refused; msgpack, which also falls back, and aborts
the process at exit once it was used from a sub-interpreter and the main interpreter:
through the standard library's _datetime, which 3.13 cannot have imported by a
sub-interpreter before the main interpreter.
Two C extensions that the test builds against the real build's headers stand in for a
broken package: one crashes the process in its init function, one never returns from it.
The package index is whatever pip is configured with on the machine.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from realbuild import RECIPE, compile_extension

pytestmark = pytest.mark.integration
PACKAGES = ("six==1.17.0", "msgpack==1.2.4", "numpy==2.5.5", "lxml==6.1.3", "simplejson==4.3.0")

BROKEN = {
    "segfaults": ("#include <Python.h>\n"
                  "PyMODINIT_FUNC PyInit_segfaults(void) { volatile int *p = 0; *p = 1; return NULL; }\n"),
    "hangs": "#include <Python.h>\n#include <unistd.h>\nPyMODINIT_FUNC PyInit_hangs(void) { for (;;) pause(); }\n",
}


@pytest.fixture(scope="module")
def scanned_venv(real_build, tmp_path_factory):
    assert real_build.install.returncode == 0, real_build.install.stderr[-2000:]
    work = tmp_path_factory.mktemp("compat-venv")
    venv = work / "venv"
    made = real_build.cli("venv", RECIPE, str(venv))
    assert made.returncode == 0, made.stderr
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *PACKAGES],
                         capture_output=True, text=True, timeout=900)
    if pip.returncode != 0:
        pytest.fail(f"pip could not install {PACKAGES} from the package index: {pip.stderr[-1500:]}")
    site = next(venv.glob("lib/python3.*/site-packages"))
    for name, source in BROKEN.items():
        compile_extension(venv / "bin" / "python", name, source, site, dist=name)
    first = real_build.cli("compat", "--venv", str(venv), "--json", "--timeout", "10", timeout=900)
    second = real_build.cli("compat", "--venv", str(venv), "--json", "--timeout", "10", timeout=900)
    return venv, first, second


def packages(proc: subprocess.CompletedProcess) -> dict[str, dict]:
    return {p["name"]: p for p in json.loads(proc.stdout)["packages"]}


def modules(proc: subprocess.CompletedProcess) -> dict[str, dict]:
    return {m["name"]: m for m in json.loads(proc.stdout)["modules"]}


def in_subinterpreter(venv, code: str) -> subprocess.CompletedProcess:
    """Run `code` in an own-GIL sub-interpreter of the venv's python (ground truth)."""
    driver = ("import _interpreters, sys\n"
              "i = _interpreters.create(_interpreters.new_config('isolated'))\n"
              f"err = _interpreters.exec(i, {code!r})\n"
              "print('ERROR', err.type.__name__, err.msg) if err else None\n"
              "sys.stdout.flush()\n")
    return subprocess.run([str(venv / "bin" / "python"), "-c", driver], capture_output=True, text=True, timeout=120)


def test_each_real_package_gets_the_verdict_its_imports_earn(scanned_venv):
    venv, first, _ = scanned_venv
    assert first.returncode == 0, first.stderr[-2000:]
    found, mods = packages(first), modules(first)
    assert found["six"]["reason"] == "runs in own-GIL sub-interpreters" and found["six"]["version"] == "1.17.0"
    assert found["numpy"]["verdict"] == "refuses" and found["numpy"]["module"] == "numpy"
    # The top level imports numpy._core._multiarray_umath, which is what CPython refuses.
    assert found["numpy"]["reason"] == "refuses own-GIL sub-interpreters (numpy._core._multiarray_umath)"
    assert "does not support loading in subinterpreters" in mods["numpy"]["detail"]
    # lxml: the top level runs there, its C modules do not; the verdict names one.
    assert mods["lxml"]["own_gil"] == "ok" and mods["lxml.etree"]["own_gil"] == "refuses"
    assert found["lxml"]["verdict"] == "refuses" and found["lxml"]["module"].startswith("lxml.")
    assert found["simplejson"]["reason"] == ("runs only through its pure-Python fallback "
                                             "(C part refused: simplejson._speedups)")
    assert found["msgpack"]["verdict"] == "crashes together", found["msgpack"]
    assert found["msgpack"]["reason"] == ("crashes when used from two interpreters (through the standard library's "
                                          "_datetime only; and its C part is refused there: msgpack._cmsgpack)")
    assert found["msgpack"]["together_stdlib"] == ["_datetime"] and found["msgpack"]["together_own"] is False
    assert "SIGABRT" in found["msgpack"]["together_detail"] or "SIGSEGV" in found["msgpack"]["together_detail"]


def test_the_verdicts_match_what_an_import_in_a_sub_interpreter_does(scanned_venv):
    venv, _, _ = scanned_venv
    refused = "does not support loading in subinterpreters"
    assert in_subinterpreter(venv, "import six").stdout == ""
    assert refused in in_subinterpreter(venv, "import numpy").stdout
    assert in_subinterpreter(venv, "import lxml").stdout == ""
    assert refused in in_subinterpreter(venv, "import lxml.etree").stdout
    # The fallbacks: the package imports, its C part is not there.
    fallback = in_subinterpreter(venv, "import simplejson.encoder as e\nassert e.c_make_encoder is None, 'C'")
    assert fallback.returncode == 0 and fallback.stdout == "", fallback.stdout + fallback.stderr
    packer = in_subinterpreter(venv, "import msgpack\nassert msgpack.Packer.__module__ == 'msgpack.fallback'")
    assert packer.stdout == "", packer.stdout
    # Used from a sub-interpreter, then from the main one while it lives: the process dies at
    # exit; not when the main interpreter imported _datetime first.
    code = ("import _interpreters\n{first}i = _interpreters.create(_interpreters.new_config('isolated'))\n"
            "_interpreters.exec(i, 'import msgpack')\nimport msgpack\n")
    both = subprocess.run([str(venv / "bin" / "python"), "-c", code.format(first="")], capture_output=True,
                          text=True, timeout=120)
    assert both.returncode < 0, (both.returncode, both.stderr[-500:])
    main_first = subprocess.run([str(venv / "bin" / "python"), "-c", code.format(first="import _datetime\n")],
                                capture_output=True, text=True, timeout=120)
    assert main_first.returncode == 0, main_first.stderr[-500:]


def test_a_segfault_and_a_hang_are_reported_and_the_scan_completes(scanned_venv):
    _, first, _ = scanned_venv
    found = packages(first)
    assert found["segfaults"]["reason"] == "crashes on import"
    assert "SIGSEGV" in modules(first)["segfaults"]["detail"]
    assert found["hangs"]["reason"] == "hangs on import"
    assert {"six", "msgpack", "numpy", "lxml", "simplejson", "pip"} <= set(found)  # the rest of the scan went on
    summary = json.loads(first.stdout)["summary"][0]
    assert summary.startswith("2 of 8 packages can run in own-GIL sub-interpreters; 5 cannot: hangs (hangs on import), "
                              "lxml (refuses own-GIL sub-interpreters (lxml."), summary
    assert ("numpy (refuses own-GIL sub-interpreters (numpy._core._multiarray_umath)), "
            "segfaults (crashes on import); ") in summary
    assert summary.endswith("1 only through a pure-Python fallback: simplejson (C part refused: simplejson._speedups)")


def test_a_second_scan_answers_from_the_cache(scanned_venv):
    _, first, second = scanned_venv
    data = json.loads(second.stdout)
    assert data["cached"] == len(data["packages"]) - 1  # all but the hang
    assert [p["reason"] for p in data["packages"]] == [p["reason"] for p in json.loads(first.stdout)["packages"]]


def test_the_gate_fails_on_a_package_that_cannot(scanned_venv, real_build):
    venv, _, _ = scanned_venv
    gate = real_build.cli("compat", "--venv", str(venv), "-m", "numpy", "--require", "subinterpreters")
    assert gate.returncode == 7, gate.stderr
    assert "0 of 1 package can run in own-GIL sub-interpreters; 1 cannot: numpy" in gate.stdout
    fallback = real_build.cli("compat", "--venv", str(venv), "-m", "six", "-m", "simplejson",
                              "--require", "subinterpreters")
    assert fallback.returncode == 7, fallback.stdout + fallback.stderr
    ok = real_build.cli("compat", "--venv", str(venv), "-m", "six", "-m", "simplejson",
                        "--require", "subinterpreters", "--allow-fallback")
    assert ok.returncode == 0, ok.stdout + ok.stderr
