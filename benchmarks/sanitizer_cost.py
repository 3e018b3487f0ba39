"""What ThreadSanitizer costs: 3.13.5t+tsan against 3.13.5t, side by side in one run.

    python benchmarks/sanitizer_cost.py [--home DIR] [--tarball PATH] [--workers N] [--record]

Installs both builds with pybuild12 (the plain one with --no-pgo, as the TSan build goes
without PGO and LTO: the same optimizations on both sides) into DIR (default: a
temporary home; give one to reuse builds between runs), and reports:

1. build time: the receipt's configure, compile and install phases of each (a build
   already installed in DIR is not built again: its receipt still has its times);
2. the parallelism workload (the verifier's own, `verify_interp.py --scaling N`: CPU-bound
   workers as threads and as own-GIL sub-interpreters), run by each build with its
   runtime options (the TSan build's suppressions, as pybuild12 runs it): nanoseconds per
   loop iteration of one worker, and the slowdown of the TSan build over the plain one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from build_vs_raw import ROOT, machine  # noqa: E402
from pybuild12.builder import sanitizers  # noqa: E402

SCRIPT = ROOT / "pybuild12" / "resources" / "verify_interp.py"
BUILDS = (("3.13.5t", "3.13.5+freethreaded", ["--no-pgo"]), ("3.13.5t+tsan", "3.13.5+freethreaded+tsan", []))
PHASES = ("configure", "compile", "install")


def install(spec: str, opts: list[str], env: dict) -> dict:
    print(f"install {spec} {' '.join(opts)}...", file=sys.stderr, flush=True)
    out = subprocess.run([sys.executable, "-m", "pybuild12", "install", spec, *opts, "--json"], env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"pybuild12 install {spec} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)


def workload(python: Path, workers: int) -> dict:
    env = {**os.environ, **sanitizers.runtime_env(python, os.environ)}
    out = subprocess.run([str(python), "-I", str(SCRIPT), "--scaling", str(workers)], env=env, capture_output=True,
                         text=True)
    if out.returncode != 0:
        sys.exit(f"{python}: --scaling exited {out.returncode}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def per_iteration(data: dict, kind: str) -> float | None:
    """Nanoseconds per loop iteration of one worker of `kind`."""
    seconds = data["rows"][0]["seconds_one_worker"].get(kind)
    return None if seconds is None else seconds / data["iterations"] * 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--tarball", type=Path, default=ROOT / ".test-sources" / "Python-3.13.5.tar.xz")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if not args.tarball.is_file():
        parser.error(f"{args.tarball} not found (scripts/fetch-test-sources puts it there)")
    with tempfile.TemporaryDirectory(prefix="pybuild12-san-bench-") as temporary:
        home = args.home or Path(temporary)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYBUILD12_")}
        env.update(PYBUILD12_HOME=str(home), PYBUILD12_MIRROR=str(args.tarball.resolve().parent))
        rows = []
        for spec, name, opts in BUILDS:
            installed = install(spec, opts, env)
            receipt = json.loads((Path(installed["prefix"]) / "pybuild12.json").read_text())
            built = sum(v for k, v in receipt.get("timings", {}).items() if k in PHASES)
            print(f"workload on {name}...", file=sys.stderr, flush=True)
            rows.append((name, built, workload(Path(installed["python"]), args.workers)))
    plain, tsan = rows
    lines = [f"machine: {machine()}"]
    for name, built, data in rows:
        thread, interpreter = per_iteration(data, "threads"), per_iteration(data, "interpreters") or float("nan")
        lines.append(f"{name:26} build {built:6.0f} s   one worker: thread {thread:7.1f} ns/iter, "
                     f"interpreter {interpreter:7.1f} ns/iter")
    for kind in ("threads", "interpreters"):
        a, b = per_iteration(plain[2], kind), per_iteration(tsan[2], kind)
        if a and b:
            lines.append(f"ThreadSanitizer slowdown, {kind}: {b / a:.1f}x")
    lines.append(f"ThreadSanitizer build time: {tsan[1] / plain[1]:.1f}x the plain build's")
    print("\n".join(lines))
    if args.record:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
            when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
            fh.write(f"\n### Sanitizer cost, {when} (`sanitizer_cost.py`, {args.workers} workers)\n\n```\n"
                     + "\n".join(lines) + "\n```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
