"""Why BPTT fails, measured: spectral figures of W_rec, temporal contributions (the paper's eq. 3-5)
and Pascanu's vanishing-gradient regularizer Ω (eq. 9-10).

Pure NumPy on arrays: nothing here touches files or the training loop. The probes are written for
clarity over speed, since they run on a few sequences every ``log.probe_every`` updates.
"""

from __future__ import annotations

import numpy as np

from .kernels.activations import GAMMA
from .registry import CELLS


# --- spectral figures ---------------------------------------------------------------------------

def spectral(params: dict[str, np.ndarray], cell: str = "rnn") -> dict[str, dict[str, float]]:
    """Largest singular value λ₁ and spectral radius ρ of every W_rec (per layer, per gate block)."""
    out = {}
    for name, W in params.items():
        if not name.endswith("W_rec"):
            continue
        # one block per gate, named by the cell's registry entry (the vanilla cell has one, unnamed)
        gates = tuple(f".{g}" if g else "" for g in CELLS.meta(cell)["gates"])
        H = W.shape[1]
        for i, suffix in enumerate(gates):
            block = np.asarray(W[i * H:(i + 1) * H] if suffix else W, dtype=np.float64)
            out[name + suffix] = {"sv_max": float(np.linalg.norm(block, 2)),
                                  "radius": float(np.max(np.abs(np.linalg.eigvals(block))))}
    return out


def vanishing_bound(activation: str) -> float:
    """1/γ: λ₁(W_rec) below it guarantees vanishing, above it is necessary for exploding."""
    return 1.0 / GAMMA[activation]


# --- the vanilla RNN, written out step by step ---------------------------------------------------

def _act(name, z):
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    if name == "relu":
        return np.maximum(z, 0.0)
    return z


def _dact(name, h):
    if name == "tanh":
        return 1.0 - h * h
    if name == "sigmoid":
        return h * (1.0 - h)
    if name == "relu":
        return (h > 0).astype(h.dtype)
    return np.ones_like(h)


def _readout_grads(y, target, loss):
    """Per-sequence ∂E_t/∂y_t for rows of y (N, O)."""
    if loss == "softmax_ce":
        p = np.exp(y - y.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), target] -= 1.0
        return p
    if loss == "sigmoid_ce":
        return 0.5 * (1.0 + np.tanh(0.5 * y)) - target
    return 2.0 * (y - target)


def temporal_contributions(params, u, target, *, form="standard", activation="tanh",
                           loss="softmax_ce", scored="last", long_lag=20, jacobians=True):
    """The paper's temporal contributions for a single-layer vanilla RNN, per sequence then averaged.

    u (T, S, I) with S sequences; target as for ``Model.loss``. Returns a dict:
      contributions (T, T+1): [t-1, k] = mean_s ‖∂E_t/∂x_k‖ for k ≤ t (NaN above the diagonal);
      jacobian_norms (T+1, T+1): [t, k] = mean_s ‖∂x_t/∂x_k‖₂ for k ≤ t (eq. 5), if ``jacobians``;
      backprop_norms (T+1,): mean_s ‖∂E/∂x_k‖ (all t summed: what BPTT propagates);
      long_lag_fraction: ‖Σ_{t−k > long_lag} ∂E_t/∂W_rec|_k‖ / ‖∂E/∂W_rec‖, the share of the
        recurrent gradient carried over lags longer than ``long_lag``.
    x_k is the state of the chosen form: h_k (standard) or the pre-activation (pascanu).
    """
    W_in, W, b, W_out, b_out = (np.asarray(params[k], np.float64) for k in ("W_in", "W_rec", "b", "W_out", "b_out"))
    u = np.asarray(u, np.float64)
    T, S, _ = u.shape
    H = W.shape[0]
    h = np.zeros((T + 1, S, H))
    if form == "pascanu":
        h[0] = _act(activation, np.zeros(H))
    for t in range(1, T + 1):
        h[t] = _act(activation, u[t - 1] @ W_in.T + h[t - 1] @ W.T + b)
    d = _dact(activation, h)                       # σ' at every step, (T+1, S, H)
    if form == "pascanu" and activation == "relu":
        d[0] = 0.0                                 # σ'(x_0 = 0) for relu, as the kernel takes it

    # e[t-1] = ∂E_t/∂h_t from the readout, per sequence
    e = np.zeros((T, S, H))
    classes = np.issubdtype(np.asarray(target).dtype, np.integer)
    if scored == "last":
        y = h[T] @ W_out.T + b_out
        e[T - 1] = _readout_grads(y, np.asarray(target), loss) @ W_out
    else:
        y = h[1:].reshape(T * S, H) @ W_out.T + b_out
        tg = np.asarray(target).reshape(T * S, -1) if not classes else np.asarray(target).reshape(T * S)
        e = (_readout_grads(y, tg, loss) @ W_out).reshape(T, S, H)

    contrib = np.full((T, T + 1), np.nan)
    a_all = np.zeros((T + 1, S, H))                # Σ_t ∂E_t/∂z_k
    a_long = np.zeros((T + 1, S, H))               # the same over t − k > long_lag
    for t in range(1, T + 1):
        if not e[t - 1].any():
            contrib[t - 1, :t + 1] = 0.0
            continue
        delta = e[t - 1].copy()                    # ∂E_t/∂h_k, going back from k = t
        for k in range(t, -1, -1):
            dx = delta * d[k] if form == "pascanu" else delta
            contrib[t - 1, k] = np.linalg.norm(dx, axis=1).mean()
            if k == 0:
                break
            a = delta * d[k]                       # ∂E_t/∂z_k
            a_all[k] += a
            if t - k > long_lag:
                a_long[k] += a
            delta = a @ W
    total = np.einsum("ksh,ksj->hj", a_all[1:], h[:-1])
    longg = np.einsum("ksh,ksj->hj", a_long[1:], h[:-1])
    norm_total = np.linalg.norm(total)
    out = {
        "contributions": contrib,
        "backprop_norms": _total_backprop_norms(e, d, W, form),
        "long_lag_fraction": float(np.linalg.norm(longg) / norm_total) if norm_total > 0 else 0.0,
    }
    if jacobians:
        out["jacobian_norms"] = _jacobian_norms(W, d, form)
    return out


def _total_backprop_norms(e, d, W, form):
    T, S, H = e.shape
    norms = np.zeros(T + 1)
    delta = np.zeros((S, H))
    for k in range(T, -1, -1):
        if k:
            delta = delta + e[k - 1]
        dx = delta * d[k] if form == "pascanu" else delta
        norms[k] = np.linalg.norm(dx, axis=1).mean()
        if k:
            delta = (delta * d[k]) @ W
    return norms


def _jacobian_norms(W, d, form):
    """mean_s ‖∂x_t/∂x_k‖₂. Standard form: ∂h_i/∂h_{i−1} = diag(σ'_i) W_rec; Pascanu's form (eq. 5,
    transposed to column vectors): ∂x_i/∂x_{i−1} = W_rec diag(σ'(x_{i−1}))."""
    T1, S, H = d.shape
    out = np.full((T1, T1), np.nan)
    for k in range(T1):
        M = np.broadcast_to(np.eye(H), (S, H, H)).copy()
        out[k, k] = 1.0
        mats = []
        for i in range(k + 1, T1):
            if form == "pascanu":
                M = W @ (d[i - 1][:, :, None] * M)
            else:
                M = d[i][:, :, None] * (W @ M)
            mats.append(M)
        if mats:
            sv = np.linalg.svd(np.stack(mats), compute_uv=False)[..., 0]   # (T−k, S)
            out[k + 1:, k] = sv.mean(axis=1)
    return out


# --- Pascanu's regularizer Ω ---------------------------------------------------------------------

def omega_terms(W_rec, h, dz, dh_out, *, form="standard", activation="tanh"):
    """The quantities Ω holds constant, from one BPTT pass of a single-layer vanilla RNN:
    h (T+1, B, H) states, dz (T, B, H) = ∂E/∂z_k, dh_out (T, B, H) = ∂E/∂h_k from the readout.

    Returns (a, err, mult), each (T, B, H), describing the T one-step pairs x_k → x_{k−1}: the
    error signal at the later state err = ∂E/∂x_k, and the one-step backward product written as
    v = (a W_rec) ⊙ mult (mult None means 1), so that v = (∂E/∂x_k) ∂x_k/∂x_{k−1}.
    """
    W = np.asarray(W_rec, np.float64)
    T, B, H = dz.shape
    dz = np.asarray(dz, np.float64)
    if form == "pascanu":
        # x is the pre-activation: ∂E/∂x_k = dz_k, and ∂x_k/∂x_{k−1} = W diag(σ'(x_{k−1}))
        mult = _dact(activation, np.asarray(h[:-1], np.float64))
        if activation == "relu":
            mult[0] = 0.0
        return dz, dz, mult
    # x is h: ∂E/∂h_k = dh_out_k + dz_{k+1} W, and ∂h_k/∂h_{k−1} = diag(σ'_k) W, so v = dz_k W
    carry = np.zeros((T, B, H))
    carry[:-1] = (dz[1:].reshape((T - 1) * B, H) @ W).reshape(T - 1, B, H)
    return dz, np.asarray(dh_out, np.float64) + carry, None


def omega(W_rec, a, err, mult=None, *, bound=1e-20, squared=True):
    """Ω (eq. 9-10) and its gradient w.r.t. W_rec alone, ``a``, ``err`` and ``mult`` (from
    ``omega_terms``) held constant.

    For each step r_k = ‖(∂E/∂x_k) ∂x_k/∂x_{k−1}‖ / ‖∂E/∂x_k‖ (ratio of squared norms when
    ``squared``, as eq. 10 and the authors' code), and
      Ω = Σ_k mean_b (r_k − 1)² / Σ_k mean_b [‖∂E/∂x_k‖² ≥ bound],
    the code's normalization, masked steps contributing 0. Returns (Ω, ∂Ω/∂W_rec, the fraction of
    unmasked steps: "steps in the past" in the authors' logs).
    """
    W = np.asarray(W_rec, np.float64)
    T, B, H = a.shape
    v = (a.reshape(T * B, H) @ W).reshape(T, B, H)
    if mult is not None:
        v = v * mult
    en2 = np.einsum("tbh,tbh->tb", err, err)
    vn2 = np.einsum("tbh,tbh->tb", v, v)
    mask = en2 >= bound
    safe = np.where(mask, en2, 1.0)
    if squared:
        r = np.where(mask, vn2 / safe, 1.0)
        dr_dvn2 = np.where(mask, 1.0 / safe, 0.0)                              # ∂r/∂‖v‖²
    else:
        vn = np.sqrt(vn2)
        r = np.where(mask, vn / np.sqrt(safe), 1.0)
        dr_dvn2 = np.where(mask & (vn > 0), 0.5 / (np.maximum(vn, 1e-300) * np.sqrt(safe)), 0.0)
    n_steps = mask.mean(axis=1).sum()
    if n_steps == 0:
        return 0.0, np.zeros_like(W), 0.0
    value = float(((r - 1.0) ** 2).mean(axis=1).sum() / n_steps)
    # ∂‖v‖²/∂W = 2 aᵀ(mult ⊙ v) for v = (a W) ⊙ mult
    w = 2.0 * (r - 1.0) * dr_dvn2 * 2.0 / (B * n_steps)                      # (T, B)
    vv = v * mult if mult is not None else v
    grad = (a * w[:, :, None]).reshape(T * B, H).T @ vv.reshape(T * B, H)
    return value, grad, float(mask.mean())
