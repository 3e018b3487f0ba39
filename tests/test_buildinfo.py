"""What `list` says of a build, and what `install` says differs, from receipts."""

from __future__ import annotations

from pybuild12.store import buildinfo
from pybuild12.store.receipts import Receipt

PREFIX = "--prefix=/p/3.13.5"


def receipt(*args, optimize=None, verification=None, commit=None, recipe_sha="r1", bytecode=None):
    made = {"configure_args": [PREFIX, *args], "variants": [], "compiler": "gcc (Debian 12.2.0-14) 12.2.0",
            "recipe": {"content_sha256": recipe_sha}, "source": {"commit": commit} if commit else {}}
    if bytecode is not None:
        made["bytecode"] = bytecode
    if optimize:
        made["optimize"] = {"level": optimize}
    if verification is not None:
        made["verification"] = verification
    return Receipt.from_json(made)


def test_facts_name_the_optimizations_and_the_verification():
    made = buildinfo.facts(receipt("--enable-optimizations", "--with-lto", "--with-openssl=/x",
                                   verification={"ok": True, "checks": [{"status": "passed"},
                                                                        {"status": "inconclusive"}]}))
    assert (made.pgo, made.lto, made.optimizations) == (True, True, "pgo+lto")
    assert made.configure_options == ("--with-openssl=/x",)
    assert made.verified == "passed, 1 inconclusive"
    plain = buildinfo.facts(receipt())
    assert (plain.optimizations, plain.verified) == ("none", "not verified")
    assert buildinfo.facts(receipt("--with-lto", "--without-lto")).lto is False  # the last one wins
    assert buildinfo.facts(receipt(optimize="max")).optimizations == "max"
    assert buildinfo.facts(receipt(verification={"ok": False, "checks": []})).verified == "failed"
    assert buildinfo.facts(None) is None
    assert buildinfo.facts(receipt()).bytecode is True  # a receipt from before the option: it did
    assert buildinfo.facts(receipt(bytecode=False)).as_json()["bytecode"] is False


def asked(*args, optimize="standard", recipe_sha="r1", commit=None, **kw):
    return buildinfo.differences(receipt(*kw.pop("installed", ()), **kw), configure_args=[PREFIX, *args],
                                 optimize=optimize, recipe_sha256=recipe_sha, commit=commit)


def test_the_same_build_has_no_differences():
    assert asked("--enable-optimizations", "--with-lto",
                 installed=("--enable-optimizations", "--with-lto")) == []


def test_each_difference_is_named():
    found = asked("--enable-optimizations", "--with-lto", "--with-pydebug", installed=("--with-valgrind",),
                  optimize="max", recipe_sha="r2")
    assert found == ["PGO (--enable-optimizations): installed without, asked with",
                     "LTO: installed without, asked with",
                     "--optimize: installed standard, asked max",
                     "configure options the installed build lacks: --with-pydebug",
                     "configure options of the installed build not asked now: --with-valgrind",
                     "the recipe file changed since the build was installed"]


def test_a_commit_differs_unless_it_abbreviates_the_installed_one():
    full = "22f3425c3d" + "0" * 30
    assert asked(installed=(), commit="22f3425c3d", ) == []  # no installed commit recorded
    assert buildinfo.differences(receipt(commit=full), configure_args=[PREFIX], optimize="standard",
                                 recipe_sha256="r1", commit="22F3425C3D") == []
    assert buildinfo.differences(receipt(commit=full), configure_args=[PREFIX], optimize="standard",
                                 recipe_sha256="r1", commit="abcdef1") == [
        "commit: installed 22f3425c3d00, asked abcdef1"]


def test_bytecode_differs_only_when_the_request_names_it():
    without = receipt(bytecode=False)
    asks = dict(configure_args=[PREFIX], optimize="standard", recipe_sha256="r1", commit=None)
    # a request that names no option is answered by the installed build, whatever its variants' default
    assert buildinfo.differences(without, **asks) == [] and buildinfo.differences(receipt(), **asks) == []
    assert buildinfo.differences(without, **asks, compile_bytecode=False) == []
    assert buildinfo.differences(without, **asks, compile_bytecode=True) == [
        "stdlib bytecode compiled at install (--compile-bytecode): installed without, asked with"]
    assert buildinfo.differences(receipt(), **asks, compile_bytecode=False) == [  # an older receipt: it did
        "stdlib bytecode compiled at install (--compile-bytecode): installed with, asked without"]
    assert buildinfo.differences(receipt(bytecode=True), **asks, compile_bytecode=True) == []
