"""Tasks posed for the sequence-output architectures of rnnctl.model.

``sequence_reversal`` (encoder_decoder): read a symbol sequence, then write it backwards.
``class_to_sequence`` (one_to_many): given a class at the first step, write that class's fixed
symbol sequence.

Both are scored at every output step with softmax cross-entropy; a sequence is an error if any
step is wrong (the base class's rule). As everywhere in rnnctl, a batch has one length; lengths
vary between batches (``task.min_length``/``task.max_length``).
"""

from __future__ import annotations

import numpy as np

from rnnctl.errors import ConfigError
from rnnctl.tasks.base import Batch, Task, one_hot, register


def _positive_int(value, key: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) or value < 1:
        raise ConfigError(f"must be a positive integer, got {value!r}", key=key)
    return int(value)


@register
class SequenceReversal(Task):
    """Reverse a sequence of L symbols (encoder-decoder; input and output lengths differ).

    Input: L one-hot symbols uniform on [0, n_values), then an end marker (channel n_values), so
    u is (L+1, B, n_values+1). Target: the same symbols in reverse order, int64 (L, B). The decoder
    must produce all L of them; a sequence is wrong if any symbol is.
    """

    name = "sequence_reversal"
    loss, scored = "softmax_ce", "all"
    arch = "encoder_decoder"
    min_length = 1
    params = ("n_values",)

    def __init__(self, *, n_values: int = 5):
        self.n_values = _positive_int(n_values, "task.n_values")
        self.n_in = self.n_values + 1
        self.n_out = self.n_values

    def max_steps(self, length):
        return int(length) + 1

    def output_steps(self, input_steps):
        return int(input_steps) - 1

    def _generate(self, rng, batch_size, length):
        V, L, B = self.n_values, length, batch_size
        symbols = np.empty((L + 1, B), dtype=np.int64)             # (L+1, B) input symbols
        symbols[:L] = rng.integers(0, V, size=(L, B))
        symbols[L] = V                                             # end marker
        target = np.ascontiguousarray(symbols[L - 1::-1])          # (L, B): reversed
        return Batch(u=one_hot(symbols, V + 1), target=target, length=L)


@register
class ClassToSequence(Task):
    """Write the fixed symbol sequence of a class given at the first step (one-to-many).

    Input: the class c, uniform on [0, n_classes), one-hot at step 0 and zeros afterwards, so u is
    (L, B, n_classes). Target: s_c(1..L), int64 (L, B), where s_c is a fixed sequence of symbols in
    [0, n_values) per class, the same in every batch and for every length (a prefix of one
    infinite sequence, drawn once from a fixed seed). Errors: any wrong step. Posed as one_to_many
    (outputs fed back); many_to_many (no feedback) is also accepted.
    """

    name = "class_to_sequence"
    loss, scored = "softmax_ce", "all"
    arch = "one_to_many"
    compatible_archs = ("one_to_many", "many_to_many")
    min_length = 1
    params = ("n_values", "n_classes")
    TABLE_SEED = 20130516   # the sequences are part of the task's definition, not of a run's seed
    BLOCK = 64

    def __init__(self, *, n_values: int = 5, n_classes: int = 4):
        self.n_values = _positive_int(n_values, "task.n_values")
        self.n_classes = _positive_int(n_classes, "task.n_classes")
        self.n_in = self.n_classes
        self.n_out = self.n_values
        self._table = np.zeros((self.n_classes, 0), dtype=np.int64)

    def sequences(self, length: int) -> np.ndarray:
        """int64 (n_classes, length): row c is s_c(1..length). Drawn block by block (each block
        from its own seed) so that a longer table extends a shorter one."""
        while self._table.shape[1] < length:
            k = self._table.shape[1] // self.BLOCK
            block = np.random.default_rng([self.TABLE_SEED, self.n_values, self.n_classes, k]).integers(
                0, self.n_values, size=(self.n_classes, self.BLOCK))
            self._table = np.concatenate([self._table, block], axis=1)
        return self._table[:, :length]

    def _generate(self, rng, batch_size, length):
        B, L = batch_size, length
        cls = rng.integers(0, self.n_classes, size=B)              # (B,)
        u = np.zeros((L, B, self.n_classes), dtype=np.float64)     # (L, B, C)
        u[0, np.arange(B), cls] = 1.0
        target = np.ascontiguousarray(self.sequences(L)[cls].T)   # (L, B)
        return Batch(u=u, target=target, length=L)
