"""The GitHub Action's three roads to a CPython, side by side in one run.

    python benchmarks/ci_restore.py [--tarball PATH] [--spec 3.13.5] [--record]

Runs action.yml's steps with the test harness (tests/actionharness.py: a runner's files
and a local directory standing in for the Actions cache), three times, each in a fresh
PYBUILD12_HOME at the same path, as fresh runners:

1. cold: `cache: both`, a build from source (--no-pgo: a quick build, what CI builds
   for testing), saved to the Actions-cache stand-in and pushed, signed, to a shared
   store (Debian's nginx with WebDAV on loopback, as in the tests);
2. Actions cache: `cache: github`, restored from the stand-in, checked, installed;
3. shared store: `cache: shared`, downloaded (signature and sha256 checked), installed.

Prints, for each, the install phase's seconds (the action's `build-seconds` output) and
the whole action's wall time (set-up of pybuild12's venv excluded: made once, then
found), and the ratios to the cold build.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import nginxserver  # noqa: E402
from actionharness import Harness  # noqa: E402
from build_vs_raw import ROOT, machine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="3.13.5")
    parser.add_argument("--tarball", type=Path, default=ROOT / ".test-sources" / "Python-3.13.5.tar.xz")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if not args.tarball.is_file():
        parser.error(f"{args.tarball} not found (scripts/fetch-test-sources puts it there)")
    with tempfile.TemporaryDirectory(prefix="pybuild12-ci-bench-") as root, \
            tempfile.TemporaryDirectory(prefix="pybuild12-nginx-") as nginx_root:
        root = Path(root)
        home = root / "home"
        url, nginx = nginxserver.start(Path(nginx_root))
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("PYBUILD12_", "GITHUB_", "VIRTUAL_ENV"))}
            env.update(PYBUILD12_HOME=str(home), PYBUILD12_MIRROR=str(args.tarball.resolve().parent))
            key_file = root / "signing-key"
            public = subprocess.run([sys.executable, "-m", "pybuild12", "cache", "keygen", "bench", "--out",
                                     str(key_file)], env=env, check=True, capture_output=True, text=True)
            harness = Harness(root / "runner", root / "actions-cache", env, workspace=root / "workspace")
            common = {"python": args.spec, "pgo": "false", "install-deps": "false", "cache-url": url,
                      "trusted-keys": public.stdout.strip()}
            harness.run({**common, "cache": "none", "python": "no-such-recipe"})  # makes the venv, fails at once
            results = {}
            for label, inputs in (("cold", {"cache": "both", "signing-key": key_file.read_text().strip()}),
                                  ("actions cache", {"cache": "github"}), ("shared store", {"cache": "shared"})):
                shutil.rmtree(home, ignore_errors=True)
                shutil.rmtree(root / "runner" / "pybuild12" / "actions-cache", ignore_errors=True)
                print(f"{label}...", file=sys.stderr, flush=True)
                start = time.monotonic()
                outcome = harness.run({**common, **inputs})
                wall = time.monotonic() - start
                if not outcome.ok:
                    print(outcome.log[-3000:], file=sys.stderr)
                    return 1
                results[label] = (float(outcome.outputs["build-seconds"]), wall, outcome.outputs["cache-hit"])
        finally:
            nginx.terminate()
            nginx.wait()
    desc = machine()
    cold_wall = results["cold"][1]
    print(f"machine: {desc}")
    for label, (seconds, wall, tier) in results.items():
        print(f"{label:14} install {seconds:6.1f} s, action {wall:6.1f} s (tier {tier}), "
              f"{cold_wall / wall:5.1f}x the cold run")
    if args.record:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
            when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
            fh.write(f"\n### CI restore, {when}, {args.spec} --no-pgo, action.yml by the harness "
                     f"(`ci_restore.py`), {desc}\n\n```\n")
            for label, (seconds, wall, tier) in results.items():
                fh.write(f"{label:14} install {seconds:6.1f} s, action {wall:6.1f} s (tier {tier}), "
                         f"{cold_wall / wall:5.1f}x the cold run\n")
            fh.write("```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
