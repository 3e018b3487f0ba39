"""Cold build against reinstall from the local and from the shared artifact cache, in one run.

    python benchmarks/cache_reinstall.py [--tarball PATH] [--record]

1. `pybuild12 install 3.13.5 --push`: a cold build into a fresh PYBUILD12_HOME
   (it compiles, verifies, packs the build into the artifact cache and uploads
   it, signed with a key made by `pybuild12 cache keygen`, to a shared cache:
   Debian's nginx with WebDAV on loopback, as in the tests);
2. `pybuild12 uninstall 3.13.5`, then `pybuild12 install 3.13.5` again:
   unpacked from the local cache, checked and verified;
3. `pybuild12 uninstall 3.13.5`, `pybuild12 cache clear`, then `pybuild12 install
   3.13.5`: downloaded from the shared cache (signature and sha256 checked), unpacked, verified,
   as a second machine of a fleet with the same PYBUILD12_HOME would.
Prints the wall times and ratios. Targets: local reinstall at most 3 s (the check
runs, the full verification made when the build was packed is reused since every
file matches its manifest) and at least 30x faster than the cold build; shared
reinstall at most 15 s (verified in full: another machine's verification is not
taken).

    python benchmarks/cache_reinstall.py --home DIR [--runs 3] [--record]

measures only reinstalls from the local cache of an existing PYBUILD12_HOME whose
artifact cache holds the build (a test home kept with PYBUILD12_TEST_HOME, say): one
warm-up reinstall (which verifies in full if the artifact carries no verification
yet), then `--runs` timed ones.
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
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import nginxserver  # noqa: E402
from build_vs_raw import ROOT, machine  # noqa: E402


def pybuild12(env: dict, *args: str) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "pybuild12", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - start


def receipt_of(home: str, recipe: str, origin: str) -> dict:
    receipt = json.loads((Path(home) / "data" / "pythons" / recipe / "pybuild12.json").read_text())
    got = receipt["artifact"].get("origin") if receipt["artifact"]["from_cache"] else "a build"
    assert got == origin, f"the reinstall came from {got}, not the {origin} cache"
    return receipt


def phases(receipt: dict) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in receipt["timings"].items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="3.13.5")
    parser.add_argument("--tarball", type=Path, default=ROOT / ".test-sources" / "Python-3.13.5.tar.xz")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--home", type=Path, help="reinstall from this home's artifact cache only (no cold build)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.home is not None:
        return local_only(args)
    if not args.tarball.is_file():
        parser.error(f"{args.tarball} not found (scripts/fetch-test-sources puts it there)")
    with tempfile.TemporaryDirectory(prefix="pybuild12-cache-bench-") as home, \
            tempfile.TemporaryDirectory(prefix="pybuild12-nginx-") as nginx_root:
        url, nginx = nginxserver.start(Path(nginx_root))
        try:
            env = dict(os.environ, PYBUILD12_HOME=home, PYBUILD12_MIRROR=str(args.tarball.resolve().parent),
                       PYBUILD12_CACHE_URL=url)
            # The shared cache takes only signed artifacts: a key for --push, trusted for installs.
            public = subprocess.run([sys.executable, "-m", "pybuild12", "cache", "keygen", "bench"], env=env,
                                    check=True, capture_output=True, text=True).stdout.strip()
            env["PYBUILD12_CACHE_TRUST"] = public
            print("cold build...", file=sys.stderr, flush=True)
            cold = pybuild12(env, "install", args.recipe, "--push")
            pybuild12(env, "uninstall", args.recipe)
            print("reinstall from the local cache...", file=sys.stderr, flush=True)
            warm = pybuild12(env, "install", args.recipe)
            local = receipt_of(home, args.recipe, "local")
            pybuild12(env, "uninstall", args.recipe)
            pybuild12(env, "cache", "clear")
            print("reinstall from the shared cache...", file=sys.stderr, flush=True)
            shared_time = pybuild12(env, "install", args.recipe)
            shared = receipt_of(home, args.recipe, "shared")
        finally:
            nginx.terminate()
            nginx.wait()
    desc = machine()
    print(f"machine:   {desc}")
    print(f"cold:      {cold:.1f} s  (pybuild12 install {args.recipe} --push: build, verify, pack, upload)")
    print(f"local:     {warm:.1f} s  (from the local artifact cache: {phases(local)})")
    print(f"shared:    {shared_time:.1f} s  (from nginx on loopback: {phases(shared)})")
    print(f"speed-up:  {cold / warm:.1f}x local, {cold / shared_time:.1f}x shared "
          "(targets: local <= 10 s and >= 30x, shared <= 15 s)")
    if args.record:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
            when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
            fh.write(f"| {when} | cache_reinstall | {args.recipe}, local cache | cold {cold:.1f} s "
                     f"| reinstall {warm:.1f} s ({phases(local)}) | **{cold / warm:.1f}x** | {desc} |\n")
            fh.write(f"| {when} | cache_reinstall | {args.recipe}, shared cache (nginx, loopback) | cold {cold:.1f} s "
                     f"| reinstall {shared_time:.1f} s ({phases(shared)}) | **{cold / shared_time:.1f}x** | {desc} |\n")
    return 0


def local_only(args) -> int:
    env = dict(os.environ, PYBUILD12_HOME=str(args.home))
    env.pop("PYBUILD12_CACHE_URL", None)
    print("warm-up reinstall...", file=sys.stderr, flush=True)
    warm_up = pybuild12(env, "install", args.recipe, "--force")
    times = [pybuild12(env, "install", args.recipe, "--force") for _ in range(args.runs)]
    receipt = receipt_of(str(args.home), args.recipe, "local")
    best, median = min(times), sorted(times)[len(times) // 2]
    reused = "reused" in receipt.get("verification", {})
    desc = machine()
    print(f"machine:   {desc}")
    print(f"warm-up:   {warm_up:.1f} s  (the first reinstall; verifies in full unless the artifact says it was)")
    print(f"reinstall: median {median:.2f} s, best {best:.2f} s of {args.runs}  ({phases(receipt)}; "
          f"verification {'reused' if reused else 'run again'})  target: <= 3 s")
    print(f"ratio:     {warm_up / median:.1f}x faster than the warm-up")
    if args.record:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
            when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
            fh.write(f"| {when} | cache_reinstall --home | {args.recipe}, local cache, verification "
                     f"{'reused' if reused else 'run again'} | warm-up {warm_up:.1f} s | reinstall median "
                     f"{median:.2f} s ({phases(receipt)}) | **{warm_up / median:.1f}x** | {desc} |\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
