"""One lock per run folder: an ``fcntl.flock`` on the folder's lock file (``layout.LOCK``), held
by the process that trains the run, from ``RunFolder.start``/``resume`` to ``finish``.

The kernel releases a flock when the process holding it ends, however it ends (SIGKILL, a
crash, an OOM kill), so whether a run is being trained is a question with an exact answer: no
guess from a pid in run.json (a zombie or a reused pid fooled that guess). The lock file is
never deleted (deleting it would let a second process lock a new file while the first still
holds the old one); ``runinfo.clear`` keeps it. Standard library only.

A flock belongs to an open file: two ``RunLock`` objects on one folder exclude each other even in
one process (two threads of the thread executor), and one object acquiring twice is a no-op.
"""

from __future__ import annotations

import errno
import fcntl
import os
import platform
from pathlib import Path

from ..errors import RunError, RunningElsewhere
from ..safeio import read_regular
from .layout import LOCK


class RunLock:
    """The lock of the run folder ``folder`` (which must exist when it is acquired)."""

    def __init__(self, folder):
        self.path = Path(folder) / LOCK
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock now or raise ``RunningElsewhere`` (never waits)."""
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise RunError(f"cannot open the lock file {self.path}: {e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RunningElsewhere(f"{self.path.parent} is running elsewhere ({lock_holder(self.path.parent)}"
                                       "); it was not touched. Wait for that process to end, then run "
                                       "the command again") from None
            raise RunError(f"cannot lock {self.path}: {e}") from e
        self._fd = fd
        try:  # who holds it, for the message above (best effort: the flock is what counts)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {platform.node()}\n".encode(), 0)
        except OSError:
            pass

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __del__(self):  # a dropped RunFolder frees its run (closing the file would do it too)
        try:
            self.release()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def is_locked(folder) -> bool:
    """True when some process (this one included, through another RunLock) holds the folder's
    lock. A folder without a lock file is not locked; this never creates one."""
    try:
        # non-blocking: a lock file replaced by a FIFO must not hang `rnnctl report`
        fd = os.open(Path(folder) / LOCK, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's own lock, if it got one
    return False


def lock_holder(folder) -> str:
    """'pid N on HOST' as the holder wrote it into the lock file (it may have ended since)."""
    try:
        pid, host = read_regular(Path(folder) / LOCK, 1024).decode("utf-8").split()[:2]
        return f"locked by pid {pid} on {host}"
    except (OSError, ValueError):
        return "locked by another process"
