"""What `make install`'s byte-compiling costs a debug build: 3.13.5+debug built twice, side by side in one run.

    python benchmarks/bytecode_install.py [--tarball PATH] [--record]

Builds 3.13.5+debug for real with `--no-cache` into two fresh homes (temporary
PYBUILD12_HOME directories), the tarball taken from its directory as the mirror
(PYBUILD12_MIRROR), one build after the other:

1. as the debug variant installs by default: without the standard library's bytecode;
2. with `--compile-bytecode`: `make install` runs compileall over the standard library
   at three optimization levels with the debug interpreter, as CPython's Makefile does.

Prints each build's phases from its receipt's timings and the ratio of the install
phases (make install with pip, and pybuild12's site-packages recompile), then checks the
build without bytecode: it has no .pyc, `python -c 'import json, decimal'` runs and
writes the .pyc of what it imported into the prefix, and `pybuild12 verify NAME --files`
reports nothing added or changed.
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

SPEC = "3.13.5+debug"
BUILDS = (("no bytecode (default)", []), ("--compile-bytecode", ["--compile-bytecode"]))
INSTALL_PHASES = ("install", "bytecode")  # make install and pip; pybuild12's recompile of site-packages


def pybuild12(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "pybuild12", *args], env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        sys.exit(f"pybuild12 {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def install(home: Path, mirror: Path, opts: list[str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYBUILD12_")}
    env.update(PYBUILD12_HOME=str(home), PYBUILD12_MIRROR=mirror.as_uri())
    print(f"install {SPEC} --no-cache {' '.join(opts)} (home {home})...", file=sys.stderr, flush=True)
    out = pybuild12(env, "install", SPEC, "--no-cache", *opts, "--json")
    installed = json.loads(out.stdout)
    installed["receipt"] = json.loads((Path(installed["prefix"]) / "pybuild12.json").read_text())
    installed["env"] = env
    return installed


def pyc_count(prefix: Path) -> int:
    return sum(1 for _ in prefix.rglob("*.pyc"))


def check_without_bytecode(build: dict) -> list[str]:
    """The build without bytecode works, Python writes the .pyc, and verify --files is content."""
    prefix, python = Path(build["prefix"]), build["python"]
    lines = []
    before = pyc_count(prefix)
    # as a user's shell runs it: Python writes bytecode unless told not to (this benchmark's own
    # environment may say PYTHONDONTWRITEBYTECODE)
    user = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    ran = subprocess.run([python, "-c", "import json, decimal; print(decimal.Decimal('1.1') + 1, json.dumps([1]))"],
                         capture_output=True, text=True, env=user)
    if ran.returncode != 0 or ran.stdout.split() != ["2.1", "[1]"]:
        sys.exit(f"{python} -c 'import json, decimal' failed ({ran.returncode}):\n{ran.stderr[-3000:]}")
    written = sorted(prefix.rglob("*.pyc"))
    where = subprocess.run([python, "-B", "-c", "import importlib.util as u, json, decimal; "
                            "print(u.cache_from_source(json.__file__)); print(u.cache_from_source(decimal.__file__))"],
                           capture_output=True, text=True, check=True).stdout.split()
    missing = [w for w in where if Path(w) not in written or not w.startswith(str(prefix))]
    if before != 0 or missing:
        sys.exit(f"expected no .pyc before the import and these after it: {missing or where} (before: {before})")
    lines.append(f"without bytecode: {before} .pyc installed; `python -c 'import json, decimal'` ran and wrote "
                 f"{len(written)} into the prefix, " + " and ".join(str(Path(w).relative_to(prefix)) for w in where)
                 + " among them")
    verified = pybuild12(build["env"], "verify", build["name"], "--files", "--json", check=False)
    found = json.loads(verified.stdout)
    if verified.returncode != 0 or not found["ok"] or found["added"] or found["changed"] or found["missing"]:
        sys.exit(f"verify --files after the import: exit {verified.returncode}: {verified.stdout[-3000:]}")
    lines.append(f"verify {build['name']} --files after the import: exit 0, all {found['checked']} files match, "
                 "nothing added")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, default=ROOT / ".test-sources" / "Python-3.13.5.tar.xz")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if not args.tarball.is_file():
        parser.error(f"{args.tarball} not found (scripts/fetch-test-sources puts it there)")
    mirror = args.tarball.resolve().parent
    rows = []
    with tempfile.TemporaryDirectory(prefix="pybuild12-bytecode-bench-") as temporary:
        for n, (label, opts) in enumerate(BUILDS):
            build = install(Path(temporary) / f"home{n}", mirror, opts)
            rows.append((label, build, pyc_count(Path(build["prefix"]))))
        lines = report(rows)
        print("\n".join(lines), flush=True)
        checks = check_without_bytecode(rows[0][1])
        print("\n".join(checks))
    if args.record:
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
            when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
            fh.write(f"\n### Bytecode at install, {when} (`bytecode_install.py`: {SPEC}, --no-cache)\n\n```\n"
                     + "\n".join(lines + checks) + "\n```\n")
    return 0


def report(rows: list) -> list[str]:
    lines = [f"machine: {machine()}"]
    for label, build, pycs in rows:
        timings = build["receipt"]["timings"]
        phases = ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
        lines.append(f"{label:22} total {sum(timings.values()):6.1f} s, install phases "
                     f"{sum(timings.get(p, 0.0) for p in INSTALL_PHASES):6.1f} s, {pycs} .pyc "
                     f"(bytecode in the receipt: {build['receipt'].get('bytecode')}): {phases}")
    (_, without, _), (_, with_, _) = rows
    install_time = [sum(b["receipt"]["timings"].get(p, 0.0) for p in INSTALL_PHASES) for b in (without, with_)]
    total = [sum(b["receipt"]["timings"].values()) for b in (without, with_)]
    lines.append(f"install phases: {install_time[1] / install_time[0]:.1f}x as long with --compile-bytecode "
                 f"({install_time[1] - install_time[0]:.0f} s more); whole install {total[1] / total[0]:.2f}x")
    return lines


if __name__ == "__main__":
    sys.exit(main())
