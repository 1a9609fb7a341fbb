"""Typed errors. The library raises these; only ``cli.py`` turns them into messages and exit codes."""

from __future__ import annotations

import errno

# Exit codes, documented in the README. Click's own usage errors also exit with 2.
EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_DIVERGED = 3
EXIT_PARTIAL = 4
EXIT_UNUSABLE = 5
EXIT_RUNNING_ELSEWHERE = 6   # the run folder is locked: another live process trains it
EXIT_CANNOT_WRITE = 7        # the disk is full or read-only: nothing lost, resume once it is writable
EXIT_INTERRUPTED = 130   # SIGINT (Ctrl-C): 128 + 2
EXIT_TERMINATED = 143    # SIGTERM: 128 + 15
EXIT_HANGUP = 129        # SIGHUP: 128 + 1


class RnnctlError(Exception):
    """Base of every error rnnctl raises on purpose; carries the exit code the CLI uses."""

    exit_code = EXIT_RUN_FAILED


class ConfigError(RnnctlError):
    """A config value or key is wrong. Names the dotted key, where it came from, and what was expected."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, key: str | None = None, source: str | None = None,
                 line: int | None = None, suggestion: str | None = None):
        self.message = message
        self.key = key
        self.source = source
        self.line = line
        self.suggestion = suggestion
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.source:
            where = self.source + (f":{self.line}" if self.line is not None else "") + ": "
        text = where + (f"{self.key}: " if self.key else "") + self.message
        if self.suggestion:
            text += f" (did you mean '{self.suggestion}'?)"
        return text


class DataError(RnnctlError):
    """Arrays handed to the library have the wrong shape, dtype or values."""

    exit_code = EXIT_USAGE


class RunError(RnnctlError):
    """A run folder is missing, corrupt, or cannot be written."""

    exit_code = EXIT_RUN_FAILED


class MissingPackage(RnnctlError):
    """An optional package a feature needs is not installed; the message names the extra
    (``pip install "rnnctl[tracking]"``)."""

    exit_code = EXIT_USAGE


class CannotWrite(RunError):
    """A run or sweep folder cannot be written: the disk is full, over quota or read-only. What
    was written before is whole (every write is atomic), so the run resumes from its last
    checkpoint once the folder is writable again."""

    exit_code = EXIT_CANNOT_WRITE

    #: errno values that say "this file system cannot take the write", not "this code is wrong"
    ERRNOS = (errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG)

    @classmethod
    def of(cls, e: BaseException, then: str) -> "CannotWrite | None":
        """The CannotWrite that ``e`` (or an error it was raised from) means, with ``then`` (what
        to do once the disk is writable) in its message; None when ``e`` is another error."""
        seen = 0
        while e is not None and seen < 10:
            if isinstance(e, CannotWrite):
                return e
            if isinstance(e, OSError) and e.errno in cls.ERRNOS:
                where = f" {e.filename}" if e.filename else ""
                return cls(f"cannot write{where}: {e.strerror or e}; free space (or make it writable), "
                           f"then {then}")
            e, seen = e.__cause__ or e.__context__, seen + 1
        return None


class RunningElsewhere(RnnctlError):
    """The run folder's lock (``rnnctl.store.lock``) is held by another live process, which is
    training that run: nothing was done to it."""

    exit_code = EXIT_RUNNING_ELSEWHERE


class UnusableRun(RunError):
    """A run folder that cannot be used for what was asked: missing or not a run folder (every
    command that takes one), incomplete, written by an incompatible rnnctl, or with non-finite
    parameters (sample, eval, export, landscape), finished or without a checkpoint (resume). A
    RunError, so that code catching damaged folders catches these too."""

    exit_code = EXIT_UNUSABLE


class Diverged(RnnctlError):
    """Loss or gradient became NaN/Inf. Raised inside the loop, recorded as status 'diverged'."""

    exit_code = EXIT_DIVERGED

    def __init__(self, update: int, what: str):
        self.update = update
        self.what = what
        super().__init__(f"non-finite {what} at update {update}")
