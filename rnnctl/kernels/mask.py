"""Row helpers for padded batches: sequence i of a batch has lengths[i] real steps, 1 <= lengths[i] <= T.

A padded step t > lengths[i] leaves the sequence's state as it was (h_t = h_{t-1}, and c_t = c_{t-1}
for the LSTM), so the final state and a readout at step T are those of the last real step. In BPTT
that identity map passes ∂E/∂h_t on to h_{t-1} unchanged and adds nothing to the weight gradients:
the kernels zero the padded rows of their pre-activation gradients and keep the carried rows across
the per-step product with W_rec. These helpers work on the B rows of one step; the kernels call
them only when a ``lengths`` array is given (``lengths is None`` is pruned at compile time).
"""

from numba import njit


@njit(cache=True, nogil=True, inline="always")
def hold_padded(cur, prev, lengths, t):
    """cur[i] = prev[i] for the rows whose step t is padded: the state is carried through."""
    B, H = cur.shape
    for i in range(B):
        if t > lengths[i]:
            a, p = cur[i], prev[i]
            for j in range(H):
                a[j] = p[j]


@njit(cache=True, nogil=True, inline="always")
def zero_padded(X, lengths, t):
    """X[i] = 0 for the rows whose step t is padded: no gradient reaches the weights there."""
    B, N = X.shape
    zero = X.dtype.type(0)
    for i in range(B):
        if t > lengths[i]:
            row = X[i]
            for j in range(N):
                row[j] = zero
