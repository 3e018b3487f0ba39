"""A real free-threaded build from a git source pinned by an abbreviated commit.

The CPython 3.13.5 sources, committed as one commit to a local repository
(file:// stands in for GitHub), built by a recipe that pins the commit the way
the `main` recipe pins 22f3425c3d: ten hex digits, resolved by pybuild12.
It is asked for as `RECIPE.toml+freethreaded`, as `main+freethreaded` would be,
so this one build proves both git sources and the free-threaded variant
(--disable-gil, PEP 703) with its verification: the GIL stays off, threads scale.
The recipe leaves out the optimizations (a plain build, a fifth of the time):
the session's real build covers PGO and LTO. It compiles through ccache, into the
CCACHE_DIR that the bisect over the same tree (test_bisect_build.py) shares.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from realbuild import RECIPE, TARBALL, compile_extension, completed, install_apart, once, run_of, sources_dir

pytestmark = pytest.mark.integration
NAME = "cpython-git+freethreaded"

FIXED = {
    "GIT_AUTHOR_NAME": "CPython Sources", "GIT_AUTHOR_EMAIL": "sources@example.invalid",
    "GIT_COMMITTER_NAME": "CPython Sources", "GIT_COMMITTER_EMAIL": "sources@example.invalid",
    "GIT_AUTHOR_DATE": "2025-06-11T12:00:00+00:00", "GIT_COMMITTER_DATE": "2025-06-11T12:00:00+00:00",
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **FIXED, "HOME": str(repo.parent), "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="session")
def git_build(mirror_server, shared_dir, ccache_dir):
    made = once(shared_dir, "git-build", lambda: _make_git_build(shared_dir / "git-build", ccache_dir))
    return {**made, "proc": run_of(made["proc"]), "prefix": Path(made["prefix"])}


def _make_git_build(work: Path, ccache: Path) -> dict:
    work.mkdir()
    with tarfile.open(sources_dir() / TARBALL) as tar:
        tar.extractall(work, filter="data")
    repo = work / "cpython"
    (work / f"Python-{RECIPE}").rename(repo)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", f"CPython {RECIPE} sources")
    full = git(repo, "rev-parse", "HEAD")
    pinned = full[:10]
    recipe = work / "cpython-git.toml"
    recipe.write_text(
        f'version = "{RECIPE}"\nsummary = "CPython {RECIPE} from a local git repository"\n\n'
        f'[source]\nkind = "git"\nurl = "{repo.as_uri()}"\ncommit = "{pinned}"\n\n'
        '[build]\noptimizations = false\n'
    )
    home = work / "home"
    proc, env = install_apart(home, f"{recipe}+freethreaded", "--ccache", extra_env={"CCACHE_DIR": str(ccache)})
    prefix = home / "data" / "pythons" / NAME
    return {"proc": completed(proc), "full": full, "pinned": pinned, "prefix": str(prefix), "env": env,
            "url": repo.as_uri()}


def test_git_install_succeeds(git_build):
    assert git_build["proc"].returncode == 0, git_build["proc"].stderr[-3000:]
    assert "✓ checkout" in git_build["proc"].stderr


def test_receipt_records_the_pin_and_its_resolution(git_build):
    receipt = json.loads((git_build["prefix"] / "pybuild12.json").read_text())
    source = receipt["source"]
    assert source["kind"] == "git" and source["url"] == git_build["url"]
    assert source["commit_pinned"] == git_build["pinned"]
    assert source["commit"] == git_build["full"]
    assert git_build["full"].startswith(source["describe"][:7]) or git_build["full"][:7] in source["describe"]
    assert receipt["configure_args"] == [f"--prefix={git_build['prefix']}", "--disable-gil"]


def test_sys_version_names_the_pinned_commit(git_build):
    code = ("import sys, sysconfig; print(sys._git[2]); print(sys.version); "
            "print(sysconfig.get_config_var('CONFIG_ARGS'))")
    out = subprocess.run([str(git_build["prefix"] / "bin/python3.13"), "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    revision, version, config_args = out.stdout.splitlines()
    assert len(revision) >= 7 and git_build["full"].startswith(revision)
    assert version.startswith(f"{RECIPE} experimental free-threading build (") and revision in version
    assert config_args == f"'--prefix={git_build['prefix']}' '--disable-gil'"


def test_list_shows_the_commit(git_build):
    out = subprocess.run([sys.executable, "-m", "pybuild12", "list", "--json"], env=git_build["env"],
                         capture_output=True, text=True)
    installed = {b["name"]: b for b in json.loads(out.stdout)["installed"]}
    assert installed[NAME]["commit"] == git_build["full"]
    assert installed[NAME]["variants"] == ["freethreaded"]


# ------------------------------------------------------------- free-threading


def test_the_gil_is_off_and_the_install_proved_it(git_build):
    python = git_build["prefix"] / "bin" / "python3.13t"
    out = subprocess.run([str(python), "-c", "import sys, sysconfig; print(sys._is_gil_enabled(), "
                          "sysconfig.get_config_var('Py_GIL_DISABLED'), sys.abiflags)"], capture_output=True, text=True)
    assert out.stdout.split() == ["False", "1", "t"], out.stderr
    receipt = json.loads((git_build["prefix"] / "pybuild12.json").read_text())
    assert receipt["variants"] == ["freethreaded"]
    checks = {c["name"]: c for c in receipt["verification"]["checks"]}
    assert checks["variant"]["status"] == "passed"
    assert checks["free-threading"]["status"] == "passed", checks["free-threading"]
    assert checks["free-threading"]["figures"]["imported"] >= 80  # the standard library's extension modules
    assert checks["free-threading"]["figures"]["enabled_by"] == []
    # Sub-interpreters work on the free-threaded build too.
    for name in ("modules", "high-level API", "lifecycle", "messages", "threads", "clean exit"):
        assert checks[name]["status"] == "passed", checks[name]
    # Timing checks may be inconclusive on a busy machine, never failed.
    assert checks["thread parallelism"]["status"] in ("passed", "inconclusive"), checks["thread parallelism"]


def test_verify_expects_the_variant_of_the_receipt(git_build):
    out = subprocess.run([sys.executable, "-m", "pybuild12", "verify", NAME, "--json"], env=git_build["env"],
                         capture_output=True, text=True, timeout=600)
    data = json.loads(out.stdout)
    assert data["build"]["freethreaded"] is True
    statuses = {c["name"]: c["status"] for c in data["checks"]}
    assert statuses["variant"] == "passed" and statuses["free-threading"] == "passed"
    assert statuses["thread parallelism"] != "failed", data
    figures = next(c for c in data["checks"] if c["name"] == "thread parallelism")["figures"]
    assert figures["threads_speedup"] > 0 and figures["processes_speedup"] > 0
    assert out.returncode == (0 if data["ok"] else 7)


EXTENSIONS = {
    # Single-phase init declares nothing about the GIL: 3.13t turns it back on at import.
    "needs_gil": """
#include <Python.h>
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "needs_gil", NULL, -1, NULL};
PyMODINIT_FUNC PyInit_needs_gil(void) { return PyModule_Create(&def); }
""",
    # Multi-phase init with Py_mod_gil = Py_MOD_GIL_NOT_USED (PEP 703): the GIL stays off.
    "no_gil": """
#include <Python.h>
static PyModuleDef_Slot slots[] = {{Py_mod_gil, Py_MOD_GIL_NOT_USED}, {0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "no_gil", NULL, 0, NULL, slots};
PyMODINIT_FUNC PyInit_no_gil(void) { return PyModuleDef_Init(&def); }
""",
}


def test_gil_scan_names_the_extension_that_turns_the_gil_back_on(git_build, tmp_path):
    python = git_build["prefix"] / "bin" / "python3.13t"
    for name, source in EXTENSIONS.items():
        compile_extension(python, name, source, tmp_path)
    script = Path(__file__).resolve().parents[2] / "pybuild12" / "resources" / "verify_variant.py"
    # needs_gil first: the scan must go on after it in a new child and still import no_gil and json.
    out = subprocess.run([str(python), "-I", str(script), "--gil-scan", "--path", str(tmp_path),
                          "needs_gil", "no_gil", "_json", "missing_module"], capture_output=True, text=True,
                         timeout=300)
    scan = json.loads(out.stdout)
    assert scan["gil_at_start"] is False
    assert scan["enabled_by"] == ["needs_gil"]
    assert scan["imported"] == 3
    assert list(scan["failed"]) == ["missing_module"]
    only_free = subprocess.run([str(python), "-I", str(script), "--gil-scan", "--path", str(tmp_path), "no_gil"],
                               capture_output=True, text=True, timeout=300)
    assert json.loads(only_free.stdout)["enabled_by"] == []


def test_compat_names_the_package_that_turns_the_gil_back_on(git_build, tmp_path):
    """`pybuild12 compat` on a venv of the free-threaded build, with the two extensions above
    installed as distributions of their own, and a third distribution whose top level is
    pure Python and whose C submodule declares nothing about the GIL: importing the
    package keeps the GIL off, importing the submodule turns it on."""
    venv = tmp_path / "venv"
    subprocess.run([str(git_build["prefix"] / "bin" / "python3.13t"), "-m", "venv", "--without-pip", str(venv)],
                   check=True)
    site = next(venv.glob("lib/python3.13t/site-packages"))
    for name, source in EXTENSIONS.items():
        compile_extension(venv / "bin" / "python", name, source, site, dist=name.replace("_", ""))
    package = site / "gilpkg"
    package.mkdir()
    (package / "__init__.py").write_text("VALUE = 1\n")
    submodule = compile_extension(venv / "bin" / "python", "needs_gil", EXTENSIONS["needs_gil"], package)
    info = site / "gilpkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gilpkg\nVersion: 1.0\n")
    (info / "RECORD").write_text(f"gilpkg/__init__.py,,\ngilpkg/{submodule.name},,\n{info.name}/METADATA,,\n"
                                 f"{info.name}/RECORD,,\n")
    out = subprocess.run([sys.executable, "-m", "pybuild12", "compat", "--venv", str(venv), "--json",
                          "--require", "freethreading"], env=git_build["env"], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 7, out.stderr  # the gate: packages turn the GIL back on
    data = json.loads(out.stdout)
    assert data["python"]["free_threaded"] is True
    found = {m["name"]: m for m in data["modules"]}
    assert found["needs_gil"]["gil"] == "on" and found["no_gil"]["gil"] == "off"
    assert found["gilpkg"]["gil"] == "off" and found["gilpkg.needs_gil"]["gil"] == "on"
    packages = {p["name"]: p for p in data["packages"]}
    assert packages["gilpkg"]["freethreading"] == "turns the GIL back on (gilpkg.needs_gil)"
    assert packages["nogil"]["freethreading"] == "keeps the GIL off"
    assert data["summary"][1] == ("1 of 3 packages keep the GIL off; 2 cannot: gilpkg (turns the GIL back on "
                                  "(gilpkg.needs_gil)), needsgil (turns the GIL back on (needs_gil))")
    # Asked for by name, a package brings its extension modules: the submodule fails the gate.
    gate = subprocess.run([sys.executable, "-m", "pybuild12", "compat", "--venv", str(venv), "-m", "gilpkg",
                           "--require", "freethreading"], env=git_build["env"], capture_output=True, text=True,
                          timeout=600)
    assert gate.returncode == 7, gate.stdout + gate.stderr
    assert "gilpkg (turns the GIL back on (gilpkg.needs_gil))" in " ".join(gate.stdout.split())
