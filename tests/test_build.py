
import compileall
import importlib.util
import shutil
import subprocess
import sys

import pytest

from pybuild12.builder import plan as build
from pybuild12.core.errors import BuildError, RecipeError, UsageError
from pybuild12.core.settings import Settings
from pybuild12.request import recipes, resolve

LOG_WITH_TWO_REPORTS = """
gcc -c foo.c
The necessary bits to build these optional modules were not found:
_dbm                      _gdbm                     _tkinter
To find the necessary bits, look in configure.ac and config.log.

Checked 111 modules (32 built-in, 75 shared, 1 n/a on linux-x86_64, 0 disabled, 3 missing, 0 failed on import)
Rebuilding with profile guided optimizations:
The following modules are *disabled* in configure script:
_sqlite3

The necessary bits to build these optional modules were not found:
_gdbm                     _lzma
To find the necessary bits, look in configure.ac and config.log.

Following modules built successfully but were removed because they could not be imported:
_ssl

Could not build the ssl module!
Checked 111 modules (32 built-in, 72 shared, 1 n/a on linux-x86_64, 1 disabled, 2 missing, 1 failed on import)
"""


@pytest.fixture
def recipe():
    return recipes.load("3.13.5")


def test_plan_is_the_classic_three_commands(recipe, tmp_path):
    prefix, dest = tmp_path / "pythons" / "3.13.5", tmp_path / "stage"
    steps = build.plan(recipe, prefix=prefix, destdir=dest, jobs=3, user_opts=("--with-system-expat",))
    assert [s.phase for s in steps] == ["configure", "compile", "install", "install"]
    assert steps[0].argv == ("./configure", f"--prefix={prefix}", "--enable-optimizations", "--with-lto",
                             "--with-system-expat")
    assert steps[1].argv == ("make", "-j3")
    assert steps[2].argv == ("make", "install", "ENSUREPIP=no", f"DESTDIR={dest}")
    # pip is installed apart, by CPython's Makefile plus ours, with the same DESTDIR
    assert steps[3].phase == "install" and steps[3].argv[:5] == ("make", "-f", "Makefile", "-f",
                                                                  str(build.RESOURCES / "ensurepip.mk"))
    assert "pybuild12-ensurepip" in steps[3].argv and f"DESTDIR={dest}" in steps[3].argv
    assert steps[1].title == "compile with PGO"


def test_plan_without_optimizations(recipe_file, tmp_path):
    path = recipe_file(
        'version = "3.13.5"\nsummary = "s"\n[source]\nkind = "tarball"\n'
        'url = "https://example.invalid/Python-3.13.5.tar.xz"\nsha256 = "' + "a" * 64 + '"\n'
        '[build]\noptimizations = false\nconfigure-args = ["--with-pydebug"]\n'
    )
    steps = build.plan(recipes.load(str(path)), prefix=tmp_path / "p", destdir=tmp_path / "d", jobs=1)
    assert "--enable-optimizations" not in steps[0].argv
    assert steps[0].argv[-1] == "--with-pydebug"
    assert steps[1].title == "compile"


def test_lto_is_added_once_and_can_be_dropped(recipe, tmp_path):
    lto = resolve.with_lto(recipe, True)
    steps = build.plan(lto, prefix=tmp_path, destdir=tmp_path, jobs=1)
    assert steps[0].argv[2:4] == ("--enable-optimizations", "--with-lto")
    steps = build.plan(lto, prefix=tmp_path, destdir=tmp_path, jobs=1, user_opts=("--with-lto",))
    assert steps[0].argv.count("--with-lto") == 1
    steps = build.plan(resolve.with_lto(lto, False), prefix=tmp_path, destdir=tmp_path, jobs=1)
    assert "--with-lto" not in steps[0].argv and "--enable-optimizations" in steps[0].argv


@pytest.mark.parametrize(("args", "lto"), [
    ((), False),
    (("--with-lto",), True),
    (("--with-lto=full",), True),
    (("--with-lto", "--without-lto"), False),
    (("--with-lto", "--with-lto=no"), False),
    (("--without-lto", "--with-lto=thin"), True),
])
def test_the_last_lto_option_decides(args, lto):
    assert build.uses_lto(("--prefix=/p", "--enable-optimizations", *args)) is lto


def test_only_lto_builds_give_configure_a_seed(recipe, tmp_path):
    plain = build.plan(resolve.with_lto(recipe, False), prefix=tmp_path, destdir=tmp_path, jobs=1,
                       env={"CFLAGS_NODIST": "-g"})
    assert plain[0].env == ()
    lto = build.plan(resolve.with_lto(recipe, True), prefix=tmp_path, destdir=tmp_path, jobs=1, env={})
    assert lto[0].env == (("CFLAGS_NODIST", build.LTO_SEED),)
    assert all(step.env == () for step in lto[1:])  # make must not see it twice
    by_user = build.plan(resolve.with_lto(recipe, False), prefix=tmp_path, destdir=tmp_path, jobs=1,
                         user_opts=("--with-lto",),
                         env={"CFLAGS_NODIST": " -g "})
    assert by_user[0].env == (("CFLAGS_NODIST", "-g -frandom-seed=$@"),)


def test_build_env_keeps_only_the_compiler_variables_that_are_set():
    env = {"CFLAGS": "-O1", "CC": "", "HOME": "/root", "PKG_CONFIG_PATH": "/opt/ssl/lib/pkgconfig"}
    assert build.build_env(env) == {"CFLAGS": "-O1", "PKG_CONFIG_PATH": "/opt/ssl/lib/pkgconfig"}


def test_build_env_keeps_configures_cache_variables():
    """ac_cv_header_gdbm_h=no builds CPython without _gdbm: not the same binary, not the same key."""
    env = {"ac_cv_header_gdbm_h": "no", "py_cv_module__dbm": "n/a", "ac_cv": "x", "CFLAGS": "-O1"}
    assert build.build_env(env) == {"CFLAGS": "-O1", "ac_cv_header_gdbm_h": "no", "py_cv_module__dbm": "n/a"}


def test_plan_refuses_zero_jobs(recipe, tmp_path):
    with pytest.raises(RecipeError, match="--jobs"):
        build.plan(recipe, prefix=tmp_path, destdir=tmp_path, jobs=0)


def test_user_options_come_from_env_then_cli():
    env = {"PYBUILD12_CONFIGURE_OPTS": "--with-lto '--with-openssl=/opt/my ssl'"}
    assert build.user_configure_opts(["--enable-shared"], Settings(env).configure_opts) == (
        "--with-lto",
        "--with-openssl=/opt/my ssl",
        "--enable-shared",
    )


@pytest.mark.parametrize("opt", ["--prefix=/usr", "--exec-prefix=/x"])
def test_user_options_cannot_move_the_prefix(opt):
    with pytest.raises(UsageError, match="not allowed") as info:  # exit 2, as every mistyped pass-through option
        build.user_configure_opts([opt])
    assert info.value.exit_code == 2


def test_bad_shell_syntax_in_env_is_named():
    with pytest.raises(UsageError, match="PYBUILD12_CONFIGURE_OPTS"):
        build.user_configure_opts([], Settings({"PYBUILD12_CONFIGURE_OPTS": "'unclosed"}).configure_opts)


def test_module_report_takes_the_last_report():
    report = build.module_report(LOG_WITH_TWO_REPORTS)
    assert report == {"disabled": ["_sqlite3"], "missing": ["_gdbm", "_lzma"], "failed_import": ["_ssl"]}


def test_module_report_of_a_clean_build_is_empty():
    assert build.module_report("gcc -c x.c\nChecked 111 modules (0 missing)\n") == {}


def test_required_modules_missing_fail_with_their_names(recipe, tmp_path):
    report = build.module_report(LOG_WITH_TWO_REPORTS)
    with pytest.raises(BuildError) as info:
        build.check_required_modules(recipe, report, tmp_path / "x.log")
    assert "ssl" in info.value.message and "sqlite3" in info.value.message and "lzma" in info.value.message
    assert "zlib" not in info.value.message
    assert "libssl-dev" in info.value.hint and "openssl-devel" in info.value.hint


def test_optional_modules_missing_are_fine(recipe, tmp_path):
    build.check_required_modules(recipe, {"missing": ["_gdbm", "_tkinter"]}, tmp_path / "x.log")


def test_pgo_stages_and_training_progress():
    assert build.pgo_stage("Building with support for profile generation:") == "PGO 1/3: instrumented build"
    assert build.pgo_stage("# Next, run the profile task to generate the profile information.").startswith("PGO 2/3")
    assert build.pgo_stage("Rebuilding with profile guided optimizations:").startswith("PGO 3/3")
    assert build.pgo_stage("gcc -c Objects/listobject.c") is None
    assert build.training_progress("0:00:31 load avg: 1.90 [12/43] test_json") == "test 12/43 test_json"
    assert build.training_progress("gcc -c x[1/2] y") is None


def test_default_jobs_is_positive():
    assert build.default_jobs() >= 1


def test_training_failures_only_when_the_training_run_stopped_make():
    log = ("0:00:16 load avg: 2.78 [19/43] test_generators\ntest test_generators failed\n"
           "Result: FAILURE\nmake: *** [Makefile:904: profile-run-stamp] Error 2\n")
    assert build.training_failures(log) == ["test_generators"]
    assert build.training_failures("make[1]: *** [Makefile:904: profile-run-stamp] Error 2\n") == []
    assert build.training_failures("gcc: fatal error: killed\nmake: *** [Makefile:1: python] Error 1\n") is None


def test_profile_task_is_read_unexpanded_from_the_makefile(tmp_path):
    makefile = tmp_path / "Makefile"
    makefile.write_text("# PROFILE_TASK=\"-m test --pgo-extended\"\n"
                        "PROFILE_TASK=\t-m test --pgo --timeout=$(TESTTIMEOUT)\n")
    assert build.profile_task(makefile) == "-m test --pgo --timeout=$(TESTTIMEOUT)"
    makefile.write_text("all:\n")
    assert build.profile_task(makefile) is None and build.profile_task(tmp_path / "absent") is None


def _ensurepip_root(tmp_path, *argv, pip_options=()):
    root = tmp_path / "root"
    proc = subprocess.run([sys.executable, "-E", *argv, str(root) + "/", *pip_options], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return root, proc.stdout


@pytest.mark.skipif(importlib.util.find_spec("ensurepip") is None or importlib.util.find_spec("pip") is None,
                    reason="needs an interpreter with ensurepip and an installed pip")
def test_ensurepip_again_installs_pip_where_make_install_would_not(tmp_path):
    # This interpreter already has pip, as the prefix of a build being replaced has:
    # ensurepip as `make install` runs it installs nothing under the root ...
    root, out = _ensurepip_root(tmp_path, "-m", "ensurepip", "--upgrade", "--root")
    assert "already satisfied" in out and not list(root.rglob("pip/__init__.py"))
    # ... while pybuild12's step puts pip (and its scripts) there.
    root, _ = _ensurepip_root(tmp_path, str(build.RESOURCES / "ensurepip_again.py"), "upgrade")
    assert list(root.rglob("site-packages/pip/__init__.py"))
    assert list(root.rglob("bin/pip3"))
    assert list(root.rglob("site-packages/pip/__pycache__/*.pyc"))  # pip compiles what it installs ...
    # ... unless the install compiles no bytecode (PYBUILD12_PIP_OPTIONS=--no-compile)
    bare, _ = _ensurepip_root(tmp_path / "bare", str(build.RESOURCES / "ensurepip_again.py"), "upgrade",
                              pip_options=("--no-compile",))
    assert list(bare.rglob("site-packages/pip/__init__.py")) and not list(bare.rglob("*.pyc"))


# Makefile.pre.in's libinstall of CPython 3.13.5, its last two commands as they are (the
# same in 3.12 and 3.14: Python-3.12.10 and 3.14.0 have them line for line).
LIBINSTALL_3_13 = """\
\t@ # Build PYC files for the 3 optimization levels (0, 1, 2)
\t-PYTHONPATH=$(DESTDIR)$(LIBDEST) $(RUNSHARED) \\
\t\t$(PYTHON_FOR_BUILD) -Wi $(DESTDIR)$(LIBDEST)/compileall.py \\
\t\t-o 0 -o 1 -o 2 $(COMPILEALL_OPTS) -d $(LIBDEST) -f \\
\t\t-x 'bad_coding|badsyntax|site-packages' \\
\t\t$(DESTDIR)$(LIBDEST)
\t-PYTHONPATH=$(DESTDIR)$(LIBDEST) $(RUNSHARED) \\
\t\t$(PYTHON_FOR_BUILD) -Wi $(DESTDIR)$(LIBDEST)/compileall.py \\
\t\t-o 0 -o 1 -o 2 $(COMPILEALL_OPTS) -d $(LIBDEST)/site-packages -f \\
\t\t-x badsyntax $(DESTDIR)$(LIBDEST)/site-packages
"""


def test_the_pip_step_is_told_not_to_compile_when_make_install_does_not(recipe, tmp_path):
    def pip_step(r):
        return build.plan(r, prefix=tmp_path, destdir=tmp_path, jobs=1)[3]

    assert build.PIP_NO_COMPILE not in pip_step(recipe).argv
    off = pip_step(resolve.with_compile_bytecode(recipe, False))
    assert off.argv[-1] == build.PIP_NO_COMPILE == "PYBUILD12_PIP_OPTIONS=--no-compile"
    debug = resolve.with_variants(recipe, ("debug",))
    assert pip_step(debug).argv[-1] == build.PIP_NO_COMPILE
    assert build.PIP_NO_COMPILE not in pip_step(resolve.with_compile_bytecode(debug, True)).argv
    assert build.pip_compiling(off).argv == pip_step(recipe).argv


def test_skip_compileall_makes_exactly_libinstalls_two_commands_no_ops(tmp_path):
    (tmp_path / "Makefile").write_text("libinstall:\n" + LIBINSTALL_3_13 + "\t$(PYTHON_FOR_BUILD) -m ensurepip\n")
    assert build.skip_compileall(tmp_path, tmp_path / "log") == 2
    text = (tmp_path / "Makefile").read_text()
    assert text.count("\t\t: $(PYTHON_FOR_BUILD) -Wi $(DESTDIR)$(LIBDEST)/compileall.py \\\n") == 2
    assert text.replace("\t\t: $(PYTHON_FOR_BUILD)", "\t\t$(PYTHON_FOR_BUILD)") == (
        "libinstall:\n" + LIBINSTALL_3_13 + "\t$(PYTHON_FOR_BUILD) -m ensurepip\n")
    assert (tmp_path / "log").read_text() == (
        "### Makefile: 2 compileall command(s) of make install made no-ops (': $(PYTHON_FOR_BUILD) -Wi "
        "$(DESTDIR)$(LIBDEST)/compileall.py ...'): no bytecode compiled at install\n")
    assert build.skip_compileall(tmp_path, tmp_path / "log") == 0  # done already: nothing more to change


def test_a_makefile_without_those_commands_is_left_as_it_is(tmp_path):
    other = "libinstall:\n\t$(PYTHON_FOR_BUILD) -Wi -m compileall -o 0 $(DESTDIR)$(LIBDEST)\n"
    (tmp_path / "Makefile").write_text(other)
    assert build.skip_compileall(tmp_path, tmp_path / "log") == 0
    assert (tmp_path / "Makefile").read_text() == other and not (tmp_path / "log").exists()


def _libinstall(tmp_path, skip: bool) -> list[str]:
    """Run libinstall's compileall commands with make and this interpreter; the .pyc written."""
    lib = tmp_path / "lib"
    (lib / "site-packages").mkdir(parents=True)
    shutil.copy(compileall.__file__, lib / "compileall.py")
    (lib / "mod.py").write_text("x = 1\n")
    (tmp_path / "Makefile").write_text(f"PYTHON_FOR_BUILD={sys.executable} -E\nLIBDEST={lib}\n"
                                       "libinstall:\n" + LIBINSTALL_3_13)
    if skip:
        assert build.skip_compileall(tmp_path, tmp_path / "log") == 2
    proc = subprocess.run(["make", "libinstall"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert ("\t: " in proc.stdout) is skip  # make shows the no-op commands as it runs them
    return sorted(p.name for p in lib.rglob("*.pyc"))


def test_the_no_op_commands_run_and_compile_nothing(tmp_path):
    tag = sys.implementation.cache_tag
    assert _libinstall(tmp_path / "as-is", skip=False) == sorted(
        f"{m}.{tag}.{level}pyc" for m in ("compileall", "mod") for level in ("", "opt-1.", "opt-2."))
    assert _libinstall(tmp_path / "skipped", skip=True) == []


def test_ensurepip_mk_passes_the_pip_options_on(tmp_path):
    argv = ["make", "-s", "-f", str(build.RESOURCES / "ensurepip.mk"), "pybuild12-ensurepip", "ENSUREPIP=upgrade",
            "PYTHON_FOR_BUILD=echo", "PYBUILD12_ENSUREPIP=again.py", f"DESTDIR={tmp_path}"]
    plain = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert plain.split() == ["again.py", "upgrade", f"{tmp_path}/"]
    told = subprocess.run([*argv, build.PIP_NO_COMPILE], capture_output=True, text=True, check=True).stdout
    assert told.split() == ["again.py", "upgrade", f"{tmp_path}/", "--no-compile"]
