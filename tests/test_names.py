"""Build names resolved as pyenv and uv resolve versions: `3.13` is the newest installed
3.13.x build without variants, `3.13t` the newest free-threaded one, an exact name wins."""

from __future__ import annotations

import re

import pytest

from helpers import fake_build
from pybuild12.core.errors import NotInstalledError, UsageError
from pybuild12.store import names

FT = ("freethreaded",)


@pytest.fixture
def builds(paths):
    """3.13.9 and 3.13.10 (numerically newer, alphabetically older), a free-threaded build
    newer than both, a debug one, a free-threaded debug one, and a 3.14."""
    fake_build(paths, "3.13.9", "3.13.9")
    fake_build(paths, "3.13.10", "3.13.10")
    fake_build(paths, "3.13.11+freethreaded", "3.13.11", FT)
    fake_build(paths, "3.13.5+debug", "3.13.5", ("debug",))
    fake_build(paths, "3.13.5+freethreaded+debug", "3.13.5", ("freethreaded", "debug"))
    fake_build(paths, "3.14.10", "3.14.10")
    return paths


def test_a_line_means_its_newest_default_build_compared_as_numbers(builds):
    assert names.installed_name(builds, "3.13") == "3.13.10"
    assert names.get(builds, "3.13").name == "3.13.10"


def test_t_and_plus_freethreaded_mean_the_newest_free_threaded_build(builds):
    fake_build(builds, "3.13.5+freethreaded", "3.13.5", FT)
    for request in ("3.13t", "3.13+freethreaded"):
        assert names.installed_name(builds, request) == "3.13.11+freethreaded", request
    assert names.installed_name(builds, "3.13.5t") == "3.13.5+freethreaded"


def test_variant_sets_match_exactly(builds):
    assert names.installed_name(builds, "3.13+debug") == "3.13.5+debug"
    assert names.installed_name(builds, "3.13t+debug") == "3.13.5+freethreaded+debug"
    assert names.installed_name(builds, "3.13+debug+freethreaded") == "3.13.5+freethreaded+debug"
    with pytest.raises(NotInstalledError):
        names.get(builds, "3.14t")  # only a 3.14 with the GIL is installed


def test_a_bare_major_means_the_newest_of_all(builds):
    assert names.installed_name(builds, "3") == "3.14.10"
    assert names.installed_name(builds, "3+freethreaded") == "3.13.11+freethreaded"


def test_a_full_version_finds_a_build_with_a_name_of_its_own(paths):
    fake_build(paths, "work", "3.13.5")
    fake_build(paths, "work-ft", "3.13.5", FT)
    assert names.installed_name(paths, "3.13.5") == "work"
    assert names.installed_name(paths, "3.13.5t") == "work-ft"
    fake_build(paths, "newer", "3.13.12")
    assert names.installed_name(paths, "3.13") == "newer"


def test_an_exact_build_name_always_wins(builds):
    fake_build(builds, "3.13", "3.13.1")  # `install X --name 3.13`: older than 3.13.10, still meant by 3.13
    assert names.installed_name(builds, "3.13") == "3.13"
    fake_build(builds, "3.13.5", "3.13.5")
    assert names.installed_name(builds, "3.13.5") == "3.13.5"


def test_prereleases_and_builds_without_a_receipt_answer_only_to_their_name(paths):
    fake_build(paths, "main", "3.12.0a7+")
    fake_build(paths, "3.12.1", None)  # made by hand: no receipt
    with pytest.raises(NotInstalledError):
        names.get(paths, "3.12")
    assert names.get(paths, "main").name == "main"
    assert names.get(paths, "3.12.1").name == "3.12.1"


def test_the_build_install_made_is_found_when_its_receipt_does_not_say(paths):
    """A receipt written before receipts had a version: `install 3.13` named its build 3.13.18."""
    fake_build(paths, "3.13.18", "?")
    assert names.installed_name(paths, "3.13") == "3.13.18"


def test_a_request_that_is_no_version_is_left_alone(paths):
    fake_build(paths, "3.13.5", "3.13.5")
    assert names.installed_name(paths, "bogus") == "bogus"
    assert names.candidates(paths, "13") == []  # a major line, of which nothing is installed


@pytest.mark.parametrize("bad", ["../x", "", "a b"])
def test_malformed_names_are_usage_errors(paths, bad):
    with pytest.raises(UsageError):
        names.installed_name(paths, bad)
    with pytest.raises(UsageError):
        names.get_one(paths, bad, command="uninstall")


# ------------------------------------------------------------------ one build, or none (uninstall)


def test_get_one_takes_an_exact_name_or_a_single_match(builds):
    assert names.get_one(builds, "3.13.9", command="uninstall").name == "3.13.9"
    assert names.get_one(builds, "3.13t", command="uninstall").name == "3.13.11+freethreaded"
    assert names.get_one(builds, "3.14", command="uninstall").name == "3.14.10"


def test_get_one_refuses_a_request_that_matches_several_and_names_them(builds):
    with pytest.raises(UsageError) as info:
        names.get_one(builds, "3.13", command="uninstall")
    assert info.value.exit_code == 2
    assert "matches 2 installed builds: 3.13.10, 3.13.9" in info.value.message
    assert "'pybuild12 uninstall 3.13.10'" in info.value.hint


def test_get_one_of_nothing_is_not_installed(builds):
    with pytest.raises(NotInstalledError):
        names.get_one(builds, "3.12", command="uninstall")


# ------------------------------------------------------------------ the hint


def named(hint: str) -> set[str]:
    """The build names a hint mentions (sentence punctuation stripped)."""
    return {word.rstrip(".,?") for word in re.findall(r"[A-Za-z0-9][A-Za-z0-9._+@-]*", hint)}


def sentences(hint: str) -> list[str]:
    return re.split(r"(?<=[.?])\s+", hint)


def test_a_free_threaded_request_is_never_pointed_at_a_gil_build(paths):
    fake_build(paths, "3.13.5", "3.13.5")
    fake_build(paths, "3.14.10", "3.14.10")
    for request in ("3.13.5t", "3.13t", "3.13.5+freethreaded"):
        error = names.not_installed(paths, request)
        assert not named(error.hint) & {"3.13.5", "3.14.10"}, error.hint
        assert "No free-threaded build is installed ('pybuild12 list' shows 2 builds of other kinds)." in error.hint
    fake_build(paths, "3.13.4+freethreaded", "3.13.4", FT)
    hint = names.not_installed(paths, "3.13.5t").hint
    assert "Did you mean 3.13.4+freethreaded?" in hint and "3.13.5" not in named(hint)


def test_a_default_request_is_pointed_at_default_builds_only(paths):
    fake_build(paths, "3.13.5+freethreaded", "3.13.5", FT)
    fake_build(paths, "3.13.4", "3.13.4")
    hint = names.not_installed(paths, "3.13.6").hint
    assert "Did you mean 3.13.4?" in hint and "3.13.5+freethreaded" not in named(hint)
    assert "Installed default builds: 3.13.4 (and 1 build of another kind)." in hint


def test_the_hint_reads_as_sentences(paths):
    fake_build(paths, "3.13.5", "3.13.5")
    for request, last in (("3.13.6", "No recipe is named 3.13.6 either: 'pybuild12 list' shows the recipes."),
                          ("3.13.5t", "'pybuild12 install 3.13.5t' builds it (as 3.13.5+freethreaded)."),
                          ("3.12t", "'pybuild12 install 3.12t' cannot build it: 3.12.13 cannot be built "
                                    "free-threaded: --disable-gil exists from CPython 3.13.")):
        hint = names.not_installed(paths, request).hint
        assert ";" not in hint and "?." not in hint and ".." not in hint, hint
        for sentence in sentences(hint):
            assert sentence[0].isupper() or sentence[0] == "'", (request, sentence)
            assert sentence.endswith((".", "?")), (request, sentence)
        assert sentences(hint)[-1] == last


def test_nothing_installed_says_so(paths):
    hint = names.not_installed(paths, "3.13").hint
    assert hint == "Nothing is installed yet. 'pybuild12 install 3.13' builds it (as 3.13.18)."


def test_a_pinned_request_names_its_pin(paths):
    with pytest.raises(NotInstalledError) as info:
        names.get(paths, "3.13t", origin="/p/.python-version")
    assert info.value.message == "no build named '3.13t' is installed (pinned by /p/.python-version)"
