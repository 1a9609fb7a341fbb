"""LSTM cell: forward pass and full backpropagation through time, PyTorch's formulation.

    i_t = σ(W_in_i u_t + W_rec_i h_{t-1} + b_i)        input gate
    f_t = σ(W_in_f u_t + W_rec_f h_{t-1} + b_f)        forget gate
    g_t = tanh(W_in_g u_t + W_rec_g h_{t-1} + b_g)     cell candidate
    o_t = σ(W_in_o u_t + W_rec_o h_{t-1} + b_o)        output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                    cell (the constant-error carousel)
    h_t = o_t ⊙ tanh(c_t)

The gate blocks are stacked in the order i, f, g, o: W_in (4H, I), W_rec (4H, H), b (4H,), exactly
``torch.nn.LSTM``'s weight_ih / weight_hh; b is torch's bias_ih + bias_hh.

Shapes are time-major: u (T, B, I); h, c (T+1, B, H) with h[0], c[0] the initial state;
gates (T, B, 4H) holds the gate activations i, f, g, o of each step (after σ / tanh) and
tc (T, B, H) holds tanh(c_t) (index t-1 for step t), so BPTT evaluates no transcendental function.
Per step, one (B, H) x (H, 4H) product serves all four gates; the input projections of all T steps
are one (T*B, I) x (I, 4H) product before the loop.

Padded batches (``lengths`` (B,) int64, else None): at a padded step t > lengths[b] the state is
held, h_t = h_{t-1} and c_t = c_{t-1}; BPTT passes ∂E/∂h_t and ∂E/∂c_t on unchanged, the step's
dgates row is 0 and the step is left out of the norms (kernels/mask.py). With lengths None Numba
compiles a specialization without any of it (the ``is not None`` branches are pruned).
"""

import numpy as np
from numba import njit

from .activations import add_into, sigmoid, tanh
from .blas import copy_transposed, gemm_rows, gemm_tn
from .mask import hold_padded
from .reduce import sum_real_row_norms, sum_row_norms


@njit(cache=True, nogil=True, error_model="numpy")
def lstm_forward(W_in, W_rec, b, u, h, c, gates, tc, tmp, small_mnk, lengths=None):
    """Fill h[1:], c[1:], gates and tc given h[0], c[0] (h, c held at padded steps t > lengths[b]).
    tmp (B, 4H) is scratch; small_mnk: see blas.py; lengths: None or (B,) int64."""
    T, B, I = u.shape
    H = W_rec.shape[1]
    np.dot(u.reshape(T * B, I), W_in.T, gates.reshape(T * B, 4 * H))
    if copy_transposed(W_rec.size, small_mnk):  # see blas.py
        _lstm_steps(np.ascontiguousarray(W_rec.T), b, h, c, gates, tc, tmp, small_mnk, lengths)
    else:
        _lstm_steps(W_rec.T, b, h, c, gates, tc, tmp, small_mnk, lengths)


@njit(cache=True, nogil=True, error_model="numpy")
def _lstm_steps(W_rec_T, b, h, c, gates, tc, tmp, small_mnk, lengths):
    T, B, H = tc.shape
    b_i, b_f, b_g, b_o = b[:H], b[H:2 * H], b[2 * H:3 * H], b[3 * H:]
    for t in range(T):
        gemm_rows(h[t], W_rec_T, tmp, small_mnk)
        for i in range(B):
            # Per gate block, a view and a loop from 0 over it: an index such as g[2 * H + j] may be
            # negative as far as LLVM knows, and the wrap-around select that Numba adds for it
            # stopped vectorization (3x slower). Short loops over few arrays vectorize reliably.
            g, p = gates[t, i], tmp[i]
            g_i, g_f, g_g, g_o = g[:H], g[H:2 * H], g[2 * H:3 * H], g[3 * H:]
            p_i, p_f, p_g, p_o = p[:H], p[H:2 * H], p[2 * H:3 * H], p[3 * H:]
            c_prev, c_t, h_t, tc_t = c[t, i], c[t + 1, i], h[t + 1, i], tc[t, i]
            for j in range(H):
                g_i[j] = sigmoid(g_i[j] + p_i[j] + b_i[j])
            for j in range(H):
                g_f[j] = sigmoid(g_f[j] + p_f[j] + b_f[j])
            for j in range(H):
                g_g[j] = tanh(g_g[j] + p_g[j] + b_g[j])
            for j in range(H):
                g_o[j] = sigmoid(g_o[j] + p_o[j] + b_o[j])
            for j in range(H):
                c_t[j] = g_f[j] * c_prev[j] + g_i[j] * g_g[j]
            for j in range(H):
                tc_t[j] = tanh(c_t[j])
            for j in range(H):
                h_t[j] = g_o[j] * tc_t[j]
        if lengths is not None:
            hold_padded(h[t + 1], h[t], lengths, t + 1)
            hold_padded(c[t + 1], c[t], lengths, t + 1)


@njit(cache=True, nogil=True, error_model="numpy")
def lstm_backward(W_in, W_rec, u, h, c, gates, tc, dh_out, gW_in, gW_rec, gb, dh_norm, dc_norm, dgates,
                  carry_h, carry_c, small_mnk, lengths=None, keep=None):
    """BPTT. dh_out (T, B, H) is ∂E/∂h_t from outside the recurrence (readout or layer above; index
    t-1 holds step t).

    carry_h, carry_c (B, H): on entry ∂E/∂h_T and ∂E/∂c_T arriving from beyond the sequence (zero for
    a plain sequence; an encoder receives its decoder's ∂E/∂(initial state)); on exit ∂E/∂h_0 and
    ∂E/∂c_0. Writes gW_in (4H, I), gW_rec (4H, H), gb (4H,), dgates (T, B, 4H) = ∂E/∂(gate
    pre-activations) (the caller multiplies it by W_in to reach the layer below), and
    dh_norm[k] = Σ_b ‖∂E/∂h_k‖, dc_norm[k] = Σ_b ‖∂E/∂c_k‖ for k = 0..T.

    lengths: None, or (B,) int64 with keep (B, H) scratch: the norms then sum over the sequences
    whose step k is real, and at a padded step the carries pass unchanged and dgates is 0.
    """
    T, B, I = u.shape
    H = W_rec.shape[1]
    one = gates.dtype.type(1)  # a float literal would widen float32 work to float64
    for t in range(T, 0, -1):
        add_into(carry_h.reshape(B * H), dh_out[t - 1].reshape(B * H))  # ∂E/∂h_t, the step as one block
        for i in range(B):
            if lengths is not None:
                if t > lengths[i]:
                    continue  # c_t = c_{t-1}: ∂E/∂c_t gets nothing through h_t of this step
            dh, dc, o, tc_t = carry_h[i], carry_c[i], gates[t - 1, i, 3 * H:], tc[t - 1, i]
            for j in range(H):
                dc[j] += dh[j] * o[j] * (one - tc_t[j] * tc_t[j])            # ∂E/∂c_t
        if lengths is None:
            dh_norm[t] = sum_row_norms(carry_h)
            dc_norm[t] = sum_row_norms(carry_c)
        else:
            dh_norm[t] = sum_real_row_norms(carry_h, lengths, t)
            dc_norm[t] = sum_real_row_norms(carry_c, lengths, t)
        for i in range(B):
            # views per gate block, loops from 0 (see lstm_forward: offset indexes stop vectorization)
            g, dg = gates[t - 1, i], dgates[t - 1, i]
            g_i, g_f, g_g, g_o = g[:H], g[H:2 * H], g[2 * H:3 * H], g[3 * H:]
            d_i, d_f, d_g, d_o = dg[:H], dg[H:2 * H], dg[2 * H:3 * H], dg[3 * H:]
            if lengths is not None:
                if t > lengths[i]:
                    dg[:] = 0.0  # no weight gradient at a padded step; the carries pass unchanged
                    continue
            dh, dc, tc_t, c_prev = carry_h[i], carry_c[i], tc[t - 1, i], c[t - 1, i]
            for j in range(H):
                d_i[j] = dc[j] * g_g[j] * g_i[j] * (one - g_i[j])
            for j in range(H):
                d_f[j] = dc[j] * c_prev[j] * g_f[j] * (one - g_f[j])
            for j in range(H):
                d_g[j] = dc[j] * g_i[j] * (one - g_g[j] * g_g[j])
            for j in range(H):
                d_o[j] = dh[j] * tc_t[j] * g_o[j] * (one - g_o[j])
            for j in range(H):
                dc[j] *= g_f[j]                                              # on to c_{t-1}
        # ∂E/∂h_{t-1} through the gates: (B, 4H) x (4H, H)
        if lengths is None:
            gemm_rows(dgates[t - 1], W_rec, carry_h, small_mnk)
        else:
            hold_padded(keep, carry_h, lengths, t)   # h_t = h_{t-1} there: kept across the product
            gemm_rows(dgates[t - 1], W_rec, carry_h, small_mnk)
            hold_padded(carry_h, keep, lengths, t)
    dh_norm[0] = sum_row_norms(carry_h)
    dc_norm[0] = sum_row_norms(carry_c)
    dG = dgates.reshape(T * B, 4 * H)
    gemm_tn(dG, h[:T].reshape(T * B, H), gW_rec, small_mnk)
    gemm_tn(dG, u.reshape(T * B, I), gW_in, small_mnk)
    for j in range(4 * H):
        gb[j] = 0.0
    for r in range(T * B):
        for j in range(4 * H):
            gb[j] += dG[r, j]
