"""Which test proves each capability of the README on a real CPython build, in every CI run.

Each section of the README that describes something pybuild12 does is named here with
the integration tests (outside the heavy tier) that run it on a real build; the few
whose real build is too long for CI's budget say so, and what proves them there. A new
section fails the first test until it is placed here, and a test that moves into the
heavy tier (or is renamed away) fails the second.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INTEGRATION = ROOT / "tests" / "integration"

# README section -> "module::test" of tests/integration that run it on a real build in CI.
CAPABILITIES = {
    "Set-up on a fresh machine": ["test_fresh_machine::test_the_first_command_sets_up_and_prints_the_python",
                                  "test_fresh_machine::test_the_second_command_sets_itself_up"],
    "Using it": ["test_real_build::test_install_succeeds_and_prints_the_python",
                 "test_real_build::test_list_and_which", "test_real_build::test_uninstall_removes_only_that_build",
                 "test_debug_build::test_debug_install_is_plain_and_verified",
                 "test_git_build::test_git_install_succeeds"],
    "A project's dev set-up": ["test_dev_setup::test_venv_installs_a_local_package_and_runs_a_subinterpreter",
                               "test_dev_setup::test_pin_then_everything_finds_the_build_from_a_subdirectory",
                               "test_dev_setup::test_env_in_a_real_bash_puts_the_build_first"],
    "The artifact cache": [
        "test_cache_build::test_reinstall_from_the_cache_is_checked_and_reuses_its_verification",
        # the shared store: the session build's artifact, signed, installed elsewhere
        "test_docker_image::test_the_image_installed_the_session_builds_artifact_without_compiling",
        "test_fresh_machine::test_the_team_machine_installed_the_stores_build_without_compiling"],
    "PGO profiles and ccache": ["test_pgo_build::test_the_real_build_recorded_its_profile",
                                "test_bisect_build::test_a_second_bisect_builds_nothing"],
    "What an install guarantees": ["test_real_build::test_interrupted_rebuild_keeps_the_install",
                                   "test_real_build::test_nothing_left_behind"],
    "Verifying sub-interpreters": ["test_verify_build::test_verify_full_runs_cpythons_subinterpreter_tests",
                                   "test_real_build::test_subinterpreter_modules_import_and_run"],
    "CPython's whole test suite: `verify --suite`": [
        "test_verify_build::test_suite_on_a_selection_of_cpythons_own_tests"],
    "Two roads to parallelism: sub-interpreters and free-threading": [
        "test_git_build::test_the_gil_is_off_and_the_install_proved_it",
        "test_git_build::test_compat_names_the_package_that_turns_the_gil_back_on"],
    "Find races in your C extension: sanitizer builds": [
        "test_sanitizer_build::test_a_race_in_a_c_extension_is_reported_by_name_and_fails_the_run"],
    "Which CPython commit broke my code? `pybuild12 bisect`": [
        "test_bisect_build::test_bisect_names_the_commit_that_broke_colorsys"],
    "Which of my packages can run in parallel? `pybuild12 compat`": [
        "test_compat_build::test_the_verdicts_match_what_an_import_in_a_sub_interpreter_does"],
    "CI": ["test_action_build::test_a_fresh_home_restores_it_with_a_working_python_on_path"],
    "GitHub Actions": ["test_action_build::test_the_first_run_saves_the_build_it_finds",
                       "test_action_build::test_a_fresh_home_restores_it_with_a_working_python_on_path"],
    # GitLab's recipe is `pybuild12 key` with `cache export`/`import` through its cache:
    # the steps the Action's test runs.
    "GitLab CI": ["test_action_build::test_the_first_run_saves_the_build_it_finds"],
    "Docker image": ["test_docker_image::test_the_image_runs_an_own_gil_subinterpreter",
                     "test_docker_image::test_the_image_has_pybuild12_and_verifies_its_build"],
    "Offline use and mirrors": ["test_real_build::test_source_came_from_the_mirror"],
    "Git sources": ["test_git_build::test_receipt_records_the_pin_and_its_resolution"],
    "Recipes": ["test_real_build::test_installed_python_is_the_pinned_optimized_release"],
}
# Sections whose real build does not fit CI's budget: run by `scripts/test --heavy`.
HEAVY_ONLY = {
    "The fastest build: `--optimize max`": "clang ThinLTO+PGO+BOLT: test_optimize_build.py (heavy); unit tests "
                                           "check its toolchain and configure line",
}
# Sections that describe no capability of their own (reference, figures, how to develop).
REFERENCE = {"Exit codes", "What each cache tier costs", "Where files go", "Development"}


def readme_sections() -> list[str]:
    return [m.group(2).strip() for m in re.finditer(r"^(##|###) (.+)$", (ROOT / "README.md").read_text(), re.M)]


def marks(decorators: list[ast.expr]) -> set[str]:
    found = set()
    for node in decorators:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Attribute) and sub.value.attr == "mark":
                found.add(sub.attr)
    return found


def module_marks(tree: ast.Module) -> set[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets):
            return marks([node.value])
    return set()


def lanes() -> dict[str, list[str]]:
    """The LANES of tests/integration/conftest.py: the modules CI runs, lane by lane."""
    tree = ast.parse((INTEGRATION / "conftest.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "LANES" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("tests/integration/conftest.py has no LANES")


def test_every_section_of_the_readme_is_placed():
    unplaced = [s for s in readme_sections() if s not in CAPABILITIES and s not in HEAVY_ONLY and s not in REFERENCE]
    assert unplaced == [], f"README sections with no real-build test named in {__name__}: {unplaced}"
    gone = [s for s in (*CAPABILITIES, *HEAVY_ONLY, *REFERENCE) if s not in readme_sections()]
    assert gone == [], f"named here but no longer README sections: {gone}"


@pytest.mark.parametrize("section", sorted(CAPABILITIES))
def test_each_capability_runs_on_a_real_build_in_ci(section):
    in_lanes = {module for modules in lanes().values() for module in modules}
    for name in CAPABILITIES[section]:
        module, test = name.split("::")
        tree = ast.parse((INTEGRATION / f"{module}.py").read_text())
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert test in functions, f"{section}: {name} does not exist"
        assert "integration" in module_marks(tree), f"{section}: {module} is not an integration test"
        heavy = "heavy" in module_marks(tree) or "heavy" in marks(functions[test].decorator_list)
        assert not heavy, f"{section}: {name} is heavy, so CI does not run it"
        assert module in in_lanes, f"{section}: {module} is in none of CI's lanes"
