"""`Dataset`: a fixed set of variable-length sequences with train/valid/test splits, iterated in
epochs as time-major padded batches (`DataBatch`).

Storage is ragged (concatenated): sequence i is rows ``offsets[i]:offsets[i+1]`` of ``x``.
Inputs are either real features, ``x`` float64 (ΣT, I), or symbols, ``x`` int64 (ΣT,) with
``n_symbols`` = I, one-hot encoded only when a batch is built (so a text corpus does not cost
8·I bytes per character in memory).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from rnnctl.errors import DataError

from .common import SPLITS, SplitIndex, content_hash, one_hot, split_code

ARCHS = ("many_to_one", "many_to_many")
LOSSES = ("softmax_ce", "mse", "sigmoid_ce")


@dataclass(frozen=True, eq=False)
class DataBatch:
    """One padded, time-major batch; T = max(lengths).

    u:       float64 (T, B, I), zeros in padded steps (t >= lengths[b]).
    lengths: int64 (B,), each >= 1.
    target:  many_to_one: int64 (B,) class labels or float64 (B, O) values;
             many_to_many: int64 (T, B) (0 in padded steps) or float64 (T, B, O) (0 in padded steps).
    index:   int64 (B,) the sequences' indices in the dataset (stable file order).
    """

    u: np.ndarray
    lengths: np.ndarray
    target: np.ndarray
    index: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """bool (T, B): True at real (unpadded) steps."""
        return np.arange(self.u.shape[0])[:, None] < self.lengths[None, :]


def bucketed(idx: np.ndarray, lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None = None,
             bucket: int | None = 32) -> list[np.ndarray]:
    """The indices ``idx`` cut into batches (see `Dataset.order`): permuted by ``rng`` (None: kept
    in order), cut into chunks of bucket·batch_size, each chunk sorted by ``lengths[idx]``
    (stable) and cut into batches, the batches then shuffled by ``rng``."""
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
    if rng is not None:
        idx = rng.permutation(idx)
    batches = []
    chunk = batch_size * (bucket or 1)
    for s in range(0, idx.size, chunk):
        part = idx[s:s + chunk]
        if bucket and bucket > 1:
            part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i:i + batch_size] for i in range(0, part.size, batch_size))
    if rng is not None and bucket and bucket > 1:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def padding_fraction(batches) -> float:
    """Fraction of the (T, B) cells of ``batches`` that are padding: 1 − Σlengths / Σ(T·B)."""
    real = total = 0
    for b in batches:
        real += int(b.lengths.sum())
        total += b.u.shape[0] * b.u.shape[1]
    return 1.0 - real / total if total else 0.0


@dataclass(eq=False)
class Dataset(SplitIndex):
    """Sequences with targets and fixed splits.

    x:        float64 (ΣT, I) features, or int64 (ΣT,) symbols when ``n_symbols`` is set.
    lengths:  int64 (N,) sequence lengths, each >= 1 (stable order: the order in the file).
    y:        many_to_one: int64 (N,) labels or float64 (N, O);
              many_to_many: int64 (ΣT,) or float64 (ΣT, O), aligned with the rows of x.
    split:    int8 (N,) codes 0 train, 1 valid, 2 test.
    arch:     "many_to_one" | "many_to_many".
    loss:     "softmax_ce" (integer targets) | "mse" (real targets) | "sigmoid_ce" (multi-label
              targets: float 0/1 (ΣT, O), many_to_many only; O independent yes/no outputs per
              step, e.g. the notes of a piano roll; Boulanger-Lewandowski et al. 2012).
    n_out:    classes (softmax_ce) or O (mse, sigmoid_ce).
    vocab:    the symbols' characters (index 0 = unknown) for text inputs, else None.
    labels:   the class names in label order for labelled data, else None.
    source:   where the data came from (a path or a source name), for messages and run folders.
    """

    x: np.ndarray
    lengths: np.ndarray
    y: np.ndarray
    split: np.ndarray
    arch: str
    loss: str
    n_out: int
    n_symbols: int | None = None
    vocab: tuple[str, ...] | None = None
    labels: tuple | None = None
    source: str = "<arrays>"
    kind: str = field(default="sequences", init=False)

    def __post_init__(self):
        self.lengths = np.asarray(self.lengths, dtype=np.int64)
        self.split = np.asarray(self.split, dtype=np.int8)
        n = self.lengths.shape[0]
        if self.arch not in ARCHS or self.loss not in LOSSES:
            raise DataError(f"{self.source}: arch must be one of {ARCHS} and loss one of {LOSSES}")
        if n == 0 or self.lengths.min() < 1:
            raise DataError(f"{self.source}: a dataset needs at least one sequence, each of length >= 1")
        if self.split.shape != (n,) or not np.isin(self.split, (0, 1, 2)).all():
            raise DataError(f"{self.source}: split must be (N,) codes in 0, 1, 2")
        total = int(self.lengths.sum())
        if self.x.shape[0] != total:
            raise DataError(f"{self.source}: x has {self.x.shape[0]} rows, lengths sum to {total}")
        rows = n if self.arch == "many_to_one" else total
        if self.y.shape[0] != rows:
            raise DataError(f"{self.source}: y has {self.y.shape[0]} rows, expected {rows}")
        if self.loss == "softmax_ce":
            if self.y.dtype.kind not in "iu" or self.y.ndim != 1:
                raise DataError(f"{self.source}: softmax_ce needs 1-D integer targets, got {self.y.dtype} {self.y.shape}")
            if self.y.min() < 0 or self.y.max() >= self.n_out:
                raise DataError(f"{self.source}: class targets must lie in [0, {self.n_out}), found "
                                f"{self.y.min()}..{self.y.max()}")
            self.y = self.y.astype(np.int64, copy=False)
        elif self.y.ndim != 2 or self.y.shape[1] != self.n_out or self.y.dtype.kind != "f":
            raise DataError(f"{self.source}: {self.loss} needs float targets (rows, {self.n_out}), "
                            f"got {self.y.dtype} {self.y.shape}")
        elif self.loss == "sigmoid_ce":
            if self.arch != "many_to_many":
                raise DataError(f"{self.source}: sigmoid_ce (multi-label targets per step) needs arch many_to_many")
            if not np.isin(self.y, (0.0, 1.0)).all():
                raise DataError(f"{self.source}: sigmoid_ce needs targets of 0.0 or 1.0 only")
        want = 1 if self.n_symbols is not None else 2
        if self.x.ndim != want:
            raise DataError(f"{self.source}: x must be {'int (ΣT,) symbols' if want == 1 else 'float (ΣT, I)'}, "
                            f"got {self.x.dtype} {self.x.shape}")
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)  # (N+1,)

    # ---- description ------------------------------------------------------------------------
    @property
    def n_in(self) -> int:
        return int(self.n_symbols) if self.n_symbols is not None else int(self.x.shape[1])

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    @property
    def hash(self) -> str:
        """sha256 of the canonical arrays (x, lengths, y, split) and the vocabulary/labels."""
        if not hasattr(self, "_hash"):
            extra = repr((self.arch, self.loss, self.n_out, self.n_symbols, self.vocab, self.labels))
            self._hash = content_hash(self.x, self.lengths, self.y, self.split, extra=extra)
        return self._hash

    def describe(self) -> dict:
        """Plain data for a run folder: kind, source, hash, sizes, shapes, loss, arch."""
        return {"kind": self.kind, "source": self.source, "hash": self.hash, "sizes": self.sizes(),
                "n_in": self.n_in, "n_out": self.n_out, "arch": self.arch, "loss": self.loss,
                "max_length": int(self.lengths.max()), "vocab_size": None if self.vocab is None else len(self.vocab),
                "labels": None if self.labels is None else list(self.labels)}

    # ---- batches ----------------------------------------------------------------------------
    def batch(self, idx) -> DataBatch:
        """The padded batch of sequences ``idx`` (int (B,)), in that order."""
        idx = np.asarray(idx, dtype=np.int64)
        if idx.ndim != 1 or idx.size == 0 or idx.min() < 0 or idx.max() >= len(self):
            raise DataError(f"{self.source}: a batch needs 1-D indices in [0, {len(self)}), got {idx.tolist()!r}")
        lengths = self.lengths[idx]
        T = int(lengths.max())
        rows = self.offsets[idx][None, :] + np.arange(T)[:, None]      # (T, B) row of x per step
        mask = np.arange(T)[:, None] < lengths[None, :]                 # (T, B)
        rows = np.where(mask, rows, 0)
        if self.n_symbols is not None:
            u = one_hot(self.x[rows], self.n_symbols, mask)            # (T, B, I)
        else:
            u = self.x[rows] * mask[:, :, None]                         # (T, B, I)
        if self.arch == "many_to_one":
            target = self.y[idx].copy()
        else:
            t = self.y[rows]
            target = t * (mask if t.ndim == 2 else mask[:, :, None])
        return DataBatch(u=np.ascontiguousarray(u, dtype=np.float64), lengths=lengths,
                         target=target, index=idx)

    def order(self, split, batch_size: int, rng: np.random.Generator | None = None,
              bucket: int | None = 32) -> list[np.ndarray]:
        """The batches of one epoch of ``split`` as index arrays.

        rng None: stable order (for evaluation). Otherwise the split's indices are permuted by
        ``rng``. With ``bucket = k``, the order is cut into chunks of k·batch_size sequences,
        each chunk is sorted by length (stable) and cut into batches, then the batches are
        shuffled by ``rng``: sequences of similar length share a batch, so little padding.
        ``bucket=None`` (or 1) makes plain random batches. The last batch may be smaller.
        Larger chunks pad less and mix less (on a log-normal length distribution, batches of
        32: 75% padding unbucketed, 37% with k=8, 12% with k=32, 6% sorting the whole epoch).
        """
        idx = self.indices(split)
        if idx.size == 0:
            raise DataError(f"{self.source}: the {SPLITS[split_code(split)]} split is empty")
        return bucketed(idx, self.lengths, batch_size, rng, bucket)

    def epoch(self, split, batch_size: int, rng: np.random.Generator | None = None,
              bucket: int | None = 32) -> Iterator[DataBatch]:
        """Yield the padded batches of one epoch of ``split`` (see `order`)."""
        for idx in self.order(split, batch_size, rng, bucket):
            yield self.batch(idx)
