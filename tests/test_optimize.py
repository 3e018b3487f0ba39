"""--optimize max: clang of one LLVM, ThinLTO, PGO, BOLT and the tail-calling interpreter.

The toolchain here is a directory of stand-in tools (`clang --version` says 19.1.7), so
the orchestration is tested on any machine; a real build with clang-19 is
`tests/integration/test_optimize_build.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fakecpython import make_recipe, make_tarball, needs_host_interpreters, passing_verifier
from pybuild12 import install as installer
from pybuild12.builder import optimize, plan as build, preflight
from pybuild12.checks import verify as verifier
from pybuild12.core.errors import PrerequisiteError, RecipeError, UsageError
from pybuild12.install import InstallOptions
from pybuild12.request import recipes, resolve
from pybuild12.store import key as keys, profiles

VERSION_LINE = "Debian clang version 19.1.7 (3~deb12u1)"


@pytest.fixture
def llvm(tmp_path, monkeypatch) -> Path:
    """A stand-in LLVM 19: every tool in one directory, `clang-19` on PATH linking to it."""
    bindir = tmp_path / "llvm-19" / "bin"
    bindir.mkdir(parents=True)
    for tool in (*optimize.TOOLS, "clang++"):
        script = bindir / tool
        script.write_text(f"#!/bin/sh\necho '{VERSION_LINE}'\n")
        script.chmod(0o755)
    on_path = tmp_path / "path"
    on_path.mkdir()
    (on_path / "clang-19").symlink_to(bindir / "clang")
    monkeypatch.setenv("PATH", f"{on_path}{os.pathsep}{os.environ['PATH']}")
    return bindir


def max_recipe(version: str = "3.13.5") -> recipes.Recipe:
    return resolve.with_optimize(recipes.load(version), "max")


def test_max_configures_thinlto_pgo_and_bolt(tmp_path):
    args = build.configure_args(max_recipe(), tmp_path / "p")
    assert args[1:] == ("--enable-optimizations", "--with-lto=thin", "--enable-bolt")
    assert "--with-lto" not in args  # GCC's full LTO is not asked for besides ThinLTO
    assert build.configure_env(args, {}) == ()  # no GCC -frandom-seed for clang


def test_the_tail_calling_interpreter_from_314(tmp_path):
    assert "--with-tail-call-interp" in build.configure_args(max_recipe("3.14.10"), tmp_path / "p")
    assert "--with-tail-call-interp" not in build.configure_args(max_recipe("3.13.5"), tmp_path / "p")


def test_every_step_runs_with_the_toolchain_first_on_path(llvm, tmp_path):
    toolchain = optimize.require(os.environ)
    assert toolchain.bindir == llvm and toolchain.version == "19.1.7"
    steps = build.plan(max_recipe(), prefix=tmp_path / "p", destdir=tmp_path / "d", jobs=2,
                       env={"LDFLAGS_NODIST": "-Wl,-z,now"}, toolchain=toolchain)
    for step in steps:
        assert dict(step.env)["PATH"].split(os.pathsep)[0] == str(llvm)
    configure = dict(steps[0].env)
    assert configure["CC"] == "clang" and configure["LDFLAGS_NODIST"] == "-Wl,-z,now -fuse-ld=lld"
    assert steps[1].title == "compile with PGO, ThinLTO and BOLT"


def test_a_missing_toolchain_names_its_packages(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no clang at all
    with pytest.raises(PrerequisiteError) as info:
        optimize.require(os.environ)
    assert "missing clang" in info.value.message
    assert "sudo apt-get install bolt-19 clang-19 lld-19 llvm-19" in info.value.hint and "llvm-bolt" in info.value.hint


def test_a_toolchain_without_bolt_is_incomplete(llvm):
    (llvm / "llvm-bolt").unlink()
    toolchain, absent = optimize.find(os.environ)
    assert toolchain is None and absent == ["llvm-bolt"]
    rows = {c.name: c for c in preflight.optimize_toolchain(os.environ, required=False)}
    assert not rows["bolt-19"].ok and "llvm-bolt" in rows["bolt-19"].detail
    assert rows["clang-19"].ok and rows["lld-19"].ok and all(c.group == "optimize" for c in rows.values())
    command = preflight.install_command(rows.values(), is_root=True, groups=("optimize",))
    assert command is None or command[-1] == "bolt-19"  # only where apt-get (or dnf) exists
    assert preflight.install_command(rows.values(), is_root=True) is None  # not unless asked for


def test_levels_in_recipes_and_on_the_command_line(recipe_file):
    base = ('version = "3.13.5"\nsummary = "s"\n[source]\nkind = "tarball"\n'
            f'url = "https://example.invalid/Python-3.13.5.tar.xz"\nsha256 = "{"a" * 64}"\n[build]\n')
    assert recipes.load(str(recipe_file(base + 'optimize = "max"\n'))).build.optimize == "max"
    with pytest.raises(RecipeError, match="not one of: standard, max"):
        recipes.load(str(recipe_file(base + 'optimize = "maximum"\n')))
    with pytest.raises(RecipeError, match="builds with PGO and LTO"):
        recipes.load(str(recipe_file(base + 'optimize = "max"\nlto = false\n')))
    with pytest.raises(UsageError, match="unknown level"):
        installer.request("3.13.5", InstallOptions(optimize="fastest"))
    with pytest.raises(UsageError, match="which a debug build goes without"):
        installer.request("3.13.5+debug", InstallOptions(optimize="max"))
    with pytest.raises(UsageError, match="leave out --no-pgo"):
        installer.request("3.13.5", InstallOptions(optimize="max", optimizations=False))
    assert installer.request("3.13.5", InstallOptions(optimize="max"))[0].build.optimize == "max"


def test_a_clang_profile_is_recorded_and_restored(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / profiles.CLANG_PROFILE).write_bytes(b"merged clang profile")
    store = profiles.Store(tmp_path / "store")
    recorded = store.record("k" * 64, {"source": "s"}, tree, {})
    assert recorded is not None and recorded.meta["files"] == 1
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert profiles.restore(recorded, fresh) == 1
    assert (fresh / profiles.CLANG_PROFILE).read_bytes() == b"merged clang profile"
    assert (fresh / profiles.STAMP).exists()


@needs_host_interpreters
def test_a_max_build_is_its_own_build_with_its_toolchain_in_key_and_receipt(llvm, tmp_path, paths, monkeypatch):
    monkeypatch.setattr(verifier, "run", passing_verifier)
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha)
    standard = installer.install(str(recipe), paths=paths)
    fast = installer.install(str(recipe), InstallOptions(optimize="max", name="fake-max"), paths=paths)
    assert fast.receipt.artifact["key"] != standard.receipt.artifact["key"]
    assert fast.receipt.optimize == {"level": "max", "llvm": "19.1.7", "toolchain": str(llvm), "bolt": False}
    assert fast.receipt.compiler == VERSION_LINE and standard.receipt.optimize is None
    assert "--with-lto=thin" in fast.receipt.configure_args and "--with-lto" in standard.receipt.configure_args
    assert fast.receipt.configure_env["CC"] == "clang"


def test_a_bolted_binary_is_told_from_another(tmp_path):
    plain, rewritten = tmp_path / "plain", tmp_path / "rewritten"
    plain.write_bytes(b"\x7fELF" + b"\0" * 64 + b".text\0.data\0")
    rewritten.write_bytes(b"\x7fELF" + b"\0" * 64 + b".text\0" + optimize.BOLT_NOTE + b"\0")
    assert not optimize.bolted(plain) and optimize.bolted(rewritten) and not optimize.bolted(tmp_path / "absent")


def test_a_partitioned_lto_link_takes_out_the_serial_one(tmp_path, recipe_file):
    makefile = tmp_path / "Makefile"
    flags = "-flto -fuse-linker-plugin -ffat-lto-objects -flto-partition=none -g"
    makefile.write_text(f"CONFIGURE_CFLAGS_NODIST= {flags} -std=c11\nCONFIGURE_LDFLAGS_NODIST= {flags}\n")
    base = ('version = "3.13.5"\nsummary = "s"\n[source]\nkind = "tarball"\n'
            f'url = "https://example.invalid/Python-3.13.5.tar.xz"\nsha256 = "{"a" * 64}"\n[build]\n')
    serial = recipes.load(str(recipe_file(base)))
    assert not build.partition_lto(serial, tmp_path, tmp_path / "log") and keys.optional(serial) == {}
    partitioned = recipes.load(str(recipe_file(base + 'lto-partition = "auto"\n', name="p.toml")))
    assert build.partition_lto(partitioned, tmp_path, tmp_path / "log")
    text = makefile.read_text()
    assert "-flto-partition=none" not in text and text.count("-flto=auto") == 2
    assert keys.optional(partitioned) == {"lto_partition": "auto"}
    base_inputs = {"prefix": "/p", "recipe_sha256": "r", "configure_args": ["--prefix=/p", "--with-lto"]}
    assert keys.profile_inputs({**base_inputs, **keys.optional(partitioned)}) == keys.profile_inputs(base_inputs)
    with pytest.raises(RecipeError, match="not one of: none, auto"):
        recipes.load(str(recipe_file(base + 'lto-partition = "many"\n', name="q.toml")))


def test_llvm_bolt_is_not_given_the_flags_that_break_it(tmp_path):
    makefile = tmp_path / "Makefile"
    skip = "-skip-funcs=_PyEval_EvalFrameDefault"
    makefile.write_text(f"BOLT_INSTRUMENT_FLAGS :=  -update-debug-sections {skip}\n"
                        f"BOLT_APPLY_FLAGS :=  -update-debug-sections {skip} -reorder-blocks=ext-tsp "
                        "-indirect-call-promotion=all -frame-opt=hot -use-gnu-stack\n"
                        "OTHER = -update-debug-sections\n")
    assert optimize.tune_bolt(tmp_path, tmp_path / "log") == ["-frame-opt=hot", "-update-debug-sections"]
    lines = makefile.read_text().splitlines()
    assert "-update-debug-sections" not in lines[0] + lines[1] and "-frame-opt=hot" not in lines[1]
    assert skip in lines[0] and "-indirect-call-promotion=all" in lines[1] and lines[1].endswith("-use-gnu-stack")
    assert lines[2] == "OTHER = -update-debug-sections"  # only llvm-bolt's flags
    assert optimize.tune_bolt(tmp_path, tmp_path / "log") == []  # nothing left to take out
    assert "taken out of the llvm-bolt flags" in (tmp_path / "log").read_text()
