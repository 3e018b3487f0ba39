"""`pybuild12 key`: the artifact key an install would use, equal to the key in the receipt
of the install that follows (fake CPython, real install orchestration)."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from fakecpython import (
    make_git_recipe,
    make_git_repo,
    make_recipe,
    make_tarball,
    needs_host_interpreters,
    passing_verifier,
)
from pybuild12 import install as installer
from pybuild12.builder import optimize
from pybuild12.checks import verify as verifier
from pybuild12.cli.app import app
from pybuild12.install import InstallOptions

pytestmark = needs_host_interpreters


@pytest.fixture(autouse=True)
def fake_verifier(monkeypatch):
    monkeypatch.setattr(verifier, "run", passing_verifier)


@pytest.fixture
def tarball_recipe(tmp_path):
    tarball, sha = make_tarball(tmp_path / "src")
    return make_recipe(tmp_path, tarball, sha, build="optimizations = false\n")


def key_then_install(spec, options, paths):
    keyed = installer.artifact_key(spec, options, paths=paths)
    outcome = installer.install(spec, options, paths=paths)
    assert outcome.name == keyed.name and outcome.prefix == keyed.prefix
    return keyed, outcome


def test_the_key_of_a_release_recipe_is_the_receipts(tarball_recipe, paths):
    keyed, outcome = key_then_install(str(tarball_recipe), InstallOptions(), paths)
    assert keyed.key == outcome.receipt.artifact["key"]
    assert keyed.inputs["source"] == keyed.source
    # and a configure option given to both changes it the same way
    other, outcome = key_then_install(str(tarball_recipe), InstallOptions(name="fake-opt",
                                      configure_opts=("--without-doc-strings",)), paths)
    assert other.key == outcome.receipt.artifact["key"] != keyed.key


def test_the_key_of_an_install_without_bytecode_is_the_receipts(tarball_recipe, paths):
    keyed, outcome = key_then_install(str(tarball_recipe), InstallOptions(compile_bytecode=False), paths)
    assert keyed.key == outcome.receipt.artifact["key"] and keyed.inputs["compile_bytecode"] is False
    assert keyed.key != installer.artifact_key(str(tarball_recipe), InstallOptions(), paths=paths).key
    debug = installer.artifact_key(f"{tarball_recipe}+debug", InstallOptions(), paths=paths)
    assert debug.inputs["compile_bytecode"] is False  # the debug variant's default
    compiled = installer.artifact_key(f"{tarball_recipe}+debug", InstallOptions(compile_bytecode=True), paths=paths)
    assert "compile_bytecode" not in compiled.inputs
    runner = CliRunner()
    said = json.loads(runner.invoke(app, ["key", f"{tarball_recipe}+debug", "--compile-bytecode", "--json"]).stdout)
    assert said["key"] == compiled.key


def test_the_key_of_a_variant_is_the_receipts(tarball_recipe, paths):
    keyed, outcome = key_then_install(f"{tarball_recipe}+freethreaded", InstallOptions(), paths)
    assert keyed.key == outcome.receipt.artifact["key"] and keyed.inputs["variants"] == ["freethreaded"]


def test_the_key_of_a_git_recipe_resolves_its_commit_as_the_install_does(tmp_path, paths):
    repo = tmp_path / "upstream" / "cpython"
    one, two = make_git_repo(repo)
    recipe = make_git_recipe(tmp_path, repo.as_uri(), one[:7])
    keyed, outcome = key_then_install(str(recipe), InstallOptions(), paths)
    assert keyed.source == one and keyed.key == outcome.receipt.artifact["key"]
    moved, outcome = key_then_install(str(recipe), InstallOptions(commit=two[:10]), paths)
    assert moved.source == two and moved.key == outcome.receipt.artifact["key"] != keyed.key


def test_a_full_commit_hash_is_its_own_pin_without_a_fetch(tmp_path, paths):
    repo = tmp_path / "upstream" / "cpython"
    one, _ = make_git_repo(repo)
    recipe = make_git_recipe(tmp_path, (tmp_path / "nowhere").as_uri(), one.upper())  # unreachable: no fetch
    keyed = installer.artifact_key(str(recipe), InstallOptions(), paths=paths)
    assert keyed.source == one and not list(paths.logs.glob("key-*"))
    recipe.write_text(recipe.read_text().replace((tmp_path / "nowhere").as_uri(), repo.as_uri()))
    outcome = installer.install(str(recipe), paths=paths)
    assert outcome.receipt.artifact["key"] == installer.artifact_key(str(recipe), paths=paths).key


def test_the_key_of_optimize_max_probes_its_toolchain(tarball_recipe, tmp_path, paths, monkeypatch):
    bindir = tmp_path / "llvm-19" / "bin"
    bindir.mkdir(parents=True)
    for tool in (*optimize.TOOLS, "clang++"):
        (bindir / tool).write_text("#!/bin/sh\necho 'Debian clang version 19.1.7 (3~deb12u1)'\n")
        (bindir / tool).chmod(0o755)
    (tmp_path / "clang-19").symlink_to(bindir / "clang")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    source = tarball_recipe.read_text().replace("optimizations = false\n", "")
    tarball_recipe.write_text(source)
    keyed, outcome = key_then_install(str(tarball_recipe), InstallOptions(optimize="max", name="fake-max"), paths)
    assert keyed.key == outcome.receipt.artifact["key"]
    assert keyed.inputs["optimize"] == "max" and keyed.inputs["llvm"] == "19.1.7"


def test_the_command_prints_the_key_and_its_inputs(tarball_recipe, paths):
    runner = CliRunner()
    plain = runner.invoke(app, ["key", str(tarball_recipe)])
    assert plain.exit_code == 0, plain.output
    as_json = runner.invoke(app, ["key", str(tarball_recipe), "--json", "--name", "other"])
    answer = json.loads(as_json.stdout)
    assert answer["name"] == "other" and answer["prefix"] == str(paths.prefix("other"))
    assert answer["key"] != plain.stdout.strip() and len(plain.stdout.strip()) == 64
    installed = runner.invoke(app, ["install", str(tarball_recipe), "--name", "other", "--json"])
    assert installed.exit_code == 0, installed.output
    facts = json.loads(installed.stdout)
    assert facts["key"] == answer["key"] and facts["origin"] is None and not facts["already_installed"]
    again = json.loads(runner.invoke(app, ["install", str(tarball_recipe), "--name", "other", "--json"]).stdout)
    assert again["already_installed"] and again["origin"] == "installed" and again["python"] == facts["python"]


def test_bad_input_is_refused_with_what_to_do(tarball_recipe):
    runner = CliRunner()
    unknown = runner.invoke(app, ["key", "no-such-recipe"])
    assert unknown.exit_code != 0 and "unknown recipe" in unknown.output
    both = runner.invoke(app, ["key", str(tarball_recipe), "--pgo", "--no-pgo"])
    assert both.exit_code != 0
