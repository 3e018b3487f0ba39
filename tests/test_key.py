"""store/key.py: every input that shapes a build changes its key; the profile key is derived."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pybuild12.builder.optimize import Toolchain
from pybuild12.request import recipes
from pybuild12.request.recipes import BuildOptions, Recipe, TarballSource
from pybuild12.store import key as keys

RECIPE = Recipe(name="3.13.5", path=Path("/r/3.13.5.toml"), version="3.13.5", summary="s",
                source=TarballSource("https://x/Python-3.13.5.tar.xz", "s" * 64), build=BuildOptions(),
                content_sha256="r" * 64)
BASE = dict(recipe_sha256="r" * 64, source_pin="s" * 64, configure_args=["--prefix=/p", "--enable-optimizations"],
            prefix="/p", compiler="gcc 12.2.0", build_env={})


def key(recipe: Recipe = RECIPE, *, jit_llvm=None, toolchain=None, **changes) -> str:
    return keys.key_of(keys.inputs(**{**BASE, **changes},
                                   variants=keys.optional(recipe, jit_llvm=jit_llvm, toolchain=toolchain)))


def build(**changes) -> Recipe:
    return replace(RECIPE, build=replace(RECIPE.build, **changes))


def test_the_key_is_stable_and_a_plain_build_has_no_optional_inputs():
    assert key() == key()
    assert keys.optional(RECIPE) == {}  # the keys of plain builds stay as they were


@pytest.mark.parametrize("change", [
    {"recipe_sha256": "x" * 64},
    {"source_pin": "0123456789abcdef0123456789abcdef01234567"},
    {"configure_args": ["--prefix=/p", "--enable-optimizations", "--with-lto"]},
    {"prefix": "/q"},
    {"compiler": "gcc 13.1.0"},
    {"build_env": {"CFLAGS": "-O1"}},
])
def test_every_input_changes_the_key(change):
    assert key(**change) != key()


def test_every_optional_input_changes_the_key():
    found = {
        "plain": key(),
        "freethreaded": key(build(variants=("freethreaded",))),
        "debug": key(build(variants=("debug",))),
        "jit, LLVM 19.1.7": key(build(variants=("jit",)), jit_llvm="19.1.7"),
        "jit, LLVM 19.1.6": key(build(variants=("jit",)), jit_llvm="19.1.6"),
        "max, LLVM 19.1.7": key(build(optimize="max"), toolchain=Toolchain(Path("/llvm/bin"), "19.1.7")),
        "max, LLVM 19.1.6": key(build(optimize="max"), toolchain=Toolchain(Path("/llvm/bin"), "19.1.6")),
        "partitioned LTO": key(build(lto_partition="auto")),
        "no bytecode": key(build(compile_bytecode=False)),
        "debug with bytecode": key(build(variants=("debug",), compile_bytecode=True)),
    }
    assert len(set(found.values())) == len(found), found


def test_bytecode_joins_the_key_only_when_make_install_compiles_none():
    assert keys.optional(build(compile_bytecode=True)) == {}  # asked for what every key had: the same key
    assert key(build(compile_bytecode=True)) == key()
    assert keys.optional(build(compile_bytecode=False)) == {"compile_bytecode": False}
    # debug and the sanitizers go without by default
    for variant in ("debug", "tsan", "asan", "ubsan"):
        assert keys.optional(build(variants=(variant,))) == {"variants": [variant], "compile_bytecode": False}
        assert keys.optional(build(variants=(variant,), compile_bytecode=True)) == {"variants": [variant]}
    assert keys.optional(build(variants=("freethreaded", "jit")), jit_llvm="19") == {
        "variants": ["freethreaded", "jit"], "llvm": "19"}


def test_the_platform_is_an_input():
    inputs = keys.inputs(**BASE)
    assert inputs["machine"] and inputs["system"] and "libc" in inputs and inputs["format"] == keys.FORMAT


def test_the_profile_key_leaves_out_what_a_profile_does_not_depend_on():
    base = keys.inputs(**BASE)
    profile = keys.profile_inputs(base)
    assert not set(keys.NOT_IN_PROFILE) & set(profile) and profile["profile_format"] == keys.PROFILE_FORMAT
    assert all(not a.startswith("--prefix=") for a in profile["configure_args"])
    moved = keys.inputs(**{**BASE, "prefix": "/q", "configure_args": ["--prefix=/q", "--enable-optimizations"],
                           "recipe_sha256": "x" * 64}, variants={"lto_partition": "auto", "compile_bytecode": False})
    assert keys.key_of(keys.profile_inputs(moved)) == keys.key_of(profile)
    for change in ({"compiler": "gcc 13"}, {"source_pin": "t" * 64}, {"build_env": {"CFLAGS": "-O1"}}):
        assert keys.key_of(keys.profile_inputs(keys.inputs(**{**BASE, **change}))) != keys.key_of(profile)


def test_the_prefixless_key_joins_builds_that_differ_by_prefix_only():
    here = keys.inputs(**BASE)
    there = keys.inputs(**{**BASE, "prefix": "/q", "configure_args": ["--prefix=/q", "--enable-optimizations"]})
    assert keys.key_of(here) != keys.key_of(there)
    assert keys.prefixless_key(here) == keys.prefixless_key(there)


def test_the_shipped_release_recipes_add_no_optional_input():
    assert all(keys.optional(recipes.load(name)) == {} for name in ("3.12", "3.13.5"))
