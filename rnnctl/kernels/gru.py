"""GRU cell: forward pass and full backpropagation through time, PyTorch's formulation.

    r_t = σ(W_in_r u_t + W_rec_r h_{t-1} + b_r)                      reset gate
    z_t = σ(W_in_z u_t + W_rec_z h_{t-1} + b_z)                      update gate
    n_t = tanh(W_in_n u_t + b_n + r_t ⊙ (W_rec_n h_{t-1} + b_rec_n))  candidate
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}

Gate blocks in the order r, z, n: W_in (3H, I), W_rec (3H, H), b (3H,) and b_rec_n (H,), as in
``torch.nn.GRU``: b[:2H] is torch's bias_ih[:2H] + bias_hh[:2H], b[2H:] its bias_ih[2H:] and
b_rec_n its bias_hh[2H:] (inside the reset gate's product, so it cannot be merged into b).

Shapes are time-major: u (T, B, I); h (T+1, B, H) with h[0] the initial state; gates (T, B, 3H)
holds r, z, n of each step; hn (T, B, H) holds W_rec_n h_{t-1} + b_rec_n (needed by BPTT).
Per step one (B, H) x (H, 3H) product serves all gates; input projections are one GEMM.

Padded batches (``lengths`` (B,) int64, else None): at a padded step t > lengths[b] the state is
held, h_t = h_{t-1}; BPTT passes ∂E/∂h_t on unchanged (the step's da_in, da_rec rows are 0, so the
product with W_rec adds nothing) and leaves the step out of dh_norm (kernels/mask.py). With lengths
None Numba compiles a specialization without any of it (the ``is not None`` branches are pruned).
"""

import numpy as np
from numba import njit

from .activations import add_into, sigmoid, tanh
from .blas import copy_transposed, gemm_rows, gemm_tn
from .mask import hold_padded
from .reduce import sum_real_row_norms, sum_row_norms


@njit(cache=True, nogil=True, error_model="numpy")
def gru_forward(W_in, W_rec, b, b_rec_n, u, h, gates, hn, tmp, small_mnk, lengths=None):
    """Fill h[1:], gates and hn given h[0] (h held at padded steps t > lengths[b]). tmp (B, 3H) is
    scratch; small_mnk: see blas.py; lengths: None or (B,) int64."""
    T, B, I = u.shape
    H = W_rec.shape[1]
    np.dot(u.reshape(T * B, I), W_in.T, gates.reshape(T * B, 3 * H))
    if copy_transposed(W_rec.size, small_mnk):  # see blas.py
        _gru_steps(np.ascontiguousarray(W_rec.T), b, b_rec_n, h, gates, hn, tmp, small_mnk, lengths)
    else:
        _gru_steps(W_rec.T, b, b_rec_n, h, gates, hn, tmp, small_mnk, lengths)


@njit(cache=True, nogil=True, error_model="numpy")
def _gru_steps(W_rec_T, b, b_rec_n, h, gates, hn, tmp, small_mnk, lengths):
    T, B, H = hn.shape
    b_r, b_z, b_n = b[:H], b[H:2 * H], b[2 * H:]
    one = gates.dtype.type(1)  # a float literal would widen float32 work to float64
    for t in range(T):
        gemm_rows(h[t], W_rec_T, tmp, small_mnk)
        for i in range(B):
            # views per gate block and loops from 0: an offset index such as g[2 * H + j] gets a
            # wrap-around select from Numba that stops LLVM's vectorizer (see lstm_forward)
            g, p = gates[t, i], tmp[i]
            g_r, g_z, g_n = g[:H], g[H:2 * H], g[2 * H:]
            p_r, p_z, p_n = p[:H], p[H:2 * H], p[2 * H:]
            m, h_prev, h_t = hn[t, i], h[t, i], h[t + 1, i]
            for j in range(H):
                g_r[j] = sigmoid(g_r[j] + p_r[j] + b_r[j])
            for j in range(H):
                g_z[j] = sigmoid(g_z[j] + p_z[j] + b_z[j])
            for j in range(H):
                m[j] = p_n[j] + b_rec_n[j]
            for j in range(H):
                g_n[j] = tanh(g_n[j] + b_n[j] + g_r[j] * m[j])
            for j in range(H):
                h_t[j] = (one - g_z[j]) * g_n[j] + g_z[j] * h_prev[j]
        if lengths is not None:
            hold_padded(h[t + 1], h[t], lengths, t + 1)


@njit(cache=True, nogil=True, error_model="numpy")
def gru_backward(W_in, W_rec, u, h, gates, hn, dh_out, gW_in, gW_rec, gb, gb_rec_n, dh_norm,
                 da_in, da_rec, carry, tmp, small_mnk, lengths=None):
    """BPTT. dh_out (T, B, H) is ∂E/∂h_t from outside the recurrence (index t-1 holds step t).

    carry (B, H): on entry ∂E/∂h_T from beyond the sequence (zero for a plain sequence), on exit
    ∂E/∂h_0. Writes gW_in (3H, I), gW_rec (3H, H), gb (3H,), gb_rec_n (H,), dh_norm[k] =
    Σ_b ‖∂E/∂h_k‖ for k = 0..T, da_in (T, B, 3H) = ∂E/∂(W_in u_t) (the caller multiplies it by W_in
    to reach the layer below) and da_rec (T, B, 3H) = ∂E/∂(W_rec h_{t-1}). tmp (B, H) is scratch.
    lengths: None or (B,) int64: dh_norm[k] then sums over the sequences whose step k is real.
    """
    T, B, I = u.shape
    H = W_rec.shape[1]
    one = gates.dtype.type(1)  # a float literal would widen float32 work to float64
    for t in range(T, 0, -1):
        add_into(carry.reshape(B * H), dh_out[t - 1].reshape(B * H))  # ∂E/∂h_t, the step as one block
        dh_norm[t] = sum_row_norms(carry) if lengths is None else sum_real_row_norms(carry, lengths, t)
        for i in range(B):
            g, a_in, a_rec = gates[t - 1, i], da_in[t - 1, i], da_rec[t - 1, i]
            if lengths is not None:
                if t > lengths[i]:
                    a_in[:] = 0.0  # no gradient at a padded step; carry[i] passes unchanged
                    a_rec[:] = 0.0
                    continue
            g_r, g_z, g_n = g[:H], g[H:2 * H], g[2 * H:]
            ai_r, ai_z, ai_n = a_in[:H], a_in[H:2 * H], a_in[2 * H:]
            ar_r, ar_z, ar_n = a_rec[:H], a_rec[H:2 * H], a_rec[2 * H:]
            dh, m, h_prev = carry[i], hn[t - 1, i], h[t - 1, i]
            for j in range(H):
                ai_n[j] = dh[j] * (one - g_z[j]) * (one - g_n[j] * g_n[j])   # ∂E/∂(pre-activation of n)
            for j in range(H):
                ai_z[j] = dh[j] * (h_prev[j] - g_n[j]) * g_z[j] * (one - g_z[j])
            for j in range(H):
                ai_r[j] = ai_n[j] * m[j] * g_r[j] * (one - g_r[j])
            for j in range(H):
                ar_r[j] = ai_r[j]
            for j in range(H):
                ar_z[j] = ai_z[j]
            for j in range(H):
                ar_n[j] = ai_n[j] * g_r[j]
            for j in range(H):
                dh[j] *= g_z[j]                                        # the direct path z ⊙ h_{t-1}
        gemm_rows(da_rec[t - 1], W_rec, tmp, small_mnk)  # through the gates: (B, 3H) x (3H, H)
        for i in range(B):
            for j in range(H):
                carry[i, j] += tmp[i, j]
    dh_norm[0] = sum_row_norms(carry)
    A_in = da_in.reshape(T * B, 3 * H)
    A_rec = da_rec.reshape(T * B, 3 * H)
    gemm_tn(A_rec, h[:T].reshape(T * B, H), gW_rec, small_mnk)
    gemm_tn(A_in, u.reshape(T * B, I), gW_in, small_mnk)
    for j in range(3 * H):
        gb[j] = 0.0
    for j in range(H):
        gb_rec_n[j] = 0.0
    for r in range(T * B):
        for j in range(3 * H):
            gb[j] += A_in[r, j]
        a_n = A_rec[r, 2 * H:]
        for j in range(H):
            gb_rec_n[j] += a_n[j]
