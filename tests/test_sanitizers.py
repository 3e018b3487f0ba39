"""Sanitizer builds (+tsan, +asan, +ubsan): the request, the compiler, the runtime options
wherever a build's python starts, the reports. The real builds and the race they find are
in tests/integration/test_sanitizer_build.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pybuild12.builder import plan, preflight, sanitizers
from pybuild12.checks import verify
from pybuild12.core.errors import PrerequisiteError, RecipeError, UsageError
from pybuild12.devenv import shellenv, venvs
from pybuild12.request import resolve, variants

TSAN_REPORT = """\
some output
==================
WARNING: ThreadSanitizer: data race (pid=15346)
  Write of size 8 at 0x7f7e780041a8 by thread T1:
    #0 bump /tmp/rt/racy.c:17:16 (racy.cpython-313t-x86_64-linux-gnu.so+0x1212)
    #1 cfunction_vectorcall_NOARGS Objects/methodobject.c:484:24 (python3.13t+0x291109)
"""
ASAN_REPORT = """\
=================================================================
==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010 at pc 0x7f
READ of size 4 at 0x602000000010 thread T0
    #0 0x7f in use_after_free /src/racy.c:40:12
"""
# A python that answers (as JSON, like pybuild12's resource scripts) with the options it got.
ECHO_OPTIONS = 'printf \'{"TSAN_OPTIONS": "%s"}\\n\' "$TSAN_OPTIONS"'
UBSAN_REPORT = "Objects/longobject.c:120:5: runtime error: signed integer overflow: 2147483647 + 1\n"


def _program(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def fake_llvm(tmp_path):
    """An LLVM 19 directory: clang (that links what it is asked to, or fails for one
    sanitizer), clang++, llvm-symbolizer; PATH holds clang-19 -> it."""
    bindir = tmp_path / "llvm-19" / "bin"
    clang = _program(bindir / "clang", """\
if [ "$1" = --version ]; then echo "Debian clang version 19.1.7 (3~deb12u1)"; echo "Target: x86_64"; exit 0; fi
for a in "$@"; do case "$a" in -fsanitize=$FAKE_RT_MISSING)
    echo "/usr/bin/ld: cannot find libclang_rt.x.a: No such file or directory" >&2
    echo "clang: error: linker command failed" >&2; exit 1;; esac; done
exit 0""")
    _program(bindir / "clang++", "exit 0")
    _program(bindir / "llvm-symbolizer", "exit 0")
    path = tmp_path / "path"
    path.mkdir()
    (path / "clang-19").symlink_to(clang)
    return {"bindir": bindir, "env": {"PATH": f"{path}:/usr/bin:/bin", "FAKE_RT_MISSING": "none"}}


# ------------------------------------------------------------------ the request


def test_the_headline_request_names_a_free_threaded_tsan_build():
    recipe, name, _ = resolve.resolve("3.13.5t+tsan")
    assert name == "3.13.5+freethreaded+tsan"
    assert resolve.resolve("3.13.5+tsan+freethreaded")[1] == name  # one build, however it is spelled
    assert recipe.build.variants == ("freethreaded", "tsan")
    assert not recipe.build.optimizations and not recipe.build.lto  # no PGO, no LTO
    args = plan.configure_args(recipe, Path("/p"))
    assert args == ("--prefix=/p", "--disable-gil", "--with-thread-sanitizer")


def test_each_sanitizer_adds_what_cpythons_own_ci_configures_with_it():
    asan = resolve.resolve("3.13.5+asan+debug")[0]
    assert plan.configure_args(asan, Path("/p"))[1:] == ("--with-pydebug", "--with-address-sanitizer",
                                                         "--without-pymalloc")
    ubsan = resolve.resolve("3.13.5+ubsan")[0]
    assert plan.configure_args(ubsan, Path("/p"))[1:] == ("--with-undefined-behavior-sanitizer",
                                                          "--with-strict-overflow")


@pytest.mark.parametrize("spec, words", [
    ("3.13.5+tsan+asan", ["+tsan and +asan cannot be built together", "3.13.5+tsan and 3.13.5+asan"]),
    ("3.13t+asan+tsan", ["+tsan and +asan cannot be built together"]),
    ("3.12.13+tsan", ["--with-thread-sanitizer exists from CPython 3.13"]),
    ("3.12.13+ubsan", ["exists from CPython 3.13"]),
    ("3.13.5+tsn", ["unknown build variant 'tsn'", "did you mean 'tsan'"]),
])
def test_what_cannot_be_built_is_refused_saying_why(spec, words):
    # a version that cannot build it: the recipe's limit (exit 3); a request that cannot mean
    # anything (an unknown variant, two that exclude each other): a usage error (exit 2)
    with pytest.raises((RecipeError, UsageError)) as caught:
        resolve.resolve(spec)
    assert caught.value.exit_code == (3 if "exists from" in words[0] else 2)
    said = caught.value.message + " " + (caught.value.hint or "")
    for word in words:
        assert word in said


def test_asan_exists_on_312_too():
    assert resolve.resolve("3.12.13+asan")[1] == "3.12.13+asan"


def test_cli_refuses_tsan_with_asan_with_a_usage_exit(tmp_path):
    env = {**os.environ, "PYBUILD12_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "pybuild12", "install", "3.13t+tsan+asan"], env=env,
                         capture_output=True, text=True, timeout=150)
    assert out.returncode == UsageError.exit_code  # variants that exclude each other, as options do
    assert "cannot be built together" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "data" / "pythons").exists() or not any((tmp_path / "data" / "pythons").iterdir())


# ------------------------------------------------------------------ the compiler


def test_a_sanitizer_build_compiles_with_the_pinned_clang_by_absolute_path(fake_llvm):
    env = sanitizers.build_environment(("freethreaded", "tsan"), fake_llvm["env"])
    assert env["CC"] == str(fake_llvm["bindir"] / "clang") and env["CXX"] == str(fake_llvm["bindir"] / "clang++")
    assert sanitizers.build_environment(("freethreaded",), fake_llvm["env"]) == fake_llvm["env"]  # others: as they are


def test_the_compiler_is_part_of_the_key(fake_llvm):
    env = sanitizers.build_environment(("tsan",), fake_llvm["env"])
    assert plan.build_env(env)["CC"] == str(fake_llvm["bindir"] / "clang")  # CC is a key input
    assert "clang version 19.1.7" in preflight.compiler_version(env)


def test_without_clang_19_the_message_names_the_packages(tmp_path):
    with pytest.raises(PrerequisiteError) as caught:
        sanitizers.build_environment(("asan",), {"PATH": str(tmp_path)})
    said = caught.value.message + (caught.value.hint or "")
    assert "clang 19" in said and "libclang-rt-19-dev" in said


def test_preflight_names_the_missing_runtime_and_its_package(fake_llvm):
    env = {**fake_llvm["env"], "FAKE_RT_MISSING": "thread"}
    rows = {c.name: c for c in preflight.sanitizer_toolchain(("tsan", "asan"), env)}
    assert rows["clang-19"].ok and rows["rt-asan"].ok and rows["llvm-symbolizer-19"].ok
    assert not rows["rt-tsan"].ok and "cannot find libclang_rt" in rows["rt-tsan"].detail
    with pytest.raises(PrerequisiteError) as caught:
        preflight.enforce(list(rows.values()))
    assert "rt-tsan" in caught.value.message and "libclang-rt-19-dev" in caught.value.hint
    command = preflight.install_command(rows.values(), is_root=True, groups=("sanitizers",))
    if command is not None:  # a machine with apt-get or dnf
        assert "libclang-rt-19-dev" in command or "compiler-rt" in command


@pytest.mark.parametrize("bits, problem", [(32, True), (28, False), (None, False)])
def test_too_much_aslr_for_tsan_says_the_command_that_fixes_it(tmp_path, bits, problem):
    setting = tmp_path / "mmap_rnd_bits"
    if bits is not None:
        setting.write_text(f"{bits}\n")
    said = sanitizers.aslr_problem(setting)
    if problem:
        assert said is not None and "is 32" in said and "sudo sysctl -w vm.mmap_rnd_bits=28" in said
    else:
        assert said is None


# ------------------------------------------------------------------ the runtime options


def _tree(tmp_path: Path) -> Path:
    tools = tmp_path / "tree" / "Tools"
    (tools / "tsan").mkdir(parents=True)
    (tools / "tsan" / "suppressions.txt").write_text("race:gil\n")
    (tools / "tsan" / "suppressions_free_threading.txt").write_text("race:free\n")
    return tmp_path / "tree"


def test_the_options_are_cpythons_with_the_suppressions_of_the_kind_of_build(tmp_path):
    tools = _tree(tmp_path) / "Tools"
    ft = sanitizers.options(("freethreaded", "tsan"), tools, freethreaded=True, symbolizer=Path("/l/llvm-symbolizer"))
    assert ft == {"TSAN_OPTIONS": ["handle_segv=0", f"suppressions={tools}/tsan/suppressions_free_threading.txt",
                                   "external_symbolizer_path=/l/llvm-symbolizer"]}
    gil = sanitizers.options(("tsan",), tools, freethreaded=False)
    assert gil["TSAN_OPTIONS"][1] == f"suppressions={tools}/tsan/suppressions.txt"
    asan = sanitizers.options(("asan",), tools, freethreaded=False)
    assert asan == {"ASAN_OPTIONS": ["detect_leaks=0", "allocator_may_return_null=1", "handle_segv=0"]}
    ubsan = sanitizers.options(("ubsan",), tools, freethreaded=False)  # no Tools/ubsan in this tree: none named
    assert ubsan == {"UBSAN_OPTIONS": ["print_stacktrace=1", "halt_on_error=1"]}
    assert "halt_on_error=1" not in sanitizers.options(("ubsan",), tools, freethreaded=False, for_build=True)[
        "UBSAN_OPTIONS"]  # the build itself goes on past a report
    assert sanitizers.options(("freethreaded", "debug"), tools, freethreaded=True) == {}


def test_the_users_own_options_come_after_ours_and_win(tmp_path):
    ours = {"TSAN_OPTIONS": ["handle_segv=0", "suppressions=/s.txt"], "ASAN_OPTIONS": ["detect_leaks=0"]}
    got = sanitizers.extend(ours, {"TSAN_OPTIONS": "halt_on_error=1"})
    assert got == {"TSAN_OPTIONS": "handle_segv=0:suppressions=/s.txt:halt_on_error=1",
                   "ASAN_OPTIONS": "detect_leaks=0"}
    assert sanitizers.extend(ours, got) == got  # applied twice (run inside an activated venv): the same


def test_a_path_with_a_colon_is_quoted_for_the_runtime(tmp_path):
    tools = tmp_path / "a:b" / "Tools"
    (tools / "tsan").mkdir(parents=True)
    (tools / "tsan" / "suppressions.txt").write_text("")
    opts = sanitizers.options(("tsan",), tools, freethreaded=False)["TSAN_OPTIONS"]
    assert opts[1] == f'suppressions="{tools}/tsan/suppressions.txt"'


@pytest.fixture
def sanitizer_prefix(tmp_path):
    """An installed free-threaded TSan build as pybuild12 leaves one: its suppressions and marker."""
    prefix = tmp_path / "pythons" / "3.13.5+freethreaded+tsan"
    (prefix / "bin").mkdir(parents=True)
    python = _program(prefix / "bin" / "python3.13t", ECHO_OPTIONS)
    symbolizer = _program(tmp_path / "llvm" / "llvm-symbolizer", "exit 0")
    sanitizers.install_suppressions(_tree(tmp_path), prefix, ("freethreaded", "tsan"), symbolizer)
    return {"prefix": prefix, "python": python, "symbolizer": symbolizer}


def test_the_build_carries_its_suppressions_and_says_what_it_is(sanitizer_prefix):
    installed = sanitizer_prefix["prefix"] / "share" / "pybuild12" / "sanitizers"
    assert (installed / "tsan" / "suppressions_free_threading.txt").read_text() == "race:free\n"
    assert json.loads((installed / "sanitizers.json").read_text()) == {
        "sanitizers": ["tsan"], "freethreaded": True, "symbolizer": str(sanitizer_prefix["symbolizer"]), "known": []}


def test_a_versions_known_cpython_race_is_suppressed_after_the_trees_own(tmp_path):
    prefix = tmp_path / "prefix"
    sanitizers.install_suppressions(_tree(tmp_path), prefix, ("freethreaded", "tsan"), None, "3.13.5")
    text = (prefix / sanitizers.INSTALLED / "tsan" / "suppressions_free_threading.txt").read_text()
    assert text.startswith("race:free\n") and text.rstrip().endswith("race_top:run_eval_code_obj")
    assert sanitizers.installed(prefix)["known"] == ["race_top:run_eval_code_obj"]
    assert sanitizers.known_races("tsan", "3.14.10") == [] and sanitizers.known_races("tsan", None) == []
    passed = verify.sanitizer_check(["tsan"], "", ["race_top:run_eval_code_obj"])
    assert passed.status == verify.PASSED and "race_top:run_eval_code_obj" in passed.reason


def test_the_runtime_env_is_found_from_the_python_even_through_a_venv_link(sanitizer_prefix, tmp_path):
    venv_python = tmp_path / "venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.symlink_to(sanitizer_prefix["python"])
    suppressions = sanitizer_prefix["prefix"] / sanitizers.INSTALLED / "tsan" / "suppressions_free_threading.txt"
    expected = (f"handle_segv=0:suppressions={suppressions}:"
                f"external_symbolizer_path={sanitizer_prefix['symbolizer']}")
    assert sanitizers.runtime_env(venv_python, {}) == {"TSAN_OPTIONS": expected}
    assert sanitizers.runtime_env(venv_python, {"TSAN_OPTIONS": "verbosity=1"}) == {
        "TSAN_OPTIONS": expected + ":verbosity=1"}


def test_any_other_interpreter_gets_nothing(tmp_path):
    python = _program(tmp_path / "prefix" / "bin" / "python3", "exit 0")
    assert sanitizers.runtime_env(python, {"TSAN_OPTIONS": "x=1"}) == {}
    assert sanitizers.with_runtime(python, None) is None  # the child inherits the environment as it is


def test_the_checks_run_the_python_with_its_options(sanitizer_prefix, monkeypatch):
    from pybuild12.checks import interp

    monkeypatch.setenv("TSAN_OPTIONS", "mine=1")
    answer = interp.run(sanitizer_prefix["python"], "smoke.py", timeout=30)
    assert answer.returncode == 0
    ours = sanitizers.runtime_env(sanitizer_prefix["python"], {})["TSAN_OPTIONS"]
    assert answer.data == {"TSAN_OPTIONS": f"{ours}:mine=1"}  # the fake python answers with what it was given


def test_run_execs_the_python_with_the_options(sanitizer_prefix):
    code = ("import sys; from pathlib import Path; from pybuild12.devenv import shellenv; "
            "shellenv.exec_python(Path(sys.argv[1]), [])")
    out = subprocess.run([sys.executable, "-c", code, str(sanitizer_prefix["python"])], capture_output=True, text=True,
                         env={**os.environ, "TSAN_OPTIONS": "mine=1"}, timeout=60)
    given = json.loads(out.stdout)["TSAN_OPTIONS"]
    assert given.startswith("handle_segv=0:suppressions=") and given.endswith(":mine=1")


def test_env_exports_them_for_every_shell(sanitizer_prefix):
    variables = {"TSAN_OPTIONS": "handle_segv=0:suppressions=/x y.txt"}
    posix = shellenv.exports([Path("/s")], "b", "bash", variables)
    assert "TSAN_OPTIONS='handle_segv=0:suppressions=/x y.txt'\nexport TSAN_OPTIONS\n" in posix
    fish = shellenv.exports([Path("/s")], "b", "fish", variables)
    assert "set -gx TSAN_OPTIONS 'handle_segv=0:suppressions=/x y.txt'\n" in fish
    shown = subprocess.run(["bash", "-c", posix + 'printf %s "$TSAN_OPTIONS"'], capture_output=True, text=True,
                           timeout=60)
    assert shown.stdout == "handle_segv=0:suppressions=/x y.txt"


def test_a_venvs_activate_script_sets_them_once_before_the_users_own(sanitizer_prefix, tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text("# venv's own\n")
    (venv / "bin" / "activate.fish").write_text("# venv's own\n")
    venvs._activate_sanitizer_options(sanitizer_prefix["python"], venv)
    ours = sanitizers.runtime_env(sanitizer_prefix["python"], {})["TSAN_OPTIONS"]
    script = f'export TSAN_OPTIONS=mine=1; . "{venv}/bin/activate"; . "{venv}/bin/activate"; printf %s "$TSAN_OPTIONS"'
    shown = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert shown.stdout == f"{ours}:mine=1", shown.stderr
    alone = subprocess.run(["bash", "-c", f'unset TSAN_OPTIONS; . "{venv}/bin/activate"; printf %s "$TSAN_OPTIONS"'],
                           capture_output=True, text=True, timeout=60)
    assert alone.stdout == ours
    assert "set -gx TSAN_OPTIONS" in (venv / "bin" / "activate.fish").read_text()


def test_the_venv_is_made_by_the_builds_python_under_its_options(sanitizer_prefix, tmp_path, monkeypatch):
    """`python -m venv` of an ASan build fails on LeakSanitizer's report at exit without
    the build's options (detect_leaks=0): pybuild12 venv runs it with them."""
    monkeypatch.setenv("TSAN_OPTIONS", "mine=1")
    log = tmp_path / "venv.log"
    venvs._run_venv(sanitizer_prefix["python"], tmp_path / "venv", log)
    ours = sanitizers.runtime_env(sanitizer_prefix["python"], {})["TSAN_OPTIONS"]
    assert f'{{"TSAN_OPTIONS": "{ours}:mine=1"}}' in log.read_text()


# ------------------------------------------------------------------ the reports


@pytest.mark.parametrize("text, first", [
    (TSAN_REPORT, "WARNING: ThreadSanitizer: data race (pid=15346)"),
    (ASAN_REPORT, "==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010 at pc 0x7f"),
    (UBSAN_REPORT, UBSAN_REPORT.strip()),
])
def test_a_report_is_found_and_quoted_from_its_first_line(text, first):
    found = sanitizers.report_in(text)
    assert found is not None and found.splitlines()[0] == first


def test_ordinary_stderr_is_no_report():
    assert sanitizers.report_in("Traceback (most recent call last):\n  ValueError: runtime error\n") is None
    assert sanitizers.report_in("") is None


def test_verify_fails_a_sanitizer_build_whose_runtime_reported():
    failed = verify.sanitizer_check(["tsan"], "noise\n" + TSAN_REPORT)
    assert failed.status == verify.FAILED and "#0 bump /tmp/rt/racy.c:17:16" in failed.reason
    clean = verify.sanitizer_check(["tsan"], "")
    assert clean.status == verify.PASSED


def test_list_labels_the_sanitizer_builds():
    from pybuild12.store import names

    assert names.describe(frozenset({"freethreaded", "tsan"})) == "free-threaded TSan"


def test_every_sanitizer_variant_is_described():
    for variant in variants.SANITIZERS:
        assert variants.describe(variant).startswith("with ")
        assert variant in variants.ORDER


def test_compat_stops_at_the_first_report_and_names_it_in_the_verdict(sanitizer_prefix):
    from pybuild12.checks import compat, compatprobe

    env = compatprobe._probe_env(sanitizer_prefix["python"])
    assert env["TSAN_OPTIONS"].startswith("handle_segv=0:") and env["TSAN_OPTIONS"].endswith(":halt_on_error=1")
    status, detail = compatprobe._death(compatprobe._Child([], 66, TSAN_REPORT), 60)
    assert status == compat.CRASH
    assert detail.startswith("the sanitizer reported: WARNING: ThreadSanitizer: data race (pid=15346)")
    assert "#0 bump /tmp/rt/racy.c:17:16" in detail
