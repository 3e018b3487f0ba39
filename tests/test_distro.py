"""The host's release (os-release) and what its apt can install, against a fake apt-cache."""

from __future__ import annotations

import pytest

from helpers import fake_debian
from pybuild12.core import distro

NOBLE = 'NAME="Ubuntu"\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\nID=ubuntu\nID_LIKE=debian\n'
FEDORA = 'NAME="Fedora Linux"\nVERSION_ID=40\nID=fedora\n'


def test_the_release_is_read_from_os_release(tmp_path):
    for text, expected, apt, dnf in ((NOBLE, "Ubuntu noble", True, False), (FEDORA, "Fedora 40", False, True),
                                     ('NAME="Linux Mint"\nVERSION_CODENAME=wilma\nID=linuxmint\nID_LIKE="ubuntu '
                                      'debian"\n', "Linux wilma", True, False)):
        (tmp_path / "os-release").write_text(text)
        found = distro.release([tmp_path / "os-release"])
        assert (str(found), found.uses_apt, found.uses_dnf) == (expected, apt, dnf)
    assert distro.release([tmp_path / "absent"]) is None


def test_apt_says_which_packages_it_has(tmp_path, monkeypatch):
    fake_debian(tmp_path, monkeypatch)
    assert distro.release() == distro.Release("debian", "bookworm", "Debian")
    assert distro.apt_installable(["clang-19", "clang-18", "llvm-18"]) == {"clang-18": False, "clang-19": True,
                                                                          "llvm-18": False}


def test_a_virtual_package_has_no_candidate():
    policy = "clang-19:\n  Installed: (none)\n  Candidate: 1:19.1.7-3\nawk:\n  Installed: (none)\n  Candidate: (none)\n"
    assert distro._candidates(policy) == {"clang-19": True, "awk": False}


def test_without_package_lists_apt_cannot_say(tmp_path, monkeypatch):
    fake_debian(tmp_path, monkeypatch)
    monkeypatch.setenv("FAKE_APT_NO_LISTS", "1")  # a fresh container before apt-get update
    assert distro.apt_installable(["clang-18", "build-essential"]) is None
    assert distro.apt_installable(["clang-18"], env={"PATH": str(tmp_path / "nowhere")}) is None  # no apt-cache


def test_hints_name_only_what_apt_has_and_where_llvm_comes_from(tmp_path, monkeypatch):
    fake_debian(tmp_path, monkeypatch, lacks="clang-18 llvm-18 gone-dev")
    lines = distro.install_lines({"clang-18": 18, "llvm-18": 18, "libssl-dev": None, "gone-dev": None},
                                 ["clang(major) = 18", "openssl-devel"])
    assert lines == [
        "  Debian bookworm: sudo apt-get install libssl-dev",
        "  Debian bookworm has no clang-18, llvm-18; LLVM's packages: https://apt.llvm.org (its script: wget "
        "https://apt.llvm.org/llvm.sh; sudo bash llvm.sh 18)",
        "  Debian bookworm has no gone-dev",
        "  Fedora: sudo dnf install 'clang(major) = 18' openssl-devel",
    ]


@pytest.mark.parametrize("os_release", ["", FEDORA])
def test_where_apt_is_not_the_package_manager_every_package_is_named(tmp_path, monkeypatch, os_release):
    fake_debian(tmp_path, monkeypatch, os_release=os_release)
    lines = distro.install_lines({"clang-18": 18, "libssl-dev": None}, ["openssl-devel"])
    assert lines == ["  Debian/Ubuntu: sudo apt-get install clang-18 libssl-dev",
                     "  Fedora: sudo dnf install openssl-devel"]
