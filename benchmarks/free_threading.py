"""Free-threading against the GIL: threads, sub-interpreters and processes on two builds, side by side in one run.

    python benchmarks/free_threading.py --default PATH --freethreaded PATH [--workers N]
        [--no-speed] [--fast] [--benchmarks nbody,float,...] [--record]

PATHs are a default (GIL) build's and a free-threaded (PEP 703, --disable-gil)
build's python. Everything is measured by the interpreters under test, never
by this script's own Python, in two parts:

1. Scaling, about 10 s per build with 2 workers. The verifier's own timing code
   (`verify_interp.py --scaling N`, as in parallelism.py) runs inside each
   build: 1..N CPU-bound workers as threads of one interpreter, as own-GIL
   sub-interpreters each run from a thread (on the free-threaded build too,
   where it can create them), and as processes, the control. Each figure is
   the best of 3 runs: the throughput over one worker and the wall seconds of
   all the workers. The loop per worker is calibrated on each build to about
   0.12 s in a thread (inside a function); sub-interpreters and processes run it
   as top-level code, with global variables, about twice as slow. So the seconds
   show what each speedup rests on (twice the one-worker time: serialized), and
   the nanoseconds per loop iteration in a thread, printed per build, compare
   the builds.
2. Single-thread cost, skipped with --no-speed: interpreter_speed.py on its
   pyperformance subset, the default build as baseline, so a ratio below 1
   means the free-threaded build is slower. About 4-5 min per build for the
   default subset, half that with --fast; the first run also installs
   pyperformance (interpreter_speed.py's docstring says where).

Target with 2 workers: on the free-threaded build threads reach at least 75%
of the processes' speedup; on the default build threads stay near 1.0x (at
most 1.1x), held back by the GIL. When the processes themselves fall short of
1.3x (the verifier's control) the machine was too busy and the run says
nothing. `--record` appends the scaling row to benchmarks/RESULTS.md and has
interpreter_speed.py record its own row.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from build_vs_raw import ROOT, machine  # noqa: E402
from interpreter_speed import insert_figures  # noqa: E402

SCRIPT = ROOT / "pybuild12" / "resources" / "verify_interp.py"
KINDS = {"threads": "threads", "interpreters": "sub-interpreters", "processes": "processes"}
PROBE = ("import platform, sysconfig; "
         "print(platform.python_version(), bool(sysconfig.get_config_var('Py_GIL_DISABLED')))")


@dataclass(frozen=True)
class Build:
    label: str
    path: Path
    version: str


def probe(parser: argparse.ArgumentParser, label: str, path: str, free: bool) -> Build:
    """The build behind PATH, refused (exit 2) when it is not of the kind its option names."""
    found = shutil.which(path)
    if found is None:
        parser.error(f"--{label} {path}: not an executable")
    out = subprocess.run([found, "-I", "-c", PROBE], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        parser.error(f"--{label} {path}: exited with {out.returncode}: {out.stderr.strip()}")
    version, disabled = out.stdout.split()
    if (disabled == "True") != free:
        what = ("is not free-threaded (sysconfig Py_GIL_DISABLED is not set); give a build configured with "
                "--disable-gil, usually bin/python3.Xt" if free else
                "is free-threaded (sysconfig Py_GIL_DISABLED=1); give a build with the GIL")
        parser.error(f"--{label} {path}: Python {version} {what}")
    return Build(label, Path(found).absolute(), version)


def parse_args() -> tuple[argparse.Namespace, list[Build]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--default", required=True, metavar="PATH", help="a default (GIL) build's python")
    parser.add_argument("--freethreaded", required=True, metavar="PATH", help="a free-threaded build's python")
    parser.add_argument("--workers", type=int, default=2, help="the most workers to run (default: %(default)s)")
    parser.add_argument("--no-speed", action="store_true", help="skip the pyperformance part")
    parser.add_argument("--fast", action="store_true", help="pyperformance's --fast: rough figures, quickly")
    parser.add_argument("--benchmarks",
                        help="comma-separated pyperformance benchmarks (default: interpreter_speed.py's)")
    parser.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = parser.parse_args()
    if args.workers < 2:
        parser.error("--workers must be at least 2: with one worker there is nothing to run in parallel")
    if args.no_speed and (args.fast or args.benchmarks):
        parser.error("--fast and --benchmarks are for the pyperformance part, which --no-speed skips")
    return args, [probe(parser, "default", args.default, False), probe(parser, "freethreaded", args.freethreaded, True)]


def scaling(build: Build, workers: int) -> dict:
    print(f"scaling on {build.label} ({build.version})...", file=sys.stderr, flush=True)
    out = subprocess.run([str(build.path), "-I", str(SCRIPT), "--scaling", str(workers)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"{build.label}: {SCRIPT.name} --scaling {workers} exited with {out.returncode}:\n"
                 f"{out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def cell(row: dict, kind: str) -> str:
    if row.get(kind) is None:
        return "failed"
    return f"{row[kind]:.2f}x {row['seconds_all_workers'][kind]:6.3f} s"


def print_scaling(builds: list[Build], data: dict[str, dict]) -> None:
    for build in builds:
        d = data[build.label]
        ns = 1e9 * d["rows"][0]["seconds_one_worker"]["threads"] / d["iterations"]
        gil = "GIL enabled" if d["gil_enabled"] else "GIL disabled"
        print(f"{build.label + ':':<13} {build.path} ({d['python']}, {gil}), {ns:.1f} ns per loop iteration")
    lines = [["", *(f"{row['workers']} worker{'s' * (row['workers'] > 1)}" for row in data[builds[0].label]["rows"])]]
    for kind, name in KINDS.items():
        lines += [[f"{name}, {b.label}", *(cell(row, kind) for row in data[b.label]["rows"])] for b in builds]
    widths = [max(len(line[col]) for line in lines) for col in range(len(lines[0]))]
    print("\nthroughput over 1 worker, wall seconds of all workers (best of 3):")
    for line in lines:
        print("  ".join([line[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True))]))
    for build in builds:
        if data[build.label]["interpreters_error"]:
            print(f"sub-interpreters, {build.label}: {data[build.label]['interpreters_error']}")


def verdict(data: dict[str, dict]) -> tuple[list[str], str]:
    """The targets at the most workers, in words, and the free-threaded threads' share of processes."""
    default, free = data["default"]["rows"][-1], data["freethreaded"]["rows"][-1]
    control = 1 + 0.3 * (free["workers"] - 1)
    share = free["threads"] / free["processes"]
    lines = []
    for row, name, met, figure in (
            (free, "free-threaded threads >= 75% of processes", share >= 0.75,
             f"{free['threads']:.2f}x of {free['processes']:.2f}x = {share:.0%}"),
            (default, "default threads <= 1.1x", default["threads"] <= 1.1, f"{default['threads']:.2f}x")):
        status = "met" if met else "NOT met"
        if row["processes"] < control:
            status = f"inconclusive, processes only {row['processes']:.2f}x (a busy machine?)"
        lines.append(f"target at {row['workers']} workers: {name} ({figure}): {status}")
    return lines, f"{share:.0%}"


def record(builds: list[Build], data: dict[str, dict], share: str) -> None:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    sides = []
    for build in builds:
        last = data[build.label]["rows"][-1]
        figures = ", ".join(f"{name} {last[kind]:.2f}x" if last.get(kind) is not None else f"{name} failed"
                            for kind, name in KINDS.items())
        sides.append(f"{build.label} {build.version}: {figures}")
    workers = data["default"]["rows"][-1]["workers"]
    insert_figures([f"| {when} | free_threading | {workers} workers, CPU-bound, throughput over 1 worker "
                    f"(best of 3) | {sides[0]} | {sides[1]} | **free-threaded threads at {share} of processes** "
                    f"| {machine()} |\n"])


def speed(builds: list[Build], args: argparse.Namespace) -> int:
    """interpreter_speed.py in a process of its own; its table goes straight to our stdout."""
    argv = [sys.executable, str(HERE / "interpreter_speed.py")]
    for build in builds:
        argv += ["--python", f"{build.label}={build.path}"]
    argv += ["--fast"] * args.fast + ["--record"] * args.record
    if args.benchmarks:
        argv += ["--benchmarks", args.benchmarks]
    print(f"\nsingle-thread cost: {' '.join(argv[1:])}\n", flush=True)
    return subprocess.run(argv, check=False).returncode


def main() -> int:
    args, builds = parse_args()
    start = time.monotonic()
    data = {build.label: scaling(build, args.workers) for build in builds}
    print(f"machine:      {machine()}")
    print_scaling(builds, data)
    lines, share = verdict(data)
    print("\n".join(lines))
    print(f"scaling took {time.monotonic() - start:.0f} s", flush=True)
    if args.record:
        record(builds, data, share)
    code = 0 if args.no_speed else speed(builds, args)
    print(f"\ntotal {(time.monotonic() - start) / 60:.1f} min")
    return code


if __name__ == "__main__":
    sys.exit(main())
