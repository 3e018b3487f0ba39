"""Cold build against reinstall from the local artifact cache, side by side in one run.

    python benchmarks/cache_reinstall.py [--tarball PATH] [--record]

1. `pybuild12 install 3.13.5`: a cold build into a fresh PYBUILD12_HOME
   (it compiles, verifies, then packs the build into the artifact cache);
2. `pybuild12 uninstall 3.13.5`;
3. `pybuild12 install 3.13.5` again: unpacked from the cache, checked and verified.
Prints both wall times and their ratio. Targets: reinstall at most 10 s, at least 30x faster.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_vs_raw import ROOT, machine  # noqa: E402


def pybuild12(env: dict, *args: str) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "pybuild12", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="3.13.5")
    parser.add_argument("--tarball", type=Path, default=ROOT / ".test-sources" / "Python-3.13.5.tar.xz")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if not args.tarball.is_file():
        parser.error(f"{args.tarball} not found (scripts/fetch-test-sources puts it there)")
    with tempfile.TemporaryDirectory(prefix="pybuild12-cache-bench-") as home:
        env = dict(os.environ, PYBUILD12_HOME=home, PYBUILD12_MIRROR=str(args.tarball.resolve().parent))
        print("cold build...", file=sys.stderr, flush=True)
        cold = pybuild12(env, "install", args.recipe)
        pybuild12(env, "uninstall", args.recipe)
        print("reinstall from the cache...", file=sys.stderr, flush=True)
        warm = pybuild12(env, "install", args.recipe)
        receipt = json.loads((Path(home) / "data" / "pythons" / args.recipe / "pybuild12.json").read_text())
        assert receipt["artifact"]["from_cache"], "the reinstall did not come from the cache"
        phases = receipt["timings"]
    desc = machine()
    print(f"machine:   {desc}")
    print(f"cold:      {cold:.1f} s  (pybuild12 install {args.recipe}: build, verify, pack)")
    print(f"reinstall: {warm:.1f} s  (from the local artifact cache: {', '.join(f'{k} {v:.1f} s' for k, v in phases.items())})")
    print(f"speed-up:  {cold / warm:.1f}x  (targets: reinstall <= 10 s, >= 30x)")
    if args.record:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
            when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
            fh.write(f"| {when} | cache_reinstall | {args.recipe} | cold {cold:.1f} s | reinstall {warm:.1f} s "
                     f"({', '.join(f'{k} {v:.1f}' for k, v in phases.items())}) | **{cold / warm:.1f}x** | {desc} |\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
