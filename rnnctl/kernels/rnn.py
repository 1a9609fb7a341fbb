"""Vanilla RNN cell: forward pass and full backpropagation through time.

Both of the paper's parametrizations reduce to one recurrence on h_t:
  standard: x_t = σ(W_rec x_{t-1} + W_in u_t + b)          h_t = x_t
  pascanu:  x_t = W_rec σ(x_{t-1}) + W_in u_t + b          h_t = σ(x_t)
so h_t = σ(W_rec h_{t-1} + W_in u_t + b) in both (the paper's footnote 1). They differ in what the
state x_t is, hence in h_0 (x_0 = 0 gives h_0 = 0 or σ(0)) and in the per-step norm ‖∂E/∂x_k‖
(post- vs pre-activation). ``form_pascanu`` selects that meaning.

Shapes are time-major: u (T, B, I), h (T+1, B, H) with h[0] the initial state.

Padded batches (``lengths`` (B,) int64, else None): at a padded step t > lengths[b] the state is
held, h_t = h_{t-1}, so BPTT passes ∂E/∂h_t on to h_{t-1} unchanged, the step's dz row is 0 (no
weight gradient) and the step is left out of dx_norm[t] (kernels/mask.py). With lengths None Numba
compiles a specialization without any of it (the ``is not None`` branches are pruned).
"""

import numpy as np
from numba import njit

from .activations import act_add, add_into, dact_row
from .blas import copy_transposed, gemm_rows, gemm_tn
from .mask import hold_padded, zero_padded
from .omega import omega_step
from .reduce import row_sumsq, sum_real_row_norms, sum_row_norms, sumsq


@njit(cache=True, nogil=True, error_model="numpy")
def rnn_forward(W_in, W_rec, b, u, act_code, h, tmp, small_mnk, lengths=None):
    """Fill h[1:] given h[0]: h_t = σ(W_rec h_{t-1} + W_in u_t + b), and h_t = h_{t-1} at padded
    steps t > lengths[b]. W_in (H, I), W_rec (H, H), b (H,), u (T, B, I), tmp (B, H) scratch;
    small_mnk: see blas.py; lengths: None or (B,) int64."""
    T, B, I = u.shape
    H = W_rec.shape[0]
    # All input projections and the bias at once: W_in u_t + b for every t lands in h[1:], then the
    # loop adds W_rec h_{t-1} to it.
    X = h[1:].reshape(T * B, H)
    np.dot(u.reshape(T * B, I), W_in.T, X)
    for r in range(T * B):
        x = X[r]
        for j in range(H):
            x[j] += b[j]
    if copy_transposed(W_rec.size, small_mnk):  # see blas.py
        _rnn_steps(np.ascontiguousarray(W_rec.T), act_code, h, tmp, small_mnk, lengths)
    else:
        _rnn_steps(W_rec.T, act_code, h, tmp, small_mnk, lengths)


@njit(cache=True, nogil=True, error_model="numpy")
def _rnn_steps(W_rec_T, act_code, h, tmp, small_mnk, lengths):
    _, B, H = h.shape
    for t in range(1, h.shape[0]):
        gemm_rows(h[t - 1], W_rec_T, tmp, small_mnk)
        act_add(h[t].reshape(B * H), tmp.reshape(B * H), act_code)  # the whole step as one block
        if lengths is not None:
            hold_padded(h[t], h[t - 1], lengths, t)  # computed as one block, then held where padded


@njit(cache=True, nogil=True, error_model="numpy")
def rnn_backward(W_in, W_rec, u, h, dh_out, act_code, form_pascanu, gW_in, gW_rec, gb, dx_norm, dz, carry,
                 small_mnk, lengths=None, keep=None, omega=None):
    """BPTT. dh_out (T, B, H) is ∂E/∂h_t from the readout alone (index t-1 holds step t).

    Writes gradients gW_in (H, I), gW_rec (H, H), gb (H,) and dx_norm (T+1,), where dx_norm[k] is
    Σ_b ‖∂E/∂x_k‖ over sequences of the batch (E is the batch mean, so this is the mean over the batch
    of each sequence's own ‖∂E_b/∂x_k‖). dz (T, B, H) and carry (B, H) are scratch.

    lengths: None, or (B,) int64 with keep (B, H) scratch: dx_norm[k] then sums over the sequences
    whose step k is real, and a padded step's dz row is 0 while its ∂E/∂h_t goes on to h_{t-1}.

    omega: None, or (C (T, B, H), stats (3,) float64 zeroed, bound, squared): also Pascanu's Ω
    (kernels/omega.py), step by step from what BPTT has at hand (‖∂E/∂x_k‖² before the step's product,
    dz_k W_rec after it), while it is in cache; ``omega_finish(dz, C, G, stats, small_mnk)`` then
    gives Ω and its gradient.
    """
    T, B, I = u.shape
    H = W_rec.shape[0]
    carry[:] = 0.0  # ∂E/∂h_t flowing back from steps > t
    if omega is not None:
        en2, vn2, w = np.empty(B), np.empty(B), np.empty(B)
    for t in range(T, 0, -1):
        # the whole step as one block of B x H (see act_add)
        g = carry.reshape(B * H)
        add_into(g, dh_out[t - 1].reshape(B * H))                         # ∂E/∂h_t
        dact_row(dz[t - 1].reshape(B * H), g, h[t].reshape(B * H), act_code)  # ∂E/∂(pre-activation)
        if lengths is None:
            dx_norm[t] = sum_row_norms(dz[t - 1]) if form_pascanu else sum_row_norms(carry)
            if omega is not None:   # ‖∂E/∂x_t‖² per sequence (x = h, or the pre-activation)
                row_sumsq(dz[t - 1] if form_pascanu else carry, en2)
            gemm_rows(dz[t - 1], W_rec, carry, small_mnk)  # ∂E/∂h_{t-1} = dz_t W_rec
            if omega is not None:
                omega_step(omega[0][t - 1], carry, h[t - 1], en2, vn2, w, omega[1], form_pascanu, act_code,
                           omega[2], omega[3], t, lengths)
        else:
            zero_padded(dz[t - 1], lengths, t)
            dx_norm[t] = sum_real_row_norms(dz[t - 1] if form_pascanu else carry, lengths, t)
            if omega is not None:
                row_sumsq(dz[t - 1] if form_pascanu else carry, en2)
            hold_padded(keep, carry, lengths, t)   # h_t = h_{t-1}: ∂E/∂h_{t-1} = ∂E/∂h_t there
            gemm_rows(dz[t - 1], W_rec, carry, small_mnk)
            if omega is not None:
                omega_step(omega[0][t - 1], carry, h[t - 1], en2, vn2, w, omega[1], form_pascanu, act_code,
                           omega[2], omega[3], t, lengths)
            hold_padded(carry, keep, lengths, t)
    total = 0.0
    # carry leaves holding ∂E/∂h_0; in the Pascanu form x_0's gradient goes on through h_0 = σ(x_0)
    row = np.empty(H, carry.dtype)
    for i in range(B):
        g = carry[i]
        if form_pascanu:
            dact_row(row, g, h[0, i], act_code)
            g = row
        total += np.sqrt(sumsq(g))
    dx_norm[0] = total
    # Parameter gradients as GEMMs over all T*B rows at once.
    dZ = dz.reshape(T * B, H)
    gemm_tn(dZ, h[:T].reshape(T * B, H), gW_rec, small_mnk)
    gemm_tn(dZ, u.reshape(T * B, I), gW_in, small_mnk)
    for j in range(H):
        gb[j] = 0.0
    for r in range(T * B):
        for j in range(H):
            gb[j] += dZ[r, j]


@njit(cache=True, nogil=True, error_model="numpy")
def rnn_final_state(W_in, W_rec, b, u, act_code, h, xin, tmp, rows, small_mnk):
    """Forward only, keeping the current state alone: h (B, H) holds h_0 on entry and h_T on return,
    with h_t = σ(W_rec h_{t-1} + W_in u_t + b) as in ``rnn_forward`` (the same sums in the same order).
    What scoring a many_to_one model needs: no (T+1, B, H) buffer to write and read back, so a large
    evaluation chunk runs in cache. The sequences go in blocks of ``rows``, each through all T steps
    while its state stays in cache. xin, tmp (rows, H) scratch."""
    # both transposes as contiguous copies, whatever the size: one specialization to compile, and a
    # copy per call is nothing beside the T x B x H² work of a scoring chunk
    _final_steps(np.ascontiguousarray(W_in.T), np.ascontiguousarray(W_rec.T), b, u, act_code, h, xin, tmp, rows,
                 small_mnk)


@njit(cache=True, nogil=True, error_model="numpy")
def _final_steps(W_in_T, W_rec_T, b, u, act_code, h, xin, tmp, rows, small_mnk):
    T, B, I = u.shape
    H = h.shape[1]
    for r0 in range(0, B, rows):
        r1 = min(B, r0 + rows)
        n = r1 - r0
        hb, xb, tb = h[r0:r1], xin[:n], tmp[:n]
        flat_x, flat_t = xb.reshape(n * H), tb.reshape(n * H)
        for t in range(T):
            np.dot(u[t, r0:r1], W_in_T, xb)
            for r in range(n):
                x = xb[r]
                for j in range(H):
                    x[j] += b[j]
            gemm_rows(hb, W_rec_T, tb, small_mnk)
            act_add(flat_x, flat_t, act_code)
            hb[:] = xb
