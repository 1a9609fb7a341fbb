"""Which updates' per-step backprop norms ‖∂E/∂x_k‖ a run records (``log.backprop_every``).

``N`` records every N-th update, nothing else. ``auto`` keeps the record bounded: the log-spaced
schedule of ``store.sizes`` (every update early, ``backprop_dense`` rows per doubling of the
update count later), the first ``backprop_peaks`` rows holding NaN/Inf, the last update, and the
``backprop_peaks`` off-schedule rows with the largest norm. The largest are only known in
hindsight, so they live in a reservoir (replace the smallest when a larger one comes) that is part
of the training state: a checkpoint carries it and a resumed run keeps the same rows as one never
interrupted. The sink holds the reservoir's arrays and writes them when it flushes.
"""

from __future__ import annotations

import numpy as np

from ..store.sizes import backprop_on_schedule


class BackpropRecorder:
    def __init__(self, log, shape: tuple):
        self.every, self.dense, self.peaks = log.backprop_every, log.backprop_dense, log.backprop_peaks
        self.shape = tuple(shape)    # (layers, T_max + 1): rows are NaN-padded to it
        self.auto = self.every == "auto"
        self.last = None             # (update, norms) of the last update not recorded
        self.shared = False          # whether the sink holds the reservoir of this state

    @property
    def records(self) -> bool:
        return self.every == "auto" or self.every > 0

    def init(self) -> dict | None:
        """The reservoir's part of the training state (None unless auto)."""
        if not self.auto:
            return None
        k = self.peaks
        return {"updates": np.full(k, -1, np.int64), "scores": np.full(k, -np.inf),
                "rows": np.full((k, *self.shape), np.nan, np.float32), "nonfinite": 0}

    def record(self, sink, state, update: int, norms: np.ndarray) -> None:
        """Offer the update's norms (layers, T + 1); hand the sink those the schedule keeps."""
        if not self.auto:
            if self.every and update % self.every == 0:
                sink.backprop(update, norms)
            return
        if state.backprop is None:   # a checkpoint from before the reservoir existed
            state.backprop = self.init()
        res = state.backprop
        if not self.shared:   # a sink of the user's own without the method keeps the rows alone
            share = getattr(sink, "backprop_peaks", None)
            if share is not None:
                share(res["updates"], res["rows"])
            self.shared = True
        top = float(norms.max()) if norms.size else 0.0   # NaN or Inf anywhere shows here
        if backprop_on_schedule(update, self.dense):
            sink.backprop(update, norms)
            self.last = None
        elif not np.isfinite(top) and res["nonfinite"] < self.peaks:
            res["nonfinite"] += 1
            sink.backprop(update, norms)
            self.last = None
        else:
            self.last = (update, norms)   # a fresh array per BPTT (Model.loss_and_grad): no copy
            if self.peaks and np.isfinite(top) and top > res["scores"].min():
                i = int(np.argmin(res["scores"]))   # the first of equal smallest: deterministic
                res["updates"][i], res["scores"][i] = update, top
                row = res["rows"][i]
                row[...] = np.nan
                with np.errstate(over="ignore"):   # beyond float32's range is stored as inf
                    row[..., :norms.shape[-1]] = norms[..., :row.shape[-1]]

    def close(self, sink, status: str) -> None:
        """A finished run (not an interrupted or failed one, which a resume continues) records its
        last update, off the schedule."""
        if self.auto and self.last is not None and status not in ("interrupted", "failed"):
            sink.backprop(*self.last)
            self.last = None
