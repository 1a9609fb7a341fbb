"""Slow, obvious NumPy oracle of the model: readouts, losses, stacks and architectures.

Deliberately independent of rnnctl (nothing here imports it) and deliberately naive: one Python loop
over the sequences of the batch and one over time. Two parts:

- The single-layer vanilla RNN, each of the paper's forms written out literally from the chain rule
  of that form's own state (``forward_sequence``, ``loss_and_grad_sequence``, and their batch
  versions ``forward``, ``outputs``, ``loss_and_grad``):

    standard:  a_t = W_rec x_{t-1} + W_in u_t + b,   x_t = σ(a_t),            h_t = x_t
    pascanu:   x_t = W_rec σ(x_{t-1}) + W_in u_t + b,                          h_t = σ(x_t)
    readout:   y_t = W_out h_t + b_out,               x_0 = 0 in both forms

- Any cell, stacked layers and the four architectures (``model_loss_and_grad``), built from the
  per-layer cell oracle in tests/oracles/cells.py.

Cost of one sequence: E = Σ_{t scored} E_t; the batch cost is the mean of the sequences' costs.
Shapes: u (T, B, I); a sequence is u[:, b] (T, I). Parameters are a dict like ``Model.params``.
"""

from __future__ import annotations

import numpy as np

from .cells import (_logistic, dsigma, gru_layer_backward, gru_layer_forward, lstm_layer_backward, lstm_layer_forward,
                    rnn_layer_backward, rnn_layer_forward, sigma)

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


# -- stacked layers and architectures --------------------------------------------------------------
def param_names(cell, layers, arch):
    """The parameter names of a model, in layout order."""
    stacks = ["encoder.", "decoder."] if arch == "encoder_decoder" else [""]
    names = []
    for s in stacks:
        for l in range(layers):
            pre = s if layers == 1 else f"{s}layers.{l}."
            names += [pre + "W_in", pre + "W_rec", pre + "b"] + ([pre + "b_rec_n"] if cell == "gru" else [])
    return names + ["W_out", "b_out"]


def _layer_prefixes(stack, layers):
    return [stack] if layers == 1 else [f"{stack}layers.{l}." for l in range(layers)]


def _feedback_sequence(target_seq, loss, O):
    """Teacher forcing: row 0 is 0, row t the target of step t (one-hot class, or the vector)."""
    T_out = len(target_seq)
    fb = np.zeros((T_out, O))
    for t in range(1, T_out):
        if loss == "softmax_ce":
            fb[t, int(target_seq[t - 1])] = 1.0
        else:
            fb[t] = np.asarray(target_seq[t - 1], float)
    return fb


class _StackRun:
    """One stack of layers on one sequence: forward, then backward."""

    def __init__(self, p, prefixes, cell, form, activation):
        self.p, self.prefixes, self.cell, self.form, self.act = p, prefixes, cell, form, activation

    def layer_params(self, l):
        pre = self.prefixes[l]
        return {k: self.p[pre + k] for k in ("W_in", "W_rec", "b", "b_rec_n") if pre + k in self.p}

    def forward(self, x, h0s, c0s, x0s=None, perturb=None):
        self.caches, inp = [], x
        for l in range(len(self.prefixes)):
            pl, pert = self.layer_params(l), (None if perturb is None else perturb[l])
            if self.cell == "lstm":
                cache = lstm_layer_forward(pl, inp, h0s[l], c0s[l], pert)
            elif self.cell == "gru":
                cache = gru_layer_forward(pl, inp, h0s[l], pert)
            else:
                cache = rnn_layer_forward(pl, inp, h0s[l], self.form, self.act,
                                          None if x0s is None else x0s[l], pert)
            self.caches.append(cache)
            inp = cache["h"][1:]
        return self.caches[-1]["h"]

    def backward(self, dh_top, dh_T, dc_T, grads):
        back = {"lstm": lstm_layer_backward, "gru": gru_layer_backward, "rnn": rnn_layer_backward}[self.cell]
        L = len(self.prefixes)
        dEdh, dEdc, dh0, dc0 = [None] * L, [None] * L, [None] * L, [None] * L
        ext = dh_top
        for l in range(L - 1, -1, -1):
            g, dx, dEdh[l], dEdc[l] = back(self.layer_params(l), self.caches[l], ext, dh_T[l], dc_T[l])
            for k, v in g.items():
                grads[self.prefixes[l] + k] += v
            # what reaches the initial state (a leaf): for the vanilla cell ∂E/∂h_0 = W_rec^T da_1
            dh0[l] = (self.layer_params(l)["W_rec"].T @ _first_da(self, l, dEdh[l])
                      if self.cell == "rnn" else dEdh[l][0])
            dc0[l] = None if dEdc[l] is None else dEdc[l][0]
            ext = dx
        return dEdh, dEdc, dh0, dc0


def _first_da(run, l, dstate):
    """Vanilla cell: ∂E/∂a_1 from the recorded state gradient of step 1."""
    cache = run.caches[l]
    if run.form == "pascanu":
        return dstate[1]
    return dstate[1] * dsigma(run.act, cache["a"][1])


def model_loss_and_grad(params, u, target, *, cell, arch, layers, loss, form="standard",
                        activation="tanh", state0=None, x0=None, perturb=None):
    """Batch mean E, mean grads, per-layer backprop norms (L, K) = Σ_b ‖∂E/∂state_k‖ (E the batch
    mean), cell norms (LSTM, else None), outputs y ((B, O) or (T_out, B, O)) and the final state.

    u (T, B, I); target as the model takes it. K = T+1, or T_in + T_out + 1 for encoder_decoder
    (encoder steps 0..T_in, then decoder steps 1..T_out). state0: (h,) or (h, c) of (L, B, H)
    arrays starting the first stack (default 0); x0 (L, B, H): Pascanu form's initial
    pre-activation state instead. perturb[b][stack][l]: see the section comment.
    """
    p = _params64(params)
    u = np.asarray(u, dtype=np.float64)
    T, B, I = u.shape
    O, H = p["W_out"].shape
    L = layers
    names = param_names(cell, layers, arch)
    assert set(names) == set(p), (sorted(names), sorted(p))
    target = np.asarray(target)
    stacks = ["encoder.", "decoder."] if arch == "encoder_decoder" else [""]
    runs = [_StackRun(p, _layer_prefixes(s, L), cell, form, activation) for s in stacks]
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    E, norms, cnorms, ys, finals = 0.0, None, None, [], []
    for b in range(B):
        tb = target[b] if arch == "many_to_one" else target[:, b]
        zeros = [np.zeros(H)] * L
        h0s = zeros if state0 is None else [np.asarray(state0[0][l, b], float) for l in range(L)]
        c0s = zeros if state0 is None or cell != "lstm" else [np.asarray(state0[1][l, b], float) for l in range(L)]
        x0s = None if x0 is None else [x0[l, b] for l in range(L)]
        pert = None if perturb is None else perturb[b]
        if arch in ("many_to_one", "many_to_many"):
            top = runs[0].forward(u[:, b], h0s, c0s, x0s, None if pert is None else pert[0])
        elif arch == "one_to_many":
            T_out = len(tb)
            x = np.zeros((T_out, I + O))
            x[:T, :I] = u[:, b]
            x[:, I:] = _feedback_sequence(tb, loss, O)
            top = runs[0].forward(x, h0s, c0s, x0s, None if pert is None else pert[0])
        else:
            runs[0].forward(u[:, b], h0s, c0s, x0s, None if pert is None else pert[0])
            enc = runs[0].caches
            dh0s = [enc[l]["h"][T] for l in range(L)]
            dc0s = [enc[l]["c"][T] for l in range(L)] if cell == "lstm" else zeros
            dec_x0 = [enc[l]["a"][T] for l in range(L)] if (cell == "rnn" and form == "pascanu") else None
            top = runs[1].forward(_feedback_sequence(tb, loss, O), dh0s, dc0s, dec_x0,
                                  None if pert is None else pert[1])
        Tt = top.shape[0] - 1
        run = runs[-1]
        finals.append([c["h"][Tt] for c in run.caches] + ([c["c"][Tt] for c in run.caches] if cell == "lstm" else []))
        steps = [Tt] if arch == "many_to_one" else list(range(1, Tt + 1))
        y = np.zeros((Tt, O))
        dh_top = np.zeros((Tt, H))
        for t in steps:
            y[t - 1] = p["W_out"] @ top[t] + p["b_out"]
            Et, gy = step_loss(loss, y[t - 1], tb if arch == "many_to_one" else tb[t - 1])
            E += Et / B
            grads["W_out"] += np.outer(gy, top[t]) / B
            grads["b_out"] += gy / B
            dh_top[t - 1] = p["W_out"].T @ gy
        ys.append(y[-1] if arch == "many_to_one" else y)
        dh_top /= B
        gb = {k: np.zeros_like(v) for k, v in p.items()}
        dEdh, dEdc, dh0, dc0 = run.backward(dh_top, [np.zeros(H)] * L, [np.zeros(H)] * L, gb)
        if arch == "encoder_decoder":
            # the decoder's initial state is the encoder's final state: its gradient flows on
            edEdh, edEdc, _, _ = runs[0].backward(np.zeros((T, H)), dh0,
                                                  dc0 if cell == "lstm" else [np.zeros(H)] * L, gb)
            dEdh = [np.concatenate([edEdh[l], dEdh[l][1:]]) for l in range(L)]
            if cell == "lstm":
                dEdc = [np.concatenate([edEdc[l], dEdc[l][1:]]) for l in range(L)]
        for k in grads:
            grads[k] += gb[k]
        nb = np.array([np.linalg.norm(d, axis=1) for d in dEdh])            # (L, K)
        norms = nb if norms is None else norms + nb
        if cell == "lstm":
            cb = np.array([np.linalg.norm(d, axis=1) for d in dEdc])
            cnorms = cb if cnorms is None else cnorms + cb
    y_out = np.stack(ys) if arch == "many_to_one" else np.stack(ys, axis=1)
    final = tuple(np.stack([np.stack([f[i] for f in finals]) for i in range(k * L, (k + 1) * L)])
                  for k in range(2 if cell == "lstm" else 1))
    return E, grads, norms, cnorms, y_out, final
