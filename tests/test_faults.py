"""The fault suite: signals in every phase of an install, concurrent runs, a full
disk and a read-only data directory, each against the real `pybuild12` command
(a child process) building the fake CPython (fakecpython.py).

Surviving a fault means: the command ends with a clear message and a non-zero
exit (or, for SIGKILL, simply dies); the earlier install of the name still runs
and is the one `list` and `which` show; nothing half-installed is listed; the
next run clears what was left (staging, `.part` files, build processes, the
lock) without waiting, and succeeds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakecpython import HOST_MINOR, make_recipe, make_tarball, needs_host_interpreters
from faultserver import FaultServer
from helpers import Cli
from pybuild12.core import leftovers, locks
from pybuild12.core.errors import BusyError
from pybuild12.core.paths import Paths
from pybuild12.core.report import Reporter
from pybuild12.core.settings import Settings
from pybuild12.store import registry

pytestmark = needs_host_interpreters

PHASES = ("fetch", "extract", "configure", "compile", "install")
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)


def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    return Cli(*args, env=env).finish()


def mark_of(prefix: Path) -> str:
    return (prefix / f"lib/python{HOST_MINOR}/build-mark.txt").read_text().strip()


def hidden(paths: Paths) -> list[str]:
    return sorted(p.name for p in paths.pythons.iterdir() if p.name.startswith(".")) if paths.pythons.is_dir() else []


def parts(paths: Paths) -> list[str]:
    return sorted(p.name for d in (paths.downloads, paths.artifacts, paths.profiles) if d.is_dir()
                  for p in d.glob("*.part"))


@pytest.fixture
def earlier(tmp_path, paths):
    """The name `fake` installed from build 'one' (with the real command, unverified)."""
    tarball, sha = make_tarball(tmp_path / "one", mark="one")
    code, _, err = run_cli("install", str(make_recipe(tmp_path / "one", tarball, sha)), "--no-verify")
    assert code == 0, err
    return paths.prefix("fake")


@pytest.fixture(scope="module")
def second(tmp_path_factory) -> dict[str, Path]:
    """Build 'two' of the same name, for each phase a signal lands in: padded with 1000 MB
    of zeros for fetch and extract (small packed, so a trickling server takes seconds to
    send it, and slow to extract), plain for the later phases, which sleep on their own
    (FAKE_SLEEP) and need no gigabyte extracted before them. Made once per module: no
    test changes them."""
    made = {}
    for kind, pad_mb in (("padded", 1000), ("plain", 0)):
        directory = tmp_path_factory.mktemp(f"two-{kind}")
        tarball, sha = make_tarball(directory, mark="two", pad_mb=pad_mb)
        made[kind] = make_recipe(directory, tarball, sha)
    return {phase: made["padded" if phase in ("fetch", "extract") else "plain"] for phase in PHASES}


def assert_intact(paths: Paths, prefix: Path, faults, what: str, mark: str = "one") -> None:
    """The earlier install still runs and is what `list` and `which` report."""
    python = prefix / f"bin/python{HOST_MINOR}"
    try:
        ok = (mark_of(prefix) == mark and
              subprocess.run([str(python), "-c", "print(6 * 7)"], capture_output=True, text=True,
                             timeout=60).stdout == "42\n")
    except OSError:
        ok = False
    if not ok:
        faults.lost(what)
    assert ok, f"the earlier install of {prefix.name} no longer works after {what}"
    code, out, _ = run_cli("list", "--json")
    assert code == 0 and [b["name"] for b in json.loads(out)["installed"]] == ["fake"]
    code, out, _ = run_cli("which", "fake")
    assert code == 0 and out.strip() == str(python)


@pytest.mark.fault("interrupt")
@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_signal_during_a_phase(phase, sig, earlier, second, paths, faults):
    recipe = second[phase]
    env = {}
    server = None
    if phase == "fetch":
        server = FaultServer({recipe.with_suffix("").name: b""}, trickle_delay=0.3).__enter__()
        tarball = next(recipe.parent.glob("*.tar.gz"))
        server.files = {tarball.name: tarball.read_bytes()}
        env["PYBUILD12_MIRROR"] = f"{server.url}/trickle"
    elif phase in ("configure", "compile", "install"):
        env.update(FAKE_SLEEP_IN={"compile": "make"}.get(phase, phase), FAKE_SLEEP="60")
    try:
        cli = Cli("install", str(recipe), "--force", "--no-verify", env=env)
        cli.wait_for(f"→ {phase}")
        if phase == "fetch":
            cli.wait_for("% of")  # bytes are arriving
        elif phase != "extract":
            _wait_for_log(paths, f"fake {env['FAKE_SLEEP_IN']} sleeping")
        with cli._changed:
            cli.proc.send_signal(sig)
            ended = [line for line in cli.lines if line.startswith(f"✓ {phase}")]
        assert not ended, f"the {phase} phase was over before the signal was sent: the test missed its target"
        code, _, err = cli.finish()
    finally:
        if server is not None:
            server.__exit__(None, None, None)

    what = f"{sig.name} during {phase}"
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL
    else:
        assert code == 130 and "interrupted" in err, err
        assert hidden(paths) == [] and parts(paths) == [] and not (paths.builds / "fake").exists()
        assert leftovers.build_processes(paths.builds / "fake") == {}
    assert_intact(paths, earlier, faults, what)

    left_running = leftovers.build_processes(paths.builds / "fake")
    if sig == signal.SIGKILL and phase in ("configure", "compile", "install"):
        assert left_running, "SIGKILL should have left the build's processes running (they have their own session)"

    code, _, err = run_cli("install", str(recipe), "--force", "--no-verify")
    assert code == 0, err
    assert "waiting for" not in err  # the dead run's lock was free at once
    assert mark_of(earlier) == "two"
    assert hidden(paths) == [] and parts(paths) == []
    assert leftovers.build_processes(paths.builds / "fake") == {}
    assert all(not leftovers._alive(pid) for pid in left_running)
    if left_running:
        assert "stopped" in err and "left running" in err


def _wait_for_log(paths: Paths, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in p.read_text(errors="replace") for p in paths.logs.glob("fake-*.log")):
            return
        time.sleep(0.05)
    pytest.fail(f"{text!r} never appeared in the log")


def _running(proc: subprocess.Popen, program: str | Path, timeout: float = 30) -> None:
    """Wait until `proc` runs `program` (its exec is done: /proc shows its program and its
    environment), rather than sleeping a while and hoping it is, which a busy machine breaks."""
    want, deadline = os.path.realpath(program), time.monotonic() + timeout
    while os.path.realpath(f"/proc/{proc.pid}/exe") != want:
        assert proc.poll() is None and time.monotonic() < deadline, f"{program} never ran in pid {proc.pid}"
        time.sleep(0.01)


# ---------------------------------------------------------------- concurrency


@pytest.mark.fault("concurrency")
def test_two_installs_of_one_name_build_once(tmp_path, paths):
    tarball, sha = make_tarball(tmp_path / "one", mark="one")
    recipe = str(make_recipe(tmp_path / "one", tarball, sha))
    first = Cli("install", recipe, "--no-verify", env={"FAKE_SLEEP_IN": "make", "FAKE_SLEEP": "3"})
    first.wait_for("→ compile")
    second = Cli("install", recipe, "--no-verify")
    second.wait_for("waiting for")
    code1, out1, err1 = first.finish()
    code2, out2, err2 = second.finish()
    assert code1 == 0 and code2 == 0, (err1, err2)
    assert f"pid {first.proc.pid}" in err2 and "'fake'" in err2
    assert "already installed" in err2 and out1 == out2  # both print the same python
    assert len(list(paths.logs.glob("fake-*.log"))) == 1  # one build
    assert mark_of(paths.prefix("fake")) == "one"


@pytest.mark.fault("concurrency")
def test_installs_of_two_names_run_side_by_side(tmp_path, paths):
    tarball, sha = make_tarball(tmp_path / "one", mark="one")
    recipe = str(make_recipe(tmp_path / "one", tarball, sha))
    slow = {"FAKE_SLEEP_IN": "make", "FAKE_SLEEP": "2"}
    runs = [Cli("install", recipe, "--no-verify", "--name", n, env=slow) for n in ("left", "right")]
    for run in runs:
        run.wait_for("→ compile")
    # Both are compiling at the same time: neither waited for the other.
    assert all(run.proc.poll() is None for run in runs)
    results = [run.finish() for run in runs]
    assert [r[0] for r in results] == [0, 0], [r[2] for r in results]
    # Neither waited for the other's name; one may have waited for the other's download
    # of the shared tarball (fetched once), which is the point of that lock.
    assert not any("to finish with" in r[2] for r in results)
    assert {p.name for p in paths.pythons.iterdir()} == {"left", "right"}


@pytest.mark.fault("concurrency")
def test_uninstall_waits_for_an_install_of_the_same_name(earlier, tmp_path, paths):
    tarball, sha = make_tarball(tmp_path / "three", mark="three")
    install = Cli("install", str(make_recipe(tmp_path / "three", tarball, sha)), "--force", "--no-verify",
                  env={"FAKE_SLEEP_IN": "make", "FAKE_SLEEP": "2"})
    install.wait_for("→ compile")
    code, _, err = run_cli("uninstall", "fake")
    assert code == 0 and "waiting for" in err and "removed fake" in err
    assert install.finish()[0] == 0
    assert not paths.prefix("fake").exists()


@pytest.fixture
def in_use(paths):
    """The build `inuse`, with a program from its prefix (a copy of `sleep`) running."""
    prefix = paths.prefix("inuse")
    (prefix / "bin").mkdir(parents=True)
    shutil.copy2(shutil.which("sleep"), prefix / "bin" / "sleep")
    user = subprocess.Popen([str(prefix / "bin" / "sleep"), "30"])
    _running(user, prefix / "bin" / "sleep")
    yield prefix, user
    user.kill()
    user.wait(timeout=10)


@pytest.mark.fault("concurrency")
def test_uninstall_of_a_build_in_use_is_refused(in_use, paths):
    prefix, user = in_use
    assert user.pid in leftovers.users_of(prefix)
    code, _, err = run_cli("uninstall", "inuse")
    assert code == BusyError.exit_code and f"pid {user.pid}" in err and "--force" in err
    assert prefix.is_dir()
    with pytest.raises(BusyError):
        registry.remove(paths, "inuse")
    user.kill()
    user.wait(timeout=10)
    code, _, err = run_cli("uninstall", "inuse")
    assert code == 0 and not prefix.exists()


def test_uninstall_force_removes_a_build_in_use(in_use):
    prefix, user = in_use
    code, _, err = run_cli("uninstall", "--force", "inuse")
    assert code == 0 and not prefix.exists() and user.poll() is None  # still running


@pytest.mark.fault("concurrency")
def test_reinstall_of_a_build_in_use_warns_and_leaves_the_process_running(in_use, tmp_path):
    prefix, user = in_use
    tarball, sha = make_tarball(tmp_path / "one", mark="one")
    code, _, err = run_cli("install", str(make_recipe(tmp_path / "one", tarball, sha)), "--name", "inuse", "--force",
                           "--no-verify")
    assert code == 0, err
    assert f"use the build being replaced (pid {user.pid})" in err and user.poll() is None
    assert mark_of(prefix) == "one"


def test_a_build_in_another_root_at_the_same_path_is_not_a_leftover(paths, tmp_path):
    # Two containers (or chroots) sharing this PID namespace, each with a home at the same
    # path: one's install must neither stop the other's build nor count it as a user.
    if os.geteuid() != 0:
        pytest.skip("chroot(2) needs root")
    tree = paths.builds / "fake"
    tree.mkdir(parents=True)
    elsewhere = tmp_path / "other-root"
    elsewhere.mkdir()
    code = f"import os, time; os.chroot({str(elsewhere)!r}); print('in', flush=True); time.sleep(30)"
    other = subprocess.Popen([sys.executable, "-c", code], env=leftovers.marked(dict(os.environ), tree),
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    here = subprocess.Popen(["sleep", "30"], env=leftovers.marked(dict(os.environ), tree), start_new_session=True)
    try:
        assert other.stdout.readline() == "in\n"
        assert set(leftovers.build_processes(tree)) == {here.pid}
        assert other.pid not in leftovers.users_of(Path(os.path.realpath(sys.executable)).parent.parent)
        assert set(leftovers.stop_build_processes(tree)) == {here.pid} and other.poll() is None
    finally:
        for p in (other, here):
            p.kill()
            p.wait(timeout=10)


def test_reclaim_stops_only_marked_processes(paths, tmp_path):
    tree = paths.builds / "fake"
    tree.mkdir(parents=True)
    marked = subprocess.Popen(["sleep", "30"], cwd=tree, env=leftovers.marked(dict(os.environ), tree),
                              start_new_session=True)
    bystander = subprocess.Popen(["sleep", "30"], cwd=tree)  # a user's shell in a kept build tree, say
    try:
        for p in (marked, bystander):
            _running(p, shutil.which("sleep"))
        stopped = leftovers.stop_build_processes(tree)
        assert set(stopped) == {marked.pid}
        assert marked.wait(timeout=5) == -signal.SIGKILL and bystander.poll() is None
    finally:
        for p in (marked, bystander):
            p.kill()
            p.wait(timeout=10)


# ---------------------------------------------------------------- resources


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs (as root); skip where mounting is not allowed."""
    mounted: list[Path] = []

    def mount(where: Path, size_mb: int) -> Path:
        where.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)],
                              capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], check=False, timeout=60)


@pytest.mark.fault("resources")
@pytest.mark.parametrize("phase", ["extract", "install"])
def test_disk_fills_up(phase, tmpfs, tmp_path, monkeypatch, faults):
    home = tmpfs(tmp_path / "small-home", 48)
    monkeypatch.setenv("PYBUILD12_HOME", str(home))
    paths = Settings.from_env().paths
    tarball, sha = make_tarball(tmp_path / "one", mark="one")
    assert run_cli("install", str(make_recipe(tmp_path / "one", tarball, sha)), "--no-verify")[0] == 0
    free_before = shutil.disk_usage(home).free
    tarball, sha = make_tarball(tmp_path / "two", mark="two", pad_mb=100 if phase == "extract" else 0)
    env = {"FAKE_INSTALL_MB": "100"} if phase == "install" else {}
    code, _, err = run_cli("install", str(make_recipe(tmp_path / "two", tarball, sha)), "--force", "--no-verify",
                           env=env)
    assert code in (6, 10) and "no space left" in err.lower(), err
    assert "free some space" in err and "earlier installs are unchanged" in err
    assert "Traceback" not in err
    assert_intact(paths, paths.prefix("fake"), faults, f"a full disk during {phase}")
    assert hidden(paths) == [] and not (paths.builds / "fake").exists()
    assert shutil.disk_usage(home).free >= free_before - (2 << 20)  # everything it wrote is gone (but the log)


@pytest.mark.fault("resources")
def test_read_only_data_directory(tmpfs, tmp_path, paths, faults):
    data = tmpfs(paths.data, 16)
    tarball, sha = make_tarball(tmp_path / "one", mark="one")
    recipe = str(make_recipe(tmp_path / "one", tarball, sha))
    assert run_cli("install", recipe, "--no-verify")[0] == 0
    subprocess.run(["mount", "-o", "remount,ro", str(data)], check=True, timeout=60)
    code, _, err = run_cli("install", recipe, "--force", "--no-verify")
    assert code == 10 and "read-only" in err and "PYBUILD12_HOME" in err and "Traceback" not in err, err
    # asking for what is installed writes nothing (no lock either): answered, as for a user who may not write
    code, out, err = run_cli("install", recipe, "--no-verify")
    assert code == 0 and "already installed" in err and out.strip().startswith(str(paths.prefix("fake"))), err
    code, _, err = run_cli("uninstall", "fake")
    assert code == 10 and "read-only" in err
    assert_intact(paths, paths.prefix("fake"), faults, "a read-only data directory")


@pytest.mark.fault("resources")
def test_read_only_cache_directory_only_costs_the_cache(tmpfs, tmp_path, paths, monkeypatch):
    """The build goes on without the artifact cache when the cache cannot be written."""
    tarball, sha = make_tarball(tmp_path / "one", mark="one")
    recipe = str(make_recipe(tmp_path / "one", tarball, sha))
    for sub in ("downloads", "build"):
        (paths.cache / sub).mkdir(parents=True)
    artifacts_dir = tmpfs(paths.artifacts, 4)
    subprocess.run(["mount", "-o", "remount,ro", str(artifacts_dir)], check=True, timeout=60)
    code, _, err = run_cli("install", recipe, "--no-verify")
    assert code == 0, err
    assert "could not be kept in the artifact cache" in err and "installing it anyway" in err
    assert mark_of(paths.prefix("fake")) == "one"


def test_build_lock_is_free_again_once_released(paths):
    """The name lock is released when the holder is done: the next holder does not wait."""
    with locks.for_build(paths, "x"):
        pass
    seen: list[str] = []

    class Rec(Reporter):
        def info(self, text):
            seen.append(text)

    with locks.for_build(paths, "x", Rec()):
        pass
    assert seen == []
