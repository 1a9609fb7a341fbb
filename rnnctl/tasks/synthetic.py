"""The six pathological tasks of Pascanu, Mikolov & Bengio (2013), section 4.

The paper defers the definitions to Hochreiter & Schmidhuber (1997); the authors' Theano code
(github.com/pascanur/trainingRNNs: tempOrder.py, tempOrder3bit.py, addition.py,
multiplication.py, permutation.py, memorization.py) is authoritative, and these generators
follow its logic. Differences that cannot matter: float64 instead of float32, integer targets
instead of one-hot target matrices, numpy.random.Generator instead of RandomState (so the
random streams differ from the original even for the same seed).

Floors. The code writes positions as ``int(l * c)``; we write ``_tenths(l, k) = k*l // 10``.
For the multipliers the code uses (.1, .3, .4, .5, .6) the two agree for every l (checked for
0 <= l <= 200000 in tests/test_tasks.py); note that ``int(l * .7)`` would NOT (e.g. l = 90).

Every generator draws only from the Generator it is handed and is vectorised over the batch.
"""

from __future__ import annotations

import numpy as np

from rnnctl.errors import ConfigError
from rnnctl.tasks.base import Batch, Task, one_hot, register


def _tenths(length: int, k: int) -> int:
    """floor(k/10 * length), equal to the code's int(length * (k/10)) for k in 1, 3, 4, 5, 6."""
    return (k * length) // 10


# ------------------------------------------------------------------------------------------
# Temporal order
# ------------------------------------------------------------------------------------------
def _temporal_order(rng: np.random.Generator, batch_size: int, length: int,
                    starts: tuple[int, ...]) -> Batch:
    """Symbols 0/1 ("A"/"B") hidden among distractors 2..5, one per window.

    Window i is [s_i, s_i + floor(.1L)) with s_i = floor(starts[i]/10 * L); class = sum_i v_i 2^i.
    """
    B, L = batch_size, length
    width = _tenths(L, 1)
    cols = np.arange(B)
    symbols = rng.integers(2, 6, size=(L, B))                 # (L, B) distractors c,d,e,f
    bits = rng.integers(0, 2, size=(len(starts), B))          # (k, B) v_i in {A=0, B=1}
    offsets = rng.integers(0, width, size=(len(starts), B))   # (k, B) position within window
    cls = np.zeros(B, dtype=np.int64)
    for i, s in enumerate(starts):                             # k <= 3 windows, not a loop over B
        symbols[_tenths(L, s) + offsets[i], cols] = bits[i]
        cls += bits[i].astype(np.int64) << i
    return Batch(u=one_hot(symbols, 6), target=cls, length=L)


@register
class TemporalOrder(Task):
    """tempOrder.py ``TempOrderTask`` (``torder``): which of AA, AB, BA, BB was shown.

    v0 at p0 in [floor(.1L), 2 floor(.1L)), v1 at p1 in [floor(.5L), floor(.5L) + floor(.1L));
    target class v0 + 2 v1.
    NOTE: the original docstring says p0 is in [1, L/10]; its code draws
    ``randint(int(l*.1)) + int(l*.1)``, i.e. [L/10, 2L/10). We follow the code.
    min_length 10: below it floor(.1L) = 0 and the code's ``randint(0)`` raises.
    """

    name = "temporal_order"
    n_in, n_out = 6, 4
    loss, scored = "softmax_ce", "last"
    min_length = 10

    def _generate(self, rng, batch_size, length):
        return _temporal_order(rng, batch_size, length, starts=(1, 5))


@register
class TemporalOrder3Bit(Task):
    """tempOrder3bit.py ``TempOrder3bitTask`` (``torder3``): order of three A/B symbols.

    p0 in [floor(.1L), floor(.1L)+floor(.1L)), p1 in [floor(.3L), floor(.3L)+floor(.1L)),
    p2 in [floor(.6L), floor(.6L)+floor(.1L)) (each window is floor(.1L) wide, as in the code);
    target class v0 + 2 v1 + 4 v2.
    """

    name = "temporal_order_3bit"
    n_in, n_out = 6, 8
    loss, scored = "softmax_ce", "last"
    min_length = 10

    def _generate(self, rng, batch_size, length):
        return _temporal_order(rng, batch_size, length, starts=(1, 3, 6))


# ------------------------------------------------------------------------------------------
# Addition / multiplication
# ------------------------------------------------------------------------------------------
class _TwoMarkerRegression(Task):
    """addition.py / multiplication.py: two marked numbers in a stream of U[0,1) values.

    Actual length l = L + randint(floor(.1L)), one l per batch, so l in [L, L + floor(.1L));
    ``u`` has l steps while ``Batch.length`` stays L. Channel 1 holds U[0,1) values at every
    step. Channel 0 is the marker: 1.0 at p0 in [0, floor(.1l)) and at
    p1 in [floor(.1l), floor(.1l) + floor(.4l)), 0.0 elsewhere (both marks fall in the first
    half of the sequence; the rest is distractor). Target: combine(x[p0], x[p1]), shape (B, 1).
    min_length 10: below it floor(.1L) = 0 and the code's ``randint(0)`` raises (numpy:
    "high <= 0"), so the code itself cannot generate such lengths.
    """

    n_in, n_out = 2, 1
    loss, scored = "mse", "last"
    min_length = 10

    @staticmethod
    def _combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def max_steps(self, length):
        return int(length) + _tenths(int(length), 1) - 1

    def _generate(self, rng, batch_size, length):
        B = batch_size
        steps = length + int(rng.integers(0, _tenths(length, 1)))   # l, one per batch
        first = _tenths(steps, 1)
        cols = np.arange(B)
        p0 = rng.integers(0, first, size=B)                           # (B,)
        p1 = first + rng.integers(0, _tenths(steps, 4), size=B)        # (B,)
        # The code draws U[0,1) for both channels and then zeroes channel 0; drawing channel 1
        # alone gives the same distribution.
        u = np.zeros((steps, B, 2), dtype=np.float64)                  # (l, B, 2)
        u[:, :, 1] = rng.random((steps, B))
        u[p0, cols, 0] = 1.0
        u[p1, cols, 0] = 1.0
        target = self._combine(u[p0, cols, 1], u[p1, cols, 1])[:, None]   # (B, 1)
        return Batch(u=u, target=target, length=length)


@register
class Addition(_TwoMarkerRegression):
    """addition.py ``AddTask`` (``add``): target (x[p0] + x[p1]) / 2."""

    name = "addition"

    @staticmethod
    def _combine(a, b):
        return (a + b) / 2.0


@register
class Multiplication(_TwoMarkerRegression):
    """multiplication.py ``MulTask`` (``mul``): target x[p0] * x[p1]."""

    name = "multiplication"

    @staticmethod
    def _combine(a, b):
        return a * b


# ------------------------------------------------------------------------------------------
# Random permutation
# ------------------------------------------------------------------------------------------
@register
class RandomPermutation(Task):
    """permutation.py ``PermTask`` (``perm``): remember the first symbol for L steps.

    L one-hot steps over 100 symbols: step 0 is v in {0, 1}, steps 1..L-1 are uniform in
    {2..99}. The code builds L+1 symbols and sets both the first and the (L+1)-th to v, so the
    "next symbol" predicted after the last input is v; only the last step is scored.
    min_length 1: L = 1 is what the code would produce (the input is v alone); L = 0 would give
    an empty input.
    """

    name = "random_permutation"
    n_in, n_out = 100, 100
    loss, scored = "softmax_ce", "last"
    min_length = 1

    def _generate(self, rng, batch_size, length):
        symbols = rng.integers(2, 100, size=(length, batch_size))   # (L, B)
        v = rng.integers(0, 2, size=batch_size)                    # (B,)
        symbols[0] = v
        return Batch(u=one_hot(symbols, 100), target=v.astype(np.int64), length=length)


# ------------------------------------------------------------------------------------------
# Noiseless memorization
# ------------------------------------------------------------------------------------------
@register
class NoiselessMemorization(Task):
    """memorization.py ``MemTask`` (``mem``): reproduce a pattern after a blank delay.

    T = L + 2 n_positions steps; inputs have n_values + 2 channels (index n_values = "blank",
    n_values + 1 = "go"), outputs n_values + 1 classes (index n_values = "blank").
    Steps 0..P-1 (P = n_positions): one-hot pattern digit in [0, n_values). Steps P..T-1: blank,
    except step L + P which carries go (and not blank). Target: blank class at steps 0..T-P-1;
    the last P steps (L+P .. T-1, so the first recall step IS the go step) reproduce the
    pattern in order. Scored at every step; a sequence is wrong if any step is wrong.

    The code draws one integer in [0, n_values**P) per sequence and writes its base-n_values
    digits (least significant first); that is the same distribution as P independent uniform
    digits, which we draw directly. The code's ``memall`` mode (the batch enumerates all
    n_values**P patterns) is not implemented.
    min_length 1: the code also runs with L = 0 (recall right after the pattern), but nominal
    lengths are positive throughout rnnctl.
    """

    name = "noiseless_memorization"
    loss, scored = "softmax_ce", "all"
    min_length = 1
    params = ("n_values", "n_positions")

    def __init__(self, *, n_values: int = 5, n_positions: int = 10):
        for key, val in (("n_values", n_values), ("n_positions", n_positions)):
            if (not isinstance(val, (int, np.integer)) or isinstance(val, (bool, np.bool_))
                    or val < 1):
                raise ConfigError(f"must be a positive integer, got {val!r}", key=f"task.{key}")
        self.n_values = int(n_values)
        self.n_positions = int(n_positions)
        self.n_in = self.n_values + 2
        self.n_out = self.n_values + 1

    def max_steps(self, length):
        return int(length) + 2 * self.n_positions

    def _generate(self, rng, batch_size, length):
        V, P, L, B = self.n_values, self.n_positions, length, batch_size
        T = L + 2 * P
        blank, go = V, V + 1
        pattern = rng.integers(0, V, size=(P, B))                  # (P, B)
        symbols = np.full((T, B), blank, dtype=np.int64)           # (T, B) input symbols
        symbols[:P] = pattern
        symbols[L + P] = go
        target = np.full((T, B), blank, dtype=np.int64)            # (T, B); class V = blank
        target[T - P:] = pattern
        return Batch(u=one_hot(symbols, V + 2), target=target, length=L)
