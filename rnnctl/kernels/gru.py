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
"""

import numpy as np
from numba import njit

from .activations import sigmoid, tanh


@njit(cache=True, nogil=True, error_model="numpy")
def gru_forward(W_in, W_rec, b, b_rec_n, u, h, gates, hn, tmp):
    """Fill h[1:], gates and hn given h[0]. tmp (B, 3H) is scratch."""
    T, B, I = u.shape
    H = W_rec.shape[1]
    np.dot(u.reshape(T * B, I), W_in.T, gates.reshape(T * B, 3 * H))
    for t in range(T):
        np.dot(h[t], W_rec.T, tmp)
        gt, hnt, hp, hc = gates[t], hn[t], h[t], h[t + 1]
        for i in range(B):
            for j in range(H):
                r = sigmoid(gt[i, j] + tmp[i, j] + b[j])
                z = sigmoid(gt[i, H + j] + tmp[i, H + j] + b[H + j])
                m = tmp[i, 2 * H + j] + b_rec_n[j]
                n = tanh(gt[i, 2 * H + j] + b[2 * H + j] + r * m)
                gt[i, j] = r
                gt[i, H + j] = z
                gt[i, 2 * H + j] = n
                hnt[i, j] = m
                hc[i, j] = (1.0 - z) * n + z * hp[i, j]


@njit(cache=True, nogil=True, error_model="numpy")
def gru_backward(W_in, W_rec, u, h, gates, hn, dh_out, gW_in, gW_rec, gb, gb_rec_n, dh_norm,
                 da_in, da_rec, carry, tmp):
    """BPTT. dh_out (T, B, H) is ∂E/∂h_t from outside the recurrence (index t-1 holds step t).

    carry (B, H): on entry ∂E/∂h_T from beyond the sequence (zero for a plain sequence), on exit
    ∂E/∂h_0. Writes gW_in (3H, I), gW_rec (3H, H), gb (3H,), gb_rec_n (H,), dh_norm[k] =
    Σ_b ‖∂E/∂h_k‖ for k = 0..T, da_in (T, B, 3H) = ∂E/∂(W_in u_t) (the caller multiplies it by W_in
    to reach the layer below) and da_rec (T, B, 3H) = ∂E/∂(W_rec h_{t-1}). tmp (B, H) is scratch.
    """
    T, B, I = u.shape
    H = W_rec.shape[1]
    for t in range(T, 0, -1):
        gt, hnt, hp, dht = gates[t - 1], hn[t - 1], h[t - 1], dh_out[t - 1]
        ai, ar = da_in[t - 1], da_rec[t - 1]
        total = 0.0
        for i in range(B):
            sq = 0.0
            for j in range(H):
                dh = carry[i, j] + dht[i, j]
                sq += dh * dh
                r = gt[i, j]
                z = gt[i, H + j]
                n = gt[i, 2 * H + j]
                dn = dh * (1.0 - z) * (1.0 - n * n)      # ∂E/∂(pre-activation of n)
                dz = dh * (hp[i, j] - n) * z * (1.0 - z)
                dr = dn * hnt[i, j] * r * (1.0 - r)
                ai[i, j] = dr
                ai[i, H + j] = dz
                ai[i, 2 * H + j] = dn
                ar[i, j] = dr
                ar[i, H + j] = dz
                ar[i, 2 * H + j] = dn * r
                carry[i, j] = dh * z                     # the direct path z ⊙ h_{t-1}
            total += np.sqrt(sq)
        dh_norm[t] = total
        np.dot(ar, W_rec, tmp)                           # through the gates: (B, 3H) x (3H, H)
        for i in range(B):
            for j in range(H):
                carry[i, j] += tmp[i, j]
    total = 0.0
    for i in range(B):
        sq = 0.0
        for j in range(H):
            sq += carry[i, j] * carry[i, j]
        total += np.sqrt(sq)
    dh_norm[0] = total
    A_in = da_in.reshape(T * B, 3 * H)
    A_rec = da_rec.reshape(T * B, 3 * H)
    np.dot(A_rec.T, h[:T].reshape(T * B, H), gW_rec)
    np.dot(A_in.T, u.reshape(T * B, I), gW_in)
    for j in range(3 * H):
        gb[j] = 0.0
    for j in range(H):
        gb_rec_n[j] = 0.0
    for r in range(T * B):
        for j in range(3 * H):
            gb[j] += A_in[r, j]
        for j in range(H):
            gb_rec_n[j] += A_rec[r, 2 * H + j]
