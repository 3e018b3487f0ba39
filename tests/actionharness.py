"""Runs the GitHub Action (action.yml) here, step by step, as a runner would.

Each `run:` step runs in bash with the runner's files ($GITHUB_OUTPUT per step,
$GITHUB_PATH, $GITHUB_ENV, $RUNNER_TEMP) and its `env:` with every `${{ }}` evaluated;
`if:` conditions are evaluated; actions/cache/restore and actions/cache/save are played
by a local directory that stands in for the Actions cache (an entry per key, immutable
once saved, as GitHub's are). The expressions the action may use are kept to what is
evaluated here (a context path, `==` with a string): anything else fails the test, so a
change to action.yml cannot go untested by being skipped.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_COMPARE = re.compile(r"^([\w.-]+)\s*==\s*'([^']*)'$")
_PATH = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$")


@dataclass
class Outcome:
    ok: bool
    outputs: dict[str, str]  # the action's outputs
    steps: dict[str, dict[str, str]]  # each step's outputs
    ran: list[str]  # the ids of the steps that ran
    log: str  # stdout and stderr of every step, in order
    path: list[str] = field(default_factory=list)  # what the action added to PATH

    def annotations(self) -> list[str]:
        return [line for line in self.log.splitlines() if line.startswith("::error")]


class Harness:
    def __init__(self, temp: Path, actions_cache: Path, env: dict[str, str], *, workspace: Path | None = None,
                 action: Path = ACTION) -> None:
        self.spec = yaml.safe_load(action.read_text())
        self.action_path = action.parent
        self.temp, self.actions_cache, self.env = temp, actions_cache, dict(env)
        self.workspace = workspace or temp / "workspace"

    def run(self, inputs: dict[str, str]) -> Outcome:
        declared = self.spec["inputs"]
        unknown = set(inputs) - set(declared)
        assert not unknown, f"inputs the action does not declare: {unknown}"
        given = {name: str(inputs.get(name, spec.get("default", ""))) for name, spec in declared.items()}
        self.temp.mkdir(parents=True, exist_ok=True)
        self.workspace.mkdir(parents=True, exist_ok=True)
        files = {name: self.temp / f"{name}.{len(list(self.temp.glob(name + '.*')))}" for name in ("path", "env")}
        for file in files.values():
            file.write_text("")
        steps: dict[str, dict[str, str]] = {}
        ran, log, ok = [], [], True
        context = {"inputs": given, "steps": steps,
                   "github": {"action_path": str(self.action_path), "workspace": str(self.workspace)},
                   "runner": {"temp": str(self.temp), "os": "Linux"}}
        for index, step in enumerate(self.spec["runs"]["steps"]):
            sid = step.get("id", f"step{index}")
            condition = step.get("if")
            if not ok or (condition is not None and not _truthy(_evaluate(condition, context))):
                continue
            ran.append(sid)
            env = {k: _substitute(str(v), context) for k, v in (step.get("env") or {}).items()}
            if "run" in step:
                step_ok, outputs, text = self._shell(step, env, files)
            else:
                step_ok, outputs, text = self._uses(step["uses"], {k: _substitute(str(v), context)
                                                                    for k, v in (step.get("with") or {}).items()})
            steps[sid] = {"outputs": outputs}  # `steps.ID.outputs.NAME`
            log.append(text)
            ok = ok and step_ok
        outputs = {name: _substitute(spec["value"], context) for name, spec in self.spec["outputs"].items()}
        added = [line for line in files["path"].read_text().splitlines() if line]
        return Outcome(ok, outputs, {k: v["outputs"] for k, v in steps.items()}, ran, "\n".join(log), added)

    def _shell(self, step: dict, step_env: dict[str, str], files: dict[str, Path]) -> tuple[bool, dict, str]:
        assert step.get("shell") == "bash", "every run step says shell: bash"
        for value in _EXPR.findall(step["run"]):
            raise AssertionError(f"an expression inside run: ({value}): inputs reach the shell through env")
        output = self.temp / f"output.{len(list(self.temp.glob('output.*')))}"
        output.write_text("")
        added = [line for line in files["path"].read_text().splitlines() if line]
        env = {**self.env, **_read_env(files["env"]), **step_env,
               "GITHUB_ACTION_PATH": str(self.action_path), "GITHUB_OUTPUT": str(output),
               "GITHUB_PATH": str(files["path"]), "GITHUB_ENV": str(files["env"]), "RUNNER_TEMP": str(self.temp),
               "GITHUB_WORKSPACE": str(self.workspace), "GITHUB_ACTIONS": "true", "CI": "true"}
        env["PATH"] = os.pathsep.join([*reversed(added), env.get("PATH", os.defpath)])
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], env=env,
                              cwd=self.workspace, capture_output=True, text=True, timeout=3600)
        return proc.returncode == 0, _read_outputs(output), proc.stdout + proc.stderr

    def _uses(self, uses: str, given: dict[str, str]) -> tuple[bool, dict, str]:
        action, _, _ = uses.partition("@")
        entry = self.actions_cache / given["key"]
        target = Path(given["path"])
        if action == "actions/cache/restore":
            if not entry.is_dir():
                return True, {"cache-hit": "false"}, f"Cache not found for input keys: {given['key']}"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(entry, target)
            return True, {"cache-hit": "true", "cache-matched-key": given["key"]}, f"Cache restored: {given['key']}"
        if action == "actions/cache/save":
            if entry.exists():
                return True, {}, f"Cache entry {given['key']} exists already: not saved"
            shutil.copytree(target, entry)
            return True, {}, f"Cache saved with key: {given['key']}"
        raise AssertionError(f"the harness does not play {uses}")


def _evaluate(expression: str, context: dict[str, Any]) -> Any:
    expression = expression.strip()
    match = _EXPR.fullmatch(expression)
    if match:
        expression = match.group(1)
    compare = _COMPARE.match(expression)
    if compare:
        return str(_lookup(compare.group(1), context)) == compare.group(2)
    assert _PATH.match(expression), f"an expression the harness does not evaluate: {expression!r}"
    return _lookup(expression, context)


def _lookup(path: str, context: dict[str, Any]) -> Any:
    value: Any = context
    for part in path.split("."):
        if not isinstance(value, dict):
            raise AssertionError(f"{path}: {part} is not an object")
        if part not in value:
            head = path.split(".")[0]
            assert head == "steps", f"unknown context {path!r}"
            return ""  # a step that did not run has no outputs, as on GitHub
        value = value[part]
    return value


def _substitute(text: str, context: dict[str, Any]) -> str:
    return _EXPR.sub(lambda m: str(_evaluate(m.group(1), context)), text)


def _truthy(value: Any) -> bool:
    return bool(value) and value != "false"


def _read_outputs(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT's NAME=VALUE lines and NAME<<DELIMITER blocks."""
    outputs, lines = {}, path.read_text().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index + 1)
            outputs[name] = "\n".join(lines[index + 1:end])
            index = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        index += 1
    return outputs


def _read_env(path: Path) -> dict[str, str]:
    return _read_outputs(path)
