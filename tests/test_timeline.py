"""tests/timeline.py: a line per test (lane, group, run, times, CPU) and per real build."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import timeline
from timeline import record_build

TESTS = Path(__file__).parent

# A child that burns 0.3 s of CPU (counted by CPU time, not the clock, so that a busy
# machine cannot make it burn less), and one that sleeps as long.
BURN = "import time\nwhile time.process_time() < 0.3: pass\n"
SLEEP = "import time\ntime.sleep(0.3)\n"

SAMPLE = f'''
import subprocess, sys, time
import pytest
from timeline import record_build

def test_sleeping_child():
    subprocess.run([sys.executable, "-c", {SLEEP!r}], check=True, timeout=60)

@pytest.mark.xdist_group("lane-a")
def test_burning_child():
    subprocess.run([sys.executable, "-c", {BURN!r}], check=True, timeout=60)

def test_burning_here():
    start = time.process_time()
    while time.process_time() < start + 0.2:
        pass

def test_fails():
    assert False

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

@pytest.fixture
def broken():
    raise RuntimeError("setup breaks")

def test_error_in_setup(broken):
    pass

def test_a_build():
    with record_build("fake 3.13") as timed:
        subprocess.run([sys.executable, "-c", {BURN!r}], check=True, timeout=60)
    assert timed.cpu >= 0.25
'''


def run_pytest(tmp_path: Path, *args: str, run: str = "unit") -> tuple[subprocess.CompletedProcess, Path]:
    """pytest with the timeline plugin on SAMPLE, in a directory of its own (not this suite's
    configuration), with PYBUILD12_TEST_TIMELINE set; returns the run and the directory."""
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    out = tmp_path / "timeline"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_XDIST_WORKER", "PYTEST_ADDOPTS")}
    env.update({timeline.DIR_ENV: str(out), timeline.RUN_ENV: run, "PYTHONPATH": str(TESTS)})
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "timeline", "-p", "no:cacheprovider", "-q",
                           "--rootdir", str(tmp_path), "-c", str(tmp_path / "pytest.ini"), *args,
                           str(tmp_path / "test_sample.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    return proc, out


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def by_name(records: list[dict]) -> dict[str, dict]:
    return {r["nodeid"].split("::")[-1].split("@")[0]: r for r in records}


def test_each_test_gets_a_line_with_its_times_outcome_and_cpu(tmp_path):
    before = time.time()
    proc, out = run_pytest(tmp_path, run="unit-timing")
    assert "2 failed" not in proc.stdout and "1 failed" in proc.stdout, proc.stdout + proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["builds-main.jsonl", "tests-main.jsonl"]
    tests = by_name(lines(out / "tests-main.jsonl"))
    assert set(tests) == {"test_sleeping_child", "test_burning_child", "test_burning_here", "test_fails",
                          "test_skipped", "test_error_in_setup", "test_a_build"}
    assert {(r["worker"], r["run"]) for r in tests.values()} == {("main", "unit-timing")}
    assert tests["test_burning_child"]["group"] == "lane-a" and tests["test_fails"]["group"] is None
    assert {name: r["outcome"] for name, r in tests.items() if r["outcome"] != "passed"} == {
        "test_fails": "failed", "test_skipped": "skipped", "test_error_in_setup": "error"}
    assert all(before <= r["start"] <= r["end"] <= time.time() for r in tests.values())
    # CPU, not the clock: the child that burns counts its 0.3 s, the one that sleeps hardly any
    assert tests["test_burning_child"]["cpu"] >= 0.25
    assert tests["test_sleeping_child"]["end"] - tests["test_sleeping_child"]["start"] >= 0.3
    assert tests["test_sleeping_child"]["cpu"] < 0.2
    assert tests["test_burning_here"]["cpu"] >= 0.2  # this process's own CPU counts too
    build, = lines(out / "builds-main.jsonl")
    assert build["build"] == "fake 3.13" and build["worker"] == "main" and build["ok"] is True
    assert build["cpu"] >= 0.25
    assert tests["test_a_build"]["start"] <= build["start"] <= build["end"] <= tests["test_a_build"]["end"]


def test_each_xdist_worker_writes_its_own_file_with_its_lane_and_group(tmp_path):
    pytest.importorskip("xdist")
    proc, out = run_pytest(tmp_path, "-n", "2", "--dist", "loadgroup")
    assert "1 failed" in proc.stdout, proc.stdout + proc.stderr
    files = sorted(out.glob("tests-*.jsonl"))
    assert files and all(f.name.startswith("tests-gw") for f in files)
    records = []
    for path in files:
        mine = lines(path)
        assert {r["worker"] for r in mine} == {path.name[len("tests-"):-len(".jsonl")]}
        records += mine
    tests = by_name(records)
    assert len(records) == len(tests) == 7
    assert tests["test_burning_child"]["group"] == "lane-a"
    assert tests["test_burning_child"]["nodeid"].endswith("@lane-a")  # as xdist's loadgroup names it
    assert {r["run"] for r in records} == {"unit"}


def test_no_directory_no_files(tmp_path):
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n")
    env = {k: v for k, v in os.environ.items() if k != timeline.DIR_ENV}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "timeline", "-p", "no:cacheprovider", "-q",
                           "--rootdir", str(tmp_path), "-c", os.devnull, "test_one.py"],
                          cwd=tmp_path, env={**env, "PYTHONPATH": str(TESTS)}, capture_output=True, text=True,
                          timeout=120)
    assert "1 passed" in proc.stdout, proc.stdout + proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__") == ["test_one.py"]


def test_record_build_only_times_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(timeline.DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with record_build("quiet") as timed:
        subprocess.run([sys.executable, "-c", BURN], check=True, timeout=60)
    assert timed.name == "quiet" and timed.wall > 0 and timed.cpu >= 0.25
    assert list(tmp_path.iterdir()) == []


def test_record_build_writes_a_line_also_when_the_build_fails(tmp_path, monkeypatch):
    monkeypatch.setenv(timeline.DIR_ENV, str(tmp_path / "t"))
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw7")
    with pytest.raises(subprocess.CalledProcessError):
        with record_build("3.13.5 --debug"):
            subprocess.run([sys.executable, "-c", BURN + "raise SystemExit(2)"], check=True, timeout=60)
    build, = lines(tmp_path / "t" / "builds-gw7.jsonl")
    assert build["build"] == "3.13.5 --debug" and build["worker"] == "gw7" and build["ok"] is False
    assert build["cpu"] >= 0.25 and build["end"] > build["start"]
