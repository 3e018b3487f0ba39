"""Parallelism of a build: own-GIL sub-interpreters against threads and processes.

    python benchmarks/parallelism.py PYTHON [--workers N] [--record]

Runs the verifier's own timing code inside PYTHON (a build's bin/python3.X, or
any 3.12+ interpreter): N CPU-bound workers as own-GIL interpreters (each run
from a thread), as threads in one interpreter, and as processes, each the best
of 3 runs, and prints the throughput speedup over one worker for 1..N workers.
Target on 2 cores: interpreters at least 1.8x with 2 workers, threads at most 1.1x.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "pybuild12" / "resources" / "verify_interp.py"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_vs_raw import machine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("python")
    parser.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 4))
    parser.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = parser.parse_args()
    out = subprocess.run([args.python, "-I", str(SCRIPT), "--scaling", str(args.workers)],
                         capture_output=True, text=True, check=True)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    desc = machine()
    print(f"python:  {args.python} ({data['python']}, {data['api']['low_level']})")
    print(f"machine: {desc}")
    print("workers  own-GIL interpreters  threads  processes   (throughput over 1 worker, best of 3)")
    for row in data["rows"]:
        print(f"{row['workers']:>7}  {row['interpreters']:>19.2f}x  {row['threads']:>6.2f}x  {row['processes']:>8.2f}x")
    last = data["rows"][-1]
    print(f"target at {last['workers']} workers: interpreters >= 1.8x ({last['interpreters']:.2f}x), "
          f"threads <= 1.1x ({last['threads']:.2f}x)")
    if args.record:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
            when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
            fh.write(f"| {when} | parallelism | {data['python']} ({data['api']['low_level']}), "
                     f"{last['workers']} workers | threads {last['threads']:.2f}x | own-GIL interpreters "
                     f"{last['interpreters']:.2f}x | processes {last['processes']:.2f}x | {desc} |\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
