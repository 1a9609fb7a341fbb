"""Where the training batches of real data come from: epochs of a dataset's train split.

A run's batches are a function of the seed and the update number alone, so a resumed run sees the
batches it would have seen, with nothing to checkpoint but a stream's carried state:

- ``SequenceFeed`` (a set of sequences): epoch e is ``Dataset.order('train', B, rng_e, bucket)``
  with ``rng_e = default_rng([entropy, e])``; update u takes batch (u − 1) mod n of epoch
  (u − 1) // n, n being the batches per epoch (fixed: the split's size and B set it). Each batch
  is padded, time-major, with its ``lengths``; the loss and BPTT ignore the padded steps.
- ``StreamFeed`` (one long text or series): truncated BPTT over the stream with the state
  carried (Elman 1990; Mikolov 2012; Graves 2013). The train range's n steps are cut into B
  parallel streams of S = (n − L + 1) // B steps each (L = task.length), starting at an offset
  o_e drawn from rng_e in [0, L) so that window boundaries move from epoch to epoch; window k of
  the epoch holds steps k·L .. k·L + L − 1 of every stream (the last one may be shorter) and
  starts from the state the previous window ended in; the first window of an epoch starts from
  zero. Every epoch has the same ceil(S / L) windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class FeedBatch:
    u: np.ndarray              # (T, B, n_in)
    target: np.ndarray         # as the dataset's batches
    lengths: np.ndarray | None  # (B,) real steps of a padded batch; None when every step is real
    state0: Any = None         # the carried state a stream window starts from (None: zeros)
    target_lengths: np.ndarray | None = None   # (B,) real target steps of a batch of pairs (decoder)


class SequenceFeed:
    def __init__(self, dataset, batch_size: int, entropy: int, bucket: int = 32):
        self.dataset, self.B, self.entropy, self.bucket = dataset, batch_size, entropy, bucket
        self.per_epoch = len(dataset.order("train", batch_size, None, bucket))
        self._epoch, self._order = -1, None

    def _batches(self, epoch: int) -> list:
        if epoch != self._epoch:
            rng = np.random.default_rng([self.entropy, epoch])
            self._epoch, self._order = epoch, self.dataset.order("train", self.B, rng, self.bucket)
        return self._order

    def batch(self, update: int, pending) -> tuple[FeedBatch, None]:
        epoch, k = divmod(update - 1, self.per_epoch)
        b = self.dataset.batch(self._batches(epoch)[k])
        lengths = None if b.lengths.min() == b.u.shape[0] else b.lengths   # unpadded: the fast kernels
        tl = getattr(b, "target_lengths", None)   # pairs: the decoder's own lengths
        tl = None if tl is None or tl.min() == b.target.shape[0] else tl
        return FeedBatch(b.u, b.target, lengths, target_lengths=tl), None

    def carried(self, pending, last_state):
        return None

    def epoch_of(self, update: int) -> float:
        return (update - 1) / self.per_epoch + 1


class StreamFeed:
    def __init__(self, dataset, batch_size: int, window: int, entropy: int):
        self.dataset, self.B, self.L, self.entropy = dataset, batch_size, window, entropy
        self.S = dataset.stream_steps(batch_size, window)
        self.per_epoch = -(-self.S // window)
        self.start = dataset.range("train")[0]
        self._epoch, self._epoch_offset = -1, 0

    def _offset(self, epoch: int) -> int:
        """Where epoch ``epoch`` starts in [0, L): drawn once per epoch, not once per window."""
        if epoch != self._epoch:
            self._epoch = epoch
            self._epoch_offset = int(np.random.default_rng([self.entropy, epoch]).integers(0, self.L))
        return self._epoch_offset

    def batch(self, update: int, pending) -> tuple[FeedBatch, dict]:
        epoch, k = divmod(update - 1, self.per_epoch)
        offset = self._offset(epoch)
        first = self.start + offset + np.arange(self.B, dtype=np.int64) * self.S + k * self.L   # (B,)
        steps = min(self.L, self.S - k * self.L)
        pos = first[None, :] + np.arange(steps)[:, None]                                     # (L, B)
        u, target = self.dataset.pairs(pos)
        state0 = None if k == 0 or pending is None else pending["state"]
        return FeedBatch(u, target, None, state0), pending

    def carried(self, pending, last_state) -> dict:
        """The state the next window starts from: a copy of the model's final state."""
        return {"state": [np.array(s) for s in last_state]}

    def epoch_of(self, update: int) -> float:
        return (update - 1) / self.per_epoch + 1


def make_feed(sampler, batch_size: int, entropy: int):
    if sampler.stream:
        return StreamFeed(sampler.dataset, batch_size, sampler.window, entropy)
    return SequenceFeed(sampler.dataset, batch_size, entropy)
