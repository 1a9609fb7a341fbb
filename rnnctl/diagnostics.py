"""Why BPTT fails, measured: spectral figures of W_rec, temporal contributions (the paper's eq. 3-5)
and Pascanu's vanishing-gradient regularizer Ω (eq. 9-10).

Pure NumPy on arrays: nothing here touches files or the training loop. The probes are written for
clarity over speed, since they run on a few sequences every ``log.probe_every`` updates.
"""

from __future__ import annotations

import numpy as np

from .errors import DataError
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


def _real_steps(lengths, T, S):
    """(T+1, S) bool: [t, s] is True when step t of sequence s is real (t <= lengths[s]; t = 0, the
    initial state, always is). lengths None: every step."""
    if lengths is None:
        return np.ones((T + 1, S), bool)
    n = np.asarray(lengths, np.int64).reshape(-1)
    if n.shape != (S,) or n.min() < 1 or n.max() > T:
        raise DataError(f"lengths must be {S} integers in [1, {T}] (one per sequence), got {lengths!r}")
    return np.arange(T + 1)[:, None] <= n[None, :]


def _mean_real(values, real):
    """Mean over the sequences of ``values`` (..., S) where ``real`` (S,) is True; NaN if none is."""
    n = real.sum()
    return (values * real).sum(axis=-1) / n if n else np.full(values.shape[:-1], np.nan)


def temporal_contributions(params, u, target, *, form="standard", activation="tanh",
                           loss="softmax_ce", scored="last", long_lag=20, jacobians=True, lengths=None):
    """The paper's temporal contributions for a single-layer vanilla RNN, per sequence then averaged.

    u (T, S, I) with S sequences; target as for ``Model.loss``. Returns a dict:
      contributions (T, T+1): [t-1, k] = mean_s ‖∂E_t/∂x_k‖ for k ≤ t (NaN above the diagonal);
      jacobian_norms (T+1, T+1): [t, k] = mean_s ‖∂x_t/∂x_k‖₂ for k ≤ t (eq. 5), if ``jacobians``;
      backprop_norms (T+1,): mean_s ‖∂E/∂x_k‖ (all t summed: what BPTT propagates);
      long_lag_fraction: ‖Σ_{t−k > long_lag} ∂E_t/∂W_rec|_k‖ / ‖∂E/∂W_rec‖, the share of the
        recurrent gradient carried over lags longer than ``long_lag``.
    x_k is the state of the chosen form: h_k (standard) or the pre-activation (pascanu).

    ``lengths`` (S,) (optional, a padded batch as ``Model.loss`` takes it): sequence s has the real
    steps 1..lengths[s]; it is scored at its own last step (scored="last") or at each of them, and
    its padded steps are left out: each figure at (t, k) is the mean over the sequences whose step
    t (backprop_norms: step k) is real, NaN where none is, so every entry is that of the sequences
    run alone, averaged over those that reach it. (``Model.backprop_norms`` instead divides by the
    whole batch, an ended sequence counting 0: it equals this backprop_norms × n_k / S with n_k the
    sequences whose step k is real.) long_lag_fraction sums the real steps of every sequence.
    """
    W_in, W, b, W_out, b_out = (np.asarray(params[k], np.float64) for k in ("W_in", "W_rec", "b", "W_out", "b_out"))
    u = np.asarray(u, np.float64)
    T, S, _ = u.shape
    H = W.shape[0]
    real = _real_steps(lengths, T, S)             # (T+1, S)
    h = np.zeros((T + 1, S, H))
    if form == "pascanu":
        h[0] = _act(activation, np.zeros(H))
    for t in range(1, T + 1):
        h[t] = _act(activation, u[t - 1] @ W_in.T + h[t - 1] @ W.T + b)
        h[t][~real[t]] = h[t - 1][~real[t]]        # a padded step holds the state, as the model does
    d = _dact(activation, h)                       # σ' at every step, (T+1, S, H)
    if form == "pascanu" and activation == "relu":
        d[0] = 0.0                                 # σ'(x_0 = 0) for relu, as the kernel takes it
    e = _step_errors(h, target, W_out, b_out, loss, scored, real)

    contrib = np.full((T, T + 1), np.nan)
    a_all = np.zeros((T + 1, S, H))                # Σ_t ∂E_t/∂z_k
    a_long = np.zeros((T + 1, S, H))               # the same over t − k > long_lag
    for t in range(1, T + 1):
        if not real[t].any():
            continue                               # no sequence reaches step t: NaN
        if not e[t - 1].any():
            contrib[t - 1, :t + 1] = 0.0
            continue
        delta = e[t - 1].copy()                    # ∂E_t/∂h_k, going back from k = t (0 where t is padded)
        for k in range(t, -1, -1):
            dx = delta * d[k] if form == "pascanu" else delta
            contrib[t - 1, k] = _mean_real(np.linalg.norm(dx, axis=1), real[t])
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
        "backprop_norms": _total_backprop_norms(e, d, W, form, real),
        "long_lag_fraction": float(np.linalg.norm(longg) / norm_total) if norm_total > 0 else 0.0,
    }
    if jacobians:
        out["jacobian_norms"] = _jacobian_norms(W, d, form, real)
    return out


def _step_errors(h, target, W_out, b_out, loss, scored, real):
    """e (T, S, H): e[t-1] = ∂E_t/∂h_t from the readout, per sequence; 0 at padded steps, and with
    scored="last" nonzero only at each sequence's last real step (h[T] holds that step's state)."""
    T1, S, H = h.shape
    T = T1 - 1
    e = np.zeros((T, S, H))
    target = np.asarray(target)
    classes = np.issubdtype(target.dtype, np.integer)
    if scored == "last":
        last = real.sum(axis=0) - 1                # each sequence's last real step
        y = h[T] @ W_out.T + b_out
        e[last - 1, np.arange(S)] = _readout_grads(y, target, loss) @ W_out
    else:
        tg = target.reshape(T * S) if classes else target.reshape(T * S, -1)
        rows = real[1:].reshape(T * S)             # padded targets may hold anything: never read
        y = h[1:].reshape(T * S, H)[rows] @ W_out.T + b_out
        e.reshape(T * S, H)[rows] = _readout_grads(y, tg[rows], loss) @ W_out
    return e


def _total_backprop_norms(e, d, W, form, real):
    T, S, H = e.shape
    norms = np.zeros(T + 1)
    delta = np.zeros((S, H))
    for k in range(T, -1, -1):
        if k:
            delta = delta + e[k - 1]
        dx = delta * d[k] if form == "pascanu" else delta
        norms[k] = _mean_real(np.linalg.norm(dx, axis=1), real[k])
        if k:
            delta = (delta * d[k]) @ W
    return norms


def _jacobian_norms(W, d, form, real):
    """mean_s ‖∂x_t/∂x_k‖₂ over the sequences whose step t is real. Standard form: ∂h_i/∂h_{i−1} =
    diag(σ'_i) W_rec; Pascanu's form (eq. 5, transposed to column vectors): ∂x_i/∂x_{i−1} = W_rec
    diag(σ'(x_{i−1}))."""
    T1, S, H = d.shape
    out = np.full((T1, T1), np.nan)
    for k in range(T1):
        M = np.broadcast_to(np.eye(H), (S, H, H)).copy()
        out[k, k] = 1.0 if real[k].any() else np.nan
        mats = []
        for i in range(k + 1, T1):
            if form == "pascanu":
                M = W @ (d[i - 1][:, :, None] * M)
            else:
                M = d[i][:, :, None] * (W @ M)
            mats.append(M)
        if mats:
            sv = np.linalg.svd(np.stack(mats), compute_uv=False)[..., 0]   # (T−k, S)
            out[k + 1:, k] = [_mean_real(row, r) for row, r in zip(sv, real[k + 1:])]
    return out


# --- Pascanu's regularizer Ω ---------------------------------------------------------------------

def omega_terms(W_rec, h, dz, dh_out, *, form="standard", activation="tanh", lengths=None):
    """The quantities Ω holds constant, from one BPTT pass of a single-layer vanilla RNN:
    h (T+1, B, H) states, dz (T, B, H) = ∂E/∂z_k, dh_out (T, B, H) = ∂E/∂h_k from the readout.

    Returns (a, err, mult), each (T, B, H), describing the T one-step pairs x_k → x_{k−1}: the
    error signal at the later state err = ∂E/∂x_k, and the one-step backward product written as
    v = (a W_rec) ⊙ mult (mult None means 1), so that v = (∂E/∂x_k) ∂x_k/∂x_{k−1}.

    ``lengths`` (B,) (``Model.last_lengths``: the pass ran on a padded batch): the pairs k ≤
    lengths[b] are those of sequence b run alone; the padded pairs k > lengths[b] get a = err = 0
    (``omega`` leaves them out by ``lengths`` too). The model holds the state through padded steps,
    so in the standard form the error reaching h_k at a sequence's last real step k = lengths[b]
    includes the readout's ∂E/∂h_t of every padded t > k (many_to_one's readout at step T).
    """
    W = np.asarray(W_rec, np.float64)
    T, B, H = dz.shape
    dz = np.asarray(dz, np.float64)
    pad = None if lengths is None else ~_real_steps(lengths, T, B)[1:]   # (T, B): pair k padded
    if form == "pascanu":
        # x is the pre-activation: ∂E/∂x_k = dz_k, and ∂x_k/∂x_{k−1} = W diag(σ'(x_{k−1}))
        mult = _dact(activation, np.asarray(h[:-1], np.float64))
        if activation == "relu":
            mult[0] = 0.0
        return dz, dz, mult     # the model's dz is 0 at padded steps already
    # x is h: ∂E/∂h_k = dh_out_k + dz_{k+1} W, and ∂h_k/∂h_{k−1} = diag(σ'_k) W, so v = dz_k W
    carry = np.zeros((T, B, H))
    carry[:-1] = (dz[1:].reshape((T - 1) * B, H) @ W).reshape(T - 1, B, H)
    err = np.asarray(dh_out, np.float64) + carry
    if pad is not None:
        # h_t = h_n for the padded t > n = lengths[b], so ∂E/∂h_n gathers their readout errors
        err[np.asarray(lengths) - 1, np.arange(B)] += np.where(pad[:, :, None], err, 0.0).sum(axis=0)
        err[pad] = 0.0
        dz = np.where(pad[:, :, None], 0.0, dz)
    return dz, err, None


def omega(W_rec, a, err, mult=None, *, bound=1e-20, squared=True, lengths=None):
    """Ω (eq. 9-10) and its gradient w.r.t. W_rec alone, ``a``, ``err`` and ``mult`` (from
    ``omega_terms``) held constant.

    For each step r_k = ‖(∂E/∂x_k) ∂x_k/∂x_{k−1}‖ / ‖∂E/∂x_k‖ (ratio of squared norms when
    ``squared``, as eq. 10 and the authors' code), and
      Ω = Σ_k mean_b (r_k − 1)² / Σ_k mean_b [‖∂E/∂x_k‖² ≥ bound],
    the code's normalization, masked steps contributing 0: the mean of (r − 1)² over the
    (sequence, step) pairs whose error signal reaches ``bound``. Returns (Ω, ∂Ω/∂W_rec, the
    fraction of unmasked steps: "steps in the past" in the authors' logs).

    Padded batches (``lengths`` (B,), from ``Model.last_lengths``): Ω is the same mean over the real
    pairs only; a pair k > lengths[b] is left out of the sum and of the count (and of the fraction's
    denominator), whatever its terms hold. The authors' batches all had one length, where this is
    their Ω unchanged (lengths all T give it bit for bit). Ω does not split into a mean of the
    sequences' own Ω_b: it is Σ_b N_b Ω_b / Σ_b N_b, N_b the unmasked steps of sequence b, so a
    sequence weighs by its real steps, as it does in the loss (the sum of its E_t).
    """
    W = np.asarray(W_rec, np.float64)
    T, B, H = a.shape
    v = (a.reshape(T * B, H) @ W).reshape(T, B, H)
    if mult is not None:
        v = v * mult
    en2 = np.einsum("tbh,tbh->tb", err, err)
    vn2 = np.einsum("tbh,tbh->tb", v, v)
    mask = en2 >= bound
    if lengths is not None:
        real = _real_steps(lengths, T, B)[1:]       # (T, B): pair k of sequence b is real
        mask &= real
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
    fraction = float(mask.mean()) if lengths is None else float(mask.sum() / real.sum())
    return value, grad, fraction
