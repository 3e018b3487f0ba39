"""One exception family; each class carries its exit code and a hint.

The CLI catches `PyBuild12Error` in exactly one place and turns it into a
message on stderr and the class's exit code (documented in `pybuild12 --help`).
"""

from __future__ import annotations

import errno


def quoted(value: str) -> str:
    """`value` quoted for a message, whatever it holds (undecodable bytes, control
    characters, thousands of characters)."""
    text = repr(value)
    return text if len(text) <= 70 else f"{text[:60]}...' ({len(value)} characters)"


class PyBuild12Error(Exception):
    """Base class: a failure the user can act on."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(PyBuild12Error):
    """A command line that cannot mean anything: a malformed build name or commit, or
    options that exclude each other. Exit 2, as for the usage errors typer itself finds."""

    exit_code = 2


class RecipeError(PyBuild12Error):
    """Unknown recipe name, or a recipe file that does not validate."""

    exit_code = 3


class PrerequisiteError(PyBuild12Error):
    """A compiler, tool or library header needed by the build is missing."""

    exit_code = 4


class FetchError(PyBuild12Error):
    """The source could not be downloaded, or its checksum does not match."""

    exit_code = 5


class ArchiveError(PyBuild12Error):
    """The source archive is unsafe or damaged."""

    exit_code = 5


class BuildError(PyBuild12Error):
    """A build command failed; carries the phase, log path and log tail."""

    exit_code = 6

    def __init__(
        self,
        message: str,
        *,
        phase: str | None = None,
        log_path: str | None = None,
        log_tail: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.phase = phase
        self.log_path = log_path
        self.log_tail = log_tail


class CheckError(PyBuild12Error):
    """The freshly built interpreter failed its post-install check."""

    exit_code = 7

    def __init__(self, message: str, *, log_path: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.log_path = log_path


class NotInstalledError(PyBuild12Error):
    """A command names a build that is not installed."""

    exit_code = 8


class BusyError(PyBuild12Error):
    """A running process uses the build (uninstall refuses to delete it under it)."""

    exit_code = 9


class ResourceError(PyBuild12Error):
    """The disk is full, or a directory pybuild12 writes to is read-only."""

    exit_code = 10


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)
NOTHING_CHANGED = "nothing was installed, and earlier installs are unchanged"


def from_os_error(exc: OSError, *, installing: bool = True) -> ResourceError | None:
    """The message for a full disk or an unwritable directory; None for other OS errors.
    `installing`: the error stopped an install, which then says that nothing was installed
    (an install removes what it created); other commands do not claim it."""
    where = exc.filename or "?"
    after = f" {NOTHING_CHANGED}" if installing else ""
    if exc.errno in DISK_FULL:
        return ResourceError(
            f"no space left on the device while writing {where}",
            hint=f"free some space there (df -h shows how much is left), then run the command again; "
            f"PYBUILD12_HOME moves everything pybuild12 writes to another disk.{after}",
        )
    if exc.errno in NOT_WRITABLE:
        reason = "the file system is read-only" if exc.errno == errno.EROFS else "permission denied"
        return ResourceError(
            f"cannot write {where}: {reason}",
            hint=f"make that directory writable, or set PYBUILD12_HOME to a writable directory.{after}",
        )
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return ResourceError(
            f"cannot write {where}: a file stands where pybuild12 needs a directory",
            hint=f"move that file away, or set PYBUILD12_HOME to another directory.{after}",
        )
    if exc.errno == errno.ENAMETOOLONG:
        return ResourceError(f"path too long: {str(where)[:120]}...",
                             hint="use a shorter name or a shorter PYBUILD12_HOME")
    return None


def disk_full_hint(log_tail: str) -> str | None:
    """A hint for a build command that failed because the disk filled up."""
    if "No space left on device" in log_tail or "Disk quota exceeded" in log_tail:
        return "the disk filled up during the build: free some space (df -h), then run the command again; " \
               f"{NOTHING_CHANGED}"
    return None


class Interrupted(PyBuild12Error):
    """Ctrl-C or SIGTERM; the message says what the command left as it was."""

    exit_code = 130


EXIT_INTERRUPTED = Interrupted.exit_code

EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "another error, or an unexpected one (a bug: the message names the log with its traceback)",
    UsageError.exit_code: ("bad command-line usage (an unknown option, a malformed name or variant, "
                           "options that exclude each other, an option configure does not know)"),
    RecipeError.exit_code: "unknown or invalid recipe, or a CPython before 3.12",
    PrerequisiteError.exit_code: "build prerequisites missing (compiler, tools, headers)",
    FetchError.exit_code: "download failed, checksum mismatch or unsafe archive",
    BuildError.exit_code: "configure, make or make install failed (see the log)",
    CheckError.exit_code: "the built interpreter failed its check",
    NotInstalledError.exit_code: "no such build installed",
    BusyError.exit_code: "the build is in use by a running process",
    ResourceError.exit_code: "disk full, or a directory pybuild12 writes to is read-only",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C or SIGTERM); the message says what was left as it was",
}
