"""CPython's whole regression suite on builds, through `pybuild12 verify --suite`.

    python benchmarks/cpython_suite.py NAME... [--home DIR] [--jobs N] [--record]

Each NAME is an installed build (`pybuild12 list`) of PYBUILD12_HOME (or --home). For
each: `pybuild12 verify NAME --suite --json`, timed, and its figures: test files
passed, failed, failed because of the machine ("environment"), skipped by category,
the tests run, the variables unset, and the build's options from its receipt (PGO,
LTO, variants). `--record` appends them to benchmarks/RESULTS.md with the machine
they ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_vs_raw import ROOT, machine  # noqa: E402


def run_suite(name: str, env: dict, jobs: int | None) -> tuple[dict, float, dict]:
    """(verify --suite's JSON, wall seconds, the build's `list --json` entry)."""
    listed = json.loads(subprocess.run([sys.executable, "-m", "pybuild12", "list", "--json"], env=env,
                                       capture_output=True, text=True, check=True).stdout)
    # NAME as verify takes it (3.13.5t is the build named 3.13.5+freethreaded).
    which = subprocess.run([sys.executable, "-m", "pybuild12", "which", name], env=env, capture_output=True, text=True)
    build = next((b for b in listed["installed"] if b["name"] == name or b["python"] == which.stdout.strip()), None)
    if build is None:
        sys.exit(f"{name} is not installed in {env.get('PYBUILD12_HOME', 'the default home')}")
    argv = [sys.executable, "-m", "pybuild12", "verify", name, "--suite", "--json"]
    if jobs:
        argv += ["--jobs", str(jobs)]
    start = time.monotonic()
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, text=True)
    took = time.monotonic() - start
    return json.loads(proc.stdout), took, build


def lines_for(name: str, data: dict, took: float, build: dict) -> list[str]:
    made = build.get("build") or {}
    counts = data["counts"]
    out = [f"- **{name}** ({'+'.join(build.get('variants') or []) or 'default'} build, "
           f"optimizations {made.get('optimizations', '?')}, {made.get('compiler', '?')}): "
           f"{took / 60:.1f} min with {data['workers']} workers; {counts['passed']} of {data['total_files']} "
           f"files passed, {counts['failed']} failed, {counts['environment']} environment, "
           f"{counts['skipped']} skipped, {counts['env changed']} env changed; tests {data['tests']}"]
    for f in data["failed"]:
        out.append(f"  - failed: {f['name']}: {f['detail']}"
                   + (f" ({', '.join(f['cases'][:5])})" if f["cases"] else ""))
    for f in data["environment"]:
        out.append(f"  - environment: {f['name']}: {', '.join(f['cases'][:3])}")
    for category, subjects in sorted(data["skipped"].items()):
        names = sorted(n for files in subjects.values() for n in files)
        shown = ", ".join(names) if category == "platform" else \
            "; ".join(f"{s}: {', '.join(files)}" for s, files in sorted(subjects.items()))
        out.append(f"  - skipped ({category}, {len(names)}): {shown}")
    out.append(f"  - unset: {', '.join(data['unset']) or 'none'}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+")
    parser.add_argument("--home", type=Path)
    parser.add_argument("--jobs", type=int)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.home:
        env["PYBUILD12_HOME"] = str(args.home)
    report = []
    for name in args.names:
        data, took, build = run_suite(name, env, args.jobs)
        lines = lines_for(name, data, took, build)
        print("\n".join(lines), flush=True)
        report += lines
    if args.record:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write(f"\n## cpython_suite.py ({stamp})\n\nMachine: {machine()}. "
                     f"`pybuild12 verify NAME --suite` (CPython's whole regression suite, "
                     f"`python -m test -j N`):\n\n" + "\n".join(report) + "\n")


if __name__ == "__main__":
    main()
