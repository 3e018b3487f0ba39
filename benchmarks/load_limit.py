"""`make -jN` against `make -jN -lN` (a load limit), side by side in one run.

    python benchmarks/load_limit.py [--tarball PATH] [--rounds 2] [--record]

Configures CPython once (without optimizations, so one compile takes about
1.5 minutes on 2 cores), then compiles it from clean with and without the load
limit, alternating which goes first in each round. Prints the best time of each
and their ratio. pybuild12 passes `-l` to make only if this shows it helps.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_vs_raw import ROOT, machine  # noqa: E402
from pybuild12.builder.plan import default_jobs  # noqa: E402


def compile_once(tree: Path, argv: list[str]) -> float:
    subprocess.run(["make", "clean"], cwd=tree, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.monotonic()
    subprocess.run(argv, cwd=tree, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, default=ROOT / ".test-sources" / "Python-3.13.5.tar.xz")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if not args.tarball.is_file():
        parser.error(f"{args.tarball} not found (scripts/fetch-test-sources puts it there)")
    jobs = default_jobs()
    variants = {"-j": ["make", f"-j{jobs}"], "-j -l": ["make", f"-j{jobs}", f"-l{jobs}"]}
    best = {name: float("inf") for name in variants}
    with tempfile.TemporaryDirectory(prefix="pybuild12-load-bench-") as tmp:
        with tarfile.open(args.tarball) as tar:
            tar.extractall(tmp, filter="data")
        tree = next(Path(tmp).iterdir())
        subprocess.run(["./configure", f"--prefix={tmp}/prefix"], cwd=tree, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for round_ in range(args.rounds):
            order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
            for name in order:
                took = compile_once(tree, variants[name])
                best[name] = min(best[name], took)
                print(f"round {round_ + 1}: make {' '.join(variants[name][1:])}: {took:.1f} s", file=sys.stderr)
    ratio = best["-j -l"] / best["-j"]
    desc = machine()
    print(f"machine:      {desc}")
    print(f"make -j{jobs}:     {best['-j']:.1f} s (best of {args.rounds})")
    print(f"make -j{jobs} -l{jobs}: {best['-j -l']:.1f} s (best of {args.rounds})")
    print(f"with/without the load limit: {ratio:.3f}x (below 1: the limit helps)")
    if args.record:
        when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write(f"| {when} | load_limit | 3.13.5 without optimizations, compile from clean, best of {args.rounds} "
                     f"| make -j{jobs} {best['-j']:.1f} s | make -j{jobs} -l{jobs} {best['-j -l']:.1f} s "
                     f"| **{ratio:.3f}x** | {desc} |\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
