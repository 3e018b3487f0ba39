"""Build variants: request syntax, names, refusals, configure options, keys and receipts."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from fakecpython import HOST_MINOR, make_recipe, make_tarball, needs_host_interpreters, passing_verifier
from helpers import tarball_recipe
from pybuild12 import install as installer
from pybuild12.builder import plan as build, preflight
from pybuild12.checks import verify as verifier
from pybuild12.core.errors import BuildError, PrerequisiteError, RecipeError, UsageError
from pybuild12.install import InstallOptions
from pybuild12.request import recipes, variants
from pybuild12.store import key as keys

URL, SHA = "https://example.invalid/Python-3.13.5.tar.xz", "0" * 64

# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize("spec, recipe, wanted", [
    ("3.14t", "3.14", ("freethreaded",)),
    ("3.13.5t", "3.13.5", ("freethreaded",)),
    ("3.14+freethreaded", "3.14", ("freethreaded",)),
    ("3.14+debug", "3.14", ("debug",)),
    ("3.14+jit", "3.14", ("jit",)),
    ("3.14t+debug", "3.14", ("freethreaded", "debug")),
    ("3.14+jit+debug+freethreaded", "3.14", ("freethreaded", "debug", "jit")),
    ("3.14+DEBUG", "3.14", ("debug",)),
    ("main+freethreaded", "main", ("freethreaded",)),
    ("3.14", "3.14", ()),
    ("main", "main", ()),
    ("./my.toml", "./my.toml", ()),
    ("dir/my.toml+jit", "dir/my.toml", ("jit",)),
])
def test_requests_parse_as_uv_spells_them(spec, recipe, wanted):
    request = variants.parse(spec)
    assert (request.recipe, request.variants) == (recipe, wanted)


def test_one_build_name_however_the_variants_are_spelled():
    names = {variants.build_name(s) for s in ("3.14.10t+debug", "3.14.10+debug+freethreaded",
                                              "3.14.10+freethreaded+debug", "3.14.10t+debug+debug")}
    assert names == {"3.14.10+freethreaded+debug"}
    assert variants.build_name("3.13.5") == "3.13.5"
    assert variants.build_name("3.13.5+bogus") == "3.13.5+bogus"  # not a request: left as the name it is


@pytest.mark.parametrize("spec, fragment", [
    ("3.14+jti", "did you mean 'jit'"),
    ("3.14+freethread", "did you mean 'freethreaded'"),
    ("3.14+", "unknown build variant ''"),
    ("+jit", "names no recipe"),
])
def test_bad_variants_are_refused_with_a_hint(spec, fragment):
    with pytest.raises(UsageError) as info:  # a malformed request, as an unknown option is: exit 2
        variants.parse(spec)
    assert fragment in info.value.message and info.value.exit_code == 2
    assert "3.14t" in (info.value.hint or "") or "e.g." in (info.value.hint or "")


# ------------------------------------------------------------ the requests


def test_request_names_the_build_after_the_resolved_recipe_and_its_variants():
    recipe, name, version = installer.request("3.14t+debug", InstallOptions())
    assert recipe.name == "3.14.10" and name == "3.14.10+freethreaded+debug" and version == "3.14.10"
    assert recipe.build.variants == ("freethreaded", "debug")


def test_free_threaded_build_keeps_pgo_and_lto_and_adds_disable_gil(tmp_path):
    recipe, name, _ = installer.request("3.13.5t", InstallOptions())
    args = build.configure_args(recipe, tmp_path)
    assert name == "3.13.5+freethreaded"
    assert args[1:] == ("--enable-optimizations", "--with-lto", "--disable-gil")


def test_debug_build_drops_pgo_and_lto(tmp_path):
    recipe, _, _ = installer.request("3.13.5+debug", InstallOptions())
    assert build.configure_args(recipe, tmp_path)[1:] == ("--with-pydebug",)


def test_jit_is_built_in_but_off_until_python_jit(tmp_path):
    recipe, _, _ = installer.request("3.14+jit", InstallOptions())
    assert "--enable-experimental-jit=yes-off" in build.configure_args(recipe, tmp_path)
    assert variants.llvm_major(recipe.version) == 19
    assert variants.llvm_major("3.13.5") == 18


@pytest.mark.parametrize("spec, compiles", [
    ("3.13.5", True), ("3.13.5t", True), ("3.14+jit", True), ("3.13.5+debug", False), ("3.13.5t+tsan", False),
    ("3.13.5+asan", False), ("3.13.5+ubsan", False), ("3.13.5t+debug", False),
])
def test_debug_and_sanitizer_builds_skip_make_installs_bytecode_unless_asked(spec, compiles):
    assert installer.request(spec, InstallOptions())[0].build.compiles_bytecode is compiles
    for asked in (True, False):  # an explicit option always wins
        assert installer.request(spec, InstallOptions(compile_bytecode=asked))[0].build.compiles_bytecode is asked


def test_no_pgo_makes_a_plain_build_and_lto_can_come_back(tmp_path):
    plain, _, _ = installer.request("3.13.5t", InstallOptions(optimizations=False))
    assert build.configure_args(plain, tmp_path)[1:] == ("--disable-gil",)
    lto_only, _, _ = installer.request("3.13.5t", InstallOptions(optimizations=False, lto=True))
    assert build.configure_args(lto_only, tmp_path)[1:] == ("--with-lto", "--disable-gil")


@pytest.mark.parametrize("spec, fragment", [
    ("3.12t", "cannot be built free-threaded: --disable-gil exists from CPython 3.13"),
    ("3.12+jit", "cannot be built with the JIT"),
    ("main+freethreaded", "main (3.12.0a7+) cannot be built free-threaded"),
])
def test_versions_that_cannot_build_a_variant_are_refused(spec, fragment):
    with pytest.raises(RecipeError) as info:
        installer.request(spec, InstallOptions())
    assert fragment in info.value.message
    assert info.value.exit_code == 3


def test_a_release_recipe_is_named_once_in_the_refusal():
    with pytest.raises(RecipeError) as info:
        installer.request("3.12.13t", InstallOptions())
    assert info.value.message.startswith("3.12.13 cannot be built free-threaded: ")


def test_a_git_recipe_at_another_commit_is_left_to_configure():
    recipe, name, version = installer.request("main+freethreaded", InstallOptions(commit="0123456789ab"))
    assert name == "main@0123456789ab+freethreaded" and version is None
    assert recipe.build.variants == ("freethreaded",)


def test_the_3_12_line_can_be_built_as_debug():
    recipe, name, _ = installer.request("3.12+debug", InstallOptions())
    assert name == "3.12.13+debug"


def test_an_unknown_llvm_pin_is_refused(monkeypatch):
    monkeypatch.setitem(variants.table()["jit"], "llvm", {"3.13": 18})
    with pytest.raises(RecipeError, match="which LLVM"):
        installer.request("3.14+jit", InstallOptions())


def test_recipes_can_name_variants(recipe_file):
    path = recipe_file(tarball_recipe(URL, SHA, extra='[build]\nvariants = ["jit", "freethreaded"]\n'))
    assert recipes.load(str(path)).build.variants == ("freethreaded", "jit")


@pytest.mark.parametrize("body, fragment", [
    ('[build]\nvariants = ["freethreading"]\n', "did you mean 'freethreaded'"),
    ('[build]\nvariants = "jit"\n', "expected a list"),
])
def test_recipe_variant_mistakes_name_the_key(recipe_file, body, fragment):
    with pytest.raises(RecipeError) as info:
        recipes.load(str(recipe_file(tarball_recipe(URL, SHA, extra=body))))
    assert fragment in info.value.message and "build." in info.value.message


# --------------------------------------------------------------- the JIT's LLVM


def _tool(directory: Path, name: str, version_line: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_jit_toolchain_finds_the_pinned_llvm(tmp_path):
    _tool(tmp_path, "clang-19", "Debian clang version 19.1.7 (3~deb12u1)")
    _tool(tmp_path, "llvm-readobj-19", "LLVM version 19.1.7")
    checks = preflight.jit_toolchain(19, {"PATH": str(tmp_path)})
    assert [(c.name, c.ok) for c in checks] == [("clang-19", True), ("llvm-readobj-19", True)]
    assert preflight.llvm_version(19, {"PATH": str(tmp_path)}) == "19.1.7"


def test_jit_toolchain_refuses_another_llvm_and_names_the_packages(tmp_path):
    _tool(tmp_path, "clang", "clang version 14.0.6")
    _tool(tmp_path, "llvm-readobj", "LLVM version 14.0.6")
    checks = preflight.jit_toolchain(19, {"PATH": str(tmp_path)})
    assert not any(c.ok for c in checks)
    with pytest.raises(PrerequisiteError) as info:
        preflight.enforce(checks)
    assert "apt-get install clang-19 llvm-19" in info.value.hint
    assert "'clang(major) = 19'" in info.value.hint


def test_jit_packages_are_installed_only_for_jit_builds(tmp_path, monkeypatch):
    monkeypatch.setattr(preflight.shutil, "which", lambda program, path=None: "/usr/bin/apt-get"
                        if program == "apt-get" else None)
    checks = preflight.jit_toolchain(19, {"PATH": str(tmp_path)}, required=False)
    assert preflight.install_command(checks, is_root=True) is None
    assert preflight.install_command(checks, is_root=True, groups=("jit",)) == [
        "apt-get", "install", "-y", "clang-19", "llvm-19"]


# ------------------------------------------------ installs of the fake CPython


@pytest.fixture
def fake_variants(tmp_path, monkeypatch):
    """The fake CPython is the test runner's Python: let its version count as one with every variant."""
    for variant in variants.ORDER:
        monkeypatch.setitem(variants.table()[variant], "since", HOST_MINOR)
    monkeypatch.setitem(variants.table()["jit"], "llvm", {HOST_MINOR: 19})
    seen = []

    def recording_verifier(python, **kwargs):
        seen.append(kwargs.get("expect"))
        return passing_verifier(python, **kwargs)

    monkeypatch.setattr(verifier, "run", recording_verifier)
    tarball, sha = make_tarball(tmp_path / "src")
    return tmp_path, tarball, sha, seen


@needs_host_interpreters
def test_a_variant_is_a_build_of_its_own_with_its_own_key(fake_variants, paths):
    directory, tarball, sha, seen = fake_variants
    recipe = make_recipe(directory, tarball, sha, build="optimizations = false\n")
    plain = installer.install(str(recipe), InstallOptions(), paths=paths)
    threaded = installer.install(f"{recipe}+freethreaded", InstallOptions(), paths=paths)
    assert (plain.name, threaded.name) == ("fake", "fake+freethreaded")
    assert plain.prefix != threaded.prefix and plain.prefix.is_dir() and threaded.prefix.is_dir()
    assert threaded.receipt.variants == ("freethreaded",) and plain.receipt.variants == ()
    assert "--disable-gil" in threaded.receipt.configure_args
    assert plain.receipt.artifact["key"] != threaded.receipt.artifact["key"]
    assert seen == [(), ("freethreaded",)]  # the verifier is told what to expect


@needs_host_interpreters
def test_variant_keys_differ_from_the_default_and_include_the_jit_llvm(fake_variants, paths):
    base = dict(recipe_sha256="r", source_pin="s", configure_args=["--prefix=/p"], prefix=Path("/p"), compiler="gcc")
    default = keys.inputs(**base)
    jit = keys.inputs(**base, variants={"variants": ["jit"], "llvm": "19.1.7"})
    other_llvm = keys.inputs(**base, variants={"variants": ["jit"], "llvm": "19.1.6"})
    assert "variants" not in default  # builds without variants keep the keys they had
    found = {keys.key_of(i) for i in (default, jit, other_llvm)}
    assert len(found) == 3
    assert len({keys.key_of(keys.profile_inputs(i)) for i in (default, jit, other_llvm)}) == 3


@needs_host_interpreters
def test_configure_that_ignores_a_variant_stops_the_build_after_configure(fake_variants, paths, monkeypatch):
    directory, tarball, sha, _ = fake_variants
    recipe = make_recipe(directory, tarball, sha, build="optimizations = false\n")
    monkeypatch.setenv("FAKE_IGNORE_VARIANTS", "1")
    with pytest.raises(BuildError) as info:
        installer.install(f"{recipe}+freethreaded+debug", InstallOptions(), paths=paths)
    assert info.value.phase == "configure"
    assert "did not enable freethreaded, debug" in info.value.message
    assert not paths.prefix("fake+freethreaded+debug").exists()
    log = Path(info.value.log_path).read_text()
    assert "### install failed" in log and "fake make" not in log  # make never ran


@needs_host_interpreters
def test_a_jit_build_checks_its_llvm_before_fetching(fake_variants, paths, monkeypatch, tmp_path):
    directory, tarball, sha, _ = fake_variants
    recipe = make_recipe(directory, tarball, sha, build="optimizations = false\n")
    monkeypatch.setattr(preflight, "_llvm_tool", lambda tool, llvm, env: (None, ""))
    with pytest.raises(PrerequisiteError) as info:
        installer.install(f"{recipe}+jit", InstallOptions(), paths=paths)
    assert "clang-19" in info.value.message and "llvm-readobj-19" in info.value.message
    assert not (paths.downloads / tarball.name).exists()  # refused before anything was fetched


@needs_host_interpreters
def test_a_jit_build_records_its_llvm(fake_variants, paths, monkeypatch):
    directory, tarball, sha, _ = fake_variants
    recipe = make_recipe(directory, tarball, sha, build="optimizations = false\n")
    monkeypatch.setattr(preflight, "_llvm_tool", lambda tool, llvm, env: (f"{tool}-{llvm}", "19.1.7"))
    outcome = installer.install(f"{recipe}+jit", InstallOptions(), paths=paths)
    meta = json.loads(next(paths.artifacts.glob("*.json")).read_text())
    assert meta["inputs"]["llvm"] == "19.1.7" and meta["inputs"]["variants"] == ["jit"]
    assert outcome.receipt.variants == ("jit",)
    assert "--enable-experimental-jit=yes-off" in outcome.receipt.configure_args


def test_doctor_shows_each_pinned_llvm_as_optional(tmp_path):
    jit = [c for c in preflight.doctor(str(tmp_path)) if c.group == "jit"]
    assert {c.name for c in jit} >= {"clang-18", "llvm-readobj-18", "clang-19", "llvm-readobj-19"}
    assert not any(c.required for c in jit)  # only a JIT build needs them


def test_list_says_what_each_recipe_can_be_built_as():
    out = subprocess.run([sys.executable, "-m", "pybuild12", "list", "--json"], capture_output=True, text=True,
                         timeout=60)
    recipes_found = {r["name"]: r for r in json.loads(out.stdout)["recipes"]}
    assert recipes_found["3.12.13"]["variants"] == ["debug", "asan"]  # TSan and UBSan's options: 3.13
    assert recipes_found["main"]["variants"] == ["debug", "asan"]
    assert recipes_found["3.13.5"]["variants"] == ["freethreaded", "debug", "jit", "tsan", "asan", "ubsan"]


@needs_host_interpreters
def test_commands_that_take_a_name_accept_the_short_spelling(fake_variants, paths):
    directory, tarball, sha, _ = fake_variants
    recipe = make_recipe(directory, tarball, sha, name="3.13.5", build="optimizations = false\n")
    installer.install(f"{recipe}+freethreaded", InstallOptions(), paths=paths)
    env = {**os.environ, "PYBUILD12_HOME": str(paths.data.parent)}
    which = subprocess.run([sys.executable, "-m", "pybuild12", "which", "3.13.5t"], capture_output=True, text=True,
                           env=env, timeout=60)
    assert which.returncode == 0, which.stderr
    assert which.stdout.strip() == str(paths.prefix("3.13.5+freethreaded") / "bin" / f"python{HOST_MINOR}t")
    listed = subprocess.run([sys.executable, "-m", "pybuild12", "list", "--json"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert {b["name"]: b["variants"] for b in json.loads(listed.stdout)["installed"]} == {
        "3.13.5+freethreaded": ["freethreaded"]}
    gone = subprocess.run([sys.executable, "-m", "pybuild12", "uninstall", "3.13.5t"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert gone.returncode == 0, gone.stderr
    assert not paths.prefix("3.13.5+freethreaded").exists()
