"""Slow, obvious NumPy oracle of Pascanu's regularizer Ω (eq. 9-10) on a padded batch.

Each sequence b runs alone at its own length n_b through the model oracle (tests/oracles/model.py),
which gives ∂E_b/∂x_k for its real steps k = 1..n_b; E being the batch mean, the batch's error
signal is err_k = ∂E_b/∂x_k / B. For each real pair (b, k) the one-step Jacobian J = ∂x_k/∂x_{k−1}
is built as an explicit matrix, linear in W_rec:

    standard:  x_k = σ(a_k), a_k = W_rec x_{k−1} + ...      J(W) = diag(σ'(a_k)) W
    pascanu:   x_k = W_rec σ(x_{k−1}) + ...                  J(W) = W diag(σ'(x_{k−1}))

v = Jᵀ err (the row vector err·J), r = ‖v‖²/‖err‖² (or ‖v‖/‖err‖), and Ω is the mean of
(r − 1)² over the real pairs with ‖err‖² ≥ bound. Its gradient holds err and the states constant: J being
linear in W, ∂J/∂W_ij = J(E_ij) with E_ij the unit matrix, so ∂v/∂W_ij = J(E_ij)ᵀ err. One Python
loop per sequence, per step and per entry of W. Nothing here imports rnnctl.
"""

from __future__ import annotations

import numpy as np

from .cells import dsigma
from .model import forward_sequence, loss_and_grad_sequence


def _jacobian(form, activation, pre, x, k):
    """J(M) = ∂x_k/∂x_{k−1} as a function of the recurrent matrix M (linear in M)."""
    if form == "standard":
        s = dsigma(activation, pre[k])
        return lambda M: s[:, None] * M
    m = dsigma(activation, x[k - 1])
    return lambda M: M * m[None, :]


def omega_reference(params, u, target, lengths, *, form, activation, loss, scored, bound=1e-20,
                    squared=True):
    """(Ω, ∂Ω/∂W_rec, fraction of the real pairs kept by ``bound``) of a padded batch: u (T, B, I),
    target (B, ...) for scored="last" or (T, B, ...) for "all", lengths (B,)."""
    W = np.asarray(params["W_rec"], np.float64)
    H = W.shape[0]
    B = u.shape[1]
    total, grad, kept, real = 0.0, np.zeros((H, H)), 0, 0
    for b in range(B):
        n = int(lengths[b])
        ub = np.asarray(u[:n, b], np.float64)
        tb = target[b] if scored == "last" else target[:n, b]
        _, _, dEdx = loss_and_grad_sequence(params, ub, tb, form, activation, loss, scored)
        x, _, pre, _ = forward_sequence(params, ub, form, activation)
        for k in range(1, n + 1):
            real += 1
            err = dEdx[k] / B
            en2 = float(err @ err)
            if en2 < bound:
                continue
            kept += 1
            J = _jacobian(form, activation, pre, x, k)
            v = J(W).T @ err
            vn2 = float(v @ v)
            r = vn2 / en2 if squared else np.sqrt(vn2 / en2)
            total += (r - 1.0) ** 2
            for i in range(H):
                for j in range(H):
                    E_ij = np.zeros((H, H))
                    E_ij[i, j] = 1.0
                    dv = J(E_ij).T @ err
                    if squared:
                        dr = 2.0 * (v @ dv) / en2
                    else:   # ‖v‖ has no derivative at v = 0 (relu's dead steps): take 0 there
                        dr = (v @ dv) / (np.sqrt(vn2) * np.sqrt(en2)) if vn2 > 0 else 0.0
                    grad[i, j] += 2.0 * (r - 1.0) * dr
    if kept == 0:
        return 0.0, grad, 0.0
    return total / kept, grad / kept, kept / real

