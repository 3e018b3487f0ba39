"""Two or more CPython interpreters against each other on a pyperformance subset, side by side in one run.

    python benchmarks/interpreter_speed.py --python LABEL=PATH --python LABEL=PATH [...]
        [--baseline LABEL] [--benchmarks nbody,float,richards,...] [--fast] [--record]

Measures the interpreters' speed on pure-Python CPU benchmarks of pyperformance
(no C-extension dependencies: by default nbody, float, richards, fannkuch,
spectral_norm, chaos, deltablue, go, hexiom, json_dumps, raytrace,
unpack_sequence and nqueens), each run by pyperf in fresh worker processes.
The interpreters take turns benchmark by benchmark, in alternating order, so a
change in the machine's load during the run falls on all of them alike.

Prints the mean of every benchmark for every interpreter and the ratio
baseline time / other time (above 1: the other interpreter is faster), with
the geometric mean of the ratios. The first --python is the baseline unless
--baseline names another. `--fast` passes pyperformance's `--fast` (half the
worker processes, fewer values: rougher figures in about half the time). The
default subset takes about 4-5 minutes per interpreter on 2 cores. `--record`
appends one row per non-baseline interpreter to benchmarks/RESULTS.md.

Where things go: pyperformance (pinned, with pyperf) is installed by the
running interpreter (`python -m venv` + pip) into a private venv under
pybuild12's cache directory (`$PYBUILD12_HOME/cache` or the platform's user
cache), in `interpreter-speed/`. pyperformance creates one more venv per
interpreter under test in `interpreter-speed/venv/` and installs pyperf into
it. Both are kept and reused by later runs (delete the directory to start
over). Each run's pyperf JSON files and pyperformance logs are kept in
`interpreter-speed/runs/<UTC time>/`, ready for `pyperf compare_to`. A lock
file there makes a second run wait for the first rather than share the CPUs.
The first run needs the package index that pip is configured with (pip's own
configuration files and PIP_* variables, which are passed on to the pips of
pyperformance's venvs); later runs need no network.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_vs_raw import ROOT, machine  # noqa: E402

sys.path.insert(0, str(ROOT))
from pybuild12.core.settings import Settings  # noqa: E402

if TYPE_CHECKING:
    import pyperf

PYPERFORMANCE = "1.14.0"
DEFAULT_BENCHMARKS = (
    "nbody", "float", "richards", "fannkuch", "spectral_norm", "chaos", "deltablue",
    "go", "hexiom", "json_dumps", "raytrace", "unpack_sequence", "nqueens",
)
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


@dataclass(frozen=True)
class Interpreter:
    label: str
    path: Path
    version: str = ""

    @property
    def name(self) -> str:
        return self.label if self.label == self.version else f"{self.label} ({self.version})"

    @property
    def stem(self) -> str:
        return re.sub(r"[^\w.-]", "_", self.label)


@dataclass
class Row:
    name: str
    results: dict[str, pyperf.Benchmark]


def work_dir() -> Path:
    return Settings.from_env().paths.cache / "interpreter-speed"


def parse_python(spec: str) -> Interpreter:
    label, sep, path = spec.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError(f"expected LABEL=PATH, got {spec!r}")
    found = shutil.which(path)
    if found is None:
        raise argparse.ArgumentTypeError(f"{path}: not an executable")
    return Interpreter(label, Path(found).absolute())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", dest="pythons", type=parse_python, action="append", required=True,
                        metavar="LABEL=PATH", help="an interpreter to measure (give two or more)")
    parser.add_argument("--baseline", metavar="LABEL", help="the label to compare against (default: the first)")
    parser.add_argument("--benchmarks", default=",".join(DEFAULT_BENCHMARKS),
                        help="comma-separated pyperformance benchmarks (default: %(default)s)")
    parser.add_argument("--fast", action="store_true", help="pyperformance's --fast: rough figures, quickly")
    parser.add_argument("--record", action="store_true", help="append the figures to benchmarks/RESULTS.md")
    args = parser.parse_args()
    labels = [py.label for py in args.pythons]
    if len(labels) < 2:
        parser.error("give at least two --python LABEL=PATH")
    if len(set(labels)) != len(labels) or len({py.stem for py in args.pythons}) != len(labels):
        parser.error(f"labels must be distinct: {', '.join(labels)}")
    args.baseline = args.baseline or labels[0]
    if args.baseline not in labels:
        parser.error(f"--baseline {args.baseline}: no --python has that label")
    args.benchmarks = [name.strip() for name in args.benchmarks.split(",") if name.strip()]
    if not args.benchmarks:
        parser.error("--benchmarks is empty")
    return args


def with_version(py: Interpreter) -> Interpreter:
    out = subprocess.run([str(py.path), "-I", "-c", "import platform; print(platform.python_version())"],
                         check=False, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{py.label}: {py.path} exited with {out.returncode}: {out.stderr.strip()}")
    return Interpreter(py.label, py.path, out.stdout.strip())


def ensure_pyperformance(work: Path) -> Path:
    """The python of the private venv that holds pyperformance, created on first use."""
    tag = f"{sys.implementation.name}{sys.version_info[0]}.{sys.version_info[1]}"
    venv = work / f"tool-{tag}-pyperformance-{PYPERFORMANCE}"
    python = venv / "bin" / "python"
    done = venv / ".complete"
    if done.is_file():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    print(f"installing pyperformance {PYPERFORMANCE} into {venv}...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"pyperformance=={PYPERFORMANCE}"], check=True)
    done.touch()
    return python


def import_pyperf(tool_python: Path) -> None:
    out = subprocess.run([str(tool_python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                         capture_output=True, text=True, check=True)
    sys.path.insert(0, out.stdout.strip())


def known_benchmarks(tool_python: Path, work: Path) -> set[str]:
    out = subprocess.run([str(tool_python), "-m", "pyperformance", "list", "-b", "all"],
                         cwd=work, capture_output=True, text=True, check=True)
    return {line[2:].strip() for line in out.stdout.splitlines() if line.startswith("- ")}


def inherited_environ() -> list[str]:
    """PIP_* variables, which pyperformance would otherwise drop from its venvs' pip."""
    return sorted(name for name in os.environ if name.startswith("PIP_"))


def run_one(tool_python: Path, work: Path, py: Interpreter, bench: str, out: Path, fast: bool) -> bool:
    argv = [str(tool_python), "-m", "pyperformance", "run", "--python", str(py.path),
            "--benchmarks", bench, "--append", str(out)]
    if fast:
        argv.append("--fast")
    environ = inherited_environ()
    if environ:
        argv += ["--inherit-environ", ",".join(environ)]
    with open(out.with_suffix(".log"), "a", encoding="utf-8") as log:
        log.write(f"\n$ {' '.join(argv)}\n")
        log.flush()
        done = subprocess.run(argv, cwd=work, stdout=log, stderr=subprocess.STDOUT, check=False)
    return done.returncode == 0


def run_all(tool_python: Path, work: Path, run_dir: Path, pythons: list[Interpreter],
            benchmarks: list[str], fast: bool) -> tuple[dict[str, Path], list[str]]:
    """Each benchmark on every interpreter in turn; the JSON file of each, and what failed."""
    outputs = {py.label: run_dir / f"{py.stem}.json" for py in pythons}
    failed = []
    for index, bench in enumerate(benchmarks):
        order = pythons if index % 2 == 0 else pythons[::-1]
        timings = []
        for py in order:
            start = time.monotonic()
            ok = run_one(tool_python, work, py, bench, outputs[py.label], fast)
            timings.append(f"{py.label} {time.monotonic() - start:.0f} s" + ("" if ok else " FAILED"))
            if not ok:
                failed.append(f"{bench} on {py.label}")
        print(f"[{index + 1}/{len(benchmarks)}] {bench}: {', '.join(timings)}", file=sys.stderr, flush=True)
    return outputs, failed


def load_rows(outputs: dict[str, Path]) -> list[Row]:
    import pyperf

    suites = {label: pyperf.BenchmarkSuite.load(str(path)) for label, path in outputs.items() if path.is_file()}
    names: list[str] = []
    for suite in suites.values():
        names += [name for name in suite.get_benchmark_names() if name not in names]
    return [Row(name, {label: suite.get_benchmark(name) for label, suite in suites.items()
                       if name in suite.get_benchmark_names()}) for name in names]


def describe(bench: pyperf.Benchmark | None) -> str:
    if bench is None:
        return "failed"
    if bench.get_nvalue() < 2:
        return bench.format_value(bench.mean())
    mean, stdev = bench.format_values([bench.mean(), bench.stdev()])
    return f"{mean} +- {stdev}"


def ratio(row: Row, baseline: str, other: str) -> float | None:
    if baseline not in row.results or other not in row.results:
        return None
    return row.results[baseline].mean() / row.results[other].mean()


def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def ratios(rows: list[Row], baseline: str, other: str) -> list[float]:
    return [r for r in (ratio(row, baseline, other) for row in rows) if r is not None]


def print_table(rows: list[Row], pythons: list[Interpreter], baseline: str) -> None:
    others = [py.label for py in pythons if py.label != baseline]
    header = ["benchmark", *(py.name for py in pythons),
              *(f"{baseline}/{label}" for label in others)]
    lines = [[row.name, *(describe(row.results.get(py.label)) for py in pythons),
              *(format_ratio(ratio(row, baseline, label)) for label in others)] for row in rows]
    lines.append(["geometric mean", *("" for _ in pythons),
                  *(format_ratio(geometric_mean(ratios(rows, baseline, label))) for label in others)])
    widths = [max(len(line[col]) for line in [header, *lines]) for col in range(len(header))]
    for line in [header, ["-" * w for w in widths], *lines]:
        cells = [line[0].ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(line[1:], widths[1:], strict=True))]
        print("  ".join(cells))


def format_ratio(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3f}x"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def record_rows(rows: list[Row], pythons: list[Interpreter], baseline: str, benchmarks: list[str],
                fast: bool, desc: str) -> None:
    base = next(py for py in pythons if py.label == baseline)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    mode = "--fast" if fast else "default mode"
    new = []
    for py in pythons:
        if py.label == baseline:
            continue
        values = ratios(rows, baseline, py.label)
        what = (f"pyperformance {PYPERFORMANCE} {mode} ({', '.join(benchmarks)}): geometric mean over "
                f"{len(values)} of {len(rows)} results of A time / B time (above 1: B faster)")
        result = (f"**{geometric_mean(values):.3f}x** (range {min(values):.2f}x-{max(values):.2f}x)"
                  if values else "no result")
        new.append(f"| {when} | interpreter_speed | {what} | {base.name} | {py.name} | {result} | {desc} |\n")
    insert_figures(new)


def insert_figures(new: list[str]) -> None:
    lines = RESULTS.read_text(encoding="utf-8").splitlines(keepends=True)
    end = figures_end(lines)
    if not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    RESULTS.write_text("".join(lines[:end] + new + lines[end:]), encoding="utf-8")


def figures_end(lines: list[str]) -> int:
    """The index just past the last row of the Figures table."""
    heading = next(i for i, line in enumerate(lines) if line.strip() == "## Figures")
    end = heading + 1
    for index in range(heading + 1, len(lines)):
        if lines[index].startswith("## "):
            break
        if lines[index].startswith("|"):
            end = index + 1
    return end


def main() -> int:
    args = parse_args()
    pythons = [with_version(py) for py in args.pythons]
    work = work_dir()
    work.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(work / ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"waiting for another run that uses {work}...", file=sys.stderr, flush=True)
        lock.acquire()
    try:
        tool_python = ensure_pyperformance(work)
        unknown = sorted(set(args.benchmarks) - known_benchmarks(tool_python, work))
        if unknown:
            sys.exit(f"unknown pyperformance benchmark(s): {', '.join(unknown)} "
                     f"(`{tool_python} -m pyperformance list -b all` lists them)")
        import_pyperf(tool_python)
        run_dir = work / "runs" / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        run_dir.mkdir(parents=True)
        load_before = load_average()
        start = time.monotonic()
        outputs, failed = run_all(tool_python, work, run_dir, pythons, args.benchmarks, args.fast)
        elapsed = time.monotonic() - start
    finally:
        lock.release()
    rows = load_rows(outputs)
    desc = machine()
    print(f"machine:      {desc}")
    print(f"load average: {load_before} (start), {load_average()} (end)")
    print(f"pyperformance {PYPERFORMANCE}{' --fast' if args.fast else ''}, {len(args.benchmarks)} benchmarks, "
          f"{elapsed / 60:.1f} min; results in {run_dir}")
    for py in pythons:
        print(f"{py.label + ':':<13} {py.path} ({py.version})" + ("  [baseline]" if py.label == args.baseline else ""))
    print()
    print_table(rows, pythons, args.baseline)
    print(f"\nratio = {args.baseline} time / other time: above 1 the other interpreter is faster")
    if failed:
        print(f"failed: {', '.join(failed)} (logs in {run_dir})", file=sys.stderr)
    if args.record:
        record_rows(rows, pythons, args.baseline, args.benchmarks, args.fast, desc)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
