"""`StreamDataset`: one long sequence (a text, a series) split into contiguous ranges and cut into
windows for truncated BPTT with carried state.

Splits: train is the first range, then valid, then test (``bounds``), by the split fractions
(`common.split_counts` over the N positions). Nothing is shuffled across the boundary, so the
model never sees the future of the valid/test range during training.

Pairs: inside a split [s, e), the input at position t predicts the next ``horizon`` values
(t+1 .. t+horizon), for t in [s, e − horizon); so a split of n positions gives n − horizon steps.

Training layout (B streams, windows of L steps), as in truncated BPTT over a stream:
an epoch starts at offset o (0, or drawn from ``rng`` in [0, L) so that window boundaries move
between epochs); the n' = n − horizon − o remaining steps are cut into B contiguous streams of
S = n' // B steps (the last n' − B·S steps are left out this epoch); stream b is batch column b
and covers steps o + b·S .. o + (b+1)·S − 1. Window k holds steps k·L .. (k+1)·L − 1 of every
stream (the last one may be shorter), so the state after window k, column b, is the right
initial state of window k+1, column b. ``first`` marks the window where the state starts at zero.

Evaluation: B = 1 and offset 0 — the whole split as one stream, in windows of L steps with the
state carried through, so every step of the split is scored exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from rnnctl.errors import DataError

from .common import SPLITS, content_hash, one_hot, split_code, split_counts


@dataclass(frozen=True, eq=False)
class StreamWindow:
    """One window of B parallel streams.

    u:       float64 (L, B, I) inputs (one-hot symbols for text, normalised values for series).
    lengths: int64 (B,) all equal to L (no padding in a stream).
    target:  int64 (L, B) next symbols (text), or float64 (L, B, horizon·C) next values (series;
             the values at t+1 for every column, then t+2, ...).
    first:   True when the state must start at zero (the epoch's first window).
    start:   int64 (B,) absolute position in the stream of each column's step 0.
    """

    u: np.ndarray
    lengths: np.ndarray
    target: np.ndarray
    first: bool
    start: np.ndarray


@dataclass(eq=False)
class StreamDataset:
    """One long sequence with contiguous splits.

    data:    int64 (N,) symbols (with ``n_symbols``), or float64 (N, C) values (normalised by
             ``mean``/``std`` fit on the training range).
    bounds:  (a, b): train is [0, a), valid [a, b), test [b, N).
    horizon: how many next values each step predicts (1 for text).
    mean, std: float64 (C,) the normalisation (raw = data·std + mean), series only.
    vocab:   characters of the symbols (index 0 = unknown), text only.
    """

    data: np.ndarray
    bounds: tuple[int, int]
    horizon: int = 1
    n_symbols: int | None = None
    vocab: tuple[str, ...] | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    columns: tuple[str, ...] | None = None
    source: str = "<stream>"
    kind: str = field(default="stream", init=False)
    arch: str = field(default="many_to_many", init=False)

    def __post_init__(self):
        a, b = (int(v) for v in self.bounds)
        N = int(self.data.shape[0])
        if not 0 < a <= b <= N:
            raise DataError(f"{self.source}: stream bounds {self.bounds} do not fit {N} positions")
        self.bounds = (a, b)
        if self.steps("train") < 1:
            raise DataError(f"{self.source}: the train range has {a} positions, too few to "
                            f"predict {self.horizon} step(s) ahead")

    @classmethod
    def from_fractions(cls, data: np.ndarray, fractions, **kw) -> "StreamDataset":
        """Contiguous splits of ``data`` (N, ...) by fractions (train, valid, test)."""
        n_train, n_valid, _ = split_counts(int(data.shape[0]), fractions)
        return cls(data=data, bounds=(n_train, n_train + n_valid), **kw)

    # ---- description ------------------------------------------------------------------------
    @property
    def loss(self) -> str:
        return "softmax_ce" if self.n_symbols is not None else "mse"

    @property
    def n_in(self) -> int:
        return int(self.n_symbols) if self.n_symbols is not None else int(self.data.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.n_symbols) if self.n_symbols is not None else self.horizon * int(self.data.shape[1])

    def range(self, split) -> tuple[int, int]:
        """(s, e): the positions [s, e) of ``split``."""
        a, b = self.bounds
        return ((0, a), (a, b), (b, int(self.data.shape[0])))[split_code(split)]

    def steps(self, split) -> int:
        """Scored steps in ``split``: its positions minus ``horizon`` (0 if too short)."""
        s, e = self.range(split)
        return max(0, e - s - self.horizon)

    def sizes(self) -> dict:
        return {name: self.steps(name) for name in SPLITS}

    @property
    def hash(self) -> str:
        """sha256 of the data, the bounds, and the vocabulary/normalisation/horizon."""
        if not hasattr(self, "_hash"):
            extra = repr((self.horizon, self.n_symbols, self.vocab, self.columns))
            arrays = [self.data, np.asarray(self.bounds, dtype=np.int64)]
            if self.mean is not None:
                arrays += [self.mean, self.std]
            self._hash = content_hash(*arrays, extra=extra)
        return self._hash

    def describe(self) -> dict:
        return {"kind": self.kind, "source": self.source, "hash": self.hash, "sizes": self.sizes(),
                "n_in": self.n_in, "n_out": self.n_out, "arch": self.arch, "loss": self.loss,
                "horizon": self.horizon, "bounds": list(self.bounds),
                "vocab_size": None if self.vocab is None else len(self.vocab),
                "mean": None if self.mean is None else self.mean.tolist(),
                "std": None if self.std is None else self.std.tolist()}

    # ---- arrays -----------------------------------------------------------------------------
    def pairs(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Input positions pos (L, B) -> (u (L, B, I), target (L, B) or (L, B, horizon·C))."""
        if self.n_symbols is not None:
            return one_hot(self.data[pos], self.n_symbols), self.data[pos + 1]
        u = self.data[pos]                                                  # (L, B, C)
        ahead = pos[..., None] + np.arange(1, self.horizon + 1)             # (L, B, h)
        target = self.data[ahead].reshape(pos.shape + (-1,))                # (L, B, h·C)
        return np.ascontiguousarray(u, dtype=np.float64), target

    def stream_steps(self, batch_size: int, window: int) -> int:
        """S, the steps of each of the ``batch_size`` parallel training streams read in windows of
        ``window`` (rnnctl.training.feed: S = (n − window + 1) // B over the n scored steps of the
        train range, so that every epoch's offset in [0, window) leaves S steps); DataError when
        the train range is too short for one step per stream."""
        n = self.steps("train")
        S = (n - window + 1) // batch_size
        if S < 1:
            raise DataError(f"{self.source}: the train range has {n} steps, too few for {batch_size} "
                            f"streams of windows of {window}; lower train.batch_size or task.length")
        return S

    def windows(self, split, batch_size: int, length: int,
                rng: np.random.Generator | None = None) -> Iterator[StreamWindow]:
        """One epoch of ``split`` as windows of B = ``batch_size`` streams and ``length`` steps
        (the layout in the module docstring). rng None: offset 0 (deterministic)."""
        for name, v in (("batch_size", batch_size), ("length", length)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise DataError(f"{name} must be a positive integer, got {v!r}")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
        s, _ = self.range(split)
        n = self.steps(split)
        offset = int(rng.integers(0, min(length, n))) if rng is not None and n > 0 else 0
        if n < 1:
            s_, e_ = self.range(split)
            raise DataError(f"{self.source}: the {SPLITS[split_code(split)]} split holds {e_ - s_} positions, "
                            f"no step to score (a step needs {self.horizon} more after it); change the fractions")
        S = (n - offset) // batch_size
        if S < 1:
            raise DataError(f"{self.source}: the {SPLITS[split_code(split)]} split has {n} steps, "
                            f"too few for {batch_size} streams; lower the batch size")
        start = s + offset + np.arange(batch_size, dtype=np.int64) * S     # (B,)
        for k in range(0, S, length):
            L = min(length, S - k)
            pos = start[None, :] + k + np.arange(L)[:, None]                # (L, B)
            u, target = self.pairs(pos)
            yield StreamWindow(u=u, lengths=np.full(batch_size, L, dtype=np.int64), target=target,
                               first=(k == 0), start=start + k)

    def evaluation(self, split, length: int) -> Iterator[StreamWindow]:
        """The whole of ``split`` as one stream (B = 1), in windows of ``length`` steps, state
        carried through: every scored step exactly once."""
        return self.windows(split, 1, length, rng=None)

    def raw(self, split=None) -> np.ndarray:
        """Series: float64 (n, C) values of ``split`` (all when None) in the file's units."""
        if self.mean is None:
            raise DataError(f"{self.source}: raw values exist only for series")
        s, e = (0, self.data.shape[0]) if split is None else self.range(split)
        return self.denormalise(self.data[s:e])

    def denormalise(self, values: np.ndarray) -> np.ndarray:
        """Map normalised values (..., C) or predictions (..., horizon·C) back to the file's units."""
        if self.mean is None:
            raise DataError(f"{self.source}: only series are normalised")
        values = np.asarray(values, dtype=np.float64)
        C = self.mean.shape[0]
        if values.shape[-1] % C:
            raise DataError(f"last axis {values.shape[-1]} is not a multiple of the {C} columns")
        reps = values.shape[-1] // C
        return values * np.tile(self.std, reps) + np.tile(self.mean, reps)
