"""A cold PGO build against a build with the recorded profile, then how fast each interpreter runs.

    python benchmarks/pgo_reuse.py [--tarball PATH] [--no-speed] [--fast] [--record]

In one fresh PYBUILD12_HOME, one after the other:
1. `pybuild12 install 3.13.5 --name fresh`: the cold optimized build as the recipe
   asks (`--enable-optimizations --with-lto`: instrumented build, training run,
   optimized build); it records its profile;
2. `pybuild12 install 3.13.5 --name reused`: another prefix, so no artifact matches,
   but the recorded profile does: configure, restore the `.gcda` files, optimized build;
3. `pybuild12 install <3.13.5 without optimizations> --name plain`: the same sources
   built without `--enable-optimizations` (and so without LTO), the baseline for
   interpreter speed.
Prints the wall times and the ratio reused/fresh (target: at most 0.5x). Then, unless
`--no-speed`, runs `interpreter_speed.py` (a pyperformance subset through pyperf) on
plain, fresh and reused (targets: fresh at least 1.10x faster than plain; reused within
2% of fresh).
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


def install(env: dict, *args: str) -> tuple[float, dict]:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pybuild12", "install", *args], env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    took = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"pybuild12 install {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    python = Path(proc.stdout.strip().splitlines()[-1])
    receipt = json.loads((python.parent.parent / "pybuild12.json").read_text())
    return took, receipt


def plain_recipe(recipe: str, directory: Path) -> Path:
    """The shipped recipe with `optimizations = false`: same sources, no PGO, no LTO."""
    text = (ROOT / "recipes" / f"{recipe}.toml").read_text()
    assert "optimizations = true" in text
    path = directory / f"{recipe}-plain.toml"
    path.write_text(text.replace("optimizations = true", "optimizations = false"))
    return path


def phases(receipt: dict) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in receipt["timings"].items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="3.13.5")
    parser.add_argument("--tarball", type=Path, default=ROOT / ".test-sources" / "Python-3.13.5.tar.xz")
    parser.add_argument("--no-speed", action="store_true", help="Only the build times.")
    parser.add_argument("--fast", action="store_true", help="Pass --fast to interpreter_speed.py.")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="Use DIR as PYBUILD12_HOME and keep it.")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if not args.tarball.is_file():
        parser.error(f"{args.tarball} not found (scripts/fetch-test-sources puts it there)")
    with tempfile.TemporaryDirectory(prefix="pybuild12-pgo-bench-") as tmp:
        home = args.keep or Path(tmp) / "home"
        env = dict(os.environ, PYBUILD12_HOME=str(home), PYBUILD12_MIRROR=str(args.tarball.resolve().parent))
        env.pop("PYBUILD12_CACHE_URL", None)
        print("cold build (trains a profile)...", file=sys.stderr, flush=True)
        fresh_time, fresh = install(env, args.recipe, "--name", "fresh", "--fresh-profile")
        print("build with the recorded profile...", file=sys.stderr, flush=True)
        reused_time, reused = install(env, args.recipe, "--name", "reused")
        assert reused["pgo_profile"]["origin"] == "recorded", reused.get("pgo_profile")
        assert reused["pgo_profile"]["key"] == fresh["pgo_profile"]["key"]
        print("build without optimizations...", file=sys.stderr, flush=True)
        plain_time, plain = install(env, str(plain_recipe(args.recipe, Path(tmp))), "--name", "plain")
        desc = machine()
        ratio = reused_time / fresh_time
        print(f"machine:  {desc}")
        print(f"fresh:    {fresh_time:.1f} s  ({phases(fresh)})")
        print(f"reused:   {reused_time:.1f} s  ({phases(reused)})")
        print(f"plain:    {plain_time:.1f} s  ({phases(plain)})")
        print(f"reused/fresh: {ratio:.2f}x  (target: at most 0.5x)")
        if args.record:
            when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
            with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
                fh.write(f"| {when} | pgo_reuse | {args.recipe}, build with the recorded PGO profile "
                         f"(no-PGO build: {plain_time:.0f} s) | fresh profile {fresh_time:.1f} s ({phases(fresh)}) "
                         f"| recorded profile {reused_time:.1f} s ({phases(reused)}) | **{ratio:.2f}x** | {desc} |\n")
        if args.no_speed:
            return 0
        pythons = {name: home / "data" / "pythons" / name / receipt["python"]
                   for name, receipt in (("plain", plain), ("fresh", fresh), ("reused", reused))}
        argv = [sys.executable, str(ROOT / "benchmarks" / "interpreter_speed.py"), "--baseline", "plain"]
        for name, python in pythons.items():
            argv += ["--python", f"{name}={python}"]
        argv += ["--fast"] * args.fast + ["--record"] * args.record
        return subprocess.run(argv).returncode


if __name__ == "__main__":
    sys.exit(main())
