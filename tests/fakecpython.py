"""A fake CPython source tarball for unit tests of the install orchestration.

Its `configure` and `Makefile` do no compiling: `make install` puts a
`bin/pythonX.Y` wrapper around a real CPython 3.12+ into $(DESTDIR)$(prefix)
(the interpreter running the tests when it is one, else one found on the machine,
such as pyenv's), so the real post-install check runs against a real interpreter
of a version pybuild12 builds. Behaviour is steered through environment variables:

FAKE_FAIL=configure|make|install  that step exits 2 after printing lines
FAKE_MAKE_SLEEP=N                 make sleeps N seconds (to interrupt it)
FAKE_SLEEP_IN=configure|make|install, FAKE_SLEEP=N
                                  that step prints "fake <step> sleeping" and sleeps N seconds
                                  (install does so half-way, with part of the tree written)
FAKE_INSTALL_MB=N                 make install also writes an N MB file (to fill a disk)
FAKE_REPORT_MISSING="_ssl _lzma"  make prints CPython's "bits not found" report
FAKE_TRAINING_FAILS=1             a test of the "training run" fails (as in CPython 3.13+, make stops)
FAKE_IGNORE_VARIANTS=1            configure ignores --disable-gil and the like, as a CPython before 3.13 does

Like CPython's configure, it writes the variants it takes up into pyconfig.h (Py_GIL_DISABLED,
Py_DEBUG) and the JIT's -D_Py_JIT into the Makefile; like CPython's make install, a
free-threaded build gets `bin/pythonX.Yt` with `bin/pythonX.Y` a hard link to it.

Like CPython's `make install` (Makefile.pre.in's libinstall), it byte-compiles its
"standard library" (a copy of compileall.py) and site-packages with two compileall
commands of the same shape; then it puts a stand-in for pip into site-packages and
compiles it as pip does (naming the staging directory in the .pyc), whatever pybuild12
asks of pip (the fake has no ensurepip).

Like CPython's Makefile, the "training run" writes `.gcda` files and
`profile-run-stamp`; with the stamp already there, make goes straight to
the optimized build, and the install records which profile it used.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest


def _probe(python: str) -> str | None:
    """`python`'s version if it is a CPython 3.12+ with test.support and a sub-interpreter module."""
    script = ("import sys, test.support\n"
              "try:\n    import _interpreters\nexcept ImportError:\n    import _xxsubinterpreters\n"
              "print('%d.%d.%d' % sys.version_info[:3])")
    try:
        out = subprocess.run([python, "-I", "-c", script], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = out.stdout.strip()
    if out.returncode != 0 or tuple(int(p) for p in version.split(".")[:2]) < (3, 12):
        return None
    return version


def _find_host() -> tuple[str | None, str]:
    """The interpreter the fake CPython wraps, and its version."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(pyenv.glob("3.1[2-9]*/bin/python3"), key=lambda p: p.parent.parent.name, reverse=True)
    for python in [sys.executable, *map(str, found), *filter(None, map(shutil.which, ("python3.13", "python3.12")))]:
        version = _probe(python)
        if version is not None:
            return python, version
    return None, "3.99.0"


HOST, HOST_VERSION = _find_host()
HOST_MINOR = ".".join(HOST_VERSION.split(".")[:2])

CONFIGURE = r"""#!/bin/sh
if [ "$1" = --help ]; then cat <<'HELP'
`configure' configures python 3 to adapt to many kinds of systems (a few of CPython's options).
  -h, --help              display this help and exit
  -q, --quiet, --silent   do not print `checking ...' messages
  --prefix=PREFIX         install architecture-independent files in PREFIX
  --disable-FEATURE       do not include FEATURE (same as --enable-FEATURE=no)
  --enable-shared         enable building a shared Python library (default is no)
  --disable-gil           enable support for running without the GIL
  --enable-experimental-jit[=no|yes|yes-off|interpreter]
  --enable-optimizations  enable expensive, stable optimizations (PGO, etc.)
  --with-pydebug          build with Py_DEBUG defined (default is no)
  --with-lto=[full|thin|no|yes]
  --with-doc-strings      enable documentation strings (default is yes)
  --with-ensurepip[=install|upgrade|no]
  --with-openssl=DIR      root of the OpenSSL directory
  --with-dbmliborder=db1:db2:...
  --with-suffix=SUFFIX    set executable suffix to SUFFIX
  --with-tzpath=<list of absolute paths separated by pathsep>
  --with-thread-sanitizer enable ThreadSanitizer race detector
HELP
exit 0; fi
echo "fake configure $*"
[ "$FAKE_FAIL" = configure ] && { echo "configure: error: no acceptable C compiler"; exit 2; }
[ "$FAKE_SLEEP_IN" = configure ] && { echo "fake configure sleeping"; sleep "$FAKE_SLEEP"; }
prefix=
for arg in "$@"; do case "$arg" in --prefix=*) prefix="${arg#--prefix=}";; esac; done
printf 'PREFIX=%s\n' "$prefix" > config.status
printf '%s\n' "$@" > configure-args.txt
printf '%s\n' "$CFLAGS_NODIST" > configure-cflags-nodist.txt
: > pyconfig.h
if [ -z "$FAKE_IGNORE_VARIANTS" ]; then
    for arg in "$@"; do
        case "$arg" in
            --disable-gil) echo "#define Py_GIL_DISABLED 1" >> pyconfig.h;;
            --with-pydebug) echo "#define Py_DEBUG 1" >> pyconfig.h;;
            --enable-experimental-jit*) echo "CONFIGURE_CFLAGS_NODIST= -D_Py_JIT" >> Makefile;;
        esac
    done
else
    echo "configure: WARNING: unrecognized options: $*"
fi
exit 0
"""

MAKEFILE = r"""include config.status
# The fake has no ensurepip: make install itself puts a stand-in package into site-packages.
ENSUREPIP=no
PROFILE_TASK=	-m test --pgo --timeout=$(TESTTIMEOUT)
PYTHON_FOR_BUILD=@HOST@ -E
LIBDEST=$(PREFIX)/lib/python@MINOR@

all: profile-run-stamp
	@echo "Rebuilding with profile guided optimizations:"
	@cc --version >/dev/null 2>&1 || true
	@cat Python/ceval.gcda > profile-used.txt
	@if [ -n "$$FAKE_REPORT_MISSING" ]; then \
		echo "The necessary bits to build these optional modules were not found:"; \
		echo "$$FAKE_REPORT_MISSING"; \
		echo "To find the necessary bits, look in configure.ac and config.log."; \
		echo; \
	fi
	@echo "Checked 112 modules (34 built-in, 77 shared, 1 n/a on linux-x86_64, 0 disabled, 0 missing, 0 failed on import)"
	@if [ "$$FAKE_FAIL" = make ]; then for i in $$(seq 1 40); do echo "compile line $$i"; done; echo "gcc: fatal error: killed"; exit 2; fi
	@touch built

profile-run-stamp:
	@echo "Running code to generate profile data (this can take a while):"
	@echo "Building with support for profile generation:"
	@if [ -n "$$FAKE_MAKE_SLEEP" ]; then echo "fake make sleeping"; sleep $$FAKE_MAKE_SLEEP; fi
	@if [ "$$FAKE_SLEEP_IN" = make ]; then echo "fake make sleeping"; sleep $$FAKE_SLEEP; fi
	@echo "# Next, run the profile task to generate the profile information."
	@echo "0:00:01 load avg: 1.00 [ 1/43] test_array"
	@sh -c 'if [ -n "$$FAKE_TRAINING_FAILS" ]; then echo "test test_generators failed"; exit 2; fi' train $(PROFILE_TASK)
	@mkdir -p Python Modules/_decimal
	@echo "trained $$(date +%s%N) $$$$" > Python/ceval.gcda
	@echo "trained decimal" > Modules/_decimal/_decimal.gcda
	@touch $@

install:
	@if [ "$$FAKE_FAIL" = install ]; then echo "install: cannot create directory"; exit 2; fi
	mkdir -p "$(DESTDIR)$(PREFIX)/bin" "$(DESTDIR)$(PREFIX)/lib/python@MINOR@"
	printf '#!/bin/sh\nFAKE_CPYTHON_PREFIX="$(PREFIX)" exec "@HOST@" "$$@"\n' > "$(DESTDIR)$(PREFIX)/bin/python@MINOR@"
	chmod +x "$(DESTDIR)$(PREFIX)/bin/python@MINOR@"
	@if grep -q Py_GIL_DISABLED pyconfig.h; then cd "$(DESTDIR)$(PREFIX)/bin" && \
		mv python@MINOR@ python@MINOR@t && ln python@MINOR@t python@MINOR@; fi
	echo "@MARK@" > "$(DESTDIR)$(PREFIX)/lib/python@MINOR@/build-mark.txt"
	@if [ -n "$$FAKE_INSTALL_MB" ]; then dd if=/dev/zero of="$(DESTDIR)$(PREFIX)/lib/python@MINOR@/big.bin" bs=1M count=$$FAKE_INSTALL_MB 2>&1; fi
	@if [ "$$FAKE_SLEEP_IN" = install ]; then echo "fake install sleeping"; sleep $$FAKE_SLEEP; fi
	cp profile-used.txt "$(DESTDIR)$(PREFIX)/lib/python@MINOR@/profile-used.txt"
	"@HOST@" -c 'import compileall, shutil, sys; shutil.copy(compileall.__file__, sys.argv[1])' "$(DESTDIR)$(LIBDEST)"
	mkdir -p "$(DESTDIR)$(LIBDEST)/site-packages"
	@ # Build PYC files for the 3 optimization levels (0, 1, 2)
	-PYTHONPATH=$(DESTDIR)$(LIBDEST) $(RUNSHARED) \
		$(PYTHON_FOR_BUILD) -Wi $(DESTDIR)$(LIBDEST)/compileall.py \
		-o 0 -o 1 -o 2 $(COMPILEALL_OPTS) -d $(LIBDEST) -f \
		-x 'bad_coding|badsyntax|site-packages' \
		$(DESTDIR)$(LIBDEST)
	-PYTHONPATH=$(DESTDIR)$(LIBDEST) $(RUNSHARED) \
		$(PYTHON_FOR_BUILD) -Wi $(DESTDIR)$(LIBDEST)/compileall.py \
		-o 0 -o 1 -o 2 $(COMPILEALL_OPTS) -d $(LIBDEST)/site-packages -f \
		-x badsyntax $(DESTDIR)$(LIBDEST)/site-packages
	mkdir -p "$(DESTDIR)$(PREFIX)/lib/python@MINOR@/site-packages/fakepip"
	echo "NAME = 'fakepip'" > "$(DESTDIR)$(PREFIX)/lib/python@MINOR@/site-packages/fakepip/__init__.py"
	"@HOST@" -m compileall -q "$(DESTDIR)$(PREFIX)/lib/python@MINOR@/site-packages"
"""  # noqa: E501  # the fake's Makefile, one shell line per recipe line (and CPython's own one-line output)


needs_host_interpreters = pytest.mark.skipif(
    HOST is None, reason="no CPython 3.12+ with test.support and a sub-interpreter module for the fake CPython to wrap"
)


# How CPython's libinstall runs compileall (3.12 to 3.14), and another way a later one might.
LIBINSTALL_COMPILEALL = "$(PYTHON_FOR_BUILD) -Wi $(DESTDIR)$(LIBDEST)/compileall.py"
OTHER_COMPILEALL = "$(PYTHON_FOR_BUILD) -Wi -m compileall"


def source_files(mark: str, *, compileall: str = LIBINSTALL_COMPILEALL) -> dict[str, tuple[str, int]]:
    makefile = MAKEFILE.replace(LIBINSTALL_COMPILEALL, compileall)
    return {
        "configure": (CONFIGURE, 0o755),
        "Makefile": (
            makefile.replace("@HOST@", HOST or sys.executable).replace("@MINOR@", HOST_MINOR).replace("@MARK@", mark),
            0o644,
        ),
    }


def make_git_repo(repo: Path, marks: tuple[str, ...] = ("one", "two")) -> list[str]:
    """A repository whose successive commits build the fake CPython with each mark."""
    from gitrepos import commit, init

    init(repo)
    shas = []
    for day, mark in enumerate(marks, start=1):
        files = source_files(mark)
        shas.append(commit(repo, {n: t for n, (t, _) in files.items()}, f"build {mark}", day=day,
                           modes={n: m for n, (_, m) in files.items()}))
    return shas


def make_git_recipe(directory: Path, url: str, commit: str, *, version: str = HOST_VERSION,
                    name: str = "fakegit") -> Path:
    path = directory / f"{name}.toml"
    path.write_text(
        f'version = "{version}"\nsummary = "fake CPython from git"\n\n'
        f'[source]\nkind = "git"\nurl = "{url}"\ncommit = "{commit}"\n\n'
        "[build]\nrequired-modules = []\n",
        encoding="utf-8",
    )
    return path


def make_tarball(directory: Path, *, version: str = HOST_VERSION, mark: str = "one",
                 pad_mb: int = 0, compileall: str = LIBINSTALL_COMPILEALL) -> tuple[Path, str]:
    """Write Python-<version>.tar.gz into `directory`; return (path, sha256). `pad_mb`
    adds a file of that many MB of zeros (small packed, slow to extract); `compileall`:
    how make install runs compileall (OTHER_COMPILEALL: not as CPython 3.12 to 3.14 do)."""
    files = source_files(mark, compileall=compileall)
    top = f"Python-{version}"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(top)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
        for name, (text, mode) in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
        if pad_mb:
            info = tarfile.TarInfo(f"{top}/padding.bin")
            info.size = pad_mb << 20
            tar.addfile(info, _Zeros(info.size))
    path = directory / f"{top}.tar.gz"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return path, hashlib.sha256(buf.getvalue()).hexdigest()


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)


def make_recipe(directory: Path, tarball: Path, sha256: str, *, version: str = HOST_VERSION,
                name: str = "fake", modules: str = "[]", build: str = "") -> Path:
    """A recipe of the fake tarball; `build`: more lines for its [build] table."""
    path = directory / f"{name}.toml"
    path.write_text(
        f'version = "{version}"\nsummary = "fake CPython for orchestration tests"\n\n'
        f'[source]\nkind = "tarball"\nurl = "{tarball.as_uri()}"\nsha256 = "{sha256}"\n\n'
        f"[build]\nrequired-modules = {modules}\n{build}",
        encoding="utf-8",
    )
    return path


def passing_verifier(python, **kwargs):
    """Stands in for pybuild12.checks.verify.run in orchestration tests (a real verification takes
    seconds, and these tests install dozens of builds). The real
    verifier is tested against real interpreters in test_verify.py and the integration tests."""
    from pybuild12.checks import verify

    checks = tuple(verify.Check(n, verify.PASSED, "fake") for n in verify.CHECK_NAMES)
    build = {v: True for v in kwargs.get("expect", ())}  # what the install asked the verifier to expect
    return verify.Report(str(python), HOST_VERSION, {"low_level": "fake"}, checks, build)
