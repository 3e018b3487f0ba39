"""Hostile and malformed input: recipes fuzzed with hypothesis, tampered and
unsafe tarballs through a whole install, and shell metacharacters in configure
options. Never a traceback, never code that nobody pinned, never a half-install.
"""

from __future__ import annotations

import datetime
import io
import subprocess
import sys
import tarfile

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings, strategies as st

from fakecpython import HOST_MINOR, make_recipe, make_tarball, needs_host_interpreters, passing_verifier
from helpers import tarball_recipe
from pybuild12 import install as installer
from pybuild12.checks import verify as verifier
from pybuild12.core.errors import ArchiveError, FetchError, RecipeError
from pybuild12.install import InstallOptions
from pybuild12.request import recipes

GOOD_SHA = "a" * 64
TARBALL = {"version": "3.13.5", "summary": "fuzzed",
           "source": {"kind": "tarball", "url": "https://example.invalid/Python-3.13.5.tar.xz", "sha256": GOOD_SHA},
           "build": {"optimizations": True, "configure-args": ["--with-system-expat"], "lto": False,
                     "required-modules": ["ssl"]}}
GIT = {"version": "3.14.0a1+", "summary": "fuzzed",
       "source": {"kind": "git", "url": "https://example.invalid/cpython.git", "commit": "b" * 40}}
FUZZ_EXAMPLES = 300
fuzz_settings = settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

toml_scalars = st.one_of(
    st.text(max_size=40), st.integers(), st.floats(allow_nan=False), st.booleans(),
    st.datetimes(max_value=datetime.datetime(9999, 1, 1)), st.dates(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(min_size=1, max_size=10), inner, max_size=4),
    max_leaves=10,
)


def test_the_fuzzed_recipes_start_from_valid_ones(tmp_path):
    for i, doc in enumerate((TARBALL, GIT)):
        path = tmp_path / f"base{i}.toml"
        path.write_text(tomli_w.dumps(doc), "utf-8")
        assert recipes.load(str(path)).version == doc["version"]


def key_paths(doc: dict, prefix: tuple = ()) -> list[tuple]:
    found = []
    for key, value in doc.items():
        found.append(prefix + (key,))
        if isinstance(value, dict):
            found += key_paths(value, prefix + (key,))
    return found


@st.composite
def mutated_recipes(draw):
    """A valid recipe with one key replaced by a random value, deleted, or one unknown key added.
    Returns (document, the dotted key that was touched)."""
    import copy

    doc = copy.deepcopy(draw(st.sampled_from([TARBALL, GIT])))
    path = draw(st.sampled_from(key_paths(doc)))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = draw(toml_values)
    elif action == "delete":
        del parent[path[-1]]
    else:
        extra = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_", min_size=1, max_size=12))
        if extra in parent:
            return doc, None
        parent[extra] = draw(toml_values)
        path = path[:-1] + (extra,)
    return doc, ".".join(path)


def assert_refused_well(path, exc: RecipeError, key: str | None) -> None:
    message = str(exc)
    assert str(path) in message, message
    if key is not None:
        leaf = key.rsplit(".", 1)[-1]
        assert key in message or repr(leaf) in message or f"[{key.rsplit('.', 1)[0]}]" in message, (key, message)


@pytest.mark.fault("hostile input")
@fuzz_settings
@given(case=mutated_recipes())
def test_fuzzed_recipe_is_accepted_or_refused_naming_file_and_key(case, tmp_path, faults):
    doc, key = case
    path = tmp_path / "fuzzed.toml"
    path.write_text(tomli_w.dumps(doc), "utf-8")
    faults.tried(1)
    try:
        recipe = recipes.load(str(path))
    except RecipeError as exc:
        assert_refused_well(path, exc, key)
    else:  # accepted: then it is a well-formed recipe
        assert recipe.version and recipe.source.url.startswith(("https://", "file://"))


@pytest.mark.fault("hostile input")
@fuzz_settings
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_random_bytes_as_a_recipe_are_refused_naming_the_file(raw, tmp_path, faults):
    path = tmp_path / "garbage.toml"
    path.write_bytes(raw)
    faults.tried(1)
    try:
        recipes.load(str(path))
    except RecipeError as exc:
        assert str(path) in str(exc)
    else:
        pytest.fail(f"garbage accepted as a recipe: {raw!r}")


@pytest.mark.fault("hostile input")
def test_fuzzed_recipe_through_the_command_line_gives_no_traceback(tmp_path, faults):
    """A sample of the fuzzed recipes through `pybuild12 install`: exit 3 and a message, no traceback."""
    docs = [
        {**TARBALL, "version": 3.13},
        {**TARBALL, "source": {**TARBALL["source"], "sha256": ["a"]}},
        {**TARBALL, "build": {"configure-args": "--with-system-expat"}},
        {**GIT, "source": {**GIT["source"], "commit": datetime.date(2024, 1, 1)}},
        {k: v for k, v in TARBALL.items() if k != "source"},
    ]
    for i, doc in enumerate(docs):
        path = tmp_path / f"bad{i}.toml"
        path.write_text(tomli_w.dumps(doc), "utf-8")
        proc = subprocess.run([sys.executable, "-m", "pybuild12", "install", str(path)], capture_output=True, text=True,
                              timeout=150)
        faults.tried(1)
        assert proc.returncode == RecipeError.exit_code, proc.stderr
        assert "Traceback" not in proc.stderr and str(path) in proc.stderr


@pytest.mark.fault("hostile input")
@pytest.mark.parametrize("url", ["http://www.python.org/ftp/python/3.13.5/Python-3.13.5.tar.xz",
                                 "http://github.com/python/cpython.git"])
def test_plain_http_recipe_is_refused_with_the_mirror_way_out(url, recipe_file, faults):
    text = tarball_recipe(url, GOOD_SHA) if url.endswith(".xz") else \
        f'version = "3.14.0"\nsummary = "x"\n[source]\nkind = "git"\nurl = "{url}"\ncommit = "{"c" * 40}"\n'
    path = recipe_file(text)
    faults.tried(1)
    with pytest.raises(RecipeError) as info:
        recipes.load(str(path))
    assert "plain http:// is refused" in info.value.message and "key 'source.url'" in info.value.message
    assert "PYBUILD12_MIRROR=http://" in info.value.hint


# ------------------------------------------------------- hostile tarballs, whole installs


def _evil_tarball(directory, kind: str):
    """A CPython-looking tarball with one hostile member."""
    top = f"Python-{sys.version.split()[0]}"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"{top}/configure")
        data = b"#!/bin/sh\ntouch PWNED\n"
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
        where = {"absolute": "/tmp/pybuild12-pwned", "dotdot": f"{top}/../../pwned"}.get(kind, f"{top}/evil")
        evil = tarfile.TarInfo(where)
        if kind == "symlink":
            evil.type, evil.linkname = tarfile.SYMTYPE, "/etc"
        elif kind == "hardlink":
            evil.type, evil.linkname = tarfile.LNKTYPE, "/etc/passwd"
        elif kind == "device":
            evil.type, evil.devmajor, evil.devminor = tarfile.CHRTYPE, 1, 3
        tar.addfile(evil, io.BytesIO(b"") if kind not in ("absolute", "dotdot") else io.BytesIO(b""))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{top}.tar.gz"
    path.write_bytes(buf.getvalue())
    import hashlib

    return path, hashlib.sha256(buf.getvalue()).hexdigest()


@pytest.fixture
def earlier(tmp_path, paths, monkeypatch):
    monkeypatch.setattr(verifier, "run", passing_verifier)
    tarball, sha = make_tarball(tmp_path / "one", mark="one")
    return installer.install(str(make_recipe(tmp_path / "one", tarball, sha)), paths=paths)


def _intact(outcome) -> bool:
    return (outcome.prefix / f"lib/python{HOST_MINOR}/build-mark.txt").read_text().strip() == "one"


@needs_host_interpreters
@pytest.mark.fault("hostile input")
@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink", "hardlink", "device"])
def test_unsafe_tarball_is_refused_before_anything_runs(kind, earlier, tmp_path, paths, faults):
    tarball, sha = _evil_tarball(tmp_path / "evil", kind)
    recipe = make_recipe(tmp_path / "evil", tarball, sha)
    with pytest.raises(ArchiveError) as info:
        installer.install(str(recipe), InstallOptions(force=True), paths=paths)
    assert "refusing to extract" in info.value.message
    assert not list(paths.cache.rglob("PWNED")) and not (tmp_path / "pwned").exists()
    assert _intact(earlier) and not [p for p in paths.pythons.iterdir() if p.name.startswith(".")]
    faults.tried(1)


@needs_host_interpreters
@pytest.mark.fault("hostile input")
def test_tampered_tarball_is_refused_before_extraction(earlier, tmp_path, paths, faults):
    tarball, sha = make_tarball(tmp_path / "two", mark="two")
    recipe = make_recipe(tmp_path / "two", tarball, sha)
    tarball.write_bytes(tarball.read_bytes()[:-8] + b"tampered")  # same name, other bytes
    with pytest.raises(FetchError) as info:
        installer.install(str(recipe), InstallOptions(force=True), paths=paths)
    assert "checksum mismatch" in info.value.message
    assert not (paths.builds / "fake").exists() and _intact(earlier)
    faults.tried(1)


@needs_host_interpreters
@pytest.mark.fault("hostile input")
def test_shell_metacharacters_in_configure_options_stay_literal(tmp_path, paths, monkeypatch, faults):
    monkeypatch.setattr(verifier, "run", passing_verifier)
    canary = tmp_path / "canary"
    nasty = [f"--with-openssl=$(touch {canary})", f"--with-dbmliborder=`touch {canary}`; touch {canary}",
             "--with-suffix=a b|c&d>e<f*"]
    monkeypatch.setenv("PYBUILD12_CONFIGURE_OPTS", f"'--with-tzpath=$(touch {canary})'")
    tarball, sha = make_tarball(tmp_path / "one", mark="one")
    installer.install(str(make_recipe(tmp_path / "one", tarball, sha)),
                      InstallOptions(configure_opts=tuple(nasty), keep_build=True), paths=paths)
    args = next(paths.builds.rglob("configure-args.txt")).read_text().splitlines()
    assert args[-4:] == [f"--with-tzpath=$(touch {canary})", *nasty]  # each one argv word, untouched
    assert not canary.exists()
    faults.tried(len(nasty) + 1)
