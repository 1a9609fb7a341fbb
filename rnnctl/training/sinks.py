"""Where a run's records go. The loop writes through a Sink and never touches files itself:
``rnnctl.store.RunFolder`` writes a run folder, ``MemorySink`` keeps everything in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .state import copy_checkpoint


class Sink(Protocol):
    def start(self, info: dict, config_text: str, columns: tuple, backprop_shape: tuple | None) -> None: ...
    def params(self, kind: str, arrays: dict[str, np.ndarray]) -> None: ...
    def trace(self, row: tuple) -> None: ...
    def backprop(self, update: int, norms: np.ndarray) -> None: ...

    def backprop_peaks(self, updates: np.ndarray, norms: np.ndarray) -> None:
        """The reservoir of the largest off-schedule backprop rows (log.backprop_every auto):
        ``updates`` (K,) int64, -1 for an empty slot, ``norms`` (K, layers, T_max + 1). Live
        arrays of the training state, edited in place as training goes on: the sink reads them
        when it writes (at flush), never keeps a stale copy."""

    def snapshot(self, update: int, theta: np.ndarray) -> None:
        """The flat parameter vector after ``update`` updates (log.params_every); ``theta`` is the
        run's live vector: store or copy it before returning."""

    def probe(self, update: int, arrays: dict, summary: dict) -> None: ...
    def postmortem(self, arrays: dict) -> None: ...
    def metrics(self, record: dict) -> None: ...
    def flush(self) -> None: ...

    def checkpoint(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        """The training state as plain data (rnnctl.training.state): ``meta`` is JSON and holds
        "update". The arrays are live buffers of the run: store or copy them before returning."""

    def finish(self, status: str, summary: dict) -> None: ...


@dataclass
class MemorySink:
    """Keeps everything in memory: for tests and notebooks. ``last_checkpoint`` is a
    ``store.Checkpoint`` that ``train(..., resume=sink.last_checkpoint)`` accepts."""

    info: dict = field(default_factory=dict)
    config_text: str = ""
    columns: tuple = ()
    saved_params: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)
    backprop_rows: list = field(default_factory=list)   # (update, norms)
    peaks: tuple | None = None                          # (updates, norms): the live reservoir
    snapshots: list = field(default_factory=list)       # (update, theta copy)
    probes: list = field(default_factory=list)          # (update, arrays, summary)
    postmortem_arrays: dict | None = None
    records: list = field(default_factory=list)
    status: str | None = None
    summary: dict = field(default_factory=dict)
    last_checkpoint: Any = None

    def start(self, info, config_text, columns=(), backprop_shape=None):
        self.info, self.config_text, self.columns = dict(info), config_text, tuple(columns)

    def params(self, kind, arrays):
        self.saved_params[kind] = {k: np.array(v) for k, v in arrays.items()}

    def trace(self, row):
        self.rows.append(tuple(row))

    def backprop(self, update, norms):
        self.backprop_rows.append((update, np.array(norms)))

    def backprop_peaks(self, updates, norms):
        self.peaks = (updates, norms)

    def peak_rows(self) -> list:
        """(update, norms) of the reservoir's filled slots, in update order."""
        if self.peaks is None:
            return []
        updates, norms = self.peaks
        return [(int(updates[i]), np.array(norms[i])) for i in np.argsort(updates) if updates[i] >= 0]

    def snapshot(self, update, theta):
        self.snapshots.append((update, np.array(theta)))

    def probe(self, update, arrays, summary):
        self.probes.append((update, arrays, summary))

    def postmortem(self, arrays):
        self.postmortem_arrays = dict(arrays)

    def column(self, name):
        """One trace column as an array."""
        i = self.columns.index(name)
        return np.array([r[i] for r in self.rows], dtype=float)

    def metrics(self, record):
        self.records.append(dict(record))

    def flush(self):
        pass

    def checkpoint(self, arrays, meta):
        from ..store.checkpoint import Checkpoint   # the same type RunFolder.resume returns
        self.last_checkpoint = Checkpoint(*copy_checkpoint(arrays, meta))

    def finish(self, status, summary):
        self.status, self.summary = status, dict(summary)
