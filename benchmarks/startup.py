"""Start-up time of the commands that sit in shells and scripts, against `import typer`.

    python benchmarks/startup.py [--name NAME] [--rounds 15] [--also PYTHON] [--record]

Runs, round after round in turn (so that the machine's load falls on all of them):
`python -c "import typer"` (the floor of any typer CLI), `pybuild12 --version`,
`pybuild12 which NAME`, `pybuild12 env NAME`, `pybuild12 list`, and `which` of a name
that is not installed (exit 8, with the hint). NAME is an installed build (`--name`, in
your own PYBUILD12_HOME); without one, a stand-in build (a prefix with a receipt, a
python and a pip) in a temporary PYBUILD12_HOME. The children may write byte code, as an
installed pybuild12 has it (PYTHONDONTWRITEBYTECODE is dropped for them), and a first
round, not counted, writes it. `--also PYTHON` times `import typer` and `which NAME`
with another interpreter too (a venv with another typer, say), in the same rounds.
Prints each median and its ratio to its own `import typer` (target for `which`: at most
1.5x), then the modules that `which` spends the most import time on (`-X importtime`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_vs_raw import ROOT, machine  # noqa: E402

STAND_IN = "3.13.5"


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


SHELL = {"site", "encodings", "runpy", "pybuild12", "pybuild12.cli", "pybuild12.__main__"}


def heaviest_imports(argv: list[str], env: dict[str, str], top: int = 8) -> list[tuple[float, str]]:
    """The packages (and pybuild12's modules) with the most cumulative import time (ms)
    under -X importtime, wherever in the tree they were first imported."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, env=env)
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


def stand_in(home: Path) -> str:
    """A build as `which` and `env` see one: a prefix with a receipt, a python and a pip."""
    os.environ["PYBUILD12_HOME"] = str(home)
    from pybuild12.core.settings import Settings
    from pybuild12.store import receipts
    from pybuild12.store.receipts import Receipt

    prefix = Settings.from_env().paths.prefix(STAND_IN)
    (prefix / "bin").mkdir(parents=True)
    for program in ("python3", "pip3"):
        (prefix / "bin" / program).write_text("#!/bin/sh\n")
        (prefix / "bin" / program).chmod(0o755)
    receipts.write(prefix, Receipt.from_json({"name": STAND_IN, "python": "bin/python3",
                                              "recipe": {"version": STAND_IN}, "variants": []}))
    return STAND_IN


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", help="an installed build for which/env [default: a stand-in build]")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--also", metavar="PYTHON", help="another interpreter to time import typer and which with")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="pybuild12-startup-") as temporary:
        if args.name is None:
            args.name = stand_in(Path(temporary))
            env["PYBUILD12_HOME"] = temporary
        cli = [sys.executable, "-m", "pybuild12"]
        commands = {
            "import typer": [sys.executable, "-c", "import typer"],
            "pybuild12 --version": [*cli, "--version"],
            f"pybuild12 which {args.name}": [*cli, "which", args.name],
            f"pybuild12 env {args.name}": [*cli, "env", args.name],
            "pybuild12 list": [*cli, "list"],
            "pybuild12 which no-such-build": [*cli, "which", "no-such-build"],
        }
        floors = {label: "import typer" for label in commands}
        if args.also:
            version = subprocess.run([args.also, "-c", "import typer; print(typer.__version__)"], capture_output=True,
                                     text=True, env=env).stdout.strip()
            other = f"[typer {version}]"
            commands[f"{other} import typer"] = [args.also, "-c", "import typer"]
            commands[f"{other} pybuild12 which {args.name}"] = [args.also, "-m", "pybuild12", "which", args.name]
            floors.update({label: f"{other} import typer" for label in commands if label.startswith(other)})
        times: dict[str, list[float]] = {label: [] for label in commands}
        for argv in commands.values():
            timed(argv, env)  # warm the page cache and write the byte code
        for _ in range(args.rounds):
            for label, argv in commands.items():
                times[label].append(timed(argv, env))
        lines = []
        for label, samples in times.items():
            median = statistics.median(samples)
            floor = statistics.median(times[floors[label]])
            lines.append(f"{label:<44} {median * 1000:7.0f} ms  {median / floor:5.2f}x")
        print("\n".join(lines))
        print(f"\nheaviest imports of `pybuild12 which {args.name}` (cumulative ms):")
        heavy = heaviest_imports(["-m", "pybuild12", "which", args.name], env)
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
