"""`pybuild12 bisect`: the step logic with the fake CPython in a local git repository.

The history: good, good, broken (its configure fails), good, BAD (the mark a user's
command sees turns "bad"), bad, bad. The command reads the build's mark through
$PYBUILD12_PYTHON, as a user's test would see a change in the interpreter. The real
builds are in tests/integration/test_bisect_build.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fakecpython import HOST_MINOR, make_git_recipe, needs_host_interpreters, source_files
from gitrepos import commit, git, init
from pybuild12.core.errors import UsageError
from pybuild12.core.report import Reporter
from pybuild12.core.settings import Settings
from pybuild12.install import bisecting
from pybuild12.install.job import InstallOptions

pytestmark = needs_host_interpreters
MARKS = ("good", "good", "broken", "good", "bad", "bad", "bad")
# The user's command: exit 1 when the build's mark says bad.
CHECK = [sys.executable, "-c", "import os, pathlib, sys; p = pathlib.Path(os.environ['PYBUILD12_PYTHON']); "
         f"mark = (p.parent.parent / 'lib/python{HOST_MINOR}/build-mark.txt').read_text().strip(); "
         "sys.exit(1 if mark == 'bad' else 0)"]


@pytest.fixture
def history(tmp_path):
    repo = init(tmp_path / "upstream" / "cpython")
    shas = []
    for day, mark in enumerate(MARKS, start=1):
        files = source_files("good" if mark == "broken" else mark)
        texts = {n: t for n, (t, _) in files.items()}
        texts["Misc/NEWS"] = f"commit {day}\n"  # each commit changes something
        if mark == "broken":
            texts["configure"] = "#!/bin/sh\necho 'configure: error: this commit does not build' >&2\nexit 1\n"
        shas.append(commit(repo, texts, f"commit {day}: {mark}", day=day, modes={n: m for n, (_, m) in files.items()}))
    git(repo, "tag", "v1", shas[0])
    recipe = make_git_recipe(tmp_path, repo.as_uri(), shas[0])
    return {"repo": repo, "shas": shas, "recipe": str(recipe)}


class Steps(Reporter):
    def __init__(self):
        self.lines = []

    def info(self, text):
        self.lines.append(text)

    def warn(self, text):
        self.lines.append("warning: " + text)


def _bisect(paths, reporter=None):
    return bisecting.Bisect(paths, Settings.from_env(), reporter or Steps())


def test_bisect_names_the_breaking_commit_and_skips_the_one_that_does_not_build(history, paths, tmp_path):
    reporter = Steps()
    answer = _bisect(paths, reporter).start(history["recipe"], "v1", history["shas"][-1][:10], CHECK, cwd=tmp_path)
    assert answer.first == history["shas"][4] and answer.subject == "commit 5: bad"
    results = {s["commit"]: s["result"] for s in answer.steps}
    assert all(results[c] == "good" for c in history["shas"][:4] if c in results and c != history["shas"][2])
    assert results.get(history["shas"][2], "skip") == "skip"  # never blamed
    steps = [line for line in reporter.lines if line.startswith("step ")]
    assert steps and steps[0].startswith("step 1 of about ")
    assert any("command exit" in line for line in reporter.lines)
    assert not (paths.pythons).exists() or not any(paths.pythons.iterdir())  # no installed build appears


def test_a_second_bisect_over_the_same_range_builds_nothing(history, paths, tmp_path):
    first = _bisect(paths).start(history["recipe"], history["shas"][0], history["shas"][-1], CHECK, cwd=tmp_path)
    again = _bisect(paths).start(history["recipe"], history["shas"][0], history["shas"][-1], CHECK, cwd=tmp_path)
    assert again.first == first.first
    assert again.steps and all(s["cached"] for s in again.steps)  # a commit that did not build is not tried again


def test_a_range_that_only_a_broken_commit_separates_says_what_it_could_be(history, paths, tmp_path):
    shas = history["shas"]
    # between good 2 and bad 4 lies only 3, which does not build: skipped, never blamed
    answer = _bisect(paths).start(history["recipe"], shas[1], shas[3], CHECK, cwd=tmp_path)
    assert answer.first is None
    assert set(answer.candidates) == {shas[2], shas[3]} and answer.skipped == (shas[2],)
    assert answer.steps[0]["build"].startswith("does not build (")


def test_fixed_finds_the_commit_that_made_it_pass(history, paths, tmp_path):
    shas = history["shas"]
    # "fixed" as the command sees it: it passes where the mark is bad (newer commits).
    passes_when_bad = CHECK[:2] + [CHECK[2].replace("1 if mark == 'bad' else 0", "0 if mark == 'bad' else 1")]
    answer = _bisect(paths).start(history["recipe"], shas[-1], shas[3], passes_when_bad, cwd=tmp_path, fixed=True)
    assert answer.first == shas[4] and answer.fixed
    assert answer.to_json()["first_fixed"] == shas[4]


def test_the_command_runs_in_the_users_directory_with_the_build_first_on_path(history, paths, tmp_path):
    work = tmp_path / "project"
    work.mkdir()
    record = ("import os; open('seen.txt', 'a').write(os.getcwd() + '|' + os.environ['PATH'].split(os.pathsep)[0]"
              " + '|' + os.environ['PYBUILD12_PYTHON'] + chr(10)); ")
    probe = CHECK[:2] + [record + CHECK[2]]
    answer = _bisect(paths).start(history["recipe"], history["shas"][3], history["shas"][5], probe, cwd=work)
    assert answer.first == history["shas"][4]
    rows = [line.split("|") for line in (work / "seen.txt").read_text().splitlines()]
    assert rows
    for cwd, first_on_path, python in rows:
        assert cwd == str(work) and Path(python).parent == Path(first_on_path)
        assert Path(python).is_relative_to(paths.cache / "bisect")  # a step's build, not an installed one


def test_exit_125_skips_and_a_crash_is_bad(history, paths, tmp_path):
    shas = history["shas"]
    # skip every commit: only skipped ones are left, and the answer says which it could be
    answer = _bisect(paths).start(history["recipe"], shas[0], shas[-1], [sys.executable, "-c", "raise SystemExit(125)"],
                                  cwd=tmp_path)
    assert answer.first is None and shas[-1] in answer.candidates
    killed = _bisect(paths).start(history["recipe"], shas[3], shas[5],
                                  [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"],
                                  cwd=tmp_path)
    assert killed.first == shas[4] and killed.steps[0]["exit"] == 128 + 11 and killed.steps[0]["result"] == "bad"


@pytest.mark.parametrize("good, bad, said", [
    ("nosuchtag", "HEAD", "--good nosuchtag: no commit, tag or branch"),
    ("v1", "0000000", "--bad 0000000: no commit, tag or branch"),
])
def test_bad_revisions_are_refused_by_name(history, paths, tmp_path, good, bad, said):
    with pytest.raises(UsageError, match=said):
        _bisect(paths).start(history["recipe"], good, bad, CHECK, cwd=tmp_path)


def test_good_newer_than_bad_suggests_fixed(history, paths, tmp_path):
    shas = history["shas"]
    with pytest.raises(UsageError) as caught:
        _bisect(paths).start(history["recipe"], shas[-1], shas[0], CHECK, cwd=tmp_path)
    assert "newer than --bad" in caught.value.message and "--fixed" in caught.value.hint


def test_a_tarball_recipe_has_nothing_to_bisect(paths, tmp_path):
    with pytest.raises(UsageError, match="release tarball"):
        _bisect(paths).start("3.13.5", "a", "b", CHECK, cwd=tmp_path)


def test_an_interrupted_bisect_resumes_where_it_stopped(history, paths, tmp_path, monkeypatch):
    from pybuild12.core.errors import Interrupted

    shas = history["shas"]
    real = bisecting.Bisect._run
    calls = {"n": 0}

    def interrupted_once(self, plan, python, prefix):
        calls["n"] += 1
        if calls["n"] == 2:
            raise Interrupted("interrupted")
        return real(self, plan, python, prefix)

    monkeypatch.setattr(bisecting.Bisect, "_run", interrupted_once)
    with pytest.raises(Interrupted, match="bisect --resume"):
        _bisect(paths).start(history["recipe"], shas[0], shas[-1], CHECK, cwd=tmp_path)
    state = json.loads((paths.cache / "bisect" / "state.json").read_text())
    assert len(state["steps"]) == 1
    answer = _bisect(paths).resume()
    assert answer.first == shas[4] and len(answer.steps) >= 2
    with pytest.raises(UsageError, match="nothing to resume"):
        _bisect(paths).resume()


def test_keep_installs_the_commit_it_finds(history, paths, tmp_path):
    shas = history["shas"]
    answer = _bisect(paths).start(history["recipe"], shas[3], shas[5], CHECK, cwd=tmp_path, keep="culprit",
                                  options=InstallOptions())
    assert answer.first == shas[4]
    receipt = json.loads((paths.prefix("culprit") / "pybuild12.json").read_text())
    assert receipt["source"]["commit"] == shas[4]


def _step_receipts(paths):
    pythons = bisecting.bisect_paths(paths).pythons
    return [json.loads((p / "pybuild12.json").read_text()) for p in sorted(pythons.iterdir()) if p.is_dir()]


@pytest.mark.parametrize("asked", [None, True])
def test_steps_skip_make_installs_bytecode_unless_asked(history, paths, tmp_path, asked):
    shas = history["shas"]
    _bisect(paths).start(history["recipe"], shas[3], shas[5], CHECK, cwd=tmp_path,
                         options=InstallOptions(compile_bytecode=asked))
    steps = _step_receipts(paths)
    assert steps and all(r["bytecode"] is bool(asked) for r in steps), steps
    quick = bisecting.quick(InstallOptions(compile_bytecode=asked))
    assert (quick.compile_bytecode, quick.default_bytecode) == (asked, False)


def test_a_step_built_with_bytecode_before_still_answers(history, paths, tmp_path):
    shas = history["shas"]
    first = _bisect(paths).start(history["recipe"], shas[3], shas[5], CHECK, cwd=tmp_path,
                                 options=InstallOptions(compile_bytecode=True))
    assert all(r["bytecode"] is True for r in _step_receipts(paths))
    # the same bisect as it runs by default (no bytecode): the builds are found, nothing is built
    again = _bisect(paths).start(history["recipe"], shas[3], shas[5], CHECK, cwd=tmp_path)
    assert again.first == first.first == shas[4] and all(s["cached"] for s in again.steps)


def test_the_cli_says_the_answer_and_prints_json(history, tmp_path):
    env = {**os.environ, "PYBUILD12_HOME": str(tmp_path / "home")}
    talking = CHECK[:2] + ["print('the command says hello'); " + CHECK[2]]  # its output must not spoil the JSON
    out = subprocess.run([sys.executable, "-m", "pybuild12", "bisect", history["recipe"], "--good", "v1", "--bad",
                          history["shas"][-1], "--json", "--", *talking], env=env, capture_output=True, text=True,
                         cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads(out.stdout)
    assert data["first_bad"] == history["shas"][4] and data["subject"] == "commit 5: bad"
    assert "first bad commit:" in out.stderr and "step 1 of about" in out.stderr
    assert "the command says hello" in out.stderr
    missing = subprocess.run([sys.executable, "-m", "pybuild12", "bisect", history["recipe"], "--good", "v1"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == UsageError.exit_code and "--bad" in missing.stderr and "COMMAND" in missing.stderr


def test_a_second_bisect_at_once_is_refused(history, paths, tmp_path):
    import filelock

    (paths.cache / "bisect").mkdir(parents=True)
    with filelock.FileLock(str(paths.cache / "bisect" / "bisect.lock")):
        with pytest.raises(UsageError, match="another bisect is running"):
            _bisect(paths).start(history["recipe"], "v1", history["shas"][-1], CHECK, cwd=tmp_path)
