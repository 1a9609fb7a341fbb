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
"""

import numpy as np
from numba import njit

from .activations import sigmoid, tanh


@njit(cache=True, nogil=True, error_model="numpy")
def lstm_forward(W_in, W_rec, b, u, h, c, gates, tc, tmp):
    """Fill h[1:], c[1:], gates and tc given h[0], c[0]. tmp (B, 4H) is scratch."""
    T, B, I = u.shape
    H = W_rec.shape[1]
    np.dot(u.reshape(T * B, I), W_in.T, gates.reshape(T * B, 4 * H))
    for t in range(T):
        np.dot(h[t], W_rec.T, tmp)
        gt = gates[t]
        cp, cn, hn, tct = c[t], c[t + 1], h[t + 1], tc[t]
        for i in range(B):
            # one simple loop per gate block over a row: short loops over few arrays are what LLVM
            # vectorizes reliably (σ and tanh in activations.py are branch-free for this)
            g, p, ci, co, ho, to = gt[i], tmp[i], cp[i], cn[i], hn[i], tct[i]
            for j in range(2 * H):
                g[j] = sigmoid(g[j] + p[j] + b[j])
            for j in range(2 * H, 3 * H):
                g[j] = tanh(g[j] + p[j] + b[j])
            for j in range(3 * H, 4 * H):
                g[j] = sigmoid(g[j] + p[j] + b[j])
            for j in range(H):
                cc = g[H + j] * ci[j] + g[j] * g[2 * H + j]
                co[j] = cc
                th = tanh(cc)
                to[j] = th
                ho[j] = g[3 * H + j] * th


@njit(cache=True, nogil=True, error_model="numpy")
def lstm_backward(W_in, W_rec, u, h, c, gates, tc, dh_out, gW_in, gW_rec, gb, dh_norm, dc_norm, dgates,
                  carry_h, carry_c):
    """BPTT. dh_out (T, B, H) is ∂E/∂h_t from outside the recurrence (readout or layer above; index
    t-1 holds step t).

    carry_h, carry_c (B, H): on entry ∂E/∂h_T and ∂E/∂c_T arriving from beyond the sequence (zero for
    a plain sequence; an encoder receives its decoder's ∂E/∂(initial state)); on exit ∂E/∂h_0 and
    ∂E/∂c_0. Writes gW_in (4H, I), gW_rec (4H, H), gb (4H,), dgates (T, B, 4H) = ∂E/∂(gate
    pre-activations) (the caller multiplies it by W_in to reach the layer below), and
    dh_norm[k] = Σ_b ‖∂E/∂h_k‖, dc_norm[k] = Σ_b ‖∂E/∂c_k‖ for k = 0..T.
    """
    T, B, I = u.shape
    H = W_rec.shape[1]
    for t in range(T, 0, -1):
        gt, dg, dht = gates[t - 1], dgates[t - 1], dh_out[t - 1]
        tct, cp = tc[t - 1], c[t - 1]
        tot_h = 0.0
        tot_c = 0.0
        for i in range(B):
            sq_h = 0.0
            sq_c = 0.0
            for j in range(H):
                dh = carry_h[i, j] + dht[i, j]
                ig = gt[i, j]
                fg = gt[i, H + j]
                gg = gt[i, 2 * H + j]
                og = gt[i, 3 * H + j]
                th = tct[i, j]
                dc = carry_c[i, j] + dh * og * (1.0 - th * th)
                sq_h += dh * dh
                sq_c += dc * dc
                dg[i, j] = dc * gg * ig * (1.0 - ig)
                dg[i, H + j] = dc * cp[i, j] * fg * (1.0 - fg)
                dg[i, 2 * H + j] = dc * ig * (1.0 - gg * gg)
                dg[i, 3 * H + j] = dh * th * og * (1.0 - og)
                carry_c[i, j] = dc * fg
            tot_h += np.sqrt(sq_h)
            tot_c += np.sqrt(sq_c)
        dh_norm[t] = tot_h
        dc_norm[t] = tot_c
        np.dot(dg, W_rec, carry_h)  # ∂E/∂h_{t-1} through the gates: (B, 4H) x (4H, H)
    tot_h = 0.0
    tot_c = 0.0
    for i in range(B):
        sq_h = 0.0
        sq_c = 0.0
        for j in range(H):
            sq_h += carry_h[i, j] * carry_h[i, j]
            sq_c += carry_c[i, j] * carry_c[i, j]
        tot_h += np.sqrt(sq_h)
        tot_c += np.sqrt(sq_c)
    dh_norm[0] = tot_h
    dc_norm[0] = tot_c
    dG = dgates.reshape(T * B, 4 * H)
    np.dot(dG.T, h[:T].reshape(T * B, H), gW_rec)
    np.dot(dG.T, u.reshape(T * B, I), gW_in)
    for j in range(4 * H):
        gb[j] = 0.0
    for r in range(T * B):
        for j in range(4 * H):
            gb[j] += dG[r, j]
