"""Initialization schemes (Pascanu et al. 2013, §4.1.1, plus common modern ones).

Each scheme fills W_in (H, I), W_rec (H, H), W_out (O, H) in place; biases stay 0 as in the paper.
Gated cells (LSTM, GRU) and stacked layers apply the same rules per gate block: each block
W_in[kH:(k+1)H] (H, I) and W_rec[kH:(k+1)H] (H, H) is drawn as if it were a vanilla cell's W_in and
W_rec (``init_layer``); a layer above the first has input size H.
"""

from __future__ import annotations

import numpy as np

from .errors import ConfigError


def spectral_radius(W: np.ndarray) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(W)))) if W.size else 0.0


def rescale_spectral_radius(W: np.ndarray, rho: float) -> None:
    current = spectral_radius(W)
    if current == 0.0:
        raise ConfigError("cannot rescale a W_rec whose spectral radius is 0", key="model.spectral_radius")
    W *= rho / current


def _glorot(rng, shape):
    fan_out, fan_in = shape
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=shape)


def _orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))  # sign fix makes the draw uniform over the orthogonal group


def _sparse_rec(rng, n, nonzero=15, std=0.01):
    # 15 nonzero *incoming* weights per unit, as the paper states. With z = W_rec h a row of W_rec is
    # a unit's incoming weights. (The authors' code used row vectors and kept 15 per row of W_hh,
    # i.e. outgoing; the two differ only by a transpose of the sparsity pattern.)
    W = np.zeros((n, n))
    k = min(nonzero, n)
    for i in range(n):
        cols = rng.choice(n, size=k, replace=False)
        W[i, cols] = rng.normal(0.0, std, size=k)
    return W


def init_rnn(rng: np.random.Generator, scheme: str, W_in, W_rec, W_out) -> None:
    H = W_rec.shape[0]
    if scheme in ("sigmoid", "basic_tanh"):
        std = 0.01 if scheme == "sigmoid" else 0.1
        for W in (W_in, W_rec, W_out):
            W[...] = rng.normal(0.0, std, size=W.shape)
    elif scheme == "smart_tanh":
        W_in[...] = rng.normal(0.0, 0.01, size=W_in.shape)
        W_out[...] = rng.normal(0.0, 0.01, size=W_out.shape)
        W_rec[...] = _sparse_rec(rng, H)
        rescale_spectral_radius(W_rec, 0.95)
    elif scheme == "orthogonal":
        W_in[...] = _glorot(rng, W_in.shape)
        W_out[...] = _glorot(rng, W_out.shape)
        W_rec[...] = _orthogonal(rng, H)
    elif scheme == "identity":  # IRNN (Le, Jaitly & Hinton 2015): W_rec = I, others N(0, 0.001)
        W_in[...] = rng.normal(0.0, 0.001, size=W_in.shape)
        W_out[...] = rng.normal(0.0, 0.001, size=W_out.shape)
        W_rec[...] = np.eye(H)
    elif scheme == "glorot":
        for W in (W_in, W_rec, W_out):
            W[...] = _glorot(rng, W.shape)
    else:
        raise ConfigError(f"unknown init scheme '{scheme}'", key="model.init")


INIT_SCHEMES = ("sigmoid", "basic_tanh", "smart_tanh", "orthogonal", "identity", "glorot")


def init_input_weights(rng: np.random.Generator, scheme: str, W) -> None:
    """The scheme's rule for a non-recurrent matrix (a W_in block, or W_out), in place."""
    if scheme in ("sigmoid", "basic_tanh"):
        W[...] = rng.normal(0.0, 0.01 if scheme == "sigmoid" else 0.1, size=W.shape)
    elif scheme == "smart_tanh":
        W[...] = rng.normal(0.0, 0.01, size=W.shape)
    elif scheme == "identity":
        W[...] = rng.normal(0.0, 0.001, size=W.shape)
    elif scheme in ("orthogonal", "glorot"):
        W[...] = _glorot(rng, W.shape)
    else:
        raise ConfigError(f"unknown init scheme '{scheme}'", key="model.init")


def init_recurrent_weights(rng: np.random.Generator, scheme: str, W) -> None:
    """The scheme's rule for a square recurrent block (H, H), in place."""
    H = W.shape[0]
    if scheme in ("sigmoid", "basic_tanh"):
        W[...] = rng.normal(0.0, 0.01 if scheme == "sigmoid" else 0.1, size=W.shape)
    elif scheme == "smart_tanh":
        W[...] = _sparse_rec(rng, H)
        rescale_spectral_radius(W, 0.95)
    elif scheme == "orthogonal":
        W[...] = _orthogonal(rng, H)
    elif scheme == "identity":
        W[...] = np.eye(H)
    elif scheme == "glorot":
        W[...] = _glorot(rng, W.shape)
    else:
        raise ConfigError(f"unknown init scheme '{scheme}'", key="model.init")


def init_layer(rng: np.random.Generator, scheme: str, W_in, W_rec, gates: int) -> None:
    """One recurrent layer with ``gates`` stacked blocks: W_in (gates*H, I), W_rec (gates*H, H).

    Block k (rows kH:(k+1)H) of W_in gets the input rule, block k of W_rec the recurrent rule, drawn
    in the order W_in block 0, W_rec block 0, W_in block 1, ...; biases are left alone.
    """
    H = W_rec.shape[1]
    if W_rec.shape[0] != gates * H or W_in.shape[0] != gates * H:
        raise ValueError(f"expected {gates} blocks of {H} rows, got W_in {W_in.shape}, W_rec {W_rec.shape}")
    for k in range(gates):
        init_input_weights(rng, scheme, W_in[k * H:(k + 1) * H])
        init_recurrent_weights(rng, scheme, W_rec[k * H:(k + 1) * H])


def init_model(model, rng: np.random.Generator, scheme: str, spectral_radius: float | None = None,
               *, forget_bias: float = 1.0) -> None:
    """Fill a ``rnnctl.model.Model``'s parameters in place (drawn in float64, then cast).

    Gate blocks are drawn one by one, each as a vanilla cell's W_in / W_rec (``init_layer``); a
    vanilla model's first layer and W_out are drawn exactly as the single-layer vanilla model always
    drew them (``init_rnn``), so its runs reproduce. ``spectral_radius`` rescales every W_rec block
    of every layer; biases start at 0 except the block of the gate that keeps the state (the cell's
    ``keep_gate``: the LSTM's forget gate f, the GRU's update gate z in h_t = (1 − z) n + z h_{t−1}),
    which starts at ``forget_bias``.
    """
    cell, H = model.cell_def, model.hidden
    p = {k: np.zeros(v.shape) for k, v in model.params.items()}
    layers = [(st, l) for st in model.stacks for l in range(model.layers)]
    if cell.vanilla:
        st, _ = layers.pop(0)
        init_rnn(rng, scheme, p[st.names[0] + "W_in"], p[st.names[0] + "W_rec"], p["W_out"])
    for st, l in layers:
        init_layer(rng, scheme, p[st.names[l] + "W_in"], p[st.names[l] + "W_rec"], cell.n_gates)
    if not cell.vanilla:
        init_input_weights(rng, scheme, p["W_out"])
    for st in model.stacks:
        for pre in st.names:
            if spectral_radius is not None:
                for k in range(cell.n_gates):
                    rescale_spectral_radius(p[pre + "W_rec"][k * H:(k + 1) * H], spectral_radius)
            if cell.keep_gate is not None:
                k = cell.keep_gate
                p[pre + "b"][k * H:(k + 1) * H] = forget_bias
    for k, v in p.items():
        model.params[k][...] = v
