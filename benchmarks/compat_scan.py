"""`pybuild12 compat` on a venv of 30+ real packages: scan time cold and cached, and the
free-threading verdicts against what the packages publish.

    python benchmarks/compat_scan.py --python PATH [--freethreaded PATH] [--record]

1. A venv of PATH (3.12+) gets PACKAGES from the package index pip is configured with
   (wheels only; a package without a wheel for that interpreter is left out and named).
2. `pybuild12 compat --venv VENV --json` with an empty cache (cold), then again (cached):
   wall times, and the count of each verdict.
3. With `--freethreaded PATH` (a free-threaded build, e.g. `pybuild12 which 3.13.5t`):
   the same for a venv of it, then each package's free-threading verdict beside what
   it publishes: a free-threaded wheel (cp313t) on the index, the wheel that was
   installed, and the "Free Threading" classifier. Every disagreement is listed.
`--record` appends the figures to benchmarks/RESULTS.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_vs_raw import ROOT, machine  # noqa: E402

PACKAGES = (
    "six", "attrs", "click", "idna", "certifi", "charset-normalizer", "urllib3", "requests", "packaging",
    "pyparsing", "python-dateutil", "pytz", "tzdata", "PyYAML", "msgpack", "simplejson", "orjson", "ujson",
    "lxml", "MarkupSafe", "Jinja2", "numpy", "psutil", "regex", "pydantic", "pydantic-core", "typing-extensions",
    "annotated-types", "cffi", "pycparser", "cryptography", "wrapt", "zstandard", "bcrypt", "frozenlist",
    "multidict", "yarl", "rpds-py", "jsonschema", "pillow",
)


def venv_with_packages(python: Path, work: Path) -> tuple[Path, list[str]]:
    """A venv of `python` with every package of PACKAGES that has a wheel for it."""
    venv = work / "venv"
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
    left_out = []
    for package in PACKAGES:
        proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--only-binary", ":all:",
                               package], capture_output=True, text=True)
        if proc.returncode != 0:
            left_out.append(package)
    return venv, left_out


def scan(venv: Path, home: Path) -> tuple[float, dict]:
    env = {**os.environ, "PYBUILD12_HOME": str(home)}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pybuild12", "compat", "--venv", str(venv), "--json"],
                          capture_output=True, text=True, env=env)
    took = time.monotonic() - start
    if not proc.stdout.strip():
        sys.exit(f"compat failed: {proc.stderr[-2000:]}")
    return took, json.loads(proc.stdout)


def index_url(python: Path) -> str:
    """The simple index pip is configured with (PIP_INDEX_URL, pip's config, else pip's default)."""
    url = os.environ.get("PIP_INDEX_URL") or subprocess.run(
        [str(python), "-m", "pip", "config", "get", "global.index-url"], capture_output=True, text=True).stdout.strip()
    if not url:
        url = subprocess.run([str(python), "-c", "from pip._internal.models.index import PyPI; print(PyPI.simple_url)"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return url.rstrip("/")


def published_free_threaded(index: str, name: str, version: str, abi: str) -> bool:
    """Whether the index has a wheel of `name` `version` for the free-threaded ABI `abi` (cp313t)."""
    project = re.sub(r"[-_.]+", "-", name).lower()
    request = urllib.request.Request(f"{index}/{project}/", headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=60) as response:
        page = response.read().decode("utf-8", errors="replace")
    files = re.findall(r">([^<>]+\.whl)<", page)
    wanted = re.sub(r"[-_.]+", "_", name).lower() + "-" + version + "-"
    return any(f.lower().startswith(wanted) and f"-{abi}-" in f for f in files)


def verdict_counts(data: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for package in data["packages"]:
        counts[package["verdict"]] = counts.get(package["verdict"], 0) + 1
    return counts


def run(python: Path, work: Path) -> dict:
    venv, left_out = venv_with_packages(python, work)
    home = work / "home"
    cold, data = scan(venv, home)
    cached, again = scan(venv, home)
    return {"venv": venv, "left_out": left_out, "cold": cold, "cached": cached, "data": data,
            "cached_packages": again["cached"], "packages": len(data["packages"])}


def disagreements(result: dict, index: str) -> list[str]:
    data = result["data"]
    version = data["python"]["version"].split(".")
    abi = f"cp{version[0]}{version[1]}t"
    lines = []
    for package in data["packages"]:
        if package["origin"] != "distribution" or package["name"] in ("pip", "setuptools"):
            continue
        evidence = package["evidence"]
        keeps_off = package["freethreading"] == "keeps the GIL off"
        try:
            published = published_free_threaded(index, package["name"], package["version"], abi)
        except OSError as exc:
            lines.append(f"{package['name']} {package['version']}: the index could not be asked ({exc})")
            continue
        pure = evidence["free_threaded_wheel"] is None
        claims = bool(evidence["free_threading_classifiers"])
        said = []
        if published and not pure and not keeps_off:
            said.append(f"publishes a {abi} wheel, but {package['freethreading']}")
        if not published and not pure and keeps_off:
            said.append(f"keeps the GIL off without a {abi} wheel on the index")
        if claims and not keeps_off:
            said.append(f"its classifier says {evidence['free_threading_classifiers'][0].rsplit('::', 1)[-1].strip()}, "
                        f"but it {package['freethreading']}")
        if not claims and not pure and published:
            said.append("publishes a free-threaded wheel without the Free Threading classifier")
        lines += [f"{package['name']} {package['version']}: {s}" for s in said]
    return lines


def report(label: str, result: dict) -> list[str]:
    counts = ", ".join(f"{n} {v}" for v, n in sorted(verdict_counts(result["data"]).items()))
    lines = [f"{label} ({result['data']['python']['version']}): {result['packages']} packages "
             f"(left out, no wheel: {', '.join(result['left_out']) or 'none'}); cold scan {result['cold']:.1f} s, "
             f"cached {result['cached']:.1f} s ({result['cached_packages']} of {result['packages']} from the cache); "
             f"verdicts: {counts}"]
    for verdict in sorted({p["verdict"] for p in result["data"]["packages"]} - {"runs"}):
        named = [f"{p['name']} {p['version']}" for p in result["data"]["packages"] if p["verdict"] == verdict]
        lines.append(f"  - {verdict}: {', '.join(named)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", type=Path, required=True)
    parser.add_argument("--freethreaded", type=Path)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        default = run(args.python, Path(tmp) / "default")
        lines += report("default build", default)
        if args.freethreaded:
            free = run(args.freethreaded, Path(tmp) / "free-threaded")
            lines += report("free-threaded build", free)
            found = disagreements(free, index_url(args.freethreaded))
            lines.append(f"free-threading verdicts against what the packages publish: {len(found)} disagreement(s)")
            lines += [f"  - {line}" for line in found]
    print("\n".join(lines))
    if args.record:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        with open(ROOT / "benchmarks" / "RESULTS.md", "a", encoding="utf-8") as fh:
            fh.write(f"\n## compat_scan.py ({stamp})\n\nMachine: {machine()}\n\n"
                     + "\n".join(f"- {line}" if not line.startswith("  ") else line for line in lines) + "\n")


if __name__ == "__main__":
    main()
