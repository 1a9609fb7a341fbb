"""Stopping on a signal in two stages, for the training loop and the sweep driver alike.

SIGINT (Ctrl-C), SIGTERM (what ``kill``, ``timeout``, cluster schedulers, systemd and ``docker
stop`` send) and SIGHUP (the terminal went away) are handled the same way: the first one asks for
a stop at the next consistent point (the loop checkpoints at the end of the update, a sweep tells
its workers to), a second one (of any of the three) raises at once. The exit code says which
signal stopped the process, the shell's 128 + signal number: 130, 143, 129 (``exit_code``).
"""

from __future__ import annotations

import contextlib
import signal
import threading

from .errors import EXIT_HANGUP, EXIT_INTERRUPTED, EXIT_TERMINATED

#: The signals that stop a run gracefully; SIGHUP does not exist on Windows.
STOP_SIGNALS = tuple(s for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
                     if s is not None)
_EXIT_CODES = {signal.SIGINT: EXIT_INTERRUPTED, getattr(signal, "SIGTERM", None): EXIT_TERMINATED,
               getattr(signal, "SIGHUP", None): EXIT_HANGUP}


class Interrupted(KeyboardInterrupt):
    """A stop caused by a signal other than Ctrl-C (a KeyboardInterrupt, so that every ``except
    KeyboardInterrupt`` that saves and cleans up handles it too); ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signal_name(signum))
        self.signum = signum


def signal_name(signum: int | None) -> str:
    """SIGINT for None (a stop requested without a signal is treated as a Ctrl-C)."""
    return signal.Signals(signum).name if signum is not None else "SIGINT"


def exit_code(stop) -> int:
    """The exit code of a stop: ``stop`` is a signal number, an exception (``Interrupted`` carries
    its signal; a plain KeyboardInterrupt is a Ctrl-C) or None (Ctrl-C)."""
    if isinstance(stop, BaseException):
        stop = getattr(stop, "signum", None)
    return _EXIT_CODES.get(stop, EXIT_INTERRUPTED)


def stop_exception(signum: int | None) -> KeyboardInterrupt:
    """What to raise to stop on ``signum``: KeyboardInterrupt for Ctrl-C, as Python itself does."""
    if signum is None or signum == signal.SIGINT:
        return KeyboardInterrupt()
    return Interrupted(signum)


def _install(handler, signals=STOP_SIGNALS) -> dict:
    """Set ``handler`` for ``signals`` (main thread only: Python allows no other) -> the old ones."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, handler) for s in signals}


def _restore(old: dict) -> None:
    for s, handler in old.items():
        signal.signal(s, handler)


class GracefulInterrupt:
    """The first stop signal sets ``requested`` (and ``signum``) so the caller can stop at a
    consistent point (and save); a second one, of any of the three, raises at once
    (``stop_exception`` of the first signal, so the exit code says what stopped the process).
    Installed only in the main thread, where signals arrive; elsewhere the default handling stays."""

    def __init__(self):
        self.requested = False
        self.signum: int | None = None   # the first signal; None when none came (or set by hand)
        self._defer, self._pending = 0, False

    @property
    def name(self) -> str:
        return signal_name(self.signum)

    def exception(self) -> KeyboardInterrupt:
        return stop_exception(self.signum)

    def __enter__(self):
        self._old = _install(self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            if self._defer:
                self._pending = True
                return
            raise self.exception()
        self.requested, self.signum = True, signum

    @contextlib.contextmanager
    def deferred(self):
        """A second signal inside this block raises at its end: around a sink's writes, so that a
        log holds each row once and no checkpoint is cut short (every write is also atomic or an
        append, for what no handler can defer: a SIGKILL, a crash)."""
        self._defer += 1
        try:
            yield
        finally:
            self._defer -= 1
        if self._pending and not self._defer:
            raise self.exception()

    def __exit__(self, *exc):
        _restore(self._old)
        self._old = {}


class StopSignalsIgnored:
    """While the process saves and ends after a stop (the loop's last writes, the CLI's exit),
    further stop signals are ignored: the stop is under way, and a signal now would only cut the
    bookkeeping short (run.json left 'running'). Main thread only; restores on exit."""

    def __enter__(self):
        self._old = _install(signal.SIG_IGN)
        return self

    def __exit__(self, *exc):
        _restore(self._old)
        self._old = {}


class RaiseOnSignal:
    """SIGTERM and SIGHUP raise ``Interrupted`` at once, as Python's default SIGINT handler raises
    KeyboardInterrupt: for the parts of a command outside a ``GracefulInterrupt`` (loading, the
    first compilation), so that ``finally`` blocks and ``except KeyboardInterrupt`` run and the exit
    code is 143 / 129 rather than a death by signal. Main thread only."""

    def __enter__(self):
        self._old = _install(self._handle, [s for s in STOP_SIGNALS if s != signal.SIGINT])
        return self

    @staticmethod
    def _handle(signum, frame):
        raise Interrupted(signum)

    def __exit__(self, *exc):
        _restore(self._old)
        self._old = {}
