"""The command line as a user meets it: messages on stderr, results on stdout, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from fakecpython import HOST_MINOR, make_recipe, make_tarball, needs_host_interpreters
from helpers import fake_build
from pybuild12.request import recipes


def cli(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybuild12", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=120)


def test_help_documents_exit_codes_and_commands():
    out = cli("--help")
    assert out.returncode == 0
    for word in ("install", "list", "uninstall", "which", "Exit codes", "130 interrupted"):
        assert word in out.stdout


def test_install_help_answers_the_usual_questions():
    out = cli("install", "--help").stdout
    for option in ("--jobs", "--configure-opt", "--force", "--keep-build", "--commit", "--name", "--no-verify",
                   "PYBUILD12_CONFIGURE_OPTS"):
        assert option in out


def test_unknown_recipe_exit_3_with_suggestion():
    out = cli("install", "3.13.55")
    assert out.returncode == 3
    assert "unknown recipe '3.13.55'" in out.stderr and "did you mean 3.13.5" in out.stderr
    assert out.stdout == ""


def test_bad_recipe_file_names_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('version = "3.13.5"\nsummary = "x"\n'
                   '[source]\nkind = "tarball"\nurl = "https://x.invalid/a.tar.xz"\nsha265 = "00"\n')
    out = cli("install", str(bad))
    assert out.returncode == 3
    assert str(bad) in out.stderr and "sha265" in out.stderr and "did you mean 'sha256'" in out.stderr


def test_which_and_uninstall_of_unknown_build_exit_8():
    assert cli("which", "3.13.5").returncode == 8
    out = cli("uninstall", "3.13.5")
    assert out.returncode == 8 and "pybuild12 install 3.13.5" in out.stderr


def test_usage_error_exit_2():
    assert cli("install", "3.13.5", "--jobs", "0").returncode == 2
    assert cli("frobnicate").returncode == 2


def test_list_json_shows_every_shipped_recipe():
    out = cli("list", "--json")
    data = json.loads(out.stdout)
    assert [r["name"] for r in data["recipes"]] == recipes.available()
    assert data["installed"] == []
    main = next(r for r in data["recipes"] if r["name"] == "main")
    assert main["source"] == "git"


@needs_host_interpreters
def test_install_then_which_then_uninstall(tmp_path):
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha)
    out = cli("install", str(recipe), "--no-verify")
    assert out.returncode == 0, out.stderr
    python = out.stdout.strip()
    assert python.endswith(f"/fake/bin/python{HOST_MINOR}")
    for phase in ("fetch", "extract", "configure", "compile with PGO", "install", "check"):
        assert f"✓ {phase}" in out.stderr
    assert cli("which", "fake").stdout.strip() == python
    again = cli("install", str(recipe), "--no-verify")
    assert again.returncode == 0 and "already installed" in again.stderr
    assert cli("uninstall", "fake").returncode == 0
    assert not os.path.exists(python)


@needs_host_interpreters
def test_failed_build_shows_phase_tail_and_log(tmp_path):
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha)
    out = cli("install", str(recipe), "--no-verify", env={"FAKE_FAIL": "make"})
    assert out.returncode == 6
    assert "gcc: fatal error: killed" in out.stderr
    assert "compile line 40" in out.stderr and "compile line 5\n" not in out.stderr  # only the last 30 lines
    assert "error: compile with PGO failed: make" in out.stderr and "phase:" not in out.stderr  # said once
    log_line = next(line for line in out.stderr.splitlines() if line.strip().startswith("log:"))
    assert os.path.isfile(log_line.split("log:", 1)[1].strip())


def test_checksum_mismatch_exit_5(tmp_path):
    tarball, _ = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, "f" * 64)
    out = cli("install", str(recipe))
    assert out.returncode == 5 and "checksum mismatch" in out.stderr


def test_missing_compiler_exit_4_names_packages(tmp_path):
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha)
    out = cli("install", str(recipe), env={"CC": "no-such-cc-anywhere"})
    assert out.returncode == 4
    assert "build-essential" in out.stderr and "dnf install" in out.stderr


def test_doctor_reports_everything_present_here():
    from pybuild12.builder import preflight

    present = {c.name for c in preflight.doctor("/") if c.ok}
    if not {"cc", "make", "pkg-config"} <= present:
        pytest.skip("this machine lacks build tools")
    out = cli("doctor", "--json")
    data = json.loads(out.stdout)
    assert out.returncode == (0 if data["ok"] else 4)
    names = [c["name"] for c in data["checks"]]
    assert names[:4] == ["cc", "make", "pkg-config", "git"] and "disk" in names and "ssl" in names


def test_doctor_finds_missing_tools_on_a_narrow_path(tmp_path):
    out = cli("doctor", "--json", env={"PATH": str(tmp_path), "CC": ""})
    assert out.returncode == 4
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    for tool in ("cc", "make", "pkg-config", "git"):
        assert checks[tool]["ok"] is False
    assert checks["cc"]["debian"] == "build-essential" and checks["cc"]["fedora"] == "gcc"
    table = cli("doctor", env={"PATH": str(tmp_path), "CC": ""})
    assert "missing" in table.stdout and "build-essential" in table.stdout


def test_doctor_piped_fits_the_width_and_names_each_program_once(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    for columns, width in ((None, 80), ("132", 132)):
        out = subprocess.run([sys.executable, "-m", "pybuild12", "doctor"], capture_output=True, text=True,
                             env={**env, **({"COLUMNS": columns} if columns else {})}, timeout=60)
        assert out.returncode in (0, 4) and out.stdout.startswith(" item ")
        assert max(len(line) for line in out.stdout.splitlines()) <= width, out.stdout
        items = [line.split()[0] for line in out.stdout.splitlines()[1:] if line[1:2].strip()]  # a row's first line
        assert "clang-19" in items and len(items) == len(set(items)), items
        assert "build-essential" in out.stdout  # the package column is whole, not cut with an ellipsis


@needs_host_interpreters
def test_run_passes_stdin_stdout_and_exit_code(tmp_path):
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha)
    assert cli("install", str(recipe), "--no-verify").returncode == 0
    proc = subprocess.run([sys.executable, "-m", "pybuild12", "run", "fake", "--", "-c",
                           "import sys; print(sys.stdin.read().upper()); sys.exit(7)"],
                          input="hello", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 7 and proc.stdout == "HELLO\n"


@needs_host_interpreters
def test_run_gives_every_argument_after_the_script_or_module_to_python(tmp_path):
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha)
    assert cli("install", str(recipe), "--no-verify").returncode == 0
    project = tmp_path / "project"
    project.mkdir()
    (project / ".python-version").write_text("fake\n")
    (project / "show.py").write_text("import json, sys; print(json.dumps(sys.argv[1:]))\n")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pybuild12", "run", *args], capture_output=True, text=True,
                              cwd=project, timeout=120)

    for args, seen in [
        (["show.py", "--help", "-x", "--version", "--", "-c"], ["--help", "-x", "--version", "--", "-c"]),
        (["fake", "show.py", "--help", "--debug"], ["--help", "--debug"]),
        (["fake", "--", "show.py", "--help", "--"], ["--help", "--"]),
        (["--", "show.py", "--help"], ["--help"]),
        (["-c", "import json, sys; print(json.dumps(sys.argv))", "--help", "--version"], ["-c", "--help", "--version"]),
    ]:
        out = run(*args)
        assert out.returncode == 0, (args, out.stderr)
        assert json.loads(out.stdout) == seen, args
    module = run("-m", "json.tool", "--help")
    assert module.returncode == 0, module.stderr
    assert module.stdout.startswith("usage: python") and "json.tool" in module.stdout
    assert "pybuild12" not in module.stdout
    own = run("--help")
    assert own.returncode == 0 and "Run a build's python" in own.stdout and "run [NAME] [--] [ARGS]" in own.stdout


def test_run_help_needs_no_build(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pybuild12", "run", "--help"], capture_output=True, text=True,
                         cwd=tmp_path, env={k: v for k, v in os.environ.items() if k != "PYBUILD12_VERSION"},
                         timeout=60)
    assert out.returncode == 0 and "Every argument after NAME" in out.stdout and out.stderr == ""


def test_run_without_a_pin_says_how_to_pin(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pybuild12", "run", "--", "-c", "print(1)"],
                          capture_output=True, text=True, cwd=tmp_path,
                          env={k: v for k, v in os.environ.items() if k != "PYBUILD12_VERSION"}, timeout=60)
    assert proc.returncode == 2 and "pybuild12 pin NAME" in proc.stderr
    assert "pybuild12 run NAME -- -c 'print(1)'" in proc.stderr  # the '--' typed is not repeated


def test_pinned_but_not_installed_says_how_to_install(tmp_path):
    assert subprocess.run([sys.executable, "-m", "pybuild12", "pin", "3.14.10"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60).returncode == 0
    proc = subprocess.run([sys.executable, "-m", "pybuild12", "which"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 8
    assert f"pinned by {tmp_path / '.python-version'}" in proc.stderr and "pybuild12 install 3.14.10" in proc.stderr


@needs_host_interpreters
def test_profile_export_list_and_build_with_it(tmp_path):
    tarball, sha = make_tarball(tmp_path / "src")
    recipe = make_recipe(tmp_path, tarball, sha)
    assert cli("install", str(recipe), "--no-verify").returncode == 0
    listed = json.loads(cli("profile", "list", "--json").stdout)
    assert len(listed) == 1 and listed[0]["source"] == sha and listed[0]["files"] == 2
    exported = tmp_path / "fake.profile.tar.zst"
    out = cli("profile", "export", "fake", str(exported))
    assert out.returncode == 0 and exported.is_file() and "2 .gcda files" in out.stderr
    other = cli("install", str(recipe), "--no-verify", "--name", "two", "--pgo-profile", str(exported),
                env={"PYBUILD12_HOME": str(tmp_path / "home2")})
    assert other.returncode == 0, other.stderr
    assert "✓ compile with the recorded PGO profile" in other.stderr and "✓ profile" in other.stderr
    cleared = cli("cache", "clear")
    assert "1 PGO profile(s)" in cleared.stderr and json.loads(cli("profile", "list", "--json").stdout) == []
    gone = cli("profile", "export", "fake", str(tmp_path / "again.tar.zst"))
    assert gone.returncode == 1 and "--fresh-profile" in gone.stderr


def test_profile_errors_are_clear(tmp_path):
    assert cli("profile", "export", "nosuch", str(tmp_path / "f")).returncode == 8
    missing = cli("install", "3.13.5", "--pgo-profile", str(tmp_path / "absent.tar.zst"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    both = cli("install", "3.13.5", "--pgo-profile", __file__, "--fresh-profile")
    assert both.returncode == 2 and "exclude each other" in both.stderr


# ------------------------------------------------------------------ names as pyenv and uv resolve them


@pytest.fixture
def line_of_builds(paths):
    """3.13.5, 3.13.10 and a free-threaded 3.13.11: the newest 3.13 with the GIL is 3.13.10."""
    fake_build(paths, "3.13.5", "3.13.5")
    fake_build(paths, "3.13.10", "3.13.10")
    fake_build(paths, "3.13.11+freethreaded", "3.13.11", ("freethreaded",))
    return paths


def test_which_finds_the_newest_build_of_a_line_and_kind(line_of_builds):
    for request, build in (("3.13", "3.13.10"), ("3.13t", "3.13.11+freethreaded"),
                           ("3.13+freethreaded", "3.13.11+freethreaded"), ("3.13.5", "3.13.5"), ("3", "3.13.10")):
        out = cli("which", request)
        assert out.returncode == 0, (request, out.stderr)
        assert out.stdout.strip() == str(line_of_builds.prefix(build) / "bin" / "python3"), request


def test_a_pinned_line_works_through_which_and_run(line_of_builds, tmp_path):
    env = {"PYBUILD12_VERSION": ""}
    (tmp_path / ".python-version").write_text("3.13\n")
    assert cli("which", env=env, cwd=tmp_path).stdout.strip().endswith("/pythons/3.13.10/bin/python3")
    ran = cli("run", "-c", "pass", env=env, cwd=tmp_path)
    assert ran.returncode == 0 and ran.stdout == "3.13.10: -c pass\n", ran.stderr
    (tmp_path / ".python-version").write_text("3.13t\n")
    ran = cli("run", "script.py", env=env, cwd=tmp_path)
    assert ran.stdout == "3.13.11+freethreaded: script.py\n", ran.stderr
    named = cli("run", "3.13", "--", "script.py", env=env, cwd=tmp_path)  # the README's example
    assert named.returncode == 0 and named.stdout == "3.13.10: script.py\n", named.stderr


def test_a_free_threaded_request_is_not_pointed_at_the_gil_build(paths):
    fake_build(paths, "3.13.5", "3.13.5")
    out = cli("which", "3.13.5t")
    assert out.returncode == 8
    hint = out.stderr.split("hint:", 1)[1]
    assert "3.13.5?" not in hint and "3.13.5," not in hint and "3.13.5 " not in hint and "3.13.5." not in hint
    assert "No free-threaded build is installed" in hint and "(as 3.13.5+freethreaded)" in hint


def test_uninstall_of_a_line_takes_one_match_and_refuses_several(line_of_builds):
    several = cli("uninstall", "3.13")
    assert several.returncode == 2 and "'3.13' matches 2 installed builds: 3.13.10, 3.13.5" in several.stderr
    assert line_of_builds.prefix("3.13.10").is_dir() and line_of_builds.prefix("3.13.5").is_dir()
    assert cli("uninstall", "3.13.10").returncode == 0
    one = cli("uninstall", "3.13")
    assert one.returncode == 0 and "3.13 names 3.13.5, the one installed build it matches" in one.stderr
    assert not line_of_builds.prefix("3.13.5").exists() and line_of_builds.prefix("3.13.11+freethreaded").is_dir()


@needs_host_interpreters
def test_install_without_a_name_builds_the_pin(tmp_path):
    tarball, sha = make_tarball(tmp_path / "src")
    make_recipe(tmp_path, tarball, sha)
    (tmp_path / ".python-version").write_text("fake.toml\n")
    out = cli("install", "--no-verify", env={"PYBUILD12_VERSION": ""}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"installing fake.toml (pinned by {tmp_path / '.python-version'})" in out.stderr
    assert out.stdout.strip().endswith(f"/pythons/fake/bin/python{HOST_MINOR}")
    assert cli("which", env={"PYBUILD12_VERSION": ""}, cwd=tmp_path).stdout == out.stdout


def test_install_without_a_name_or_a_pin_is_a_usage_error(tmp_path, pybuild12_home):
    out = cli("install", env={"PYBUILD12_VERSION": ""}, cwd=tmp_path)
    assert out.returncode == 2 and "nothing named, and nothing pinned" in out.stderr
    assert "pybuild12 pin 3.13" in out.stderr and "Traceback" not in out.stderr
    assert not (pybuild12_home / "data").exists()


# ------------------------------------------------------------------ start-up: what the answering commands import

# What only the commands that build, fetch, sign or check need: an answering command (which
# may sit in a shell's start-up) must not pay for them (benchmarks/startup.py has the figures).
HEAVY = ("requests", "urllib3", "cryptography", "zstandard", "pydantic", "pydantic_core", "pybuild12.install",
         "pybuild12.store.artifacts", "pybuild12.store.remote", "pybuild12.store.signing", "pybuild12.store.profiles",
         "pybuild12.sources", "pybuild12.checks")


def imported(*argv: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run `python -X importtime ARGV`; the modules it imported."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *argv], capture_output=True, text=True, timeout=60)
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "encodings" in modules, proc.stderr[-2000:]  # the report was read
    return proc, modules


@pytest.mark.parametrize("args, answer", [
    (["which", "3.13.5"], "/pythons/3.13.5/bin/python3\n"),
    (["env", "3.13.5"], "PYBUILD12_ACTIVE"),
    (["run", "3.13.5", "-c", "pass", "--help"], "3.13.5: -c pass --help\n"),  # the stand-in python's echo
    (["list"], "available recipes"),
    (["--version"], "pybuild12 "),
    (["--help"], "Exit codes"),
], ids=["which", "env", "run", "list", "--version", "--help"])
def test_an_answering_command_imports_nothing_heavy(args, answer, paths):
    prefix = fake_build(paths, "3.13.5", "3.13.5")
    (prefix / "bin" / "pip3").write_text("#!/bin/sh\n")  # `env` warns of a build without pip
    proc, modules = imported("-m", "pybuild12", *args)
    assert proc.returncode == 0 and answer in proc.stdout, proc.stderr[-2000:]
    heavy = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == [], heavy
    if args[0] != "list":  # rich waits for a table or a message (unless typer itself imports it, as older ones do)
        _, typer_alone = imported("-c", "import typer")
        assert not any(m.split(".")[0] == "rich" for m in modules - typer_alone), sorted(modules - typer_alone)


def test_the_start_up_check_sees_a_heavy_import(paths):
    """The check above can fail: `cache list` needs zstandard, through the artifact store."""
    _, modules = imported("-m", "pybuild12", "cache", "list")
    assert "zstandard" in modules and "pybuild12.store.artifacts" in modules
