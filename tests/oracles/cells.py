"""Slow, obvious NumPy oracle of the cells, one layer at a time, written straight from the equations.

Deliberately independent of rnnctl (nothing here imports it) and deliberately naive: one Python loop
over time, derivatives taken with respect to the *pre-activations* a (rnnctl's kernels use the
outputs), nothing shared with the kernels. Everything is computed in float64. The model oracle
(tests/oracles/model.py) builds stacks, readouts and architectures on top of these layers.

A layer maps a sequence x (T, In) and an initial state to h (T+1, H); its backward pass takes ∂E/∂h_t
from outside the recurrence plus the gradient arriving at the final state from beyond the sequence,
and returns the parameter gradients, ∂E/∂x (for the layer below) and the per-step gradients of the
state:

  lstm: a = W_in x_t + W_rec h_{t-1} + b = [a_i, a_f, a_g, a_o]
        c_t = σ(a_f) c_{t-1} + σ(a_i) tanh(a_g),  h_t = σ(a_o) tanh(c_t)
  gru:  [a_r, a_z, a_n'] = W_in x_t + b,  [m_r, m_z, m_n] = W_rec h_{t-1},  m = m_n + b_rec_n
        r = σ(a_r + m_r), z = σ(a_z + m_z), n = tanh(a_n' + r m),  h_t = (1 - z) n + z h_{t-1}
  rnn:  a_t = W_in x_t + W_rec h_{t-1} + b,  h_t = σ(a_t); the recorded state is h_t (standard)
        or a_t (Pascanu's x_t, with h_0 = σ(x_0))

``perturb`` (optional, for checking the state gradients by finite differences on the oracle
itself): arrays added to the state as soon as it is computed: "h" (T+1, H) to h_k (standard
form and gated cells) or to x_k (Pascanu form), "c" (T+1, H) to c_k before h_k is formed.
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



GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn": ()}


def _sig(z):
    return sigma("sigmoid", z)


def _dsig(z):
    return dsigma("sigmoid", z)


def _dtanh(z):
    return dsigma("tanh", z)


def lstm_layer_forward(p, x, h0, c0, perturb=None):
    W_in, W_rec, b = p["W_in"], p["W_rec"], p["b"]
    T, H = x.shape[0], W_rec.shape[1]
    dh = np.zeros((T + 1, H)) if perturb is None else perturb["h"]
    dc = np.zeros((T + 1, H)) if perturb is None else perturb["c"]
    h, c, a = np.zeros((T + 1, H)), np.zeros((T + 1, H)), np.zeros((T + 1, 4 * H))
    h[0], c[0] = h0 + dh[0], c0 + dc[0]
    for t in range(1, T + 1):
        a[t] = W_in @ x[t - 1] + W_rec @ h[t - 1] + b
        ai, af, ag, ao = a[t, :H], a[t, H:2 * H], a[t, 2 * H:3 * H], a[t, 3 * H:]
        c[t] = _sig(af) * c[t - 1] + _sig(ai) * np.tanh(ag) + dc[t]
        h[t] = _sig(ao) * np.tanh(c[t]) + dh[t]
    return {"h": h, "c": c, "a": a, "x": x}


def lstm_layer_backward(p, cache, dh_ext, dh_T, dc_T):
    """dh_ext (T, H): row t-1 is ∂E/∂h_t from outside. Returns grads, dx (T, In), dEdh, dEdc (T+1, H)
    (total derivatives; at k = 0 the initial state (h_0, c_0) is a leaf, so ∂E/∂c_0 is via c_1 only)."""
    W_in, W_rec = p["W_in"], p["W_rec"]
    h, c, a, x = cache["h"], cache["c"], cache["a"], cache["x"]
    T, H = x.shape[0], W_rec.shape[1]
    g = {"W_in": np.zeros_like(W_in), "W_rec": np.zeros_like(W_rec), "b": np.zeros(4 * H)}
    dx = np.zeros_like(x)
    dEdh, dEdc = np.zeros((T + 1, H)), np.zeros((T + 1, H))
    from_next_h, from_next_c = np.array(dh_T, float), np.array(dc_T, float)
    for t in range(T, 0, -1):
        ai, af, ag, ao = a[t, :H], a[t, H:2 * H], a[t, 2 * H:3 * H], a[t, 3 * H:]
        dEdh[t] = dh_ext[t - 1] + from_next_h
        dEdc[t] = from_next_c + dEdh[t] * _sig(ao) * _dtanh(c[t])
        da = np.concatenate([dEdc[t] * np.tanh(ag) * _dsig(ai),
                             dEdc[t] * c[t - 1] * _dsig(af),
                             dEdc[t] * _sig(ai) * _dtanh(ag),
                             dEdh[t] * np.tanh(c[t]) * _dsig(ao)])
        g["W_in"] += np.outer(da, x[t - 1])
        g["W_rec"] += np.outer(da, h[t - 1])
        g["b"] += da
        dx[t - 1] = W_in.T @ da
        from_next_h = W_rec.T @ da
        from_next_c = dEdc[t] * _sig(af)
    dEdh[0], dEdc[0] = from_next_h, from_next_c
    return g, dx, dEdh, dEdc


def gru_layer_forward(p, x, h0, perturb=None):
    W_in, W_rec, b, b_rec_n = p["W_in"], p["W_rec"], p["b"], p["b_rec_n"]
    T, H = x.shape[0], W_rec.shape[1]
    dh = np.zeros((T + 1, H)) if perturb is None else perturb["h"]
    h = np.zeros((T + 1, H))
    ax, mh = np.zeros((T + 1, 3 * H)), np.zeros((T + 1, 3 * H))   # input side incl. b, W_rec h
    h[0] = h0 + dh[0]
    for t in range(1, T + 1):
        ax[t] = W_in @ x[t - 1] + b
        mh[t] = W_rec @ h[t - 1]
        r = _sig(ax[t, :H] + mh[t, :H])
        z = _sig(ax[t, H:2 * H] + mh[t, H:2 * H])
        n = np.tanh(ax[t, 2 * H:] + r * (mh[t, 2 * H:] + b_rec_n))
        h[t] = (1.0 - z) * n + z * h[t - 1] + dh[t]
    return {"h": h, "ax": ax, "mh": mh, "x": x}


def gru_layer_backward(p, cache, dh_ext, dh_T, dc_T=None):
    W_in, W_rec, b_rec_n = p["W_in"], p["W_rec"], p["b_rec_n"]
    h, ax, mh, x = cache["h"], cache["ax"], cache["mh"], cache["x"]
    T, H = x.shape[0], W_rec.shape[1]
    g = {"W_in": np.zeros_like(W_in), "W_rec": np.zeros_like(W_rec), "b": np.zeros(3 * H),
         "b_rec_n": np.zeros(H)}
    dx = np.zeros_like(x)
    dEdh = np.zeros((T + 1, H))
    from_next = np.array(dh_T, float)
    for t in range(T, 0, -1):
        pre_r, pre_z = ax[t, :H] + mh[t, :H], ax[t, H:2 * H] + mh[t, H:2 * H]
        m = mh[t, 2 * H:] + b_rec_n
        r, z = _sig(pre_r), _sig(pre_z)
        pre_n = ax[t, 2 * H:] + r * m
        n = np.tanh(pre_n)
        dEdh[t] = dh_ext[t - 1] + from_next
        da_n = dEdh[t] * (1.0 - z) * _dtanh(pre_n)
        da_z = dEdh[t] * (h[t - 1] - n) * _dsig(pre_z)
        da_r = da_n * m * _dsig(pre_r)
        dm = da_n * r
        d_in = np.concatenate([da_r, da_z, da_n])
        d_rec = np.concatenate([da_r, da_z, dm])
        g["W_in"] += np.outer(d_in, x[t - 1])
        g["b"] += d_in
        g["W_rec"] += np.outer(d_rec, h[t - 1])
        g["b_rec_n"] += dm
        dx[t - 1] = W_in.T @ d_in
        from_next = W_rec.T @ d_rec + dEdh[t] * z
    dEdh[0] = from_next
    return g, dx, dEdh, None


def rnn_layer_forward(p, x, h0, form, activation, x0=None, perturb=None):
    """h0 (standard) or x0 (Pascanu: the pre-activation state, h_0 = σ(x_0); default 0)."""
    W_in, W_rec, b = p["W_in"], p["W_rec"], p["b"]
    T, H = x.shape[0], W_rec.shape[1]
    d = np.zeros((T + 1, H)) if perturb is None else perturb["h"]
    h, a = np.zeros((T + 1, H)), np.zeros((T + 1, H))
    if form == "pascanu":
        a[0] = (np.zeros(H) if x0 is None else x0) + d[0]
        h[0] = sigma(activation, a[0])
    else:
        h[0] = h0 + d[0]
    for t in range(1, T + 1):
        a[t] = W_in @ x[t - 1] + W_rec @ h[t - 1] + b
        if form == "pascanu":
            a[t] = a[t] + d[t]
            h[t] = sigma(activation, a[t])
        else:
            h[t] = sigma(activation, a[t]) + d[t]
    return {"h": h, "a": a, "x": x, "form": form, "activation": activation}


def rnn_layer_backward(p, cache, dh_ext, dh_T, dc_T=None):
    """dEdh is ∂E/∂h_k (standard) or ∂E/∂x_k = σ'(x_k) ∂E/∂h_k (Pascanu)."""
    W_in, W_rec = p["W_in"], p["W_rec"]
    h, a, x, form, act = cache["h"], cache["a"], cache["x"], cache["form"], cache["activation"]
    T, H = x.shape[0], W_rec.shape[1]
    g = {"W_in": np.zeros_like(W_in), "W_rec": np.zeros_like(W_rec), "b": np.zeros(H)}
    dx = np.zeros_like(x)
    dstate = np.zeros((T + 1, H))
    from_next = np.array(dh_T, float)
    for t in range(T, 0, -1):
        dh = dh_ext[t - 1] + from_next            # ∂E/∂h_t
        da = dh * dsigma(act, a[t])
        dstate[t] = da if form == "pascanu" else dh
        g["W_in"] += np.outer(da, x[t - 1])
        g["W_rec"] += np.outer(da, h[t - 1])
        g["b"] += da
        dx[t - 1] = W_in.T @ da
        from_next = W_rec.T @ da
    dstate[0] = from_next * dsigma(act, a[0]) if form == "pascanu" else from_next
    return g, dx, dstate, None
