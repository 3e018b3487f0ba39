"""pybuild12's install against the raw commands it wraps, side by side in one run.

    python benchmarks/build_vs_raw.py [--tarball PATH] [--jobs N] [--order pr|rp] [--record]

Builds the same CPython tarball twice, one after the other on the same
machine: once with `pybuild12 install <recipe>` (fetching from a local
mirror, so the network is not measured) and once with the raw
`tar xf && ./configure --prefix=... --enable-optimizations && make -jN && make install`.
Prints both wall times and their ratio (target: pybuild12 at most 1.03x raw).
`--record` appends the figures to benchmarks/RESULTS.md with the machine's description.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cc = subprocess.run(["cc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return f"{os.cpu_count()} cores ({model}), {mem:.0f} GiB, {platform.system()} {platform.release()}, {cc}"


def timed(argv: list[str], **kwargs) -> float:
    start = time.monotonic()
    subprocess.run(argv, check=True, **kwargs)
    return time.monotonic() - start


def run_pybuild12(recipe: str, tarball: Path, jobs: int, work: Path) -> tuple[float, dict[str, float]]:
    """Wall time of the whole command, and the phase times its receipt records."""
    home = work / "home"
    env = dict(os.environ, PYBUILD12_HOME=str(home), PYBUILD12_MIRROR=str(tarball.parent))
    env.pop("PYBUILD12_CONFIGURE_OPTS", None)
    argv = [sys.executable, "-m", "pybuild12", "install", recipe, "--jobs", str(jobs)]
    with open(work / "pybuild12.out", "w") as out:
        wall = timed(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    receipt = json.loads((home / "data" / "pythons" / recipe / "pybuild12.json").read_text())
    return wall, receipt["timings"]


def run_raw(tarball: Path, jobs: int, work: Path) -> tuple[float, dict[str, float]]:
    prefix = work / "prefix"
    tree = work / tarball.name.split(".tar")[0]
    steps = {
        "extract": (["tar", "xf", str(tarball), "-C", str(work)], work),
        "configure": (["./configure", f"--prefix={prefix}", "--enable-optimizations"], tree),
        "compile": (["make", f"-j{jobs}"], tree),
        "install": (["make", "install"], tree),
    }
    phases = {}
    with open(work / "raw.out", "w") as out:
        for phase, (argv, cwd) in steps.items():
            phases[phase] = timed(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    return sum(phases.values()), phases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="3.13.5")
    parser.add_argument("--tarball", type=Path, default=ROOT / ".test-sources" / "Python-3.13.5.tar.xz")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--order", choices=["pr", "rp"], default="pr", help="p = pybuild12, r = raw")
    parser.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = parser.parse_args()
    if not args.tarball.is_file():
        parser.error(f"{args.tarball} not found (scripts/fetch-test-sources puts it there)")

    times: dict[str, float] = {}
    phases: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="pybuild12-bench-") as tmp:
        for who in args.order:
            key = "pybuild12" if who == "p" else "raw"
            work = Path(tmp) / who
            work.mkdir()
            print(f"building with {key}...", file=sys.stderr, flush=True)
            if who == "p":
                times[key], phases[key] = run_pybuild12(args.recipe, args.tarball.resolve(), args.jobs, work)
            else:
                times[key], phases[key] = run_raw(args.tarball.resolve(), args.jobs, work)
            print(f"  {times[key]:.1f} s", file=sys.stderr, flush=True)
            shutil.rmtree(work, ignore_errors=True)

    ratio = times["pybuild12"] / times["raw"]
    desc = machine()
    print(f"machine:   {desc}")
    print(f"raw:       {times['raw']:.1f} s  "
          f"(tar xf + configure --enable-optimizations + make -j{args.jobs} + make install)")
    print(f"pybuild12: {times['pybuild12']:.1f} s  (pybuild12 install {args.recipe} from a local mirror)")
    print(f"ratio:     {ratio:.3f}x  (target <= 1.03x)")
    print("phase       raw s  pybuild12 s")
    for phase in ("fetch", "extract", "configure", "compile", "install", "check"):
        raw_s = phases["raw"].get(phase)
        print(f"{phase:<10} {raw_s if raw_s is not None else float('nan'):>6.1f}  "
              f"{phases['pybuild12'].get(phase, float('nan')):>11.1f}")
    outside = times["pybuild12"] - sum(phases["pybuild12"].values())
    print(f"pybuild12 outside its phases (start-up, preflight, clean-up): {outside:.1f} s")
    if args.record:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
            when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
            fh.write(
                f"| {when} | build_vs_raw | {args.recipe}, -j{args.jobs}, order {args.order} | "
                f"raw {times['raw']:.1f} s | pybuild12 {times['pybuild12']:.1f} s | **{ratio:.3f}x** | {desc} |\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
