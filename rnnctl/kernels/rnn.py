"""Vanilla RNN cell: forward pass and full backpropagation through time.

Both of the paper's parametrizations reduce to one recurrence on h_t:
  standard: x_t = σ(W_rec x_{t-1} + W_in u_t + b)          h_t = x_t
  pascanu:  x_t = W_rec σ(x_{t-1}) + W_in u_t + b          h_t = σ(x_t)
so h_t = σ(W_rec h_{t-1} + W_in u_t + b) in both (the paper's footnote 1). They differ in what the
state x_t is, hence in h_0 (x_0 = 0 gives h_0 = 0 or σ(0)) and in the per-step norm ‖∂E/∂x_k‖
(post- vs pre-activation). ``form_pascanu`` selects that meaning.

Shapes are time-major: u (T, B, I), h (T+1, B, H) with h[0] the initial state.
"""

import numpy as np
from numba import njit

from .activations import act, dact_from_output


@njit(cache=True, nogil=True, error_model="numpy")
def rnn_forward(W_in, W_rec, b, u, act_code, h, tmp):
    """Fill h[1:] given h[0]. W_in (H, I), W_rec (H, H), b (H,), u (T, B, I), tmp (B, H) scratch."""
    T, B, I = u.shape
    H = W_rec.shape[0]
    # All input projections in one GEMM: W_in u_t for every t lands in h[1:], then the loop adds to it.
    np.dot(u.reshape(T * B, I), W_in.T, h[1:].reshape(T * B, H))
    for t in range(1, T + 1):
        np.dot(h[t - 1], W_rec.T, tmp)
        ht = h[t]
        for i in range(B):
            for j in range(H):
                ht[i, j] = act(ht[i, j] + tmp[i, j] + b[j], act_code)


@njit(cache=True, nogil=True, error_model="numpy")
def rnn_backward(W_in, W_rec, u, h, dh_out, act_code, form_pascanu, gW_in, gW_rec, gb, dx_norm, dz, carry):
    """BPTT. dh_out (T, B, H) is ∂E/∂h_t from the readout alone (index t-1 holds step t).

    Writes gradients gW_in (H, I), gW_rec (H, H), gb (H,) and dx_norm (T+1,), where dx_norm[k] is
    Σ_b ‖∂E/∂x_k‖ over sequences of the batch (E is the batch mean, so this is the mean over the batch
    of each sequence's own ‖∂E_b/∂x_k‖). dz (T, B, H) and carry (B, H) are scratch.
    """
    T, B, I = u.shape
    H = W_rec.shape[0]
    carry[:] = 0.0  # ∂E/∂h_t flowing back from steps > t
    for t in range(T, 0, -1):
        ht = h[t]
        dzt = dz[t - 1]
        dht = dh_out[t - 1]
        total = 0.0
        for i in range(B):
            sq = 0.0
            for j in range(H):
                g = carry[i, j] + dht[i, j]
                d = g * dact_from_output(ht[i, j], act_code)
                dzt[i, j] = d
                sq += d * d if form_pascanu else g * g
            total += np.sqrt(sq)
        dx_norm[t] = total
        np.dot(dzt, W_rec, carry)  # ∂E/∂h_{t-1} = dz_t W_rec
    total = 0.0
    h0 = h[0]
    for i in range(B):
        sq = 0.0
        for j in range(H):
            g = carry[i, j]
            if form_pascanu:
                g *= dact_from_output(h0[i, j], act_code)
            sq += g * g
        total += np.sqrt(sq)
    dx_norm[0] = total
    # Parameter gradients as GEMMs over all T*B rows at once.
    dZ = dz.reshape(T * B, H)
    np.dot(dZ.T, h[:T].reshape(T * B, H), gW_rec)
    np.dot(dZ.T, u.reshape(T * B, I), gW_in)
    for j in range(H):
        gb[j] = 0.0
    for r in range(T * B):
        for j in range(H):
            gb[j] += dZ[r, j]
