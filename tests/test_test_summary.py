"""scripts/test-summary: phases, outcomes, lanes, real builds and the slowest tests, from a results directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def summary(directory: Path) -> list[str]:
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "test-summary"), str(directory)],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return out.splitlines()


def after(lines: list[str], header: str) -> list[str]:
    """The lines below the first line that starts with `header` (after its indent)."""
    return lines[next(i for i, line in enumerate(lines) if line.strip().startswith(header)) + 1:]


def write_jsonl(path: Path, records: list[dict], tail: str = "") -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)


def record(nodeid: str, worker: str, run: str, start: float, end: float, cpu: float, group: str | None = None) -> dict:
    return {"nodeid": nodeid, "worker": worker, "run": run, "start": start, "end": end, "cpu": cpu,
            "group": group, "outcome": "passed"}


def test_the_summary_shows_phases_outcomes_and_the_slowest_tests(tmp_path):
    (tmp_path / "phases").write_text("apt (build dependencies) 65\nunit tests (pytest -n auto) 200\n")
    (tmp_path / "unit.xml").write_text(
        '<testsuites><testsuite>'
        '<testcase classname="tests.test_a" name="test_fast" time="0.5"/>'
        '<testcase classname="tests.integration.test_b" name="test_slow" time="905.2"/>'
        '<testcase classname="tests.test_c" name="test_bad" time="2"><failure message="x"/></testcase>'
        '<testcase classname="tests.test_d" name="test_skip" time="0"><skipped message="y"/></testcase>'
        '</testsuite></testsuites>')
    lines = summary(tmp_path)
    out = "\n".join(lines)
    assert "1m05.0s  apt (build dependencies)" in out and "4m25.0s  in all" in out
    assert "  tests: 2 passed, 1 failed, 1 skipped" in lines
    assert "lanes" not in out and "real builds" not in out  # no timeline here: nothing made up
    slowest = after(lines, "slowest")
    assert slowest[0].split() == ["15m05.2s", "test_b::test_slow"]
    assert [line.split()[-1] for line in slowest[1:]] == ["tests.test_c::test_bad", "tests.test_a::test_fast",
                                                          "tests.test_d::test_skip"]


def two_runs(directory: Path) -> None:
    """A unit run on two workers (from t=1000 to 1100) and an integration run on two (5000 to 5600)."""
    (directory / "phases").write_text("unit tests 110\nintegration tests 610\n")
    write_jsonl(directory / "tests-gw0.jsonl", [
        record("tests/test_a.py::test_a", "gw0", "unit", 1000, 1030, 20),
        record("tests/test_a.py::test_b", "gw0", "unit", 1020, 1050, 25),  # overlaps test_a: counted once
        record("tests/test_c.py::test_c", "gw0", "unit", 1080, 1100, 10),
        record("tests/integration/test_real_build.py::test_installs@session-build", "gw0", "integration",
             5000, 5600, 1100, "session-build"),
    ])
    write_jsonl(directory / "tests-gw1.jsonl", [
        record("tests/test_d.py::test_d", "gw1", "unit", 1010, 1100, 85),
        record("tests/integration/test_docker_image.py::test_image@image", "gw1", "integration", 5000, 5300, 200,
             "image"),
        record("tests/integration/test_debug_build.py::test_debug@debug", "gw1", "integration", 5300, 5400, 300,
             "debug"),
    ], tail='{"nodeid": "tests/test_cut')  # a worker killed mid-line
    write_jsonl(directory / "builds-gw0.jsonl", [
        {"build": "3.13.5 session", "worker": "gw0", "start": 5010, "end": 5510, "cpu": 900, "ok": True}])
    write_jsonl(directory / "builds-gw1.jsonl", [
        {"build": "3.13.5 --debug", "worker": "gw1", "start": 5300, "end": 5390, "cpu": 150, "ok": False}])


def test_lanes_show_their_span_tests_busy_share_cpu_and_groups(tmp_path):
    two_runs(tmp_path)
    lines = summary(tmp_path)
    lanes = after(lines, "lanes")
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in lanes[1:5]}
    # start and end from the run's first start; busy: the union of its tests over the run's span
    assert rows[("unit", "gw0")] == ["0m00.0s", "1m40.0s", "3", "70%", "0m55.0s"]
    assert rows[("unit", "gw1")] == ["0m10.0s", "1m40.0s", "1", "90%", "1m25.0s"]
    assert rows[("integration", "gw0")] == ["0m00.0s", "10m00.0s", "1", "100%", "18m20.0s", "session-build"]
    # gw1 was idle for the run's last 200 s: 400 of 600 s busy
    assert rows[("integration", "gw1")] == ["0m00.0s", "6m40.0s", "2", "67%", "8m20.0s", "debug,", "image"]
    assert lanes[5] == "  cpu: unit 2m20.0s in 1m40.0s (1.4 cores); integration 26m40.0s in 10m00.0s (2.7 cores);" \
                       " in all 29m00.0s"
    assert "  tests: 7 passed, 0 failed, 0 skipped" in lines  # no JUnit XML: counted from the timeline


def test_builds_show_wall_cpu_and_their_ratio(tmp_path):
    two_runs(tmp_path)
    builds = after(summary(tmp_path), "real builds (2;")
    assert builds[1].split() == ["8m20.0s", "15m00.0s", "1.80", "3.13.5", "session", "[gw0]"]
    assert builds[2].split() == ["1m30.0s", "2m30.0s", "1.67", "3.13.5", "--debug", "[gw1]", "(failed)"]
    assert builds[3].split() == ["9m50.0s", "17m30.0s", "in", "all"]


def test_slowest_tests_show_wall_and_cpu(tmp_path):
    two_runs(tmp_path)
    slowest = after(summary(tmp_path), "slowest tests (wall and cpu")
    assert [line.split() for line in slowest[:3]] == [
        ["10m00.0s", "18m20.0s", "test_real_build.py::test_installs"],  # the group's @ and the directory left out
        ["5m00.0s", "3m20.0s", "test_docker_image.py::test_image"],
        ["1m40.0s", "5m00.0s", "test_debug_build.py::test_debug"]]
    assert len(slowest) == 7 and slowest[3].split()[-1] == "tests/test_d.py::test_d"


def test_long_lists_are_cut_to_one_screen(tmp_path):
    write_jsonl(tmp_path / "tests-main.jsonl",
                [record(f"tests/test_n.py::test_{i}", "main", "unit-timing", 100 + 30 * i, 101 + 31 * i, 1)
                 for i in range(20)])
    lines = summary(tmp_path)
    assert after(lines, "lanes")[1].split() == ["unit-timing", "main", "0m00.0s", "9m50.0s", "20", "36%", "0m20.0s"]
    slowest = after(lines, "slowest tests")
    assert len(slowest) == 12 and slowest[0].split()[-1] == "tests/test_n.py::test_19"
