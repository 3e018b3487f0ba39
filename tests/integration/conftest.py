"""The real CPython builds the integration tests share, each made once per run.

`pybuild12 install 3.13.5 --no-lto` runs once per run, for real (configure
--enable-optimizations, make, make install), fetching the tarball from a
local HTTP mirror that stands in for python.org. Its artifact, signed, is served
as a shared store: the image and the fresh machine install it from there. The tarball comes from
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

from realbuild import (
    RECIPE,
    SESSION_OPTS,
    TARBALL,
    QuietHandler,
    RealBuild,
    SharedStore,
    apart_env,
    completed,
    install_apart,
    once,
    run_of,
    sources_dir,
)
from timeline import record_build

# racy/ is a small project of its own (a C extension and its tests), which the sanitizer
# build's tests install and run with that build: not pybuild12's tests.
collect_ignore = ["racy"]

# The lanes the integration tests run in (scripts/test: `-n 3 --dist loadgroup`, one xdist
# worker each, in this order within a lane). Each real build is made once per run by
# whichever worker asks first (`realbuild.once`); the others wait for it. Every lane
# starts with a compile of its own, so that the three first compiles overlap each
# other's single-threaded steps (configure, the PGO training run, install, verification):
#   session: the PGO build, then everything that uses it;
#   sanitizer-image: the ThreadSanitizer build, then the image made from the session
#     build's artifact (by then long made);
#   git-debug: the free-threaded git build, the debug build and the Action with it, the
#     bisect over the git build's tree (its ccache), then the fresh machine set up from
#     the session build's artifact.
# Measured in an idle rehearsal (2 cores, NOTES.md #37): the lanes ended at 16m11,
# 17m18 and 18m31. The heavy tier's builds are spread the same way: the PGO+LTO build
# and the profile reuse in the session lane, the ASan build and the image pairs in the
# sanitizer-image lane, the fresh machines from source and `--optimize max` in git-debug.
# A module not named here is a group of its own, which xdist hands to whichever worker
# is free.
LANES = {
    "session": ["test_real_build", "test_verify_build", "test_cache_build", "test_pgo_build", "test_compat_build",
                "test_dev_setup", "test_lto_build"],
    "sanitizer-image": ["test_sanitizer_build", "test_docker_image", "test_jit_build"],
    "git-debug": ["test_git_build", "test_debug_build", "test_action_build", "test_bisect_build",
                  "test_fresh_machine", "test_optimize_build"],
}
LANE_OF = {module: lane for lane, modules in LANES.items() for module in modules}
# Long enough for a lane's first test, which waits for its build (and perhaps another's).
TIMEOUT = 3600


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups from the markers
def pytest_collection_modifyitems(config, items):
    """Group the integration tests into the lanes above (xdist's loadgroup), in their order."""
    here = Path(__file__).parent
    position = {}
    for item in items:
        if Path(item.fspath).parent == here:
            module = Path(item.fspath).stem
            lane = LANE_OF.get(module, "session" if "real_build" in item.fixturenames else module)
            item.add_marker(pytest.mark.xdist_group(lane))
            item.add_marker(pytest.mark.timeout(TIMEOUT))
            modules = LANES.get(lane, [])
            position[item.nodeid] = modules.index(module) if module in modules else len(modules)
    items.sort(key=lambda item: position.get(item.nodeid, 0))  # stable: each module's tests keep their order


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """In an xdist worker under --dist loadgroup, the group must be in a grouped test's
    node ID (that is how xdist's scheduler reads it). Some pytest releases drop it
    without a word (pytest-xdist#1386), and the lanes would then mix: fail each such
    test before its fixtures run, saying so."""
    group = item.get_closest_marker("xdist_group")
    if not (os.environ.get("PYTEST_XDIST_WORKER") and item.config.getvalue("loadgroup") and group):
        return
    if "@" not in item.nodeid.rsplit("]", 1)[-1]:
        pytest.fail(f"pytest-xdist does not group tests under pytest {pytest.__version__} (pytest-xdist#1386: "
                    "no @group in the node ID), so the lanes would mix: install the "
                    "test extras again (pyproject.toml pins a pytest that works), or run without -n",
                    pytrace=False)


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory) -> Path:
    """A directory every xdist worker of this run sees (the base temp's parent under xdist):
    the builds made once (`realbuild.once`) and the session build's shared store."""
    base = tmp_path_factory.getbasetemp()
    directory = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared"
    directory.mkdir(exist_ok=True)
    return directory


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A static HTTP server over `directory` on a loopback port of its own (bound once and
    kept for the whole session, never closed and reused); returns it and its URL."""
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="session")
def mirror_server():
    directory = sources_dir()
    if not (directory / TARBALL).is_file():
        message = f"{directory / TARBALL} is missing: run scripts/fetch-test-sources"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server, url = serve(directory)
    yield url
    server.shutdown()


def _pybuild12(env: dict, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybuild12", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _make_real_build(home: Path, env: dict, shared: Path) -> dict:
    """The session's build, then its artifact signed and exported into `shared`/store (a
    directory laid out as a shared store serves it), before any test changes the build."""
    with record_build(f"{RECIPE} {' '.join(SESSION_OPTS)} (PGO): the session build"):
        proc = _pybuild12(env, "install", RECIPE, *SESSION_OPTS, timeout=3600)
    sys.stderr.write(proc.stderr)
    receipt_path = home / "data" / "pythons" / RECIPE / "pybuild12.json"
    receipt = json.loads(receipt_path.read_text()) if receipt_path.exists() else {}
    made = {"install": completed(proc), "receipt": receipt}
    if proc.returncode == 0:
        secret = shared / "signing-key"
        keygen = _pybuild12(env, "cache", "keygen", "pybuild12-tests-1", "--out", str(secret))
        assert keygen.returncode == 0, keygen.stderr
        export = _pybuild12({**env, "PYBUILD12_CACHE_SIGNING_KEY": str(secret)}, "cache", "export", RECIPE,
                            "--to", str(shared / "store"), "--sign")
        assert export.returncode == 0, export.stderr
        made["trust"] = keygen.stdout.strip()
    return made


@pytest.fixture(scope="session")
def real_build(mirror_server, shared_dir) -> RealBuild:
    home = Path(os.environ.get("PYBUILD12_TEST_HOME") or shared_dir / "real-home")
    env = apart_env(home, mirror=mirror_server)
    made = once(shared_dir, "real-build", lambda: _make_real_build(home, env, shared_dir))
    return RealBuild(home, env, mirror_server, run_of(made["install"]), made["receipt"])


@pytest.fixture(scope="session")
def shared_store(real_build, shared_dir) -> SharedStore:
    """The session build's artifact in a shared store (static files over HTTP on loopback,
    signed by a key of the run's own): the image and the fresh machine install from it,
    as a team's machines install what its CI built, instead of compiling it again."""
    assert real_build.install.returncode == 0, real_build.install.stderr[-3000:]
    made = json.loads((shared_dir / "real-build.json").read_text())  # written once real_build returned
    server, url = serve(shared_dir / "store")
    yield SharedStore(url, made["trust"], real_build.home, (RECIPE, *SESSION_OPTS))
    server.shutdown()


@pytest.fixture(scope="session")
def ccache_dir() -> Path:
    """The CCACHE_DIR of every build here that compiles through ccache (--ccache: the
    debug, git, ThreadSanitizer and ASan builds and the bisect's steps), kept between
    runs: PYBUILD12_TEST_CCACHE, else pybuild12-tests/ccache in the user's cache
    directory. On a fresh machine (CI) it starts empty and the bisect's steps compile
    from what the git build of the same tree put there; a developer's next run
    compiles from it."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    directory = Path(os.environ.get("PYBUILD12_TEST_CCACHE") or base / "pybuild12-tests" / "ccache")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture(scope="session")
def debug_build(mirror_server, shared_dir, ccache_dir):
    """`pybuild12 install 3.13.5+debug --ccache` (no PGO, no LTO, no byte-compiling: about
    2 minutes) in a home of its own, made as on a machine without gdbm's headers;
    test_debug_build.py checks it, and test_action_build.py restores it through the
    GitHub Action's cache."""
    home = shared_dir / "debug-home"
    extra = {"ac_cv_header_gdbm_h": "no", "CCACHE_DIR": str(ccache_dir)}

    def make() -> dict:
        proc, _ = install_apart(home, "3.13.5+debug", "--ccache", mirror=mirror_server, extra_env=extra)
        return completed(proc)

    made = once(shared_dir, "debug-build", make)
    env = apart_env(home, mirror=mirror_server, extra_env=extra)
    return {"proc": run_of(made), "prefix": home / "data" / "pythons" / "3.13.5+debug", "env": env, "home": home}
