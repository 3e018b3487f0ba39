"""Using a build from another project: run it, make a venv from it, put it on PATH."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from pybuild12.builder import sanitizers
from pybuild12.core import runner
from pybuild12.core.errors import BuildError, Interrupted, PyBuild12Error

VENV_TIMEOUT = 600.0  # seconds: venv runs ensurepip, which installs pip



# ------------------------------------------------------------------ venv


@dataclass(frozen=True)
class Venv:
    python: Path  # the venv's bin/python
    made: bool  # False: the directory already was a venv of the build, and is left as it was
    replaced: bool = False  # an earlier venv there was recreated (--clear)


# What `python -m venv` writes into pyvenv.cfg as `executable` and `home` (Lib/venv/__init__.py).
_IDENTITY = ("import os, sys; print(os.path.realpath(sys.executable)); "
             "print(os.path.dirname(os.path.abspath(sys._base_executable)))")


def make_venv(python: Path, directory: Path, *, build_name: str, log_path: Path, clear: bool = False,
              free_threaded: bool = False) -> Venv:
    """A virtual environment with pip, from the build whose interpreter is `python`.

    Installed packages are never deleted unasked: a venv of the same build is left as
    it is, a venv of another interpreter is refused, and only `clear` recreates one. A
    failure or Ctrl-C removes what this run made, or puts the earlier venv back.
    """
    directory = directory.absolute()
    how = _Making(python, log_path, free_threaded)
    try:
        if not _is_venv(directory):
            return _create(how, directory)
        if clear:
            return _replace(how, directory, build_name)
        _refuse_another_interpreter(python, directory, build_name)
        return Venv(directory / "bin" / "python", made=False)
    except KeyboardInterrupt:
        raise Interrupted(f"nothing was changed: {directory} is as it was") from None


@dataclass(frozen=True)
class _Making:
    """How to make the venv: the build's python, the log, whether it is free-threaded."""

    python: Path
    log_path: Path
    free_threaded: bool

    def run_or_undo(self, directory: Path, *, remove: Path | None, clear: bool = False) -> None:
        """`python -m venv` into `directory`; on a failure or Ctrl-C, `remove` (the highest
        directory this run created) is removed, or without one `directory` is emptied."""
        try:
            _run_venv(self.python, directory, self.log_path, clear=clear)
            if self.free_threaded:
                _link_free_threaded_name(directory / "bin")
        except BaseException:
            with _signals_held():
                if remove is not None:
                    shutil.rmtree(remove, ignore_errors=True)
                else:
                    _empty(directory)
            raise


def _is_venv(directory: Path) -> bool:
    """Whether `directory` holds a venv; False for a directory to create or an empty one.
    Refuses anything else: a file, or a directory with files that are no venv."""
    if not directory.exists() and not directory.is_symlink():
        return False
    if not directory.is_dir():
        raise PyBuild12Error(f"{directory} exists and is not a directory", hint="choose another path for the venv")
    if (directory / "pyvenv.cfg").is_file():
        return True
    if any(directory.iterdir()):
        raise PyBuild12Error(
            f"{directory} is not empty and is not a virtual environment; refusing to overwrite it",
            hint="choose another directory, or empty this one yourself",
        )
    return False


def _create(how: _Making, directory: Path) -> Venv:
    """A new venv in a missing or empty `directory`; on failure or Ctrl-C, nothing of it is left."""
    topmost = None
    if not directory.exists():
        topmost = directory  # venv makes missing parents too: the highest one goes on failure
        while not topmost.parent.exists():
            topmost = topmost.parent
    left = f"removed {topmost}, which this run had created" if topmost else f"{directory} is empty again, as it was"
    try:
        how.run_or_undo(directory, remove=topmost)
    except KeyboardInterrupt:
        raise Interrupted(f"the venv was not made: {left}") from None
    except PyBuild12Error as exc:
        _say_also(exc, left)
        raise
    return Venv(directory / "bin" / "python", made=True)


def _replace(how: _Making, directory: Path, build_name: str) -> Venv:
    """Recreate the venv in `directory`. The old one is moved aside first and only deleted
    once the new one is complete, so that a failure or Ctrl-C puts it back untouched."""
    with _signals_held() as held:
        aside = _move_aside(directory)
    if aside is None:
        if held:
            raise KeyboardInterrupt  # nothing was moved
        return _replace_in_place(how, directory, build_name)
    try:
        if held:
            raise KeyboardInterrupt
        how.run_or_undo(directory, remove=directory)
    except BaseException as exc:
        with _signals_held():
            back = _put_back(aside, directory)
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted(f"the venv was not recreated: {back}") from None
        if isinstance(exc, PyBuild12Error):
            _say_also(exc, back)
        raise
    with _signals_held():
        shutil.rmtree(aside, ignore_errors=True)
    return Venv(directory / "bin" / "python", made=True, replaced=True)


def _move_aside(directory: Path) -> Path | None:
    """Move the venv into a new hidden directory beside it; None (and nothing moved) when
    that cannot be done: a read-only parent, a mount point, a link to the venv."""
    if directory.is_symlink():
        return None
    try:
        aside = Path(tempfile.mkdtemp(prefix=f".{directory.name}.replaced-", dir=directory.parent))
    except OSError:
        return None
    try:
        os.rename(directory, aside / directory.name)
    except OSError:
        aside.rmdir()
        return None
    return aside


def _put_back(aside: Path, directory: Path) -> str:
    """Return the venv moved aside to its place; say where it is."""
    try:
        os.rename(aside / directory.name, directory)
        aside.rmdir()
    except OSError as exc:
        return (f"the earlier venv could not be put back ({exc.strerror}): it is in {aside / directory.name}; "
                f"move it back to {directory} yourself")
    return f"{directory} is as it was, with its packages"


def _replace_in_place(how: _Making, directory: Path, build_name: str) -> Venv:
    """`venv --clear` where the venv cannot be moved aside: the old contents are gone
    before the new venv exists."""
    try:
        how.run_or_undo(directory, remove=None, clear=True)
    except BaseException as exc:
        left = (f"{directory} is left empty: its earlier venv was deleted before the new one was complete; "
                f"'pybuild12 venv {build_name} {directory}' makes it again")
        if isinstance(exc, KeyboardInterrupt):
            raise Interrupted(left) from None
        if isinstance(exc, PyBuild12Error):
            _say_also(exc, left)
        raise
    return Venv(directory / "bin" / "python", made=True, replaced=True)


def _say_also(exc: PyBuild12Error, text: str) -> None:
    """Add what is left on disk to an error on its way out."""
    exc.message = f"{exc.message}; {text}"
    exc.args = (exc.message,)


def _run_venv(python: Path, directory: Path, log_path: Path, *, clear: bool = False) -> None:
    """`python -m venv`, through runner.call: on Ctrl-C it stops the whole process group,
    so ensurepip's pip cannot go on writing into a directory being removed."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.write_text("")
    argv = [str(python), "-m", "venv", *(["--clear"] if clear else []), str(directory)]
    try:
        # A sanitizer build's python runs under its options here too: without them
        # (detect_leaks=0) an ASan build's `-m venv` fails on the leaks LeakSanitizer reports at exit.
        runner.call(argv, phase="create the venv", log_path=log_path, timeout=VENV_TIMEOUT,
                    env=sanitizers.with_runtime(python, None))
    except BuildError as exc:
        last = (exc.log_tail or "").strip().splitlines()[-3:]
        raise PyBuild12Error(f"creating the venv failed: {' / '.join(last) or exc.message}",
                             hint=f"the log: {log_path}; the build needs its ensurepip module "
                             "(every pybuild12 build has it)") from None
    _activate_sanitizer_options(python, directory)


def _activate_sanitizer_options(python: Path, directory: Path) -> None:
    """A venv of a sanitizer build: its activate scripts set the build's runtime options
    (suppressions, handle_segv ...) before any the user has, once however often sourced."""
    ours = sanitizers.runtime_env(python, {})
    if not ours:
        return
    posix, fish = ["", "# pybuild12: the sanitizer options of this venv's build, before your own"], [""]
    for name, value in ours.items():
        quoted = shlex.quote(value)
        posix.append(f'case "${{{name}:-}}" in {shlex.quote(value)}*) ;; '
                     f'*) {name}={quoted}"${{{name}:+:${name}}}"; export {name} ;; esac')
        fish.append(f"if not string match -q -- {shlex.quote(value + '*')} \"${name}\"\n"
                    f"    set -gx {name} (string join : -- {quoted} ${name})\nend")
    for script, lines in (("activate", posix), ("activate.fish", fish)):
        path = directory / "bin" / script
        if path.is_file():
            with open(path, "a", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")


def _refuse_another_interpreter(python: Path, directory: Path, build_name: str) -> None:
    """Nothing when the venv in `directory` is one of the build's; an error naming both otherwise."""
    cfg = _read_cfg(directory / "pyvenv.cfg")
    proc = runner.capture([str(python), "-I", "-c", _IDENTITY], env=sanitizers.with_runtime(python, None))
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) != 2:
        raise PyBuild12Error(f"{python} cannot run: {proc.stderr.strip()[-300:]}",
                             hint=f"reinstall the build with 'pybuild12 install {build_name} --force'")
    executable, home = lines
    if cfg.get("executable"):
        same = _same_file(cfg["executable"], executable)
    else:  # written by an older venv, virtualenv or uv: only the directory of the interpreter
        same = _same_file(cfg.get("home", ""), home)
    if same:
        return
    other = cfg.get("executable") or cfg.get("home") or "an unknown interpreter"
    version = cfg.get("version") or cfg.get("version_info")
    raise PyBuild12Error(
        f"{directory} is a venv of {other}{f' ({version})' if version else ''}, not of {build_name} ({python})",
        hint=f"'pybuild12 venv --clear {build_name} {directory}' recreates it from {build_name}, deleting the "
        "packages installed in it; or choose another directory",
    )


def _read_cfg(path: Path) -> dict[str, str]:
    values = {}
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return values
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values


def _same_file(a: str, b: str) -> bool:
    """Same file or directory; a hard link counts (a free-threaded build's python3.13 is python3.13t)."""
    try:
        return bool(a and b) and os.path.samefile(a, b)
    except OSError:
        return False


def _link_free_threaded_name(bin_dir: Path) -> None:
    """bin/python3.13t in a free-threaded venv. CPython's venv names the venv's interpreter
    after the one that made it, so a venv made by python3.13 (the same file) lacks it."""
    for entry in list(bin_dir.iterdir()):
        found = re.fullmatch(r"python(\d+\.\d+)", entry.name)
        if found and not (bin_dir / f"python{found[1]}t").exists():
            os.symlink("python", bin_dir / f"python{found[1]}t")


def _empty(directory: Path) -> None:
    for entry in directory.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


@contextlib.contextmanager
def _signals_held() -> Iterator[list[int]]:
    """Ctrl-C (and SIGTERM) wait until the block is done; the list says whether one came.
    Half a clean-up would leave exactly what it is there to remove."""
    held: list[int] = []
    try:
        previous = {sig: signal.signal(sig, lambda signum, frame: held.append(signum))
                    for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: signals go to the main one anyway
        yield held
        return
    try:
        yield held
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
