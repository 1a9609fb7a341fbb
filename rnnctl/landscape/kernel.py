"""The loss of a single-layer vanilla RNN at many points of a parameter slice, in one fused kernel.

Point g of the slice has the parameters θ_g = center + Σ_i coords[g, i] directions[i]; the kernel
runs the model's forward pass h_t = σ(W_rec h_{t-1} + W_in u_t + b) (kernels/rnn.py, both of the
paper's forms) over a fixed batch and scores it as ``Model.loss`` does: E = (1/S) Σ_s Σ_{scored t}
E_t, the readout y_t = W_out h_t + b_out computed at the scored steps only (the last one, or all).

Work per point: T steps of one (S, H) x (H, H) product (BLAS, through Numba's np.dot), one
(S, I + 1) x (I + 1, H) product for W_in u_t + b (a column of ones in u carries b), and a fused
loop adding the two and applying σ in place; the points run in parallel (prange). With
``approx`` σ is ``fast_tanh`` (tanh; sigmoid as 1/2 + tanh(z/2)/2), a rational function of the
compute dtype that LLVM vectorizes; without it, libm's tanh and exp (within a few ulp of the
model's own activations in kernels/activations.py). Losses accumulate in float64. The module
imports nothing from rnnctl/kernels: Numba checks a cached function against its own file only, so
a kernel inlining code from another file could load stale machine code (kernels/cache.py).
"""

import numpy as np
from numba import njit, prange


# fast-math without nnan/ninf: a diverged point's inf or NaN must survive to its loss
_FAST = {"contract", "reassoc", "arcp", "afn", "nsz"}
SOFTMAX_CE, SIGMOID_CE, MSE = 0, 1, 2
LOSS_CODES = {"softmax_ce": SOFTMAX_CE, "sigmoid_ce": SIGMOID_CE, "mse": MSE}

# tanh(x) ≈ x P(x²) / Q(x²) on x clamped to [-9, 9] (tanh(9) = 1 - 3e-8): degrees 7 over 8,
# coefficients fitted here by iteratively reweighted least squares on [0, 9] (a near-minimax fit);
# max |error| 3.7e-7 in exact arithmetic, 7.1e-7 measured in float32 over 24 million points of
# [-12, 12] (float32 rounding of the Horner steps); tests/test_landscape_kernel.py checks < 8e-7.
# Float32 constants: a float64 literal would promote float32 work to float64.
TANH_CLAMP = 9.0
_P = (9.99998364e-01, 1.28201712e-01, 2.84050984e-03, 1.02968076e-05)
_Q = (4.61529416e-01, 2.33560253e-02, 2.23414505e-04, 2.11011139e-07)
_C32 = np.float32(TANH_CLAMP)
_P0, _P1, _P2, _P3 = (np.float32(c) for c in _P)
_Q0, _Q1, _Q2, _Q3 = (np.float32(c) for c in _Q)
_ONE32, _HALF32 = np.float32(1.0), np.float32(0.5)

# Sequences per GEMM. OpenBLAS (single-threaded, float32, H=50) ran the per-step (S, 50) x (50, 50)
# product at 54 GFLOP/s for S=250, 49 for 128 and 37 for 500, but at 0.6 for S=1000 (another code
# path): the kernel splits the batch into blocks of this many sequences, which also keeps a block's
# states in L2.
SEQUENCE_BLOCK = 256


@njit(cache=True, nogil=True, inline="always", fastmath=_FAST, error_model="numpy")
def fast_tanh(x):
    """tanh of a float32 within 7.1e-7 (module docstring); ±inf gives ±1 and NaN stays NaN (a select,
    not a branch, so the loops calling it still vectorize)."""
    c = min(max(x, -_C32), _C32)
    z = c * c
    p = c * (_P0 + z * (_P1 + z * (_P2 + z * _P3)))
    q = _ONE32 + z * (_Q0 + z * (_Q1 + z * (_Q2 + z * _Q3)))
    return p / q if x == x else x


@njit(cache=True, nogil=True, parallel=True, fastmath=_FAST, error_model="numpy")
def rnn_surface(center, directions, coords, offsets, shape, u, y_class, y_real, h0, act, loss, last,
                approx, block, out):
    """out[g] = E at θ_g = center + coords[g] @ directions, for every point g (in parallel).

    center (P,), directions (k, P), coords (G, k): float64; offsets (5,) int64: where W_in, W_rec,
    b, W_out, b_out start in θ (model/layout.py order); shape (H, I, O); u (T, S, I + 1) in the
    compute dtype, the inputs with a last column of ones; targets, step-major with one row for a scored-last model: y_class int64 (T', S)
    for softmax_ce, else y_real float64 (T', S, O) (the other one a dummy); h0: the initial state's value (x_0 = 0);
    act: kernels/activations.py code; loss: LOSS_CODES; last: readout at step T only; approx:
    fast_tanh for σ; block: sequences per GEMM (SEQUENCE_BLOCK). out (G,) float64.
    """
    T, S, I = u.shape
    I -= 1                                              # u's last column is ones
    H, O = shape[0], shape[2]
    dt = u.dtype
    for g in prange(coords.shape[0]):
        theta = center.copy()
        for i in range(directions.shape[0]):
            theta += coords[g, i] * directions[i]
        th = theta.astype(dt)
        W_in1 = np.empty((I + 1, H), dt)                # [W_in^T; b]: u's column of ones adds b
        W_in1[:I] = th[offsets[0]:offsets[0] + H * I].reshape(H, I).T
        W_in1[I] = th[offsets[2]:offsets[2] + H]
        W_recT = np.ascontiguousarray(th[offsets[1]:offsets[1] + H * H].reshape(H, H).T)  # (H, H)
        W_out = th[offsets[3]:offsets[3] + O * H].reshape(O, H)
        b_out = th[offsets[4]:offsets[4] + O]
        total = 0.0
        for s0 in range(0, S, block):                   # blocks of sequences: see SEQUENCE_BLOCK
            s1 = min(S, s0 + block)
            h = np.full((s1 - s0, H), h0, dt)
            hn = np.empty((s1 - s0, H), dt)
            x = np.empty((s1 - s0, H), dt)
            for t in range(T):
                np.dot(h, W_recT, hn)                   # W_rec h_{t-1} for the block's sequences
                np.dot(u[t, s0:s1], W_in1, x)           # W_in u_t + b
                _add_act(hn, x, act, approx)
                h, hn = hn, h
                if not last:
                    total += _readout_loss(h, W_out, b_out, y_class[:, s0:s1], y_real[:, s0:s1], t, loss)
            if last:
                total += _readout_loss(h, W_out, b_out, y_class[:, s0:s1], y_real[:, s0:s1], -1, loss)
        out[g] = total / S


@njit(cache=True, nogil=True, fastmath=_FAST, error_model="numpy")
def _add_act(z, x, act, approx):
    """z = σ(z + x) element-wise over two (S, H) blocks. The activation is chosen outside the loops,
    so each loop is one branch-free body that LLVM vectorizes (a choice inside cost 2x)."""
    a, c = z.reshape(z.size), x.reshape(x.size)
    if act == 0 and approx:
        for r in range(a.size):
            a[r] = fast_tanh(a[r] + c[r])
    elif act == 1 and approx:
        for r in range(a.size):
            a[r] = _HALF32 + _HALF32 * fast_tanh(_HALF32 * (a[r] + c[r]))
    elif act == 0:
        for r in range(a.size):
            a[r] = np.tanh(a[r] + c[r])
    elif act == 1:
        for r in range(a.size):
            a[r] = 1 / (1 + np.exp(-(a[r] + c[r])))
    elif act == 2:
        for r in range(a.size):
            v = a[r] + c[r]
            a[r] = max(v, 0 * v)
    else:
        for r in range(a.size):
            a[r] += c[r]


@njit(cache=True, nogil=True, error_model="numpy")
def _readout_loss(h, W_out, b_out, y_class, y_real, t, loss):
    """Σ_s E_t(s) of the readout y = W_out h + b_out at one step (t = -1: the scored-last target, row 0),
    in float64, computed as rnnctl/kernels/readout.py does (log-sum-exp; log(1 + e^z) without
    overflow)."""
    S, H = h.shape
    O = W_out.shape[0]
    y = np.empty(O)
    r = max(t, 0)
    total = 0.0
    for s in range(S):
        for o in range(O):
            acc = float(b_out[o])
            for j in range(H):
                acc += float(W_out[o, j]) * float(h[s, j])
            y[o] = acc
        if loss == SOFTMAX_CE:
            c = y_class[r, s]
            m = y.max()
            e = 0.0
            for o in range(O):
                e += np.exp(y[o] - m)
            total += np.log(e) + m - y[c]
        elif loss == SIGMOID_CE:
            for o in range(O):
                z = y[o]
                tg = y_real[r, s, o]
                total += max(z, 0.0) + np.log1p(np.exp(-abs(z))) - tg * z
        else:
            for o in range(O):
                d = y[o] - y_real[r, s, o]
                total += d * d
    return total
