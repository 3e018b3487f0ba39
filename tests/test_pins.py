import shutil
import subprocess

import pytest

from helpers import fake_build, mode_of, umask
from pybuild12.core.errors import UsageError
from pybuild12.devenv import pins
from pybuild12.store import names


def test_argument_wins_over_everything(tmp_path):
    (tmp_path / ".python-version").write_text("3.12.13\n")
    choice = pins.choose("3.13.5", cwd=tmp_path, version="3.14.10")
    assert choice == pins.Choice("3.13.5", "argument")


def test_env_wins_over_the_file(tmp_path):
    (tmp_path / ".python-version").write_text("3.12.13\n")
    assert pins.choose(None, cwd=tmp_path, version=" 3.14.10 ") == pins.Choice("3.14.10", "PYBUILD12_VERSION")


def test_nearest_file_up_the_tree(tmp_path):
    (tmp_path / ".python-version").write_text("3.12.13\n")
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    (tmp_path / "a" / ".python-version").write_text("# the project's build\n\nmain@22f3425c3d5e\n3.13.5\n")
    choice = pins.choose(None, cwd=inner)
    assert choice == pins.Choice("main@22f3425c3d5e", str(tmp_path / "a" / ".python-version"))
    assert pins.choose(None, cwd=tmp_path).name == "3.12.13"


def test_nothing_pinned_says_how_to_pin(tmp_path):
    with pytest.raises(UsageError) as info:  # the same words and exit 2 as install's
        pins.choose(None, cwd=tmp_path)
    assert info.value.message == pins.NOTHING and info.value.exit_code == 2
    assert "pybuild12 pin NAME" in info.value.hint and "PYBUILD12_VERSION" in info.value.hint


def test_write_makes_the_file_pyenv_and_uv_read(tmp_path):
    path = pins.write(tmp_path, "3.13.5")
    assert path.read_text() == "3.13.5\n"
    assert pins.choose(None, cwd=tmp_path).name == "3.13.5"
    assert [p.name for p in tmp_path.iterdir()] == [".python-version"]


def test_write_refuses_bad_names(tmp_path):
    for bad in ("../evil", "", "/etc", "a" * 300):
        with pytest.raises(UsageError):
            pins.write(tmp_path, bad)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(shutil.which("pyenv") is None, reason="pyenv is not on this machine")
def test_pyenv_reads_the_pin(tmp_path):
    pins.write(tmp_path, "3.13.5")
    out = subprocess.run(["pyenv", "version-file-read", str(tmp_path / ".python-version")],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "3.13.5"


# ------------------------------------------------------------------ what install builds without a name


def test_install_takes_the_argument_over_the_pin(tmp_path):
    (tmp_path / ".python-version").write_text("3.13t\n")
    assert pins.to_install("3.14.10", cwd=tmp_path) == pins.Choice("3.14.10", "argument")


def test_install_without_a_name_takes_the_pin(tmp_path):
    (tmp_path / ".python-version").write_text("# as uv writes it\n3.13t\n")
    inner = tmp_path / "src"
    inner.mkdir()
    assert pins.to_install(None, cwd=inner) == pins.Choice("3.13t", str(tmp_path / ".python-version"))
    assert pins.to_install(None, cwd=inner, version="3.14") == pins.Choice("3.14", "PYBUILD12_VERSION")


def test_install_without_a_name_or_a_pin_is_a_usage_error(tmp_path):
    (tmp_path / ".python-version").write_text("# nothing but a comment\n")
    with pytest.raises(UsageError) as info:
        pins.to_install(None, cwd=tmp_path, version="  ")
    assert info.value.exit_code == 2
    assert "'pybuild12 install 3.13'" in info.value.hint and "'pybuild12 pin 3.13'" in info.value.hint


def test_install_refuses_a_pin_that_is_a_path(tmp_path):
    (tmp_path / ".python-version").write_text("../elsewhere/evil.toml\n")
    with pytest.raises(UsageError) as info:
        pins.to_install(None, cwd=tmp_path)
    assert f"pinned by {tmp_path / '.python-version'}" in info.value.message


def test_a_pinned_line_resolves_to_its_newest_build(tmp_path, paths):
    fake_build(paths, "3.13.5", "3.13.5")
    fake_build(paths, "3.13.10", "3.13.10")
    fake_build(paths, "3.13.11+freethreaded", "3.13.11", ("freethreaded",))
    for pin, build in (("3.13", "3.13.10"), ("3.13t", "3.13.11+freethreaded")):
        pins.write(tmp_path, pin)
        choice = pins.choose(None, cwd=tmp_path)
        assert names.get(paths, choice.name, origin=choice.origin).name == build


@pytest.mark.parametrize("mask,mode", [(0o022, 0o644), (0o077, 0o600)], ids=["umask022", "umask077"])
def test_the_pin_file_gets_the_mode_the_umask_gives(tmp_path, mask, mode):
    """Like any other tool's files (not mkstemp's 0600): a colleague's shell reads it."""
    with umask(mask):
        path = pins.write(tmp_path, "3.13.5")
        assert mode_of(path) == mode
        assert mode_of(pins.write(tmp_path, "3.12.13")) == mode  # replacing it, too
