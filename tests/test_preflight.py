"""preflight: tools and headers on the real machine, and with a narrowed PATH / fake CC."""

from __future__ import annotations

import os
import shutil

import pytest

from helpers import fake_debian
from pybuild12.builder import preflight
from pybuild12.core.errors import PrerequisiteError

TOOLS = ("cc", "make", "pkg-config")


def _by_name(checks) -> dict[str, preflight.Check]:
    return {c.name: c for c in checks}


def _script(directory, name: str, body: str):
    path = directory / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def empty_path(tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    return str(empty)


@pytest.fixture
def failing_cc(tmp_path):
    """A 'compiler' that exists but can never preprocess anything."""
    return _script(tmp_path, "fake-cc", "exit 1")


@pytest.fixture
def real_tools_env():
    """The real environment, with make and pkg-config present (skip if not)."""
    env = dict(os.environ)
    if not shutil.which("make", path=env.get("PATH")) or not shutil.which("pkg-config", path=env.get("PATH")):
        pytest.skip("this machine lacks make or pkg-config")
    env.pop("CPPFLAGS", None)
    return env


def test_table_covers_the_default_required_modules():
    from pybuild12.request.recipes import DEFAULT_REQUIRED_MODULES, KNOWN_MODULES

    data = preflight.table()
    assert set(TOOLS) <= set(data["tools"])
    header_modules = {m for spec in data["headers"].values() for m in spec["modules"]}
    assert set(DEFAULT_REQUIRED_MODULES) <= header_modules
    assert header_modules <= set(KNOWN_MODULES)
    for entry in [*data["tools"].values(), *data["headers"].values()]:
        assert entry["debian"] and entry["fedora"]


# ------------------------------------------------------------ real machine


def test_real_machine_has_the_tools():
    env = dict(os.environ)
    env.pop("CC", None)
    have = {
        "cc": any(shutil.which(p) for p in ("cc", "gcc", "clang")),
        "make": any(shutil.which(p) for p in ("make", "gmake")),
        "pkg-config": any(shutil.which(p) for p in ("pkg-config", "pkgconf")),
    }
    if not all(have.values()):
        pytest.skip(f"this machine lacks {[name for name, ok in have.items() if not ok]}")
    checks = _by_name(preflight.run(["zlib"], env=env))
    for name in TOOLS:
        assert checks[name].ok, checks[name]
        assert checks[name].required
        assert shutil.which(checks[name].detail.split()[0]), checks[name].detail
    # With a compiler present, every header was really checked.
    for check in checks.values():
        if check.name in TOOLS:
            continue
        assert check.detail in ("found", "not found by the C preprocessor")
    assert checks["zlib"].required and not checks["readline"].required


def test_run_uses_os_environ_by_default(monkeypatch, empty_path):
    monkeypatch.setenv("PATH", empty_path)
    monkeypatch.delenv("CC", raising=False)
    checks = _by_name(preflight.run([]))
    assert not any(checks[name].ok for name in TOOLS)


# ------------------------------------------------------------ narrowed PATH


def test_narrowed_path_reports_tools_missing(empty_path):
    checks = preflight.run(["ssl"], env={"PATH": empty_path})
    by_name = _by_name(checks)
    for name in TOOLS:
        assert not by_name[name].ok and by_name[name].required
        assert "on PATH" in by_name[name].detail
    assert "cc, gcc, clang" in by_name["cc"].detail
    # Without a compiler, no header can be checked.
    headers = [c for c in checks if c.name not in TOOLS]
    assert headers and all(not c.ok and c.detail == "not checked: no C compiler" for c in headers)
    assert by_name["ssl"].required and not by_name["zlib"].required
    assert {c.name for c in preflight.missing(checks)} == set(by_name)


def test_narrowed_path_enforce_names_the_packages(empty_path):
    checks = preflight.run([], env={"PATH": empty_path})
    with pytest.raises(PrerequisiteError) as info:
        preflight.enforce(checks)
    err = info.value
    for name in TOOLS:
        assert name in err.message
    assert "C compiler" in err.message
    hint = err.hint
    debian = next(line for line in hint.splitlines() if "Debian" in line)
    fedora = next(line for line in hint.splitlines() if "Fedora" in line)
    for package in ("build-essential", "make", "pkg-config"):
        assert package in debian.split()
    for package in ("gcc", "make", "pkgconf-pkg-config"):
        assert package in fedora.split()
    # Headers of modules nobody asked for are not in the blocking list.
    assert "libssl-dev" not in hint and "readline" not in err.message
    assert PrerequisiteError.exit_code == 4


def test_cc_that_is_not_on_path_counts_as_missing(empty_path):
    checks = _by_name(preflight.run([], env={"PATH": empty_path, "CC": "no-such-compiler -O2"}))
    assert not checks["cc"].ok
    assert preflight.compiler({"PATH": empty_path, "CC": "no-such-compiler"}) is None


# ------------------------------------------------------------ fake compiler


def test_cc_env_is_honoured(tmp_path, real_tools_env):
    log = tmp_path / "cc-args"
    cc = _script(tmp_path, "logging-cc", f'echo "$@" >> "{log}"\nexit 0')
    env = {**real_tools_env, "CC": f"{cc} -DFROM_CC", "CPPFLAGS": "-I/opt/custom/include"}
    checks = _by_name(preflight.run(["ssl"], env=env))
    assert checks["cc"].ok and checks["cc"].detail == f"{cc} -DFROM_CC"
    assert all(c.ok for c in checks.values())
    lines = log.read_text().splitlines()
    # Optional headers are checked only when a required module needs them.
    header_count = len([h for h in preflight.table()["headers"].values() if not h.get("optional")])
    assert len(lines) == header_count
    assert all(line.startswith("-DFROM_CC") and "-E" in line.split() for line in lines)
    assert all("-I/opt/custom/include" in line.split() for line in lines)


def test_failing_cc_makes_required_headers_missing(failing_cc, real_tools_env):
    env = {**real_tools_env, "CC": str(failing_cc)}
    checks = preflight.run(["ssl", "zlib"], env=env)
    by_name = _by_name(checks)
    assert by_name["cc"].ok and by_name["cc"].detail == str(failing_cc)
    assert by_name["make"].ok and by_name["pkg-config"].ok
    headers = [c for c in checks if c.name not in TOOLS]
    assert headers and all(not c.ok and c.detail == "not found by the C preprocessor" for c in headers)
    with pytest.raises(PrerequisiteError) as info:
        preflight.enforce(checks)
    err = info.value
    assert "<openssl/ssl.h>" in err.message and "<zlib.h>" in err.message
    assert "readline" not in err.message and "uuid" not in err.message
    assert "libssl-dev" in err.hint and "openssl-devel" in err.hint
    assert "zlib1g-dev" in err.hint and "zlib-devel" in err.hint
    # Only what blocks the build goes into the install command.
    assert "libreadline-dev" not in err.hint and "uuid-dev" not in err.hint
    assert "build-essential" not in err.hint


def test_failing_cc_optional_headers_do_not_block(failing_cc, real_tools_env):
    env = {**real_tools_env, "CC": str(failing_cc)}
    checks = preflight.run([], env=env)
    optional = preflight.enforce(checks)
    names = {c.name for c in optional}
    assert {"readline", "uuid", "ssl", "zlib"} <= names
    assert names == {c.name for c in checks if c.name not in TOOLS}
    assert all(not c.ok and not c.required for c in optional)


def test_failing_cc_with_only_zlib_required(failing_cc, real_tools_env):
    env = {**real_tools_env, "CC": str(failing_cc)}
    checks = preflight.run(["zlib"], env=env)
    with pytest.raises(PrerequisiteError) as info:
        preflight.enforce(checks)
    assert "zlib1g-dev" in info.value.hint
    assert "libssl-dev" not in info.value.hint and "libreadline-dev" not in info.value.hint


def test_enforce_returns_nothing_when_all_present(tmp_path, real_tools_env):
    cc = _script(tmp_path, "ok-cc", "exit 0")
    checks = preflight.run(["ssl", "zlib", "ctypes", "sqlite3", "bz2", "lzma"], env={**real_tools_env, "CC": str(cc)})
    assert preflight.missing(checks) == []
    assert preflight.enforce(checks) == []


# ------------------------------------------------------------ install_hint


def test_install_hint_mentions_apt_get_and_dnf():
    checks = [
        preflight.Check("ssl", "<openssl/ssl.h>", False, True, "x", "libssl-dev", "openssl-devel"),
        preflight.Check("cc", "C compiler", False, True, "x", "build-essential", "gcc"),
        preflight.Check("ssl2", "<openssl/ssl.h>", False, True, "x", "libssl-dev", "openssl-devel"),
    ]
    hint = preflight.install_hint(checks)
    assert "sudo apt-get install build-essential libssl-dev" in hint
    assert "sudo dnf install gcc openssl-devel" in hint
    assert hint.count("libssl-dev") == 1  # de-duplicated


def test_optional_headers_are_checked_only_when_required(real_tools_env):
    plain = _by_name(preflight.run(["ssl"], env=real_tools_env))
    assert "gdbm" not in plain and "tkinter" not in plain
    wanted = _by_name(preflight.run(["dbm.gnu"], env=real_tools_env))
    assert wanted["gdbm"].required and wanted["gdbm"].what == "<gdbm.h>"


def test_hashlib_requires_the_openssl_headers(failing_cc, real_tools_env):
    checks = _by_name(preflight.run(["hashlib"], env={**real_tools_env, "CC": str(failing_cc)}))
    assert checks["ssl"].required and not checks["ssl"].ok


def test_missing_cc_from_env_is_named(tmp_path, real_tools_env):
    checks = _by_name(preflight.run([], env={**real_tools_env, "CC": "no-such-compiler-xyz"}))
    assert not checks["cc"].ok and checks["cc"].detail == "CC=no-such-compiler-xyz is not on PATH"


def test_git_is_checked_for_git_sources_only(real_tools_env):
    assert "git" not in _by_name(preflight.run([], env=real_tools_env))
    no_git = {**real_tools_env, "PATH": ""}
    checks = _by_name(preflight.run([], env=no_git, source_kind="git"))
    assert not checks["git"].ok and checks["git"].required and checks["git"].debian == "git"


def _absent(name, debian, fedora, required=True):
    return preflight.Check(name, name, False, required, "missing", debian, fedora)


def test_install_command_names_the_packages(monkeypatch):
    monkeypatch.setattr(preflight.shutil, "which", lambda prog, **kw: "/usr/bin/apt-get" if prog == "apt-get" else None)
    checks = [_absent("ssl", "libssl-dev", "openssl-devel"), _absent("gdbm", "libgdbm-dev", "gdbm-devel", False),
              preflight.Check("zlib", "zlib", True, True, "found", "zlib1g-dev", "zlib-devel")]
    assert preflight.install_command(checks, is_root=True) == ["apt-get", "install", "-y", "libgdbm-dev", "libssl-dev"]
    assert preflight.install_command(checks, is_root=False)[:2] == ["sudo", "apt-get"]


def test_install_command_uses_dnf_on_fedora(monkeypatch):
    monkeypatch.setattr(preflight.shutil, "which", lambda prog, **kw: "/usr/bin/dnf" if prog == "dnf" else None)
    command = preflight.install_command([_absent("ssl", "libssl-dev", "openssl-devel")], is_root=True)
    assert command == ["dnf", "install", "-y", "openssl-devel"]


def test_install_command_is_none_when_nothing_is_missing():
    assert preflight.install_command([]) is None


def test_doctor_adds_free_disk_space(tmp_path):
    checks = {c.name: c for c in preflight.doctor(str(tmp_path / "not" / "yet"))}
    assert checks["disk"].required and "GiB free" in checks["disk"].detail
    assert not checks["git"].required and checks["ssl"].required and not checks["tkinter"].required


def test_doctor_covers_every_module_the_official_images_build(tmp_path):
    """_dbm needs ndbm.h (libgdbm-compat-dev), which libgdbm-dev alone does not bring."""
    checks = {c.name: c for c in preflight.doctor(str(tmp_path))}
    assert checks["ndbm"].what == "<ndbm.h>" and checks["ndbm"].debian == "libgdbm-compat-dev"
    assert {"gdbm", "tkinter", "curses", "readline", "uuid", "expat"} <= set(checks)


def test_the_extension_modules_of_a_module_and_what_provides_them():
    assert preflight.extensions_of(["curses", "dbm.ndbm"]) == {"_curses", "_curses_panel", "_dbm"}
    assert preflight.packages_of_extension("_dbm") in ("libgdbm-compat-dev", "gdbm-devel")
    assert preflight.packages_of_extension("nis") in ("libnsl-dev, libtirpc-dev", "libnsl2-devel, libtirpc-devel")
    assert preflight.packages_of_extension("_nosuch") == ""


# ------------------------------------------------------------ what this release can install


def test_a_jit_build_on_bookworm_is_told_where_llvm_18_comes_from(tmp_path, monkeypatch):
    fake_debian(tmp_path, monkeypatch, path_too=False)  # neither clang-18 nor a clang of LLVM 18 on PATH
    with pytest.raises(PrerequisiteError) as info:
        preflight.enforce(preflight.jit_toolchain(18))
    hint = info.value.hint
    assert "Debian bookworm has no clang-18, llvm-18; LLVM's packages: https://apt.llvm.org" in hint
    assert "sudo bash llvm.sh 18" in hint and "apt-get install" not in hint
    said = (info.value.message + "\n" + hint).splitlines()
    assert len(said) == len(set(said))  # nothing said twice


def test_packages_apt_has_are_named_beside_those_it_lacks(tmp_path, monkeypatch):
    fake_debian(tmp_path, monkeypatch)
    checks = [_absent("ssl", "libssl-dev", "openssl-devel"),
              preflight.Check("clang-18", "clang 18", False, True, "x", "clang-18", "clang(major) = 18", "jit", 18)]
    hint = preflight.install_hint(checks)
    assert "  Debian bookworm: sudo apt-get install libssl-dev\n" in hint and "install libssl-dev clang" not in hint
    assert "has no clang-18;" in hint and "sudo dnf install 'clang(major) = 18' openssl-devel" in hint


def test_install_deps_refuses_a_package_apt_does_not_have(tmp_path, monkeypatch):
    fake_debian(tmp_path, monkeypatch)
    checks = preflight.jit_toolchain(18, {"PATH": str(tmp_path / "nowhere")}) + [_absent("ssl", "libssl-dev", "x")]
    command = ["apt-get", "install", "-y", "clang-18", "libssl-dev", "llvm-18"]
    with pytest.raises(PrerequisiteError) as info:
        preflight.refuse_uninstallable(checks, command)
    assert info.value.exit_code == 4
    assert info.value.message == ("Debian bookworm has no clang-18, llvm-18 (apt-cache policy knows no such package "
                                  "here)")
    assert "https://apt.llvm.org" in info.value.hint and "clang-18" not in info.value.hint
    assert info.value.hint.endswith("--install-deps installs the rest (libssl-dev) once they are there")
    preflight.refuse_uninstallable(checks, ["apt-get", "install", "-y", "libssl-dev"])  # all there: no error
    preflight.refuse_uninstallable(checks, ["dnf", "install", "-y", "clang(major) = 18"])  # apt's business only


def test_doctor_shows_one_row_per_program_and_where_a_package_comes_from(tmp_path, monkeypatch):
    fake_debian(tmp_path, monkeypatch, lacks="clang-18 llvm-18 clang-21 llvm-21", path_too=False)  # no LLVM here
    rows = preflight.merged(preflight.doctor(str(tmp_path)))
    names = [c.name for c in rows]
    assert len(names) == len(set(names)) and "clang-19" in names
    clang19 = next(c for c in rows if c.name == "clang-19")
    assert "(JIT of 3.14)" in clang19.what and "--optimize max" in clang19.what
    [(title, cells)] = preflight.package_columns(rows)
    column = dict(zip(names, cells, strict=True))
    assert title == "Debian bookworm" and column["cc"] == "build-essential" and column["clang-19"] == "clang-19"
    assert column["clang-18"] == "clang-18 (apt.llvm.org)" and column["llvm-readobj-21"] == "llvm-21 (apt.llvm.org)"
