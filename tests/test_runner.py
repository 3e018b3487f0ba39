"""Every command pybuild12 runs goes through runner: logged, timed out, stopped whole."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pybuild12.core import runner
from pybuild12.core.errors import BuildError, PrerequisiteError, UsageError
from pybuild12.core.settings import Settings


def test_call_logs_the_command_and_its_output(tmp_path):
    log = tmp_path / "build.log"
    lines = []
    runner.call(["sh", "-c", "echo one; echo two >&2"], phase="demo", log_path=log, on_line=lines.append)
    text = log.read_text()
    assert "$ sh -c 'echo one; echo two >&2'" in text and "one\ntwo\n" in text and "### exit code 0" in text
    assert lines == ["one", "two"]


def test_a_failing_step_carries_the_tail_of_its_output(tmp_path):
    with pytest.raises(BuildError) as info:
        runner.call(["sh", "-c", "echo what went wrong; exit 3"], phase="configure", log_path=tmp_path / "l")
    assert info.value.phase == "configure" and "exited with code 3" in info.value.message
    assert info.value.log_tail == "what went wrong"


def test_a_step_past_its_time_is_stopped_with_what_it_started(tmp_path):
    pid_file = tmp_path / "child.pid"
    start = time.monotonic()
    with pytest.raises(BuildError) as info:
        runner.call(["sh", "-c", f"sleep 60 & echo $! > {pid_file}; echo started; wait"], phase="compile",
                    log_path=tmp_path / "l", timeout=1)
    assert time.monotonic() - start < 15
    assert "did not finish in 1 s and was stopped" in info.value.message and "PYBUILD12_STEP_TIMEOUT" in info.value.hint
    child = int(pid_file.read_text())
    for _ in range(50):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the step's child {child} outlived the step")


def test_the_step_time_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(runner.STEP_TIMEOUT_ENV, "90")
    assert Settings.from_env().step_timeout == 90
    for bad in ("soon", "0", "-5"):
        monkeypatch.setenv(runner.STEP_TIMEOUT_ENV, bad)
        with pytest.raises(UsageError, match=runner.STEP_TIMEOUT_ENV):
            _ = Settings.from_env().step_timeout  # read on first use: that is when it raises
    monkeypatch.delenv(runner.STEP_TIMEOUT_ENV)
    assert Settings.from_env().step_timeout == runner.STEP_TIMEOUT


def test_capture_returns_output_and_logs_when_there_is_a_log(tmp_path):
    log = tmp_path / "q.log"
    proc = runner.capture(["sh", "-c", "echo out; echo err >&2; exit 4"], log_path=log)
    assert (proc.returncode, proc.stdout, proc.stderr) == (4, "out\n", "err\n")
    assert "out\nerr\n### exit code 4" in log.read_text()
    assert runner.capture(["sh", "-c", "cat"], input="fed").stdout == "fed"  # no log: nothing written


def test_capture_kills_a_command_past_its_time(tmp_path):
    log = tmp_path / "q.log"
    start = time.monotonic()
    with pytest.raises(runner.TimedOut) as info:
        runner.capture(["sh", "-c", "echo partial; sleep 60"], log_path=log, timeout=1)
    assert time.monotonic() - start < 15 and info.value.seconds == 1
    assert "did not finish in 1 s" in info.value.message and "no answer in 1 s: killed" in log.read_text()


def test_a_missing_tool_is_a_prerequisite_error(tmp_path):
    with pytest.raises(PrerequisiteError, match="no-such-tool-x"):
        runner.capture(["no-such-tool-x", "--version"])
    with pytest.raises(PrerequisiteError, match="no-such-tool-x"):
        runner.call(["no-such-tool-x"], phase="demo", log_path=tmp_path / "l")


def test_feed_streams_into_a_command_and_reports_its_end(tmp_path):
    out = tmp_path / "copy"
    code, errors = runner.feed(["sh", "-c", f"cat > {out}; echo done >&2"], lambda fh: fh.write(b"x" * 300_000))
    assert (code, errors, out.read_bytes()) == (0, "done\n", b"x" * 300_000)
    code, errors = runner.feed(["sh", "-c", "echo refused >&2; exit 2"], lambda fh: fh.write(b"y" * 5_000_000))
    assert (code, errors) == (2, "refused\n")  # it stopped reading: no BrokenPipeError escapes
    start = time.monotonic()
    with pytest.raises(runner.TimedOut):
        runner.feed(["sleep", "60"], lambda fh: None, timeout=1)
    assert time.monotonic() - start < 15


@pytest.mark.skipif(not os.path.exists("/proc/self/autogroup"), reason="no scheduler autogroups on this system")
def test_a_niced_pybuild12s_build_commands_yield_the_cpu_too(tmp_path):
    """A build step runs in a session of its own, which Linux schedules as a group of its own:
    without the group's own nice value, `nice pybuild12 install` would build at full weight."""
    log = tmp_path / "build.log"
    # The step waits (5 s at most) for its group's nice value, which pybuild12 sets just after starting it.
    step = ("for i in $(seq 50); do grep -q 'nice 7$' /proc/self/autogroup && break; sleep 0.1; done; "
            "cat /proc/self/autogroup")
    script = (f"import os; from pathlib import Path; from pybuild12.core import runner; os.nice(7); "
              f"runner.call(['sh', '-c', {step!r}], phase='compile', log_path=Path({str(log)!r}))")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    group = next(line for line in log.read_text().splitlines() if line.startswith("/autogroup-"))
    assert group.endswith(" nice 7")
    # A session, and group, of its own. The default group (a process that never started a session,
    # as under some CI runners) reads as empty.
    assert group.split()[:1] != Path("/proc/self/autogroup").read_text().split()[:1]
