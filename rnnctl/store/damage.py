"""Damage found after a run folder was read: the report reads only a run's small files up front
(``discover.read_run_record``), so a trace that turns out unreadable when a figure needs it is
marked on the record here, in the words ``read_run_record`` uses."""

from __future__ import annotations

from . import layout as L
from .discover import RunRecord, _problem


def mark_trace_unreadable(run: RunRecord) -> None:
    """Mark ``run`` missing (no trace file) or corrupt (a trace file that cannot be parsed);
    a problem already recorded is kept (the first one found is the one shown)."""
    if (run.path / L.TRACE).exists():
        _problem(run, "corrupt", f"{L.TRACE}: unreadable")
    else:
        _problem(run, "missing", f"no {L.TRACE}")
