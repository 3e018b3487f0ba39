"""The minimal check at the end of every install.

Runs `resources/smoke.py` with the built interpreter itself (in isolated
mode, so the host's PYTHON* variables cannot leak in) and reads its JSON.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from pybuild12.checks import interp
from pybuild12.core import runner
from pybuild12.core.errors import CheckError
from pybuild12.request.recipes import Recipe
from pybuild12.store import registry

TIMEOUT = 120


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def python_of(prefix: Path, recipe: Recipe) -> Path:
    """bin/pythonX.Y (bin/pythonX.Yt on a free-threaded build); X.Y read from the bin/python3
    link when the recipe cannot know it (a git build of another commit), else from the
    recipe's version."""
    link = prefix / "bin" / "python3"
    python = prefix / "bin" / f"python{recipe.minor}"
    if link.is_symlink():
        target = Path(os.readlink(link)).name
        if target.startswith("python3."):
            python = prefix / "bin" / target
    return registry.kind_python(python, recipe.build.variants)


def smoke(python: Path, expected_version: str | None, modules: Sequence[str], *,
          log_path: Path | None = None) -> list[CheckResult]:
    """Run the check script; `expected_version` None accepts whatever version the build is."""
    try:
        answer = interp.run(python, "smoke.py", [expected_version or "-", *modules], log_path=log_path,
                            timeout=TIMEOUT)
    except OSError as exc:
        raise CheckError(f"the built interpreter {python} cannot run: {exc}") from None
    except runner.TimedOut:
        raise CheckError(f"the built interpreter {python} did not finish its check in {TIMEOUT}s") from None
    try:
        results = [CheckResult(c["name"], bool(c["ok"]), str(c["detail"])) for c in answer.data["checks"]]
    except (KeyError, TypeError):
        raise CheckError(
            f"the built interpreter {python} crashed during its check (exit code {answer.returncode})\n"
            + answer.stderr.strip()[-2000:]
        ) from None
    if not answer.clean:
        results.append(CheckResult("clean exit", False,
                                   f"exit code {answer.returncode}: {answer.stderr.strip()[-300:]}"))
    return results


def enforce(results: list[CheckResult]) -> None:
    failed = [r for r in results if not r.ok]
    if failed:
        raise CheckError(
            "the built interpreter failed its check:\n" + "\n".join(f"  {r.name}: {r.detail}" for r in failed),
            hint="the earlier install (if any) was left in place; see the log for the build output",
        )
