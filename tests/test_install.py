"""Install orchestration against a fake CPython tarball (see fakecpython.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from fakecpython import (
    HOST,
    HOST_MINOR,
    HOST_VERSION,
    OTHER_COMPILEALL,
    make_recipe,
    make_tarball,
    needs_host_interpreters,
    passing_verifier,
)
from helpers import mode_of, umask
from pybuild12 import install as installer
from pybuild12.checks import verify as verifier
from pybuild12.checks.verify import run as real_verifier  # before the autouse fixture replaces it
from pybuild12.core.errors import ArchiveError, BuildError, CheckError, FetchError, RecipeError, UsageError
from pybuild12.core.report import Reporter
from pybuild12.core.settings import Settings
from pybuild12.install import InstallOptions
from pybuild12.store import artifacts, manifest

pytestmark = needs_host_interpreters


@pytest.fixture(autouse=True)
def fake_verifier(monkeypatch):
    monkeypatch.setattr(verifier, "run", passing_verifier)


class Recorder(Reporter):
    def __init__(self, interrupt_at: str | None = None):
        self.events: list[tuple] = []
        self.interrupt_at = interrupt_at

    def phase_start(self, phase, detail):
        self.events.append(("start", phase))
        if phase == self.interrupt_at:
            raise KeyboardInterrupt

    def phase_end(self, phase, seconds, ok):
        self.events.append(("end", phase, ok))

    def status(self, text):
        self.events.append(("status", text))

    def warn(self, text):
        self.events.append(("warn", text))

    def info(self, text):
        self.events.append(("info", text))


@pytest.fixture
def fake(tmp_path):
    tarball, sha = make_tarball(tmp_path / "src", mark="one")
    return make_recipe(tmp_path, tarball, sha)


@pytest.fixture
def fake_two(tmp_path):
    """Same name and version, a different build (mark 'two')."""
    tarball, sha = make_tarball(tmp_path / "src2", mark="two")
    return make_recipe(tmp_path / "src2", tarball, sha)


def mark(paths, name="fake"):
    return (paths.prefix(name) / f"lib/python{HOST_MINOR}/build-mark.txt").read_text().strip()


def leftovers(paths):
    return [p.name for p in paths.pythons.iterdir() if p.name.startswith(".")]


def test_install_builds_checks_and_records(fake, paths):
    rec = Recorder()
    outcome = installer.install(str(fake), InstallOptions(jobs=3), paths=paths, reporter=rec)
    prefix = paths.prefix("fake")
    assert outcome.prefix == prefix and outcome.python == prefix / f"bin/python{HOST_MINOR}"
    assert subprocess.run([str(outcome.python), "-c", "print(1)"], capture_output=True, text=True,
                          timeout=60).stdout == "1\n"
    assert [e[1] for e in rec.events if e[0] == "end"] == ["fetch", "extract", "configure", "compile", "install",
                                                           "install", "bytecode", "check", "verify", "manifest",
                                                           "profile", "cache"]
    assert all(e[2] for e in rec.events if e[0] == "end")
    statuses = [e[1] for e in rec.events if e[0] == "status"]
    assert statuses[:2] == ["PGO 1/3: instrumented build", "PGO 2/3: training run"]
    assert "PGO 2/3: training run, test 1/43 test_array" in statuses

    receipt = json.loads((prefix / "pybuild12.json").read_text())
    assert receipt["name"] == "fake" and receipt["recipe"]["version"] == HOST_VERSION
    assert receipt["source"]["sha256"] == outcome.receipt.source["sha256"]
    assert receipt["configure_args"][:2] == [f"--prefix={prefix}", "--enable-optimizations"]
    assert receipt["make_jobs"] == 3
    assert set(receipt["timings"]) == {"fetch", "extract", "configure", "compile", "install", "bytecode", "check",
                                       "verify", "manifest", "profile", "cache"}
    assert receipt["pgo_profile"]["origin"] == "trained"
    assert receipt["compiler"] != "unknown" and receipt["host"]["machine"]
    assert receipt["recipe"]["content_sha256"] and receipt["pybuild12_version"]
    assert leftovers(paths) == [] and not (paths.builds / "fake").exists()


def test_second_install_is_a_no_op(fake, paths):
    installer.install(str(fake), paths=paths)
    before = (paths.prefix("fake") / "pybuild12.json").read_text()
    again = installer.install(str(fake), paths=paths)
    assert again.already_installed
    assert (paths.prefix("fake") / "pybuild12.json").read_text() == before


def test_failing_make_reports_phase_log_and_tail(fake, paths, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "make")
    with pytest.raises(BuildError) as info:
        installer.install(str(fake), paths=paths)
    err = info.value
    assert err.phase == "compile with PGO" and err.exit_code == 6
    tail = err.log_tail.splitlines()
    assert len(tail) == 30 and tail[-2] == "gcc: fatal error: killed" and "Error 2" in tail[-1]
    assert os.path.exists(err.log_path) and "compile line 1\n" in open(err.log_path).read()
    assert not paths.prefix("fake").exists() and leftovers(paths) == []
    assert not (paths.builds / "fake").exists()


@pytest.mark.parametrize("step", ["configure", "install"])
def test_failure_keeps_the_earlier_install(fake, fake_two, paths, monkeypatch, step):
    installer.install(str(fake), paths=paths)
    monkeypatch.setenv("FAKE_FAIL", step)
    with pytest.raises(BuildError):
        installer.install(str(fake_two), InstallOptions(force=True), paths=paths)
    assert mark(paths) == "one" and leftovers(paths) == []


def test_force_replaces_the_earlier_install(fake, fake_two, paths):
    installer.install(str(fake), paths=paths)
    installer.install(str(fake_two), InstallOptions(force=True), paths=paths)
    assert mark(paths) == "two" and leftovers(paths) == []


@pytest.mark.parametrize("phase", ["extract", "compile", "install", "check"])
def test_interrupt_keeps_the_earlier_install(fake, fake_two, paths, phase):
    installer.install(str(fake), paths=paths)
    with pytest.raises(KeyboardInterrupt):
        installer.install(str(fake_two), InstallOptions(force=True), paths=paths, reporter=Recorder(interrupt_at=phase))
    assert mark(paths) == "one" and leftovers(paths) == []
    assert not (paths.builds / "fake").exists()


def test_keep_build_keeps_the_tree(fake, paths, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "make")
    with pytest.raises(BuildError):
        installer.install(str(fake), InstallOptions(keep_build=True), paths=paths)
    assert (paths.builds / "fake" / f"Python-{HOST_VERSION}" / "configure").exists()


def test_missing_required_module_fails_by_name(tmp_path, paths, monkeypatch):
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha, modules='["ssl", "zlib"]')
    monkeypatch.setenv("FAKE_REPORT_MISSING", "_gdbm _ssl")
    with pytest.raises(BuildError) as info:
        installer.install(str(recipe), paths=paths)
    assert "required modules: ssl" in info.value.message and "zlib" not in info.value.message
    assert not paths.prefix("fake").exists()


def test_the_modules_a_build_lacks_are_in_the_receipt_and_each_is_warned_about(tmp_path, paths, monkeypatch):
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha, build='unneeded-modules = ["tkinter"]\n')
    monkeypatch.setenv("FAKE_REPORT_MISSING", "_dbm _tkinter _curses_panel")
    recorder = Recorder()
    outcome = installer.install(str(recipe), paths=paths, reporter=recorder)
    assert outcome.receipt.modules == {"missing": ["_curses_panel", "_dbm", "_tkinter"]}
    warned = [e[1] for e in recorder.events if e[0] == "warn"]
    dbm = next(w for w in warned if "_dbm" in w)
    assert "its headers were not found; libgdbm-compat-dev provide(s) them" in dbm
    assert "'pybuild12 install fake --force'" in dbm and "build.unneeded-modules" in dbm
    assert any("_curses_panel" in w and "libncurses-dev" in w for w in warned)
    assert not any("_tkinter" in w for w in warned)  # the recipe does not need it
    # A reinstall from the artifact cache knows it too, from the artifact.
    monkeypatch.delenv("FAKE_REPORT_MISSING")
    again = installer.install(str(recipe), InstallOptions(force=True), paths=paths)
    assert again.receipt.artifact["from_cache"] and again.receipt.modules == outcome.receipt.modules


def test_a_build_that_lacks_nothing_says_so(fake, paths):
    outcome = installer.install(str(fake), paths=paths)
    assert outcome.receipt.modules == {} and outcome.receipt.required_modules == ()


def test_check_failure_installs_nothing(tmp_path, paths):
    wrong = HOST_MINOR + ".99"  # same pythonX.Y, another patch level
    tarball, sha = make_tarball(tmp_path / "src", version=wrong)
    recipe = make_recipe(tmp_path, tarball, sha, version=wrong)
    with pytest.raises(CheckError) as info:
        installer.install(str(recipe), paths=paths)
    assert f"runs {HOST_VERSION}, the recipe says {wrong}" in info.value.message
    assert not paths.prefix("fake").exists() and leftovers(paths) == []
    # not installed, and not thrown away either: kept where the message says
    assert f"the build is kept at {paths.kept / 'fake'}" in info.value.hint
    assert (paths.kept / "fake" / f"bin/python{HOST_MINOR}").exists()


def test_checksum_mismatch_extracts_nothing(tmp_path, paths):
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, "0" * 64)
    with pytest.raises(FetchError, match="checksum mismatch"):
        installer.install(str(recipe), paths=paths)
    assert not (paths.builds / "fake").exists() and list(paths.pythons.iterdir()) == []


def test_a_recipe_with_a_wrong_sha256_leaves_the_cached_tarball_alone(tmp_path, paths):
    """A good recipe's cached tarball survives a recipe of the same file with a wrong sha256,
    offline too: the error blames that recipe's pin and names its file."""
    tarball, sha = make_tarball(tmp_path / "src")
    installer.install(str(make_recipe(tmp_path, tarball, sha)), paths=paths)
    cached = paths.downloads / tarball.name
    good = cached.read_bytes()
    tarball.unlink()  # offline: the recipe's URL answers nothing
    wrong = make_recipe(tmp_path, tarball, "0" * 64, name="mine")
    with pytest.raises(FetchError) as info:
        installer.install(str(wrong), paths=paths)
    assert info.value.exit_code == 5
    assert "the recipe's sha256 is probably wrong" in info.value.message and str(wrong) in info.value.message
    assert f"hashed to {sha}" in info.value.message
    assert cached.read_bytes() == good
    assert not paths.prefix("mine").exists()


def _readable(paths, file_mode, dir_mode):
    prefix = paths.prefix("fake")
    assert mode_of(prefix) == dir_mode
    assert mode_of(prefix / "pybuild12.json") == file_mode
    assert mode_of(prefix / manifest.FILE) == file_mode
    assert mode_of(prefix / f"lib/python{HOST_MINOR}/build-mark.txt") == file_mode


@pytest.mark.parametrize("mask,file_mode,dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)],
                         ids=["umask022", "umask077"])
def test_an_install_gets_the_modes_the_umask_gives(fake, paths, mask, file_mode, dir_mode):
    """Another user's `pybuild12 list` reads the receipt under umask 022 (mkstemp's 0600 hid it)."""
    with umask(mask):
        installer.install(str(fake), paths=paths)
        _readable(paths, file_mode, dir_mode)
        assert all(mode_of(p) == file_mode for p in paths.downloads.glob("*.tar.gz"))
        assert all(mode_of(a.path) == file_mode for a in artifacts.Cache(paths.artifacts))
        outcome = installer.install(str(fake), InstallOptions(force=True), paths=paths)
        assert outcome.receipt.source.get("cached_artifact")  # unpacked from the artifact this time
        _readable(paths, file_mode, dir_mode)


def test_an_artifact_packed_with_a_private_manifest_installs_it_readable(fake, paths, tmp_path):
    """Artifacts packed before the writer followed the umask hold a 0600 manifest."""
    with umask(0o022):
        installer.install(str(fake), paths=paths)
        cache = artifacts.Cache(paths.artifacts)
        [old] = list(cache)
        tree = tmp_path / "tree"
        cache.unpack(old, tree)
        (tree / manifest.FILE).chmod(0o600)
        digest = artifacts.pack(old.path, tree, sorted(p.name for p in tree.iterdir()))
        cache.annotate(old, sha256=digest)
        outcome = installer.install(str(fake), InstallOptions(force=True), paths=paths)
        assert outcome.receipt.source.get("cached_artifact")
        _readable(paths, 0o644, 0o755)


def test_configure_options_reach_configure(fake, paths, monkeypatch):
    monkeypatch.setenv("PYBUILD12_CONFIGURE_OPTS", "--with-lto")
    outcome = installer.install(str(fake), InstallOptions(configure_opts=("--without-doc-strings",)), paths=paths)
    assert outcome.receipt.configure_args[-2:] == ("--with-lto", "--without-doc-strings")


@pytest.mark.parametrize("lto", [True, False])
def test_lto_builds_give_configure_a_random_seed_per_object(fake, paths, monkeypatch, lto):
    monkeypatch.setenv("CFLAGS_NODIST", "-g3")
    outcome = installer.install(str(fake), InstallOptions(lto=lto, keep_build=True), paths=paths)
    tree = paths.builds / "fake" / f"Python-{HOST_VERSION}"
    seen = (tree / "configure-cflags-nodist.txt").read_text().strip()
    if lto:
        # the user's flags first, then the seed; make expands $@ to each object file
        assert seen == "-g3 -frandom-seed=$@"
        assert outcome.receipt.configure_env == {"CFLAGS_NODIST": "-g3 -frandom-seed=$@"}
    else:
        assert seen == "-g3" and outcome.receipt.configure_env is None


def test_compiler_flags_of_the_environment_are_part_of_the_artifact_key(fake, paths, monkeypatch):
    first = installer.install(str(fake), paths=paths)
    monkeypatch.setenv("CFLAGS", "-O1")
    again = installer.install(str(fake), InstallOptions(force=True), paths=paths)
    assert again.receipt.artifact["key"] != first.receipt.artifact["key"]
    assert again.receipt.artifact["from_cache"] is False
    monkeypatch.delenv("CFLAGS")
    back = installer.install(str(fake), InstallOptions(force=True), paths=paths)
    assert back.receipt.artifact == {"key": first.receipt.artifact["key"], "from_cache": True,
                                        "origin": "local"}


def test_prefix_option_refused_before_any_work(fake, paths):
    with pytest.raises(UsageError):
        installer.install(str(fake), InstallOptions(configure_opts=("--prefix=/usr",)), paths=paths)
    assert not paths.downloads.exists()


def test_busy_name_waits_for_the_holder_and_names_it(fake, paths):
    """A second install of a name being worked on waits its turn, saying for whom."""
    # The holder lets go 1 s after it is told to, and it is told when the install says it
    # waits: an install slowed down by a busy machine still finds the lock held.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from pybuild12.core import locks\n"
         "with locks.hold(Path(sys.argv[1])):\n    print('held', flush=True); sys.stdin.readline(); time.sleep(1)",
         str(paths.locks / "fake.lock")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    told = []

    class Releasing(Recorder):
        def info(self, text):
            super().info(text)
            if text.startswith("waiting for") and not told:
                holder.stdin.write("go\n")
                holder.stdin.flush()
                told.append(time.monotonic())

    rec = Releasing()
    try:
        outcome = installer.install(str(fake), paths=paths, reporter=rec)
    finally:
        holder.stdin.close()  # its readline returns: it lets go whatever happened here
        holder.wait(timeout=10)
    waits = [e[1] for e in rec.events if e[0] == "info" and e[1].startswith("waiting for")]
    assert len(waits) == 1 and f"pid {holder.pid}" in waits[0] and "'fake'" in waits[0]
    assert time.monotonic() - told[0] >= 1.0  # it went on only once the holder had let go
    assert outcome.prefix.is_dir() and not outcome.already_installed


def test_leftovers_of_a_killed_run_are_cleaned(fake, paths):
    stale = paths.pythons / ".staging-fake-dead"
    stale.mkdir(parents=True)
    installer.install(str(fake), paths=paths)
    assert not stale.exists()


def test_real_sigint_during_make(fake, fake_two, paths):
    """Ctrl-C as a user sends it: the process exits 130, make is stopped, the old build stays."""
    installer.install(str(fake), paths=paths)
    env = dict(os.environ, FAKE_MAKE_SLEEP="67")  # a length nothing else here sleeps
    proc = subprocess.Popen(
        [sys.executable, "-m", "pybuild12", "install", str(fake_two), "--force", "--no-verify"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = list(paths.logs.glob("fake-*.log"))
        if any("fake make sleeping" in p.read_text() for p in logs):
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("make never started")
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()  # leave no install running after a failure
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert mark(paths) == "one" and leftovers(paths) == []
    sleeping = subprocess.run(["pgrep", "-f", "sleep 67"], capture_output=True, text=True, timeout=60).stdout.split()
    assert sleeping == []


def test_verification_result_goes_into_the_receipt(fake, paths):
    outcome = installer.install(str(fake), paths=paths)
    verification = outcome.receipt.verification
    assert verification["ok"] is True
    assert [c["name"] for c in verification["checks"]][:2] == ["modules", "high-level API"]
    assert "python" not in verification  # the staging path means nothing once installed


def test_failed_verification_fails_the_install(fake, fake_two, paths, monkeypatch):
    from pybuild12.checks import verify

    installer.install(str(fake), paths=paths)

    def failing(python, **kwargs):
        return verify.Report(str(python), HOST_VERSION, {},
                             (verify.Check("threads", verify.FAILED, "1 of 2 finished; hung"),))

    monkeypatch.setattr(verifier, "run", failing)
    with pytest.raises(CheckError) as info:
        installer.install(str(fake_two), InstallOptions(force=True), paths=paths)
    assert "threads: 1 of 2 finished" in info.value.message
    assert mark(paths) == "one" and leftovers(paths) == []


def test_no_verify_skips_it(fake, paths, monkeypatch):
    def explode(python, **kwargs):
        raise AssertionError("verification ran")

    monkeypatch.setattr(verifier, "run", explode)
    outcome = installer.install(str(fake), InstallOptions(verify=False), paths=paths)
    assert outcome.receipt.verification is None


def test_reinstall_comes_from_the_artifact_cache(fake, paths, monkeypatch):
    first = installer.install(str(fake), paths=paths)
    assert first.receipt.artifact["from_cache"] is False
    monkeypatch.setenv("FAKE_FAIL", "configure")  # a cache hit must not run configure at all
    rec = Recorder()
    again = installer.install(str(fake), InstallOptions(force=True), paths=paths, reporter=rec)
    assert again.receipt.artifact == {"key": first.receipt.artifact["key"], "from_cache": True, "origin": "local"}
    phases = [e[1] for e in rec.events if e[0] == "end"]
    assert phases == ["unpack", "check", "manifest"]  # verified when packed: compared, not verified again
    assert mark(paths) == "one"
    assert again.receipt.source["sha256"] == first.receipt.source["sha256"]


def test_corrupted_artifact_is_rebuilt(fake, paths):
    first = installer.install(str(fake), paths=paths)
    artifact = paths.artifacts / f"{first.receipt.artifact['key']}.tar.zst"
    artifact.write_bytes(b"garbage")
    again = installer.install(str(fake), InstallOptions(force=True), paths=paths)
    assert again.receipt.artifact["from_cache"] is False and "compile" in again.receipt.timings
    assert artifact.read_bytes() != b"garbage"  # stored afresh


def test_no_cache_builds_and_stores_nothing(fake, paths):
    outcome = installer.install(str(fake), InstallOptions(no_cache=True), paths=paths)
    assert outcome.receipt.artifact["from_cache"] is False
    assert not paths.artifacts.exists() or list(paths.artifacts.iterdir()) == []


def test_other_configure_options_miss_the_cache(fake, paths):
    first = installer.install(str(fake), paths=paths)
    other = installer.install(str(fake), InstallOptions(name="other", configure_opts=("--with-lto",)), paths=paths)
    assert other.receipt.artifact["from_cache"] is False
    assert other.receipt.artifact["key"] != first.receipt.artifact["key"]


def profile_used(paths, name="fake"):
    return (paths.prefix(name) / f"lib/python{HOST_MINOR}/profile-used.txt").read_text()


def test_recorded_profile_skips_the_training_run(fake, paths):
    first = installer.install(str(fake), paths=paths)
    rec = Recorder()
    other = installer.install(str(fake), InstallOptions(name="other"), paths=paths, reporter=rec)
    assert other.receipt.artifact["from_cache"] is False  # another prefix: compiled, not unpacked
    assert other.receipt.pgo_profile == {"key": first.receipt.pgo_profile["key"], "origin": "recorded"}
    statuses = [e[1] for e in rec.events if e[0] == "status"]
    assert not any(s.startswith(("PGO 1/3", "PGO 2/3")) for s in statuses)
    assert profile_used(paths, "other") == profile_used(paths) and profile_used(paths).startswith("trained ")
    phases = [e[1] for e in rec.events if e[0] == "end"]
    assert phases.index("configure") < phases.index("profile") < phases.index("compile")
    assert other.receipt.timings["compile"] >= 0 and "profile" in other.receipt.timings


def test_exported_profile_builds_elsewhere(fake, paths, tmp_path, monkeypatch):
    from pybuild12.store import profiles

    first = installer.install(str(fake), paths=paths)
    exported = tmp_path / "out" / "fake.profile.tar.zst"
    profiles.export(profiles.of_build(profiles.Store(paths.profiles), "fake", first.receipt), exported)
    elsewhere = Settings.from_env({"PYBUILD12_HOME": str(tmp_path / "other-home")}).paths
    outcome = installer.install(str(fake), InstallOptions(pgo_profile=exported), paths=elsewhere)
    assert outcome.receipt.pgo_profile["origin"] == "file"
    assert profile_used(elsewhere) == profile_used(paths)
    assert profiles.Store(elsewhere.profiles).get(first.receipt.pgo_profile["key"]) is not None  # kept for later


def test_a_given_profile_bypasses_the_artifact_cache(fake, paths, tmp_path):
    from pybuild12.store import profiles

    first = installer.install(str(fake), paths=paths)
    exported = tmp_path / "p.tar.zst"
    profiles.export(profiles.of_build(profiles.Store(paths.profiles), "fake", first.receipt), exported)
    again = installer.install(str(fake), InstallOptions(force=True, pgo_profile=exported), paths=paths)
    assert again.receipt.artifact["from_cache"] is False and "compile" in again.receipt.timings


def test_profile_of_other_sources_is_refused_before_building(fake, fake_two, paths, tmp_path):
    from pybuild12.store import profiles

    first = installer.install(str(fake), paths=paths)
    exported = tmp_path / "p.tar.zst"
    profiles.export(profiles.of_build(profiles.Store(paths.profiles), "fake", first.receipt), exported)
    rec = Recorder()
    with pytest.raises(RecipeError, match="recorded for another build") as info:
        installer.install(str(fake_two), InstallOptions(name="two", pgo_profile=exported), paths=paths, reporter=rec)
    assert "source" in info.value.message and "--pgo-profile" in info.value.hint
    assert not any(e[1] in ("extract", "configure") for e in rec.events if e[0] == "start")
    assert not paths.prefix("two").exists()


def test_a_file_that_is_no_profile_is_refused(fake, paths, tmp_path):
    bogus = tmp_path / "bogus.tar.zst"
    bogus.write_bytes(b"not a profile")
    with pytest.raises(ArchiveError, match="not a pybuild12 PGO profile"):
        installer.install(str(fake), InstallOptions(pgo_profile=bogus), paths=paths)
    assert not paths.prefix("fake").exists()


def test_fresh_profile_trains_again_and_replaces_the_record(fake, paths):
    from pybuild12.store import profiles

    first = installer.install(str(fake), paths=paths)
    again = installer.install(str(fake), InstallOptions(force=True, fresh_profile=True), paths=paths)
    assert again.receipt.artifact["from_cache"] is False and again.receipt.pgo_profile["origin"] == "trained"
    assert profile_used(paths) != ""
    recorded = profiles.Store(paths.profiles).get(first.receipt.pgo_profile["key"])
    third = installer.install(str(fake), InstallOptions(name="third"), paths=paths)
    assert third.receipt.pgo_profile["origin"] == "recorded" and recorded is not None
    assert profile_used(paths, "third") == profile_used(paths)  # the newest record


def test_no_cache_neither_uses_nor_records_a_profile(fake, paths):
    installer.install(str(fake), paths=paths)
    outcome = installer.install(str(fake), InstallOptions(name="cold", no_cache=True), paths=paths)
    assert outcome.receipt.pgo_profile["origin"] == "trained"
    assert profile_used(paths, "cold") != profile_used(paths)


def test_damaged_recorded_profile_is_dropped_and_retrained(fake, paths):
    first = installer.install(str(fake), paths=paths)
    from pybuild12.store import profiles

    path = profiles.Store(paths.profiles).path(first.receipt.pgo_profile["key"])
    path.write_bytes(b"\x28\xb5\x2f\xfd garbage")
    other = installer.install(str(fake), InstallOptions(name="other"), paths=paths)
    assert other.receipt.pgo_profile["origin"] == "trained"
    assert profiles.read(path).key == first.receipt.pgo_profile["key"]  # recorded afresh


def test_profile_options_need_an_optimized_recipe(tmp_path, paths):
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha)
    recipe.write_text(recipe.read_text().replace("[build]\n", "[build]\noptimizations = false\n"))
    with pytest.raises(RecipeError, match="without --enable-optimizations"):
        installer.install(str(recipe), InstallOptions(fresh_profile=True), paths=paths)
    outcome = installer.install(str(recipe), paths=paths)
    assert outcome.receipt.pgo_profile is None and not paths.profiles.exists()


def test_a_failed_training_run_does_not_fail_the_build(fake, paths, monkeypatch):
    monkeypatch.setenv("FAKE_TRAINING_FAILS", "1")
    rec = Recorder()
    outcome = installer.install(str(fake), paths=paths, reporter=rec)
    assert ("warn", "a test of the PGO training run failed (test_generators); training again without stopping "
                    "at failed tests, as CPython 3.12 does") in rec.events
    assert [e for e in rec.events if e[:2] == ("end", "compile")] == [("end", "compile", True)]
    assert profile_used(paths).startswith("trained ") and outcome.receipt.pgo_profile["origin"] == "trained"
    log = outcome.log_path.read_text()
    assert "PROFILE_TASK=-m test --pgo --timeout=$(TESTTIMEOUT) || true" in log


def test_other_compile_failures_still_fail(fake, paths, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "make")
    with pytest.raises(BuildError, match="compile with PGO failed"):
        installer.install(str(fake), paths=paths)


def test_source_date_epoch_makes_the_receipt_repeatable(fake, paths, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    first = installer.install(str(fake), InstallOptions(name="one", no_cache=True), paths=paths)
    second = installer.install(str(fake), InstallOptions(name="two", no_cache=True), paths=paths)
    assert first.receipt.timings is not None  # the caller still sees how long it took
    on_disk = [json.loads((o.prefix / "pybuild12.json").read_text()) for o in (first, second)]
    for receipt in on_disk:
        assert receipt["installed_at"] == "2023-11-14T22:13:20+00:00"
        assert "timings" not in receipt and "log" not in receipt and "hostname" not in receipt["host"]
        assert receipt["verification"]["checks"][0] == "modules" and receipt["verification"]["ok"] is True
    differing = {k for k in on_disk[0] if on_disk[0][k] != on_disk[1][k]}
    # the names and prefixes differ (so the artifact keys do), and the second run found the tarball in the
    # download cache: nothing else
    assert differing == {"name", "configure_args", "artifact", "source"}
    assert {k for k in on_disk[0]["source"] if on_disk[0]["source"][k] != on_disk[1]["source"][k]} == {"fetched_from"}


def test_a_bad_source_date_epoch_is_refused(fake, paths, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(UsageError, match="SOURCE_DATE_EPOCH"):
        installer.install(str(fake), paths=paths)


def test_site_packages_bytecode_names_the_prefix_not_the_staging_dir(fake, paths, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    outcome = installer.install(str(fake), paths=paths)
    source = outcome.prefix / f"lib/python{HOST_MINOR}/site-packages/fakepip/__init__.py"
    # The .pyc is the build's (the fake wraps HOST): read it with that interpreter.
    read = ("import importlib.util, marshal, sys; data = open(importlib.util.cache_from_source(sys.argv[1]), 'rb')"
            ".read(); print(marshal.loads(data[16:]).co_filename); print(int.from_bytes(data[4:8], 'little'))")
    filename, flags = subprocess.run([HOST, "-c", read, str(source)], capture_output=True, text=True,
                                     check=True, timeout=60).stdout.split()
    assert filename == str(source)  # not the staging dir's path
    assert flags == "3"  # hash-checked, as SOURCE_DATE_EPOCH asks
    assert "bytecode" in outcome.receipt.timings


def stdlib_pyc(prefix):
    """The .pyc of the fake's "standard library" (its copy of compileall.py), at 3 levels."""
    return sorted(p.name.split(".", 1)[1] for p in (prefix / f"lib/python{HOST_MINOR}/__pycache__").glob("*.pyc"))


SKIPPED = "compileall command(s) of make install made no-ops"


def test_make_install_compiles_the_stdlib_by_default_and_the_makefile_is_left_alone(fake, paths):
    outcome = installer.install(str(fake), InstallOptions(keep_build=True), paths=paths)
    assert stdlib_pyc(outcome.prefix) == [f"cpython-{HOST_MINOR.replace('.', '')}.{t}pyc"
                                          for t in ("opt-1.", "opt-2.", "")]
    makefile = (paths.builds / "fake" / f"Python-{HOST_VERSION}" / "Makefile").read_text()
    assert "\t\t$(PYTHON_FOR_BUILD) -Wi $(DESTDIR)$(LIBDEST)/compileall.py" in makefile and ": $(PYTHON" not in makefile
    assert SKIPPED not in outcome.log_path.read_text()
    assert outcome.receipt.bytecode is True
    assert "compile_bytecode" not in json.loads(next(paths.artifacts.glob("*.json")).read_text())["inputs"]
    assert "PYBUILD12_PIP_OPTIONS" not in outcome.log_path.read_text()  # pip compiles as it does by default


def test_no_compile_bytecode_makes_the_makefiles_compileall_a_no_op(fake, paths):
    outcome = installer.install(str(fake), InstallOptions(compile_bytecode=False, keep_build=True), paths=paths)
    tree = paths.builds / "fake" / f"Python-{HOST_VERSION}"
    makefile = (tree / "Makefile").read_text()
    # exactly the two commands of libinstall, each still shown by make as it runs
    assert makefile.count("\t\t: $(PYTHON_FOR_BUILD) -Wi $(DESTDIR)$(LIBDEST)/compileall.py \\\n") == 2
    assert makefile.count("compileall.py") == 2 and '-m compileall -q "$(DESTDIR)' in makefile  # the "pip" one stays
    log = outcome.log_path.read_text()
    assert f"### Makefile: 2 {SKIPPED}" in log
    assert f": {HOST} -E -Wi {outcome.prefix}" not in log  # DESTDIR is the staging directory ...
    assert f": {HOST} -E -Wi " in log and "/compileall.py \\\n" in log  # ... and make echoes the no-op
    assert "PYBUILD12_PIP_OPTIONS=--no-compile" in log  # the pip step's command line
    # the fake's stand-in for pip compiled its package (pip is told not to); the .pyc are not kept
    assert "### removed 1 .pyc file(s) from the staged build: it is installed without bytecode" in log
    assert list(outcome.prefix.rglob("*.pyc")) == [] and list(outcome.prefix.rglob("__pycache__")) == []
    assert outcome.receipt.bytecode is False
    meta = json.loads(next(paths.artifacts.glob("*.json")).read_text())
    assert meta["inputs"]["compile_bytecode"] is False and meta["bytecode"] is False
    from pybuild12.store import manifest
    assert manifest.compare(outcome.prefix, "fake").ok
    again = installer.install(str(fake), InstallOptions(compile_bytecode=False, force=True), paths=paths)
    assert again.receipt.artifact["from_cache"] is True and again.receipt.bytecode is False


def test_the_variants_default_and_an_explicit_option_wins(fake, paths):
    debug = installer.install(f"{fake}+debug", paths=paths)
    assert debug.name == "fake+debug" and debug.receipt.bytecode is False and stdlib_pyc(debug.prefix) == []
    compiled = installer.install(f"{fake}+debug", InstallOptions(name="fake-debug-pyc", compile_bytecode=True),
                                 paths=paths)
    assert compiled.receipt.bytecode is True and len(stdlib_pyc(compiled.prefix)) == 3
    assert compiled.receipt.artifact["key"] != debug.receipt.artifact["key"]
    freethreaded = installer.install(f"{fake}+freethreaded", InstallOptions(optimizations=False), paths=paths)
    assert freethreaded.receipt.bytecode is True and len(stdlib_pyc(freethreaded.prefix)) == 3


def test_an_installed_build_answers_a_request_that_names_no_bytecode_option(fake, paths):
    # installed with bytecode, as every +debug build was before its default changed
    installer.install(f"{fake}+debug", InstallOptions(compile_bytecode=True), paths=paths)
    assert installer.install(f"{fake}+debug", paths=paths).already_installed
    with pytest.raises(UsageError) as info:
        installer.install(f"{fake}+debug", InstallOptions(compile_bytecode=False), paths=paths)
    assert "stdlib bytecode compiled at install (--compile-bytecode): installed with, asked without" in (
        info.value.message)
    replaced = installer.install(f"{fake}+debug", InstallOptions(compile_bytecode=False, force=True), paths=paths)
    assert replaced.receipt.bytecode is False and stdlib_pyc(replaced.prefix) == []
    assert installer.install(f"{fake}+debug", paths=paths).already_installed
    assert installer.install(f"{fake}+debug", InstallOptions(compile_bytecode=False), paths=paths).already_installed
    with pytest.raises(UsageError) as info:
        installer.install(f"{fake}+debug", InstallOptions(compile_bytecode=True), paths=paths)
    assert "stdlib bytecode compiled at install (--compile-bytecode): installed without, asked with" in (
        info.value.message)


def test_a_makefile_without_the_known_compileall_warns_and_compiles_anyway(tmp_path, paths):
    tarball, sha = make_tarball(tmp_path / "src", compileall=OTHER_COMPILEALL)
    recipe = make_recipe(tmp_path, tarball, sha)
    rec = Recorder()
    outcome = installer.install(str(recipe), InstallOptions(compile_bytecode=False), paths=paths, reporter=rec)
    warnings = [e[1] for e in rec.events if e[0] == "warn"]
    assert any("no compileall command pybuild12 knows how to skip" in w and "byte-compiles the standard library "
               "anyway" in w for w in warnings), warnings
    log = outcome.log_path.read_text()
    assert SKIPPED not in log and "no compileall command found to skip" in log
    assert "PYBUILD12_PIP_OPTIONS" not in log  # pip compiles too, as the rest of the install did
    assert outcome.receipt.bytecode is True and len(stdlib_pyc(outcome.prefix)) == 3


def test_install_writes_a_file_manifest_that_a_cache_reinstall_brings_back(fake, paths):
    from pybuild12.store import manifest

    first = installer.install(str(fake), paths=paths)
    assert manifest.compare(first.prefix, "fake").ok
    assert "bin/python" + HOST_MINOR in manifest.read(first.prefix, "fake")
    manifest_bytes = (first.prefix / manifest.FILE).read_bytes()
    rec = Recorder()
    again = installer.install(str(fake), InstallOptions(force=True), paths=paths, reporter=rec)
    assert again.receipt.artifact["from_cache"] is True
    # It came with the artifact: the manifest phase compares the files with it, it is not written again.
    assert [e for e in rec.events if e[:2] == ("start", "manifest")] == [("start", "manifest")]
    assert (again.prefix / manifest.FILE).read_bytes() == manifest_bytes
    assert manifest.compare(again.prefix, "fake").ok


def failing_verifier(python, **kwargs):
    from pybuild12.checks import verify

    return verify.Report(str(python), HOST_VERSION, {},
                         (verify.Check("parallelism", verify.FAILED, "own-GIL interpreters: RuntimeError: boom"),))


def test_a_build_that_fails_verification_is_kept_and_a_retry_does_not_compile(fake, paths, monkeypatch):
    monkeypatch.setattr(verifier, "run", failing_verifier)
    with pytest.raises(CheckError) as info:
        installer.install(str(fake), paths=paths)
    assert not paths.prefix("fake").exists()  # not installed
    kept = paths.kept / "fake"
    python = kept / f"bin/python{HOST_MINOR}"
    assert f"'pybuild12 verify --python {python}'" in info.value.hint and python.exists()
    assert subprocess.run([str(python), "-c", "print(6 * 7)"], capture_output=True, text=True,
                          timeout=60).stdout == "42\n"
    assert "without compiling" in info.value.hint and info.value.log_path
    # The same install again: from the artifact cache, verified again, no compile.
    monkeypatch.setattr(verifier, "run", passing_verifier)
    monkeypatch.setenv("FAKE_FAIL", "configure")  # configure must not run
    rec = Recorder()
    outcome = installer.install(str(fake), paths=paths, reporter=rec)
    assert outcome.receipt.artifact["from_cache"] is True
    assert [e[1] for e in rec.events if e[0] == "end"] == ["unpack", "check", "verify"]
    assert outcome.receipt.verification["ok"] is True
    assert not kept.exists()  # installed now: the kept copy is gone


def test_a_kept_build_that_fails_again_is_not_reused_as_verified(fake, paths, monkeypatch):
    monkeypatch.setattr(verifier, "run", failing_verifier)
    with pytest.raises(CheckError):
        installer.install(str(fake), paths=paths)
    with pytest.raises(CheckError) as info:  # from the cache this time: verified again, and fails again
        installer.install(str(fake), paths=paths)
    assert (paths.kept / "fake").is_dir() and "without compiling" in info.value.hint
    outcome = installer.install(str(fake), InstallOptions(verify=False), paths=paths)
    assert outcome.receipt.artifact["from_cache"] is True and outcome.receipt.verification is None


def test_a_failed_verification_with_no_cache_keeps_the_build_and_says_so(fake, paths, monkeypatch):
    monkeypatch.setattr(verifier, "run", failing_verifier)
    with pytest.raises(CheckError) as info:
        installer.install(str(fake), InstallOptions(no_cache=True), paths=paths)
    assert (paths.kept / "fake" / f"bin/python{HOST_MINOR}").exists()
    assert "not in the artifact cache" in info.value.hint


def test_an_install_asking_for_other_options_says_what_differs(fake, paths):
    installer.install(str(fake), InstallOptions(optimizations=False), paths=paths)
    before = (paths.prefix("fake") / "pybuild12.json").read_text()
    with pytest.raises(UsageError) as info:
        installer.install(str(fake), InstallOptions(optimizations=True, configure_opts=("--without-ensurepip",)),
                          paths=paths)
    assert info.value.exit_code == 2
    assert "PGO (--enable-optimizations): installed without, asked with" in info.value.message
    assert "LTO: installed without, asked with" in info.value.message
    assert "configure options the installed build lacks: --without-ensurepip" in info.value.message
    assert "--force" in info.value.hint and "--name" in info.value.hint
    assert (paths.prefix("fake") / "pybuild12.json").read_text() == before
    # only what was asked explicitly is refused: a configure option alone names no PGO
    with pytest.raises(UsageError) as info:
        installer.install(str(fake), InstallOptions(configure_opts=("--without-ensurepip",)), paths=paths)
    assert "--without-ensurepip" in info.value.message and "PGO" not in info.value.message
    # the same options again: already installed, as before
    assert installer.install(str(fake), InstallOptions(optimizations=False), paths=paths).already_installed
    assert installer.installed_as_asked(str(fake), InstallOptions(optimizations=False), paths=paths) is not None
    with pytest.raises(UsageError):
        installer.installed_as_asked(str(fake), InstallOptions(optimizations=True), paths=paths)
    assert installer.installed_as_asked(str(fake), InstallOptions(force=True), paths=paths) is None


def test_a_request_naming_no_option_is_answered_by_the_installed_build(fake, paths, capsys):
    """After `install X --no-pgo`, a plain `install X` (and `key X`) answers with that build
    and says how it was made, instead of refusing what nobody asked for."""
    made = installer.install(str(fake), InstallOptions(optimizations=False), paths=paths)
    before = (paths.prefix("fake") / "pybuild12.json").read_text()
    again = installer.install(str(fake), InstallOptions(), paths=paths)
    assert again.already_installed and again.prefix == made.prefix
    assert any("built without PGO and LTO" in n and "--force" in n for n in again.notes), again.notes
    assert installer.installed_as_asked(str(fake), InstallOptions(), paths=paths).name == "fake"
    assert (paths.prefix("fake") / "pybuild12.json").read_text() == before
    env = {**os.environ, "PYBUILD12_HOME": str(paths.data.parent)}
    cli = [sys.executable, "-m", "pybuild12"]
    plain = subprocess.run([*cli, "install", str(fake)], capture_output=True, text=True, env=env, timeout=60)
    assert plain.returncode == 0 and "already installed" in plain.stderr and "without PGO" in plain.stderr
    key = subprocess.run([*cli, "key", str(fake)], capture_output=True, text=True, env=env, timeout=60)
    assert key.returncode == 0 and key.stdout.strip() == made.receipt.artifact["key"], key.stderr
    asked = subprocess.run([*cli, "install", str(fake), "--pgo"], capture_output=True, text=True, env=env, timeout=60)
    assert asked.returncode == 2 and "PGO (--enable-optimizations): installed without, asked with" in asked.stderr


def test_a_pinned_version_line_means_the_installed_build_for_every_command(fake, paths, tmp_path):
    """One rule, as uv's: with a build of 3.13.x in place, a pin of `3.13` is that build for
    `install` (no download of the newest 3.13), `key`, `which` and `run` alike."""
    made = installer.install(str(fake), InstallOptions(name="mine", optimizations=False), paths=paths)
    assert made.receipt.version == HOST_VERSION
    project = tmp_path / "project"
    project.mkdir()
    (project / ".python-version").write_text(HOST_MINOR + "\n")
    env = {**os.environ, "PYBUILD12_HOME": str(paths.data.parent), "PYBUILD12_MIRROR": str(tmp_path / "nothing")}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "pybuild12", *args], capture_output=True, text=True, env=env,
                              cwd=project, timeout=60)

    install = cli("install")
    assert install.returncode == 0, install.stderr
    assert install.stdout.strip() == str(made.python) and "answered by the installed mine" in install.stderr
    assert cli("which").stdout.strip() == str(made.python)
    assert cli("run", "-c", "print('ran')").stdout.strip() == "ran"  # through `which`'s resolution (cli.common.build)
    assert cli("key").stdout.strip() == made.receipt.artifact["key"]
    assert not any(p.name.startswith(HOST_MINOR) for p in paths.pythons.iterdir())  # nothing else was built
    # an explicit option the build lacks is not answered by it: the recipe's own build is made (here: fails
    # offline), and nothing is taken away
    other = cli("install", "--pgo")
    assert other.returncode != 0 and made.python.exists()


def test_force_says_why_it_compiles_and_reuses_the_cache_when_it_can(fake, paths):
    installer.install(str(fake), InstallOptions(optimizations=False), paths=paths)
    rec = Recorder()
    replaced = installer.install(str(fake), InstallOptions(force=True), paths=paths, reporter=rec)
    infos = [e[1] for e in rec.events if e[0] == "info"]
    assert any(i.startswith("replacing fake, which was built differently: PGO") for i in infos), infos
    assert "compiling from source: the artifact cache has no build of these sources, options and compiler" in infos
    assert "--enable-optimizations" in replaced.receipt.configure_args
    rec = Recorder()
    back = installer.install(str(fake), InstallOptions(force=True, optimizations=False), paths=paths, reporter=rec)
    assert back.receipt.artifact["from_cache"] is True  # the first build, from the cache
    assert not any(e[0] == "info" and e[1].startswith("compiling") for e in rec.events)


def test_list_shows_how_each_build_was_made(fake, paths, monkeypatch):
    installer.install(str(fake), InstallOptions(optimizations=False), paths=paths)
    installer.install(str(fake), InstallOptions(name="fake-pgo", verify=False), paths=paths)
    out = subprocess.run([sys.executable, "-m", "pybuild12", "list", "--json"], capture_output=True, text=True,
                         env={**os.environ, "PYBUILD12_HOME": str(paths.data.parent)}, timeout=60)
    builds = {b["name"]: b["build"] for b in json.loads(out.stdout)["installed"]}
    assert builds["fake"]["pgo"] is False and builds["fake"]["lto"] is False and builds["fake"]["verified"] == "passed"
    assert builds["fake-pgo"]["optimizations"] == "pgo+lto" and builds["fake-pgo"]["verified"] == "not verified"
    table = subprocess.run([sys.executable, "-m", "pybuild12", "list"], capture_output=True, text=True,
                           env={**os.environ, "PYBUILD12_HOME": str(paths.data.parent), "COLUMNS": "200"},
                           timeout=60).stdout
    assert "pgo+lto" in table and "not verified" in table


def test_install_deps_is_not_run_for_a_build_that_is_installed_or_refused(fake, paths):
    installer.install(str(fake), InstallOptions(optimizations=False), paths=paths)
    env = {**os.environ, "PYBUILD12_HOME": str(paths.data.parent)}
    same = subprocess.run([sys.executable, "-m", "pybuild12", "install", str(fake), "--no-pgo", "--install-deps"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert same.returncode == 0 and "already installed" in same.stderr
    assert "build dependencies" not in same.stderr and "running:" not in same.stderr
    other = subprocess.run([sys.executable, "-m", "pybuild12", "install", str(fake), "--pgo", "--install-deps"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert other.returncode == 2, other.stderr
    assert "not as asked now" in other.stderr and "build dependencies" not in other.stderr


def test_an_install_verified_beside_busy_processes_is_installed_with_parallelism_inconclusive(fake, paths, monkeypatch):
    """The real verifier (on the fake build, which runs a real 3.12+ interpreter) while
    CPU-bound processes hold every core: the timing proves nothing, and the build stays."""
    monkeypatch.setattr(verifier, "run", real_verifier)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
    try:
        outcome = installer.install(str(fake), paths=paths)
    finally:
        for b in burners:
            b.kill()
            b.wait(timeout=10)
    checks = {c["name"]: c for c in outcome.receipt.verification["checks"]}
    assert checks["parallelism"]["status"] == "inconclusive", checks["parallelism"]
    assert outcome.receipt.verification["ok"] is True and outcome.python.exists()
