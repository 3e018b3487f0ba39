"""Start-up time of the commands that sit in shells and scripts, against `import typer`.

    python benchmarks/startup.py [--name NAME] [--rounds 15] [--record]

Runs, round after round in turn (so that the machine's load falls on all of them):
`python -c "import typer"` (the floor of any typer CLI), `pybuild12 --version`,
`pybuild12 which NAME`, `pybuild12 env NAME`, `pybuild12 list`. NAME is an installed
build (`--name`); without one, `which` and `env` are timed on a name that is not
installed (they then exit 8 after the same imports). Prints each median and its ratio
to `import typer` (target for `which`: at most 1.5x), then the modules that `which`
spends the most import time on (`python -X importtime`).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_vs_raw import ROOT, machine  # noqa: E402


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


SHELL = {"site", "encodings", "runpy", "pybuild12", "pybuild12.cli", "pybuild12.__main__"}


def heaviest_imports(argv: list[str], top: int = 8) -> list[tuple[float, str]]:
    """The packages (and pybuild12's modules) with the most cumulative import time (ms)
    under -X importtime, wherever in the tree they were first imported."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True)
    totals: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        _, cumulative, raw = line.split(":", 1)[1].split("|")
        name = raw.strip()
        wanted = "." not in name or name.startswith("pybuild12.")
        if cumulative.strip().isdigit() and wanted and name not in SHELL:
            totals[name] = max(totals.get(name, 0.0), int(cumulative) / 1000)
    return sorted(((ms, name) for name, ms in totals.items()), reverse=True)[:top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="no-such-build", help="an installed build for which/env")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "pybuild12"]
    commands = {
        "import typer": [sys.executable, "-c", "import typer"],
        "pybuild12 --version": [*cli, "--version"],
        f"pybuild12 which {args.name}": [*cli, "which", args.name],
        f"pybuild12 env {args.name}": [*cli, "env", args.name],
        "pybuild12 list": [*cli, "list"],
    }
    times: dict[str, list[float]] = {label: [] for label in commands}
    for label, argv in commands.items():
        timed(argv)  # warm the page cache and the byte code
    for _ in range(args.rounds):
        for label, argv in commands.items():
            times[label].append(timed(argv))
    floor = statistics.median(times["import typer"])
    lines = []
    for label, samples in times.items():
        median = statistics.median(samples)
        lines.append(f"{label:<34} {median * 1000:7.0f} ms  {median / floor:5.2f}x")
    print("\n".join(lines))
    print(f"\nheaviest imports of `pybuild12 which {args.name}` (cumulative ms):")
    heavy = heaviest_imports(["-m", "pybuild12", "which", args.name])
    print("  " + ", ".join(f"{name} {ms:.0f}" for ms, name in heavy))
    if args.record:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write(f"\n### Start-up, {stamp}, {args.rounds} rounds, median (`startup.py`), {machine()}\n\n")
            out.write("```\n" + "\n".join(lines) + "\nheaviest imports of which: "
                      + ", ".join(f"{name} {ms:.0f} ms" for ms, name in heavy) + "\n```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
