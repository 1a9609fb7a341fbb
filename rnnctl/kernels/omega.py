"""Pascanu's regularizer Ω (eq. 9-10) and its gradient w.r.t. W_rec, from one vanilla BPTT pass.

rnnctl.diagnostics.omega_terms + omega is the NumPy statement of the formula (and this kernel's
oracle); this is the same computation in one pass over the T*B (step, sequence) pairs plus one GEMM,
reading the per-step products dz_k W_rec that BPTT already formed (``rnn_backward``'s ``products``)
instead of forming them again. Per pair k (array index i = k - 1) of sequence b:

  standard form  x = h:   err = ∂E/∂h_k = dh_out_k + dz_{k+1} W_rec    v = dz_k W_rec
  Pascanu form   x = pre-activation:   err = dz_k    v = (dz_k W_rec) ⊙ σ'(h_{k-1})   (relu: 0 at k = 1)

r = ‖v‖²/‖err‖² (``squared``, eq. 10 and the authors' code) or ‖v‖/‖err‖; a pair counts when
‖err‖² >= bound (and, on a padded batch, k <= lengths[b]); Ω = Σ (r − 1)² / count and
∂Ω/∂W_rec = Σ w a^T (v ⊙ mult) with w = 2 (r − 1) ∂r/∂‖v‖² · 2 / count, a = dz (every term held
constant but the v's W_rec, as the paper does).

Padded batches: h_t = h_n for t > n = lengths[b], so in the standard form the error at the last real
step n gathers the readout errors dh_out_t of the padded steps (the products are 0 there: BPTT zeroes
a padded step's dz before its product).
"""

import numpy as np
from numba import njit

from .activations import RELU, SIGMOID, TANH
from .blas import gemm_tn
from .reduce import row_sumsq


@njit(cache=True, nogil=True, error_model="numpy")
def omega_step(c, v, hprev, en2, vn2, w, stats, pascanu, act_code, bound, squared, k, lengths):
    """The B pairs of step k (x_k → x_{k-1}) given ‖err‖² per sequence in en2 (B,): writes c (B, H) =
    w (v ⊙ mult) with mult = σ'(h_{k-1}) (``hprev``) in the Pascanu form, else 1, whose product with
    dz gives ∂Ω/∂W_rec (``omega_finish``), and adds to stats (3,) float64: Σ (r − 1)², the pairs
    counted (‖err‖² >= bound), the real ones (k <= lengths[b]). v (B, H) = dz_k W_rec; vn2, w (B,) scratch.
    Both the fused BPTT pass (``rnn_backward``'s omega) and ``omega_vanilla`` do each step through this."""
    B, H = v.shape
    one = c.dtype.type(1)
    zero = c.dtype.type(0)
    src = v
    if pascanu:
        flat_c, vf, hp = c.reshape(B * H), v.reshape(B * H), hprev.reshape(B * H)
        if act_code == TANH:
            for j in range(B * H):
                flat_c[j] = vf[j] * (one - hp[j] * hp[j])
        elif act_code == SIGMOID:
            for j in range(B * H):
                flat_c[j] = vf[j] * (hp[j] * (one - hp[j]))
        elif act_code == RELU:
            for j in range(B * H):
                flat_c[j] = vf[j] if (hp[j] > zero and k > 1) else zero
        else:
            for j in range(B * H):
                flat_c[j] = vf[j]
        src = c
    row_sumsq(src, vn2)
    # per pair: r and its weight w = 2 (r - 1) ∂r/∂‖v‖² · 2 (the 1 / count comes in omega_finish)
    for b in range(B):
        w[b] = 0.0
        if lengths is not None and k > lengths[b]:
            continue
        stats[2] += 1.0
        if en2[b] < bound:
            continue
        stats[1] += 1.0
        if squared:
            r = vn2[b] / en2[b]
            dr = 1.0 / en2[b]
        else:
            vn = np.sqrt(vn2[b])
            r = vn / np.sqrt(en2[b])
            dr = 0.5 / (max(vn, 1e-300) * np.sqrt(en2[b])) if vn > 0 else 0.0
        stats[0] += (r - 1.0) * (r - 1.0)
        w[b] = 4.0 * (r - 1.0) * dr
    # c = w (v ⊙ mult), since ∂‖v‖²/∂W = 2 a^T (mult ⊙ v) for v = (a W) ⊙ mult
    for b in range(B):
        wb = c.dtype.type(w[b])
        cb, sb = c[b], src[b]
        if pascanu and (act_code == TANH or act_code == SIGMOID):
            hb = hprev[b]
            if act_code == TANH:
                for j in range(H):
                    cb[j] = wb * sb[j] * (one - hb[j] * hb[j])
            else:
                for j in range(H):
                    cb[j] = wb * sb[j] * (hb[j] * (one - hb[j]))
        else:   # relu's mult is 0 or 1 and c is 0 already where it is 0; linear's is 1
            for j in range(H):
                cb[j] = wb * sb[j]


@njit(cache=True, nogil=True, error_model="numpy")
def omega_finish(dz, C, G, stats, small_mnk):
    """(Ω, the fraction of counted pairs among the real ones) from the stats the steps added up, and
    ∂Ω/∂W_rec = dz^T C / count into G (H, H)."""
    T, B, H = dz.shape
    count = stats[1]
    if count == 0:
        G[:] = G.dtype.type(0)
        return 0.0, 0.0
    gemm_tn(dz.reshape(T * B, H), C.reshape(T * B, H), G, small_mnk)
    scale = G.dtype.type(1.0 / count)
    for a in range(H):
        for j in range(H):
            G[a, j] *= scale
    return stats[0] / count, count / stats[2]


@njit(cache=True, nogil=True, error_model="numpy")
def omega_vanilla(dz, dh_out, h, V, E, pascanu, act_code, bound, squared, C, err, G, small_mnk, lengths=None):
    """Returns (Ω, the fraction of counted pairs among the real ones) and writes ∂Ω/∂W_rec into G (H, H).

    dz (T, B, H) = ∂E/∂(pre-activation) and dh_out (T, B, H) = ∂E/∂h_t from the readout, from BPTT;
    h (T+1, B, H) the states; V (T, B, H) the products Ω differentiates, V[i] = dz[i] W_rec; E (T, B, H)
    the products the error signal is built from, held constant (the same array as V, but apart to
    check the gradient by finite differences). C (T, B, H) and err (B, H) scratch.
    lengths: None, or (B,) int64 (pairs k > lengths[b] are left out).

    Training computes the same inside BPTT (``rnn_backward``'s omega), step by step while the
    step's arrays are in cache; this is the pass over a finished BPTT's arrays."""
    T, B, H = dz.shape
    en2, vn2, w = np.empty(B), np.empty(B), np.empty(B)
    stats = np.zeros(3)
    flat_err = err.reshape(B * H)
    for i in range(T):
        if pascanu:
            row_sumsq(dz[i], en2)
        else:   # err = ∂E/∂h_k = dh_out_k + dz_{k+1} W_rec
            d = dh_out[i].reshape(B * H)
            if i + 1 < T:
                e1 = E[i + 1].reshape(B * H)
                for j in range(B * H):
                    flat_err[j] = d[j] + e1[j]
            else:
                for j in range(B * H):
                    flat_err[j] = d[j]
            if lengths is not None:
                for b in range(B):
                    if i == lengths[b] - 1:
                        for s in range(i + 1, T):   # the padded steps' readout errors reach h_n
                            ds = dh_out[s, b]
                            for j in range(H):
                                err[b, j] += ds[j]
            row_sumsq(err, en2)
        omega_step(C[i], V[i], h[i], en2, vn2, w, stats, pascanu, act_code, bound, squared, i + 1, lengths)
    return omega_finish(dz, C, G, stats, small_mnk)
