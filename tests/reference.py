"""Slow, obvious NumPy oracle for the vanilla RNN, written straight from the equations.

Deliberately independent of rnnctl (nothing here imports it) and deliberately naive: one Python loop
over the sequences of the batch and one over time, each form written out literally, derivatives
taken with respect to the *pre-activation* (rnnctl's kernels use the output), and BPTT written per
form from the chain rule of that form's own state. Everything is computed in float64.

    standard:  a_t = W_rec x_{t-1} + W_in u_t + b,   x_t = σ(a_t),            h_t = x_t
    pascanu:   x_t = W_rec σ(x_{t-1}) + W_in u_t + b,                          h_t = σ(x_t)
    readout:   y_t = W_out h_t + b_out,               x_0 = 0 in both forms

Cost of one sequence: E = Σ_{t scored} E_t; the batch cost is the mean of the sequences' costs.
Shapes: u (T, B, I); a sequence is u[:, b] (T, I). Parameters are a dict like ``Model.params``.
"""

from __future__ import annotations

import numpy as np

FORMS = ("standard", "pascanu")
ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")


# -- activations, as functions of the pre-activation z --------------------------------------------
def _logistic(z):
    """1 / (1 + e^{-z}) written as exp(-log(1 + e^{-z})), which never overflows."""
    return np.exp(-np.logaddexp(0.0, -z))


def sigma(name: str, z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    if name == "tanh":
        return np.tanh(z)
    if name == "sigmoid":
        return _logistic(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "linear":
        return z.copy()
    raise ValueError(name)


def dsigma(name: str, z: np.ndarray) -> np.ndarray:
    """σ'(z). For relu the derivative at exactly 0 is taken as 0 (only x_0 = 0 of Pascanu's form hits it)."""
    z = np.asarray(z, dtype=np.float64)
    if name == "tanh":
        th = np.tanh(z)
        return (1.0 - th) * (1.0 + th)
    if name == "sigmoid":
        # σ'(z) = e^{-|z|} / (1 + e^{-|z|})², symmetric in z and free of overflow
        e = np.exp(-np.abs(z))
        return e / (1.0 + e) ** 2
    if name == "relu":
        return np.where(z > 0, 1.0, 0.0)
    if name == "linear":
        return np.ones_like(z)
    raise ValueError(name)


# -- losses of one step: value and ∂E_t/∂y_t --------------------------------------------------------
def step_loss(loss: str, y: np.ndarray, target) -> tuple[float, np.ndarray]:
    """E_t and ∂E_t/∂y_t for one output vector y (O,)."""
    y = np.asarray(y, dtype=np.float64)
    if loss == "softmax_ce":
        c = int(target)
        m = y.max()
        logsumexp = m + np.log(np.sum(np.exp(y - m)))
        p = np.exp(y - logsumexp)
        onehot = np.zeros_like(y)
        onehot[c] = 1.0
        return float(logsumexp - y[c]), p - onehot
    t = np.asarray(target, dtype=np.float64)
    if loss == "sigmoid_ce":
        # log(1 + e^y) - t y, summed over outputs
        value = np.sum(np.logaddexp(0.0, y) - t * y)
        return float(value), _logistic(y) - t
    if loss == "mse":
        d = y - t
        return float(np.sum(d * d)), 2.0 * d
    raise ValueError(loss)


# -- one sequence -----------------------------------------------------------------------------------
def _params64(params):
    return {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}


def forward_sequence(params, u, form: str, activation: str, dx=None):
    """u (T, I). Returns x (T+1, H) states with x[0] = 0, h (T+1, H) readout features, pre (T+1, H)
    the argument of σ at each step (pre[0] = 0 unused in standard form), y (T, O) with y[t-1] = y_t.

    ``dx`` (T+1, H), optional: added to each state x_k as soon as it is computed (x_0 = dx[0]), so
    that ∂E/∂x_k = ∂E/∂dx_k at dx = 0 can be checked by finite differences on the oracle itself."""
    p = _params64(params)
    W_in, W_rec, b, W_out, b_out = p["W_in"], p["W_rec"], p["b"], p["W_out"], p["b_out"]
    u = np.asarray(u, dtype=np.float64)
    T = u.shape[0]
    H = W_rec.shape[0]
    x = np.zeros((T + 1, H))
    h = np.zeros((T + 1, H))
    pre = np.zeros((T + 1, H))
    y = np.zeros((T, W_out.shape[0]))
    dx = np.zeros((T + 1, H)) if dx is None else np.asarray(dx, dtype=np.float64)
    x[0] = dx[0]
    if form == "standard":
        h[0] = x[0]
        for t in range(1, T + 1):
            a = W_rec @ x[t - 1] + W_in @ u[t - 1] + b
            pre[t] = a
            x[t] = sigma(activation, a) + dx[t]
            h[t] = x[t]
            y[t - 1] = W_out @ h[t] + b_out
    elif form == "pascanu":
        h[0] = sigma(activation, x[0])
        for t in range(1, T + 1):
            x[t] = W_rec @ sigma(activation, x[t - 1]) + W_in @ u[t - 1] + b + dx[t]
            pre[t] = x[t]
            h[t] = sigma(activation, x[t])
            y[t - 1] = W_out @ h[t] + b_out
    else:
        raise ValueError(form)
    return x, h, pre, y


def _scored_steps(T, scored):
    return [T] if scored == "last" else list(range(1, T + 1))


def _target_at(target_seq, t, T, scored):
    """The target of step t (1-based) for one sequence; target_seq is (…) for last, (T, …) for all."""
    return target_seq if scored == "last" else target_seq[t - 1]


def loss_sequence(params, u, target_seq, form, activation, loss, scored, dx=None):
    """E of one sequence, with the optional state perturbation ``dx`` of ``forward_sequence``."""
    y = forward_sequence(params, u, form, activation, dx)[3]
    T = y.shape[0]
    return sum(step_loss(loss, y[t - 1], _target_at(target_seq, t, T, scored))[0]
               for t in _scored_steps(T, scored))


def loss_and_grad_sequence(params, u, target_seq, form, activation, loss, scored):
    """One sequence: E, grads dict (same names as params), dEdx (T+1, H) with dEdx[k] = ∂E/∂x_k."""
    p = _params64(params)
    W_in, W_rec, W_out = p["W_in"], p["W_rec"], p["W_out"]
    u = np.asarray(u, dtype=np.float64)
    T = u.shape[0]
    x, h, pre, y = forward_sequence(p, u, form, activation)

    E = 0.0
    dEdy = np.zeros_like(y)  # (T, O); row t-1 is ∂E/∂y_t, zero on unscored steps
    for t in _scored_steps(T, scored):
        Et, gt = step_loss(loss, y[t - 1], _target_at(target_seq, t, T, scored))
        E += Et
        dEdy[t - 1] = gt

    g = {k: np.zeros_like(v) for k, v in p.items()}
    for t in range(1, T + 1):
        g["W_out"] += np.outer(dEdy[t - 1], h[t])
        g["b_out"] += dEdy[t - 1]

    H = W_rec.shape[0]
    dEdx = np.zeros((T + 1, H))
    if form == "standard":
        # x_t = σ(a_t), a_{t+1} = W_rec x_t + ...:  ∂E/∂x_t = W_out^T ∂E/∂y_t + W_rec^T ∂E/∂a_{t+1}
        dEda_next = np.zeros(H)
        for t in range(T, 0, -1):
            dEdx[t] = W_out.T @ dEdy[t - 1] + W_rec.T @ dEda_next
            dEda = dEdx[t] * dsigma(activation, pre[t])
            g["W_rec"] += np.outer(dEda, x[t - 1])
            g["W_in"] += np.outer(dEda, u[t - 1])
            g["b"] += dEda
            dEda_next = dEda
        dEdx[0] = W_rec.T @ dEda_next
    else:
        # x_{t+1} = W_rec σ(x_t) + ...:  ∂E/∂x_t = σ'(x_t) ⊙ (W_out^T ∂E/∂y_t + W_rec^T ∂E/∂x_{t+1})
        dEdx_next = np.zeros(H)
        for t in range(T, 0, -1):
            dEdx[t] = dsigma(activation, x[t]) * (W_out.T @ dEdy[t - 1] + W_rec.T @ dEdx_next)
            g["W_rec"] += np.outer(dEdx[t], sigma(activation, x[t - 1]))
            g["W_in"] += np.outer(dEdx[t], u[t - 1])
            g["b"] += dEdx[t]
            dEdx_next = dEdx[t]
        dEdx[0] = dsigma(activation, x[0]) * (W_rec.T @ dEdx_next)
    return E, g, dEdx


# -- batches ----------------------------------------------------------------------------------------
def _target_of_sequence(target, b, scored):
    target = np.asarray(target)
    return target[b] if scored == "last" else target[:, b]


def forward(params, u, form, activation):
    """u (T, B, I) -> x, h, pre (T+1, B, H) and y (T, B, O)."""
    u = np.asarray(u, dtype=np.float64)
    parts = [forward_sequence(params, u[:, b], form, activation) for b in range(u.shape[1])]
    return tuple(np.stack([part[i] for part in parts], axis=1) for i in range(4))


def outputs(params, u, form, activation, scored):
    """(B, O) at the last step, or (T, B, O) for every step."""
    y = forward(params, u, form, activation)[3]
    return y[-1] if scored == "last" else y


def loss_and_grad(params, u, target, form, activation, loss, scored):
    """Batch mean E, mean grads, dEdx (B, T+1, H) of each sequence's own ∂E_b/∂x_k, and
    backprop_norms (T+1,) = Σ_b ‖∂E/∂x_k^{(b)}‖ with E the batch mean (= mean_b ‖∂E_b/∂x_k‖)."""
    u = np.asarray(u, dtype=np.float64)
    B = u.shape[1]
    E, grads, dEdx = 0.0, None, []
    for b in range(B):
        Eb, gb, db = loss_and_grad_sequence(params, u[:, b], _target_of_sequence(target, b, scored),
                                            form, activation, loss, scored)
        E += Eb / B
        grads = {k: v / B for k, v in gb.items()} if grads is None else \
            {k: grads[k] + gb[k] / B for k in grads}
        dEdx.append(db)
    dEdx = np.stack(dEdx)  # (B, T+1, H)
    norms = np.array([sum(np.linalg.norm(dEdx[b, k]) / B for b in range(B)) for k in range(dEdx.shape[1])])
    return E, grads, dEdx, norms


# -- finite differences -----------------------------------------------------------------------------
def fd_grad(f, theta: np.ndarray, eps: float) -> np.ndarray:
    """Central finite differences of f at theta, returned in float64.

    ``f(theta) -> float``. theta is perturbed IN PLACE one entry at a time and restored exactly, so f
    may read the same buffer (e.g. ``theta = model.theta`` and ``f = lambda th: model.loss(u, t)``).
    The step actually taken (after rounding to theta's dtype) is the one divided by, which keeps the
    float32 check honest.
    """
    g = np.zeros(theta.size, dtype=np.float64)
    flat = theta.reshape(-1)  # a view: theta must be contiguous
    assert np.shares_memory(flat, theta)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = flat[i]
        f_plus = f(theta)
        flat[i] = old - eps
        down = flat[i]
        f_minus = f(theta)
        flat[i] = old
        g[i] = (f_plus - f_minus) / (float(up) - float(down))
    return g.reshape(theta.shape)
