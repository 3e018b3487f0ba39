"""`pybuild12 bisect`: which CPython commit broke (or fixed) a command, by building them.

Git does the bisecting: a bare clone of the recipe's cached repository (sharing its
objects) holds the bisect's state, so a bisect survives Ctrl-C and `--resume` goes on
where it stopped, and two bisects never share one. Each step builds the commit git
picks through the ordinary install, quick by default (no PGO, no LTO, no bytecode
compiled at install, through ccache, no verification), into a prefix of its own under
`<cache>/bisect/`: never an installed build (`list` does not show it), and kept, so a
repeated or overlapping bisect finds the build installed, or in the artifact cache
under the same key. The command then runs in the user's directory with that build's
`bin` first on PATH and its python as $PYBUILD12_PYTHON: exit 0 is good, 125 skip,
anything else (a crash too) bad; a commit that does not build is skipped, never blamed.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import filelock

from pybuild12.builder import sanitizers
from pybuild12.core import runner
from pybuild12.core.errors import BuildError, FetchError, Interrupted, PyBuild12Error, UsageError
from pybuild12.core.paths import Paths
from pybuild12.core.report import Reporter
from pybuild12.core.settings import Settings
from pybuild12.install import flow
from pybuild12.install.job import InstallOptions
from pybuild12.install.keying import request
from pybuild12.request.recipes import GitSource
from pybuild12.sources import gitsource

STATE = "state.json"
UNBUILDABLE = "unbuildable.json"  # the commits that did not build, with the options tried
SKIP = 125
_LEFT = re.compile(r"Bisecting: (\d+) revisions? left to test after this \(roughly (\d+) steps?\)")
_FIRST = re.compile(r"^([0-9a-f]{40}) is the first (\w+) commit", re.MULTILINE)
_ONLY_SKIPPED = re.compile(r"only 'skip'ped commits left to test.*?could be any of:\n((?:[0-9a-f]{40}\n?)+)",
                           re.DOTALL)


@dataclass
class Plan:
    """What a bisect was asked, saved for --resume."""

    spec: str
    good: str  # full hashes, resolved at the start
    bad: str
    command: list[str]
    cwd: str
    fixed: bool = False
    keep: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # InstallOptions fields
    steps: list[dict[str, Any]] = field(default_factory=list)  # what each step found

    @property
    def terms(self) -> tuple[str, str]:
        """git's (old, new): the command passes on the old side unless --fixed."""
        return ("broken", "fixed") if self.fixed else ("good", "bad")


@dataclass(frozen=True)
class Answer:
    first: str | None  # the first bad (or fixed) commit; None when skips hide it
    subject: str
    candidates: tuple[str, ...]  # with skips: the commits it could be
    skipped: tuple[str, ...]
    steps: list[dict[str, Any]]
    fixed: bool

    def to_json(self) -> dict[str, Any]:
        return {"first_" + ("fixed" if self.fixed else "bad"): self.first, "subject": self.subject,
                "candidates": list(self.candidates), "skipped": list(self.skipped), "steps": self.steps}


def quick(options: InstallOptions) -> InstallOptions:
    """A step's install options: what the user gave, quick where they said nothing (no PGO,
    no LTO, no bytecode compiled at install, through ccache, no verification: the command
    is the test, and Python compiles what it imports). The bytecode is a default only: a
    step's build installed with it (before that default) is still the one asked for."""
    return replace(options, optimizations=False if options.optimizations is None else options.optimizations,
                   lto=False if options.lto is None else options.lto, default_bytecode=False, ccache=True,
                   verify=False, name=None, commit=None, force=False, push=False)


def bisect_paths(paths: Paths) -> Paths:
    """Where the steps' builds go: their own data directory under the cache (never the
    installed builds), the caches (sources, artifacts, ccache) shared with every install."""
    return Paths(data=paths.cache / "bisect", cache=paths.cache, logs=paths.logs, config=paths.config)


class Bisect:
    def __init__(self, paths: Paths, settings: Settings, reporter: Reporter,
                 on_step: Callable[[dict[str, Any]], None] | None = None, *, stdout_to_stderr: bool = False) -> None:
        """`stdout_to_stderr`: the command's output goes to stderr (--json keeps stdout for the answer)."""
        self.paths, self.settings, self.reporter = paths, settings, reporter
        self.stdout_to_stderr = stdout_to_stderr
        self.root = paths.cache / "bisect"
        self.on_step = on_step or (lambda step: None)

    # -------------------------------------------------------------- the repository

    def _source(self, spec: str, options: InstallOptions) -> GitSource:
        recipe = request(spec, options)[0]
        if not isinstance(recipe.source, GitSource):
            raise UsageError(f"{spec} is built from a release tarball: there are no commits to bisect",
                             hint="bisect a git recipe: main, or a recipe file whose [source] has kind = \"git\"")
        return recipe.source

    def _clone(self) -> Path:
        return self.root / "repo.git"

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = runner.capture(["git", "--git-dir", str(self._clone()), *args], env=self._env())
        if check and proc.returncode != 0:
            raise PyBuild12Error(f"git {args[0]} failed: {proc.stderr.strip()[-300:]}")
        return proc

    def _env(self) -> dict[str, str]:
        return {**self.settings.env, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}

    # -------------------------------------------------------------- start, resume

    @contextmanager
    def _alone(self) -> Iterator[None]:
        """One bisect at a time: they share the state and the clone."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(self.root / "bisect.lock"))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            raise UsageError("another bisect is running (it holds " + str(self.root / "bisect.lock") + ")",
                             hint="wait for it to end, or stop it with Ctrl-C; then 'pybuild12 bisect --resume' "
                             "goes on with it") from None
        try:
            yield
        finally:
            lock.release()

    def start(self, spec: str, good: str, bad: str, command: Sequence[str], *, cwd: Path, fixed: bool = False,
              keep: str | None = None, options: InstallOptions = InstallOptions()) -> Answer:
        with self._alone():
            return self._start(spec, good, bad, command, cwd=cwd, fixed=fixed, keep=keep, options=options)

    def _start(self, spec: str, good: str, bad: str, command: Sequence[str], *, cwd: Path, fixed: bool,
               keep: str | None, options: InstallOptions) -> Answer:
        if not command:
            raise UsageError("no command to run at each step",
                             hint="pybuild12 bisect main --good REV --bad REV -- python -c 'import mylib'")
        self.settings.check()
        source = self._source(spec, options)
        log = self.paths.logs / "bisect.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        self.reporter.info(f"fetching the history of {source.url}")
        repo, where = gitsource.history(source, self.paths.cache, log_path=log, env=self.settings.env,
                                        mirror=self.settings.mirror, timeout=self.settings.step_timeout)
        if where.startswith("cache (offline"):
            self.reporter.warn(f"the history could not be fetched; bisecting the cached copy ({where[7:-1]})")
        resolved = {}
        for which, name in (("--good", good), ("--bad", bad)):
            found = gitsource.rev(repo, name, log_path=log, env=self.settings.env)
            if found is None:
                raise UsageError(f"{which} {name}: no commit, tag or branch of that name in {source.url}",
                                 hint="give a tag (v3.13.0), a branch (main), or a commit, full or abbreviated")
            resolved[which] = found
        old, new = (resolved["--good"], resolved["--bad"]) if not fixed else (resolved["--bad"], resolved["--good"])
        if old == new:
            raise UsageError("--good and --bad are the same commit", hint="give two different commits")
        if not self._is_ancestor(repo, old, new):
            if self._is_ancestor(repo, new, old):
                raise UsageError(
                    f"--good {good} is newer than --bad {bad}" if not fixed else
                    f"--good {good} is older than --bad {bad}",
                    hint=("to find the commit that fixed it, add --fixed" if not fixed
                          else "without --fixed, bisect finds the commit that broke it"))
            raise UsageError(f"{good} and {bad} are on different lines of history",
                             hint="give a --good commit that is an ancestor of --bad")
        self._fresh_clone(repo)
        plan = Plan(spec, resolved["--good"], resolved["--bad"], list(command), str(cwd), fixed, keep,
                    _options_json(options))
        term_old, term_new = plan.terms
        self._git("update-ref", "--no-deref", "HEAD", new)  # the clone's HEAD names no branch of its own
        out = self._git("bisect", "start", "--no-checkout", f"--term-old={term_old}", f"--term-new={term_new}",
                        new, old)
        self._save(plan)
        return self._loop(plan, out.stdout)

    def resume(self) -> Answer:
        with self._alone():
            return self._resume()

    def _resume(self) -> Answer:
        try:
            plan = Plan(**json.loads((self.root / STATE).read_text("utf-8")))
        except (OSError, ValueError, TypeError):
            raise UsageError("no bisect to resume", hint="start one: pybuild12 bisect RECIPE --good REV --bad REV "
                             "-- COMMAND") from None
        if not (self._clone() / "BISECT_START").exists():
            raise UsageError("the last bisect has ended; there is nothing to resume",
                             hint="start another: pybuild12 bisect RECIPE --good REV --bad REV -- COMMAND")
        self.reporter.info(f"resuming the bisect of {plan.spec} ({len(plan.steps)} step(s) done)")
        return self._loop(plan, "")

    def _is_ancestor(self, repo: Path, old: str, new: str) -> bool:
        proc = runner.capture(["git", "--git-dir", str(repo), "merge-base", "--is-ancestor", old, new],
                              env=self._env())
        return proc.returncode == 0

    def _fresh_clone(self, repo: Path) -> None:
        """A bare clone sharing the cached repository's objects, for this bisect's state alone."""
        if (self.root / STATE).exists() and (self._clone() / "BISECT_START").exists():
            self.reporter.warn("an unfinished bisect is replaced by this one")
        shutil.rmtree(self._clone(), ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        runner.call(["git", "clone", "--quiet", "--bare", "--shared", "--no-tags", str(repo), str(self._clone())],
                    phase="bisect", log_path=self.paths.logs / "bisect.log", env=self._env())
        # its tags and branches come along: bisect needs only the commits, which are shared

    def _save(self, plan: Plan) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.root / f".{STATE}.{os.getpid()}"
        temporary.write_text(json.dumps(asdict(plan), indent=1), "utf-8")
        os.replace(temporary, self.root / STATE)

    # -------------------------------------------------------------- the steps

    def _loop(self, plan: Plan, said: str) -> Answer:
        term_old, term_new = plan.terms
        left = _steps_left(said) if said else self._remaining(plan)
        while True:
            done = _FIRST.search(said) or _ONLY_SKIPPED.search(said)
            if done:
                return self._answer(plan, said)
            head = self._git("rev-parse", "BISECT_HEAD").stdout.strip()
            subject = self._git("log", "-1", "--format=%s", head).stdout.strip()
            number = len(plan.steps) + 1
            self.reporter.info(f"step {number} of about {number + left}: {head[:12]} {subject[:60]}")
            try:
                step = self._step(plan, head, subject)
            except (Interrupted, KeyboardInterrupt):
                raise Interrupted(f"bisect stopped at step {number} ({head[:12]}), before its verdict; the "
                                  "builds of the steps before are kept: 'pybuild12 bisect --resume' goes on "
                                  "from here") from None
            verdict = {"good": term_old if not plan.fixed else term_new,
                       "bad": term_new if not plan.fixed else term_old, "skip": "skip"}[step["result"]]
            plan.steps.append(step)
            self._save(plan)
            out = self._git("bisect", verdict, head, check=False)
            said = out.stdout + out.stderr
            left = _steps_left(said)
            eta = self._estimate(plan, left)
            self.reporter.info(f"  {step['build']}; command exit {step['exit']}: {step['result']}"
                               + (f"; about {left} step(s) left, {eta}" if left else ""))
            self.on_step(step)

    def _unbuildable(self) -> dict[str, str]:
        try:
            return json.loads((self.root / UNBUILDABLE).read_text("utf-8"))
        except (OSError, ValueError):
            return {}

    def _step(self, plan: Plan, commit: str, subject: str) -> dict[str, Any]:
        options = replace(_options_from(plan.options), commit=commit)
        step: dict[str, Any] = {"commit": commit, "subject": subject}
        # A commit that did not build with these options is not built again by a later bisect.
        # Whether make install byte-compiles is not one of them: its compileall never fails the build.
        tried = {k: v for k, v in plan.options.items() if k not in ("compile_bytecode", "default_bytecode")}
        failure_key = json.dumps([plan.spec, commit, tried], sort_keys=True)
        known = self._unbuildable().get(failure_key)
        if known is not None:
            step.update(result="skip", exit=None, build=f"does not build ({known}; found before): skipped",
                        seconds=0.0, cached=True)
            return step
        start = time.monotonic()
        try:
            built = flow.install(plan.spec, options, paths=bisect_paths(self.paths), reporter=self.reporter,
                                 settings=self.settings)
        except Interrupted:
            raise
        except (BuildError, FetchError) as exc:
            why = exc.message.splitlines()[0][:80]
            step.update(result="skip", exit=None, build=f"does not build ({why}): skipped",
                        seconds=round(time.monotonic() - start, 1), cached=False)
            if isinstance(exc, BuildError):  # not a fetch that may work next time
                remembered = {**self._unbuildable(), failure_key: why}
                temporary = self.root / f".{UNBUILDABLE}.{os.getpid()}"
                temporary.write_text(json.dumps(remembered, indent=1), "utf-8")
                os.replace(temporary, self.root / UNBUILDABLE)
            return step
        cached = built.already_installed or bool((built.receipt.artifact or {}).get("from_cache"))
        seconds = round(time.monotonic() - start, 1)
        step.update(seconds=seconds, cached=cached, python=str(built.python),
                    build="cached" if cached else f"built in {_duration(seconds)}")
        code = self._run(plan, built.python, built.prefix)
        step["exit"] = code
        step["result"] = "good" if code == 0 else "skip" if code == SKIP else "bad"
        return step

    def _run(self, plan: Plan, python: Path, prefix: Path) -> int:
        env = dict(self.settings.env)
        env.update(sanitizers.runtime_env(python, env))
        env["PATH"] = os.pathsep.join(filter(None, (str(prefix / "bin"), env.get("PATH", ""))))
        env["PYBUILD12_PYTHON"] = str(python)
        try:
            proc = subprocess.run(plan.command, cwd=plan.cwd, env=env, stdout=2 if self.stdout_to_stderr else None)
        except OSError as exc:
            raise UsageError(f"cannot run {plan.command[0]}: {exc.strerror}",
                             hint="give the command after --, as you would type it in that directory") from None
        return proc.returncode if proc.returncode >= 0 else 128 - proc.returncode  # a signal: bad, as a crash is

    def _remaining(self, plan: Plan) -> int:
        """About how many steps are left (resuming: git said it before the stop)."""
        term_old, term_new = plan.terms
        olds = self._git("for-each-ref", "--format=%(refname)", f"refs/bisect/{term_old}-*").stdout.split()
        count = self._git("rev-list", "--count", f"refs/bisect/{term_new}", "--not", *olds, check=False).stdout
        revisions = int(count.strip() or 0)
        return math.ceil(math.log2(revisions)) if revisions > 1 else 0

    def _estimate(self, plan: Plan, left: int) -> str:
        built = [s["seconds"] for s in plan.steps if not s.get("cached") and s.get("seconds")]
        if not built:
            return "each from the cache so far"
        return f"about {_duration(left * sum(built) / len(built))} if each is built"

    def _answer(self, plan: Plan, said: str) -> Answer:
        skipped = tuple(s["commit"] for s in plan.steps if s["result"] == "skip")
        first = _FIRST.search(said)
        if first:
            sha = first.group(1)
            subject = self._git("log", "-1", "--format=%s", sha).stdout.strip()
            answer = Answer(sha, subject, (), skipped, plan.steps, plan.fixed)
        else:
            candidates = tuple(_ONLY_SKIPPED.search(said).group(1).split())
            answer = Answer(None, "", candidates, skipped, plan.steps, plan.fixed)
        self._git("bisect", "reset", check=False)
        if plan.keep and answer.first:
            self.reporter.info(f"installing {answer.first[:12]} as {plan.keep}")
            options = replace(_options_from(plan.options), commit=answer.first, name=plan.keep)
            flow.install(plan.spec, options, paths=self.paths, reporter=self.reporter, settings=self.settings)
        return answer


def _steps_left(said: str) -> int:
    found = _LEFT.search(said)
    return int(found.group(2)) if found else 0


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


_OPTION_FIELDS = ("jobs", "configure_opts", "optimizations", "lto", "optimize", "ccache", "no_cache",
                  "compile_bytecode", "default_bytecode")


def _options_json(options: InstallOptions) -> dict[str, Any]:
    quick_options = quick(options)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(quick_options).items()
            if k in _OPTION_FIELDS}


def _options_from(saved: dict[str, Any]) -> InstallOptions:
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in saved.items() if k in _OPTION_FIELDS}
    return replace(InstallOptions(verify=False), **values)
