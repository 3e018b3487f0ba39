"""`pybuild12 compat` on a venv of the real build, with real packages from PyPI.

Picked because they differ (verdicts seen on 3.13): six, pure Python; msgpack, compiled
and ready for sub-interpreters with their own GIL; numpy, compiled and refusing them.
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
PACKAGES = ("six==1.17.0", "msgpack==1.2.4", "numpy==2.5.5")

BROKEN = {
    "segfaults": "#include <Python.h>\nPyMODINIT_FUNC PyInit_segfaults(void) { volatile int *p = 0; *p = 1; return NULL; }\n",
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


def verdicts(proc: subprocess.CompletedProcess) -> dict[str, dict]:
    return {m["name"]: m for m in json.loads(proc.stdout)["modules"]}


def test_each_real_package_gets_its_verdict(scanned_venv):
    _, first, _ = scanned_venv
    assert first.returncode == 0, first.stderr[-2000:]
    found = verdicts(first)
    assert found["six"]["verdict"] == "runs in own-GIL sub-interpreters" and found["six"]["version"] == "1.17.0"
    assert found["msgpack"]["own_gil"] == "ok" and found["msgpack"]["distribution"] == "msgpack"
    assert found["numpy"]["own_gil"] == "refuses", found["numpy"]
    assert "does not support loading in subinterpreters" in found["numpy"]["detail"]


def test_a_segfault_and_a_hang_are_reported_and_the_scan_completes(scanned_venv):
    _, first, _ = scanned_venv
    found = verdicts(first)
    assert found["segfaults"]["verdict"] == "crashes on import" and "SIGSEGV" in found["segfaults"]["detail"]
    assert found["hangs"]["verdict"] == "hangs on import"
    assert {"six", "msgpack", "numpy", "pip"} <= set(found)  # the rest of the scan went on
    summary = json.loads(first.stdout)["summary"][0]
    assert summary.startswith("3 of 6 packages can run in own-GIL sub-interpreters; 3 cannot: hangs (hangs on import), "
                              "numpy (refuses sub-interpreters), segfaults (crashes on import)"), summary


def test_a_second_scan_answers_from_the_cache(scanned_venv):
    _, first, second = scanned_venv
    data = json.loads(second.stdout)
    assert data["cached"] == len(data["modules"]) - 1  # all but the hang
    assert [m["verdict"] for m in data["modules"]] == [m["verdict"] for m in json.loads(first.stdout)["modules"]]


def test_the_gate_fails_on_a_package_that_cannot(scanned_venv, real_build):
    venv, _, _ = scanned_venv
    gate = real_build.cli("compat", "--venv", str(venv), "-m", "numpy", "--require", "subinterpreters")
    assert gate.returncode == 7, gate.stderr
    assert "0 of 1 package can run in own-GIL sub-interpreters; 1 cannot: numpy" in gate.stdout
    ok = real_build.cli("compat", "--venv", str(venv), "-m", "six", "-m", "msgpack", "--require", "subinterpreters")
    assert ok.returncode == 0, ok.stdout + ok.stderr

