"""Recipe loading: shipped recipes, aliases, and one test per kind of bad recipe."""

from __future__ import annotations

import hashlib
import re

import pytest

from helpers import tarball_recipe
from pybuild12.core.errors import RecipeError
from pybuild12.request import recipes, resolve
from pybuild12.request.recipes import DEFAULT_REQUIRED_MODULES, GitSource, TarballSource

GOOD_SHA = "a" * 64
GOOD_URL = "https://example.invalid/Python-3.13.5.tar.xz"
EXACT_RE = re.compile(r"^\d+\.\d+\.\d+$")


def _version_tuple(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split("."))


def _exact_names() -> list[str]:
    return [n for n in recipes.available() if EXACT_RE.match(n)]


def _load_error(path) -> RecipeError:
    with pytest.raises(RecipeError) as info:
        recipes.load(str(path))
    return info.value


# ------------------------------------------------------------ shipped recipes


def test_shipped_recipes_are_found():
    names = recipes.available()
    assert names, "no shipped recipes found"
    on_disk = sorted(p.stem for p in recipes.shipped_dir().glob("*.toml"))
    assert sorted(names) == on_disk


@pytest.mark.parametrize("name", recipes.available())
def test_every_shipped_recipe_loads(name):
    recipe = recipes.load(name)
    assert recipes.VERSION_RE.match(recipe.version)
    assert recipe.summary and "\n" not in recipe.summary
    assert recipe.content_sha256 == hashlib.sha256(recipe.path.read_bytes()).hexdigest()
    if EXACT_RE.match(name):
        # An exact-version recipe is named after the version it pins.
        assert recipe.name == name and recipe.version == name and recipe.alias_of == ()
        assert isinstance(recipe.source, TarballSource)
        assert recipe.source.filename == f"Python-{name}.tar.xz"
        assert recipes.SHA256_RE.match(recipe.source.sha256)


def test_exact_versions_sort_numerically():
    exact = _exact_names()
    assert exact == sorted(exact, key=_version_tuple)


@pytest.mark.parametrize("line", ["3.12", "3.13", "3.14", "3.15"])
def test_alias_resolves_to_newest_exact_version_of_its_line(line):
    same_line = [n for n in _exact_names() if n.startswith(line + ".")]
    assert same_line, f"no exact-version recipe for {line}"
    newest = max(same_line, key=_version_tuple)
    recipe = recipes.load(line)
    assert recipe.version == newest
    assert recipe.name == newest
    assert recipe.alias_of == (line,)
    assert recipe.minor == line
    assert recipe.path == recipes.shipped_dir() / f"{newest}.toml"


def test_every_shipped_alias_points_into_its_own_line():
    aliases = [n for n in recipes.available() if re.match(r"^\d+\.\d+$", n)]
    assert {"3.12", "3.13", "3.14", "3.15"} <= set(aliases)
    for alias in aliases:
        recipe = recipes.load(alias)
        assert recipe.alias_of == (alias,)
        assert recipe.minor == alias


def test_main_is_the_articles_commit():
    recipe = recipes.load("main")
    assert isinstance(recipe.source, GitSource)
    assert recipe.source.url == "https://github.com/python/cpython"
    assert recipe.source.commit == "22f3425c3d"
    assert recipe.version == "3.12.0a7+" and recipe.minor == "3.12"
    assert recipe.build.optimizations is True


# ------------------------------------------------------------- good recipes


def test_defaults(recipe_file):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA))
    recipe = recipes.load(str(path))
    assert recipe.build.optimizations is True
    assert recipe.build.configure_args == ()
    assert recipe.build.required_modules == DEFAULT_REQUIRED_MODULES
    assert set(recipe.build.required_modules) >= {"ssl", "zlib", "ctypes", "sqlite3", "bz2", "lzma"}
    assert recipe.name == "custom" and recipe.path == path and recipe.alias_of == ()
    assert recipe.source == TarballSource(url=GOOD_URL, sha256=GOOD_SHA)
    assert recipe.source.pin == GOOD_SHA


def test_content_sha256_is_sha256_of_file_bytes(recipe_file):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, extra="\n# a comment changes the digest\n"))
    recipe = recipes.load(str(path))
    assert recipe.content_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    other = recipes.load(str(recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA), name="other.toml")))
    assert other.content_sha256 != recipe.content_sha256


def test_uppercase_sha256_is_normalised(recipe_file):
    path = recipe_file(tarball_recipe(GOOD_URL, "AB" * 32))
    assert recipes.load(str(path)).source.sha256 == "ab" * 32


def test_build_options_are_read(recipe_file):
    extra = """
[build]
optimizations = false
configure-args = ["--with-system-expat", "--enable-shared"]
required-modules = ["zlib", "readline"]
"""
    recipe = recipes.load(str(recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, extra=extra))))
    assert recipe.build.optimizations is False
    assert recipe.build.lto is False
    assert recipe.build.configure_args == ("--with-system-expat", "--enable-shared")
    assert recipe.build.required_modules == ("zlib", "readline")


@pytest.mark.parametrize("commit", ["abc1234", "0123456789abcdef0123456789abcdef01234567", "ABCDEF0"])
def test_git_source_loads(recipe_file, commit):
    path = recipe_file(
        f"""
version = "3.14.0a1+"
summary = "from git"

[source]
kind = "git"
url = "https://github.com/python/cpython.git"
commit = "{commit}"
"""
    )
    recipe = recipes.load(str(path))
    assert isinstance(recipe.source, GitSource)
    assert recipe.source.kind == "git"
    assert recipe.source.commit == commit.lower()
    assert recipe.source.pin == commit.lower()
    assert recipe.source.url == "https://github.com/python/cpython.git"


def test_alias_in_a_user_directory(tmp_path):
    (tmp_path / "3.13.5.toml").write_text(tarball_recipe(GOOD_URL, GOOD_SHA))
    (tmp_path / "stable.toml").write_text('alias = "3.13.5"\n')
    recipe = recipes.load("stable", recipe_dir=tmp_path)
    assert recipe.version == "3.13.5"
    assert recipe.alias_of == ("stable",)


# -------------------------------------------------------------- bad recipes


def test_unknown_top_level_key_suggests_the_right_one(recipe_file):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA).replace('version = "3.13.5"', 'verison = "3.13.5"'))
    message = str(_load_error(path))
    assert str(path) in message
    assert "unknown key 'verison'" in message
    assert "did you mean 'version'?" in message


def test_unknown_key_in_source_suggests_the_right_one(recipe_file):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA).replace("sha256 =", "sha265 ="))
    message = str(_load_error(path))
    assert str(path) in message
    assert "[source]" in message and "'sha265'" in message
    assert "did you mean 'sha256'?" in message


def test_unknown_key_in_build_suggests_the_right_one(recipe_file):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, extra="[build]\noptimisations = true\n"))
    message = str(_load_error(path))
    assert str(path) in message and "[build]" in message
    assert "did you mean 'optimizations'?" in message


@pytest.mark.parametrize("key", ["url", "sha256"])
def test_missing_tarball_key(recipe_file, key):
    text = "\n".join(
        line for line in tarball_recipe(GOOD_URL, GOOD_SHA).splitlines() if not line.startswith(f"{key} =")
    )
    path = recipe_file(text)
    message = str(_load_error(path))
    assert str(path) in message
    assert f"missing required key '{key}'" in message
    assert "[source]" in message


def test_missing_git_commit(recipe_file):
    path = recipe_file(
        """
version = "3.14.0"
summary = "git without a commit"
[source]
kind = "git"
url = "https://github.com/python/cpython.git"
"""
    )
    message = str(_load_error(path))
    assert str(path) in message and "missing required key 'commit'" in message


def test_git_source_rejects_sha256_key(recipe_file):
    path = recipe_file(
        f"""
version = "3.14.0"
summary = "git with a tarball key"
[source]
kind = "git"
url = "https://github.com/python/cpython.git"
commit = "abc1234"
sha256 = "{GOOD_SHA}"
"""
    )
    message = str(_load_error(path))
    assert str(path) in message and "unknown key 'sha256'" in message


@pytest.mark.parametrize("key", ["version", "summary", "source"])
def test_missing_top_level_key(recipe_file, key):
    text = tarball_recipe(GOOD_URL, GOOD_SHA)
    if key == "source":
        text = text.split("[source]")[0]
    else:
        text = "\n".join(line for line in text.splitlines() if not line.startswith(f"{key} ="))
    path = recipe_file(text)
    message = str(_load_error(path))
    assert str(path) in message and f"missing required key '{key}'" in message


def test_missing_source_kind(recipe_file):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA).replace('kind = "tarball"', ""))
    message = str(_load_error(path))
    assert str(path) in message and "missing key 'kind'" in message


def test_version_as_a_float(recipe_file):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA).replace('version = "3.13.5"', "version = 3.13"))
    message = str(_load_error(path))
    assert str(path) in message
    assert "key 'version'" in message
    assert "expected a string" in message and "float" in message


def test_optimizations_as_a_string(recipe_file):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, extra='[build]\noptimizations = "yes"\n'))
    message = str(_load_error(path))
    assert str(path) in message
    assert "key 'build.optimizations'" in message
    assert "expected true or false" in message and "'yes'" in message


def test_configure_args_not_a_list(recipe_file):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, extra='[build]\nconfigure-args = "--with-lto"\n'))
    message = str(_load_error(path))
    assert str(path) in message and "key 'build.configure-args'" in message and "expected a list" in message


def test_required_modules_with_a_non_string(recipe_file):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, extra='[build]\nrequired-modules = ["ssl", 3]\n'))
    message = str(_load_error(path))
    assert str(path) in message and "key 'build.required-modules'" in message and "list of strings" in message


def test_bad_version_string(recipe_file):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, version="three"))
    message = str(_load_error(path))
    assert str(path) in message and "key 'version'" in message and "'three'" in message


@pytest.mark.parametrize(
    "sha",
    ["a" * 63, "a" * 65, "g" * 64, "not-a-sha"],
    ids=["63-hex", "65-hex", "non-hex", "word"],
)
def test_bad_sha256(recipe_file, sha):
    path = recipe_file(tarball_recipe(GOOD_URL, sha))
    message = str(_load_error(path))
    assert str(path) in message
    assert "key 'source.sha256'" in message and "64 hex digits" in message


@pytest.mark.parametrize("commit", ["abc123", "", "zzzzzzz", "a" * 41])
def test_bad_git_commit(recipe_file, commit):
    path = recipe_file(
        f"""
version = "3.14.0"
summary = "git"
[source]
kind = "git"
url = "https://github.com/python/cpython.git"
commit = "{commit}"
"""
    )
    message = str(_load_error(path))
    assert str(path) in message
    assert "key 'source.commit'" in message and "7 to 40 hex digits" in message


def test_unknown_source_kind_suggests_one(recipe_file):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA).replace('kind = "tarball"', 'kind = "tarbal"'))
    message = str(_load_error(path))
    assert str(path) in message
    assert "key 'source.kind'" in message and "'tarbal'" in message
    assert "did you mean 'tarball'?" in message


def test_source_url_must_be_http_or_file(recipe_file):
    path = recipe_file(tarball_recipe("ftp://example.invalid/Python-3.13.5.tar.xz", GOOD_SHA))
    message = str(_load_error(path))
    assert str(path) in message and "key 'source.url'" in message


@pytest.mark.parametrize("arg", ["--prefix=/opt/python", "--prefix", "--exec-prefix=/opt"])
def test_configure_args_may_not_set_the_prefix(recipe_file, arg):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, extra=f'[build]\nconfigure-args = ["{arg}"]\n'))
    message = str(_load_error(path))
    assert str(path) in message
    assert "key 'build.configure-args'" in message and repr(arg) in message and "prefix" in message


@pytest.mark.parametrize("arg", ["--enable-optimizations", "--enable-optimizations=yes"])
def test_configure_args_may_not_enable_optimizations(recipe_file, arg):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA,
                                      extra=f'[build]\nconfigure-args = ["--with-system-expat", "{arg}"]\n'))
    message = str(_load_error(path))
    assert str(path) in message
    assert "key 'build.configure-args'" in message and "optimizations = true" in message


def test_lto_comes_with_optimizations_unless_the_recipe_or_the_command_says_otherwise(recipe_file):
    default = recipes.load(str(recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA))))
    assert default.build.optimizations and default.build.lto
    off = recipes.load(str(recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, extra="[build]\nlto = false\n"), "off.toml")))
    assert off.build.optimizations and not off.build.lto
    plain = recipes.load(str(recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, extra="[build]\noptimizations = false\n"),
                                         "plain.toml")))
    assert not plain.build.optimizations and not plain.build.lto
    assert resolve.with_lto(default, False).build.lto is False and resolve.with_lto(off, True).build.lto is True
    assert all(recipes.load(name).build.lto for name in ("main", "3.12.13", "3.13.5", "3.14.10", "3.15.2"))
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, extra='[build]\nconfigure-args = ["--with-lto"]\n'),
                       "dup.toml")
    message = str(_load_error(path))
    assert "key 'build.configure-args'" in message and "lto = true" in message


def test_compile_bytecode_is_read_and_otherwise_follows_the_variants(recipe_file):
    default = recipes.load(str(recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA))))
    assert default.build.compile_bytecode is None and default.build.compiles_bytecode is True
    off = recipes.load(str(recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, extra="[build]\ncompile-bytecode = false\n"),
                                       "off.toml")))
    assert off.build.compile_bytecode is False and off.build.compiles_bytecode is False
    debug = recipes.load(str(recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, extra='[build]\nvariants = ["debug"]\n'),
                                         "debug.toml")))
    assert debug.build.compile_bytecode is None and debug.build.compiles_bytecode is False
    on = recipes.load(str(recipe_file(tarball_recipe(
        GOOD_URL, GOOD_SHA, extra='[build]\nvariants = ["debug"]\ncompile-bytecode = true\n'), "on.toml")))
    assert on.build.compiles_bytecode is True  # the recipe's own word wins over the variant's default
    assert resolve.with_compile_bytecode(off, True).build.compiles_bytecode is True
    assert all(recipes.load(name).build.compile_bytecode is None for name in ("main", "3.12.13", "3.13.5"))


def test_compile_bytecode_spelling_and_type_are_checked(recipe_file):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, extra="[build]\ncompile_bytecode = false\n"))
    message = str(_load_error(path))
    assert str(path) in message and "unknown key 'compile_bytecode'" in message
    assert "did you mean 'compile-bytecode'?" in message
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, extra='[build]\ncompile-bytecode = "no"\n'), "t.toml")
    assert "key 'build.compile-bytecode': expected true or false, got str 'no'" in str(_load_error(path))


def test_unknown_required_module(recipe_file):
    path = recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA, extra='[build]\nrequired-modules = ["ssl", "sqlite"]\n'))
    message = str(_load_error(path))
    assert str(path) in message
    assert "key 'build.required-modules'" in message and "unknown module 'sqlite'" in message
    assert "did you mean 'sqlite3'?" in message


def test_alias_loop(tmp_path):
    (tmp_path / "a.toml").write_text('alias = "b"\n')
    (tmp_path / "b.toml").write_text('alias = "a"\n')
    with pytest.raises(RecipeError) as info:
        recipes.load("a", recipe_dir=tmp_path)
    message = str(info.value)
    assert "key 'alias'" in message and "alias loop" in message
    assert "a -> b -> a" in message
    assert str(tmp_path / "b.toml") in message


def test_alias_to_itself(tmp_path):
    (tmp_path / "me.toml").write_text('alias = "me"\n')
    with pytest.raises(RecipeError) as info:
        recipes.load("me", recipe_dir=tmp_path)
    assert "alias loop" in str(info.value) and str(tmp_path / "me.toml") in str(info.value)


def test_alias_to_a_missing_recipe(tmp_path):
    (tmp_path / "stable.toml").write_text('alias = "3.99.1"\n')
    with pytest.raises(RecipeError) as info:
        recipes.load("stable", recipe_dir=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "stable.toml") in message
    assert "key 'alias'" in message and "'3.99.1'" in message


def test_alias_file_with_extra_keys(tmp_path):
    (tmp_path / "3.13.5.toml").write_text(tarball_recipe(GOOD_URL, GOOD_SHA))
    (tmp_path / "stable.toml").write_text('alias = "3.13.5"\nversion = "3.13.5"\n')
    with pytest.raises(RecipeError) as info:
        recipes.load("stable", recipe_dir=tmp_path)
    assert str(tmp_path / "stable.toml") in str(info.value) and "unknown key 'version'" in str(info.value)


def test_invalid_toml(recipe_file):
    path = recipe_file('version = "3.13.5\nsummary = [\n')
    message = str(_load_error(path))
    assert str(path) in message and "not valid TOML" in message


def test_unknown_recipe_name_suggests_close_ones():
    with pytest.raises(RecipeError) as info:
        recipes.load("3.13.55")
    err = info.value
    assert "unknown recipe '3.13.55'" in err.message
    assert err.hint is not None and "did you mean" in err.hint
    assert "3.13.5" in err.hint
    assert "pybuild12 list" in err.hint


def test_unknown_recipe_name_without_close_match_has_no_suggestion():
    with pytest.raises(RecipeError) as info:
        recipes.load("zzzzzz")
    assert "did you mean" not in info.value.hint
    assert f"{len(recipes.available())} available recipes" in info.value.hint


def test_invalid_recipe_name():
    with pytest.raises(RecipeError) as info:
        recipes.load("-bad name")
    assert "invalid recipe name" in info.value.message


def test_path_that_does_not_exist(tmp_path):
    missing = tmp_path / "nope" / "missing.toml"
    with pytest.raises(RecipeError) as info:
        recipes.load(str(missing))
    assert "not found" in info.value.message and str(missing) in info.value.message


def test_recipe_error_exit_code():
    assert RecipeError.exit_code == 3


def test_unneeded_modules_are_known_modules_and_not_required(recipe_file):
    good = recipes.load(str(recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA,
                                                       extra='[build]\nunneeded-modules = ["tkinter", "dbm.ndbm"]\n'))))
    assert good.build.unneeded_modules == ("tkinter", "dbm.ndbm")
    message = str(_load_error(recipe_file(tarball_recipe(GOOD_URL, GOOD_SHA,
                                                         extra='[build]\nunneeded-modules = ["tkinterr"]\n'))))
    assert "key 'build.unneeded-modules'" in message and "did you mean 'tkinter'?" in message
    message = str(_load_error(recipe_file(tarball_recipe(
        GOOD_URL, GOOD_SHA, extra='[build]\nrequired-modules = ["ssl"]\nunneeded-modules = ["ssl"]\n'))))
    assert "both build.required-modules and build.unneeded-modules" in message
