"""Ctrl-C in two stages, for the training loop and the sweep driver alike."""

from __future__ import annotations

import signal
import threading


class GracefulInterrupt:
    """First Ctrl-C sets ``requested`` so the caller can stop at a consistent point (and save);
    a second one raises KeyboardInterrupt at once. Installed only in the main thread, where
    signals arrive; elsewhere the default handling stays."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self._old = None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
