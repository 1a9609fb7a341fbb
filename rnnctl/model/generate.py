"""Free-running generation (one_to_many, encoder_decoder): each step's output is fed back as the
next step's input instead of the target (teacher forcing is for training and ``Model.loss``)."""

from __future__ import annotations

import numpy as np

from rnnctl.errors import DataError

from .inputs import LOSSES, check_state, check_u


def generate(model, u, steps: int | None = None, *, rng: np.random.Generator | None = None,
             state0=None, lengths=None) -> tuple[np.ndarray, np.ndarray]:
    """See ``Model.generate``: -> (y (steps, B, O), choices fed back). lengths: None, or for
    encoder_decoder the (B,) int64 real steps of u, checked by the caller (the decoder starts from
    the encoder's state at each sequence's last real step)."""
    if not model.generates:
        raise DataError(f"generate is for one_to_many and encoder_decoder models (this one is {model.arch})")
    u = check_u(model, u)
    T_u, B, I = u.shape
    O = model.n_out
    T = T_u if steps is None else steps
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise DataError(f"steps must be a positive integer, got {steps!r}")
    if model.arch == "one_to_many" and T < T_u:
        raise DataError(f"one_to_many: steps ({T}) must be at least u.shape[0] ({T_u})")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise DataError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
    state = check_state(model, state0, B)
    if model.arch == "encoder_decoder":
        enc, st = model.stacks
        enc.forward(u, state, lengths)
        state = enc.final_state()
        x, off = np.zeros((1, B, O), model.dtype), 0
    else:
        st = model.stacks[0]
        x, off = np.zeros((1, B, I + O), model.dtype), I
    classes = LOSSES[model.loss_name][1]
    y_all = np.zeros((T, B, O), model.dtype)
    choices = np.zeros((T, B), np.int64) if classes else np.zeros((T, B, O), model.dtype)
    W_out, b_out = model.params["W_out"], model.params["b_out"]
    for t in range(int(T)):
        if model.arch == "one_to_many":
            x[0, :, :I] = u[t] if t < T_u else 0.0
        top = st.forward(x, state)
        state = st.final_state()
        y = y_all[t]
        np.dot(top[1], W_out.T, out=y)
        y += b_out
        x[0, :, off:] = 0.0
        if classes:
            k = y.argmax(axis=1) if rng is None else _sample_class(y, rng)
            choices[t] = k
            x[0, np.arange(B), off + k] = 1.0
        else:
            if model.loss_name == "sigmoid_ce":
                p = 1.0 / (1.0 + np.exp(-np.clip(y.astype(np.float64), -500, 500)))
                choices[t] = (y > 0) if rng is None else (rng.random((B, O)) < p)
            else:
                choices[t] = y
            x[0, :, off:] = choices[t]
    model.last_state = state
    return y_all, choices


def _sample_class(y, rng) -> np.ndarray:
    """One class per row of logits y (B, O), drawn from softmax(y) with one uniform per row."""
    B, O = y.shape
    z = y.astype(np.float64)
    prob = np.exp(z - z.max(axis=1, keepdims=True))
    cum = np.cumsum(prob / prob.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((cum < rng.random(B)[:, None]).sum(axis=1), O - 1)
