"""What a bisect step costs: a cold build, a build with ccache warm, and the artifact cache.

    python benchmarks/bisect_steps.py [--tarball PATH] [--record]

Makes a git history from the 3.13.5 release tree (scripts/fetch-test-sources puts the
tarball in .test-sources/): the release, then a commit that changes Lib/colorsys.py (the
bad one), then another. `pybuild12 bisect` over it has one step (the middle commit)
and runs three times, side by side in one run:

1. cold: a fresh home and an empty ccache directory;
2. ccache warm: a fresh home (no artifact cache, no step builds), the same ccache
   directory as run 1 (a bisect over a neighbouring range, or on another day after
   `cache clear`);
3. artifact cache: the home of run 2 again (a repeated bisect).

Prints, for each, the seconds of the step's build (or of the cache's answer) and of the
whole bisect.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from build_vs_raw import ROOT, machine  # noqa: E402
from gitrepos import commit, git  # noqa: E402

CHECK = ["python3", "-c", "import colorsys, sys; sys.exit(0 if colorsys.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0) "
         "else 1)"]


def history(root: Path, tarball: Path) -> tuple[Path, list[str]]:
    with tarfile.open(tarball) as tar:
        tar.extractall(root, filter="data")
    repo = root / tarball.name.removesuffix(".tar.xz")
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "Python 3.13.5")
    shas = [git(repo, "rev-parse", "HEAD")]
    this = (repo / "Lib" / "this.py").read_text()
    shas.append(commit(repo, {"Lib/this.py": this + "\n# a harmless change\n"}, "Tidy Lib/this.py", day=11))
    colorsys = (repo / "Lib" / "colorsys.py").read_text()
    broken = colorsys + "\n\ndef rgb_to_hsv(r, g, b):\n    return (0.0, 0.0, 0.0)\n"
    shas.append(commit(repo, {"Lib/colorsys.py": broken}, "Speed up colorsys.rgb_to_hsv", day=12))
    return repo, shas


def bisect(recipe: Path, shas: list[str], home: Path, ccache: Path, work: Path) -> tuple[float, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYBUILD12_")}
    env.update(PYBUILD12_HOME=str(home), CCACHE_DIR=str(ccache))
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "pybuild12", "bisect", str(recipe), "--good", shas[0], "--bad",
                          shas[-1], "--json", "--", *CHECK], env=env, cwd=work, capture_output=True, text=True)
    wall = time.monotonic() - start
    if out.returncode != 0:
        sys.exit(f"bisect failed:\n{out.stderr[-3000:]}")
    return wall, json.loads(out.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, default=ROOT / ".test-sources" / "Python-3.13.5.tar.xz")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if not args.tarball.is_file():
        parser.error(f"{args.tarball} not found (scripts/fetch-test-sources puts it there)")
    with tempfile.TemporaryDirectory(prefix="pybuild12-bisect-bench-") as temporary:
        root = Path(temporary)
        repo, shas = history(root, args.tarball)
        recipe = root / "local.toml"
        recipe.write_text(f'version = "3.13.5"\nsummary = "bench"\n\n[source]\nkind = "git"\n'
                          f'url = "{repo.as_uri()}"\ncommit = "{shas[0]}"\n')
        work = root / "project"
        work.mkdir()
        rows = []
        for label, home in (("cold", "home-1"), ("ccache warm", "home-2"), ("artifact cache", "home-2")):
            print(f"{label}...", file=sys.stderr, flush=True)
            wall, answer = bisect(recipe, shas, root / home, root / "ccache", work)
            assert answer["first_bad"] == shas[-1], answer
            step = answer["steps"][0]
            rows.append((label, step["seconds"], wall, step["build"]))
    cold = rows[0][1]
    lines = [f"machine: {machine()}"]
    for label, seconds, wall, build in rows:
        lines.append(f"{label:15} step {seconds:7.1f} s ({build}), whole bisect {wall:6.1f} s, "
                     f"{cold / max(seconds, 0.1):6.1f}x faster than cold")
    print("\n".join(lines))
    if args.record:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
            when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
            fh.write(f"\n### Bisect steps, {when} (`bisect_steps.py`: 3.13.5 tree, quick builds)\n\n```\n"
                     + "\n".join(lines) + "\n```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
