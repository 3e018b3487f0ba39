"""One real CPython build shared by the integration tests.

`pybuild12 install 3.13.5 --no-lto` runs once per session, for real (configure
--enable-optimizations, make, make install), fetching the tarball from a
local HTTP mirror that stands in for python.org. The tarball comes from
scripts/fetch-test-sources. Without it these tests skip, except under CI
(CI=true), where a missing source is a failure.

PYBUILD12_TEST_HOME (optional) keeps the build between runs for development:
the install is then skipped when that home already holds it.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from realbuild import RECIPE, SESSION_OPTS, TARBALL, QuietHandler, RealBuild, install_apart, sources_dir

# racy/ is a small project of its own (a C extension and its tests), which the sanitizer
# build's tests install and run with that build: not pybuild12's tests.
collect_ignore = ["racy"]

# The streams the integration tests run in (scripts/test: `-n 3 --dist loadgroup`, one
# xdist worker each), so that one build's single-threaded or network-bound steps
# (configure, the PGO training run, install, verification, mmdebstrap, apt and pip in the
# containers) overlap another's compile. Each holds about a third of the work: the tests
# that share the session's real build, with the ThreadSanitizer build; the image (two
# builds with --heavy) with the debug build; the fresh machine (two with --heavy) with the
# free-threaded git build and the bisect over the same tree (through one ccache: the
# second of them compiles little). A module not named
# here is a group of its own, which xdist hands to whichever worker is free.
STREAMS = {
    "test_docker_image": "images-and-debug",
    "test_debug_build": "images-and-debug",
    "test_action_build": "images-and-debug",
    "test_jit_build": "images-and-debug",
    "test_lto_build": "images-and-debug",
    "test_fresh_machine": "machines-and-git",
    "test_git_build": "machines-and-git",
    "test_bisect_build": "machines-and-git",
    "test_optimize_build": "machines-and-git",
    "test_sanitizer_build": "session-build",
}
LAST = {"test_bisect_build"}
# The session's build (PGO), then the ThreadSanitizer build, is the longest stream: the
# others yield the CPU to it (their builds run at this niceness), and use what it leaves
# (its configure, training run, install and tests are single-threaded).
YIELDING = 10
_yielded = False


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups from the markers
def pytest_collection_modifyitems(config, items):
    """Group the integration tests into the streams above (xdist's loadgroup)."""
    here = Path(__file__).parent
    for item in items:
        if Path(item.fspath).parent == here:
            module = item.module.__name__
            group = "session-build" if "real_build" in item.fixturenames else STREAMS.get(module, module)
            item.add_marker(pytest.mark.xdist_group(group))
    # The bisect runs after the git build of the same tree, whose compile fills their shared
    # ccache (a stream runs its tests in this order).
    items.sort(key=lambda item: Path(item.fspath).stem in LAST)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """In an xdist worker under --dist loadgroup: a stream other than the session build's
    yields the CPU to it (YIELDING). The group must be in a grouped test's node ID (that
    is how xdist's scheduler reads it). Some pytest releases drop it without a
    word (pytest-xdist#1386), and every stream would then make the session's build: fail
    each such test before its fixtures run, saying so."""
    global _yielded
    group = item.get_closest_marker("xdist_group")
    if not (os.environ.get("PYTEST_XDIST_WORKER") and item.config.getvalue("loadgroup") and group):
        return
    if group.args[0] != "session-build" and not _yielded:
        os.nice(YIELDING)
        _yielded = True
    if "@" not in item.nodeid.rsplit("]", 1)[-1]:
        pytest.fail(f"pytest-xdist does not group tests under pytest {pytest.__version__} (pytest-xdist#1386: "
                    "no @group in the node ID), so each stream would build what one should: install the "
                    "test extras again (pyproject.toml pins a pytest that works), or run without -n",
                    pytrace=False)


@pytest.fixture(scope="session")
def mirror_server():
    directory = sources_dir()
    if not (directory / TARBALL).is_file():
        message = f"{directory / TARBALL} is missing: run scripts/fetch-test-sources"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def real_build(mirror_server, tmp_path_factory) -> RealBuild:
    home = Path(os.environ.get("PYBUILD12_TEST_HOME") or tmp_path_factory.mktemp("real-home"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYBUILD12_")}
    env.update(PYBUILD12_HOME=str(home), PYBUILD12_MIRROR=mirror_server)
    proc = subprocess.run([sys.executable, "-m", "pybuild12", "install", RECIPE, *SESSION_OPTS],
                          env=env, capture_output=True, text=True, timeout=3600)
    sys.stderr.write(proc.stderr)
    receipt_path = home / "data" / "pythons" / RECIPE / "pybuild12.json"
    receipt = json.loads(receipt_path.read_text()) if receipt_path.exists() else {}
    return RealBuild(home, env, mirror_server, proc, receipt)


@pytest.fixture(scope="session")
def git_tree_ccache(tmp_path_factory) -> Path:
    """The CCACHE_DIR of the builds of the 3.13.5 tree from git, free-threaded and without
    PGO (test_git_build.py, test_bisect_build.py): one's compile fills it for the other."""
    return tmp_path_factory.mktemp("git-tree-ccache")


@pytest.fixture(scope="session")
def debug_build(mirror_server, tmp_path_factory):
    """`pybuild12 install 3.13.5+debug` (no PGO, no LTO: about 2 minutes) in a home of its
    own, made as on a machine without gdbm's headers; test_debug_build.py checks it, and
    test_action_build.py restores it through the GitHub Action's cache."""
    home = tmp_path_factory.mktemp("debug-home")
    proc, env = install_apart(home, "3.13.5+debug", mirror=mirror_server, extra_env={"ac_cv_header_gdbm_h": "no"})
    return {"proc": proc, "prefix": home / "data" / "pythons" / "3.13.5+debug", "env": env, "home": home}
