"""Losses of the linear readout y = W_out h + b_out, on rows of y (N, O).

Each returns the summed loss times ``scale`` and writes dy = ∂(loss)/∂y. With scale = 1/B and N = T*B
rows this is the paper's cost: Σ_t E_t per sequence, averaged over the batch. Sums accumulate in float64.

Padded batches: with ``lengths`` (B,) int64 the N = T*B rows are time-major (row r is step r // B + 1
of sequence r % B) and a row whose step is past its sequence's length adds nothing and gets dy = 0,
so the cost is Σ_{t <= lengths[b]} E_t per sequence, still averaged over the batch (scale = 1/B):
the mean of the sequences' own costs, which for lengths all T is today's cost bit for bit. With
lengths None (the default) Numba compiles a specialization without the test.
"""

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _padded_row(lengths, r):
    """Whether row r (time-major) is a padded step of a (B,) lengths array."""
    B = lengths.shape[0]
    return r // B >= lengths[r % B]


@njit(cache=True, nogil=True)
def softmax_ce(y, target, scale, dy, lengths=None):
    """Softmax cross-entropy; target int (N,) of class indices."""
    N, O = y.shape
    loss = 0.0
    for r in range(N):
        if lengths is not None:  # pruned at compile time when None
            if _padded_row(lengths, r):
                dy[r, :] = 0.0
                continue
        m = y[r, 0]
        for o in range(1, O):
            if y[r, o] > m:
                m = y[r, o]
        s = 0.0
        for o in range(O):
            e = np.exp(y[r, o] - m)
            dy[r, o] = e
            s += e
        loss += np.log(s) + m - y[r, target[r]]
        inv = scale / s
        for o in range(O):
            dy[r, o] *= inv
        dy[r, target[r]] -= scale
    return loss * scale


@njit(cache=True, nogil=True)
def sigmoid_ce(y, target, scale, dy, lengths=None):
    """Independent sigmoid cross-entropy per output (multi-label); target float (N, O) in [0, 1]."""
    N, O = y.shape
    loss = 0.0
    for r in range(N):
        if lengths is not None:  # pruned at compile time when None
            if _padded_row(lengths, r):
                dy[r, :] = 0.0
                continue
        for o in range(O):
            z = y[r, o]
            # log(1 + e^z) - t z, computed without overflow for either sign of z
            loss += max(z, 0.0) + np.log1p(np.exp(-abs(z))) - target[r, o] * z
            if z >= 0:
                p = 1.0 / (1.0 + np.exp(-z))
            else:
                e = np.exp(z)
                p = e / (1.0 + e)
            dy[r, o] = scale * (p - target[r, o])
    return loss * scale


@njit(cache=True, nogil=True)
def squared_error(y, target, scale, dy, lengths=None):
    """E_t = ‖y_t − target_t‖²; target float (N, O)."""
    N, O = y.shape
    loss = 0.0
    for r in range(N):
        if lengths is not None:  # pruned at compile time when None
            if _padded_row(lengths, r):
                dy[r, :] = 0.0
                continue
        for o in range(O):
            d = y[r, o] - target[r, o]
            loss += d * d
            dy[r, o] = 2.0 * scale * d
    return loss * scale
