"""Truncated BPTT (train.bptt): a batch is worked through in windows, one update each, with the
state carried from one window into the next (no gradient flows across).

Every-step losses: windows of k1 steps, backpropagated through those k1 steps (k2 = k1).
Last-step losses: the forward pass runs up to T − k2 without gradient, then one update
backpropagates through the last k2 steps, so the error signal reaches back only k2 steps.

The batch being worked through (``pending``) is plain data, part of the training state and so of
a checkpoint: {"u": (T, B, n_in), "target": as the task's, "i": next window, "state": the
carried state (a list like ``Model.last_state``) or None}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError


@dataclass
class Window:
    u: np.ndarray        # (k, B, n_in) the window's inputs
    target: np.ndarray   # the window's targets (the whole batch's for a last-step loss)
    state0: Any          # the state it starts from (a tuple/list like Model.last_state), or None


class Truncation:
    def __init__(self, model, k1: int, k2: int):
        self.model, self.k1, self.k2, self.last = model, k1, k2, model.scored == "last"

    @classmethod
    def from_config(cls, config, model) -> "Truncation | None":
        """None for full BPTT; ConfigError for windows the model's loss cannot be split into."""
        b = config.train.bptt
        if b.k1 is None:
            return None
        k2 = b.k2 or b.k1
        if model.generates:
            raise ConfigError("truncated BPTT applies to many_to_one and many_to_many models",
                              key="train.bptt.k1")
        if model.scored == "all" and k2 != b.k1:
            raise ConfigError("with a loss at every step, windows do not overlap: set k2 = k1 (or leave "
                              "it out)", key="train.bptt.k2")
        return cls(model, b.k1, k2)

    def _bounds(self, T: int) -> list[tuple[int, int]]:
        if self.last:
            return [(max(0, T - self.k2), T)]
        return [(s, min(s + self.k1, T)) for s in range(0, T, self.k1)]

    def start(self, batch) -> dict:
        """The pending state of a new batch."""
        return {"u": batch.u, "target": batch.target, "i": 0, "state": None}

    def window(self, pending: dict) -> Window:
        """The window the next update trains on."""
        u, target = pending["u"], pending["target"]
        s, e = self._bounds(u.shape[0])[pending["i"]]
        state = pending["state"]
        if self.last and s > 0:  # run up to the window without gradient
            self.model.outputs(u[:s])
            state = self.model.last_state
        return Window(u[s:e], target if self.last else target[s:e], state)

    def advance(self, pending: dict, last_state) -> dict | None:
        """After an update on the current window: the pending state, or None at the batch's end."""
        pending["i"] += 1
        pending["state"] = list(last_state)
        return pending if pending["i"] < len(self._bounds(pending["u"].shape[0])) else None
