"""How a run talks to whoever watches it: Observer callbacks, StopRun, and the RunResult."""

from __future__ import annotations

from dataclasses import dataclass


class StopRun(Exception):
    """Raised by an observer to end a run early on purpose (e.g. a sweep's early-stopping rule).
    The run is recorded with status 'stopped' and the reason as its message."""


class Observer:
    """Progress callbacks; the CLI's progress bar implements these. Defaults do nothing.
    ``on_eval`` may raise StopRun to end the run as 'stopped'. Setting ``stop_requested = True``
    (e.g. from ``on_update``, in any thread) ends the run at the end of the current update with a
    checkpoint, as 'interrupted', exactly like a Ctrl-C: rnnctl sweep uses it to stop workers.

    ``on_update`` gets the update's stats: norm_before, norm_after, fired, groups, and the
    method's and regularizer's figures (skipped=1 for an update dropped by nonfinite=skip). On
    resume it is called once with the update reached and a NaN loss, before training goes on.
    ``on_end`` closes a run that ended with a status (so a progress bar can stop where it ended)."""

    stop_requested = False

    def on_start(self, total_updates: int) -> None: ...
    def on_update(self, update: int, loss: float, stats: dict) -> None: ...
    def on_eval(self, record: dict) -> None: ...
    def on_end(self, update: int, status: str) -> None:
        """The run ended at ``update`` (its last update; earlier than planned after a success or a
        divergence) with ``status``; not called for interrupted or failed runs, which raise."""


@dataclass
class RunResult:
    status: str            # succeeded | completed | diverged | stopped (interrupted and failed runs raise)
    summary: dict
