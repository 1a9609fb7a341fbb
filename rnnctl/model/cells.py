"""The cells: all that the model knows of one recurrent cell, in one object per cell.

A `Cell` gathers the cell's gate blocks, its parameters, the buffers its forward pass fills and its
backward pass reads, and its kernels (rnnctl.kernels). ``RNN``, ``LSTM`` and ``GRU`` below are the
targets of ``rnnctl.registry.CELLS``; the model looks its cell up there once, at construction, and
from then on asks the cell (no branching on the cell's name anywhere else).

Two ways in:
- ``forward_unchecked`` / ``backward_unchecked``: the model's hot path. The model validates its
  inputs once per call and builds every array itself, so nothing is checked again here.
- ``forward`` / ``backward``: validating wrappers for one layer used on its own. They check shapes,
  dtypes and contiguity and raise DataError before entering Numba (which does no bounds checks: a
  wrong shape would read or write outside an array), allocate the buffers and return them.

Shapes are time-major: x (T, B, I) the layer's input, h (T+1, B, H) with h[0] the initial state;
G gate blocks of H rows are stacked in W_in (G*H, I), W_rec (G*H, H) and b (G*H,) in the order of
``gates`` (PyTorch's). The equations are in each kernel's module docstring.

Padded batches: ``lengths`` (B,) int64 (1 <= lengths[b] <= T, or None for none) holds each
sequence's state through its padded steps t > lengths[b] and passes ∂E/∂h (and ∂E/∂c) through them
unchanged, with no weight gradient and no share in the per-step norms (rnnctl/kernels/mask.py).
"""

from __future__ import annotations

import numpy as np

from rnnctl.errors import DataError
from rnnctl.kernels.activations import ACTIVATIONS
from rnnctl.kernels.gru import gru_backward, gru_forward
from rnnctl.kernels.lstm import lstm_backward, lstm_forward
from rnnctl.kernels.rnn import rnn_backward, rnn_forward

FORMS = ("standard", "pascanu")
_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


class Cell:
    """One recurrent cell; subclasses set the attributes and the two unchecked passes."""

    name = ""                        # its name in rnnctl.registry.CELLS (help and metadata live there)
    gates: tuple[str, ...] = ("",)   # gate blocks in W_in, W_rec, b; ("",): one unnamed block
    vanilla = False                  # takes model.form and model.activation
    keep_gate: int | None = None     # block whose bias starts at forget_bias (the gate that keeps)
    state: tuple[str, ...] = ("h",)  # per-layer state carried across windows and into a decoder
    extra: tuple[str, ...] = ()      # per-layer parameters of shape (H,) after W_in, W_rec, b
    stored = 1                       # floats the forward pass keeps per step and hidden unit
    cell_norms = False               # backward also records Σ_b ‖∂E/∂c_k‖

    def __init__(self):
        self.n_gates = len(self.gates)  # an attribute, not a property: read on every forward pass

    def param_specs(self, prefix: str, n_in: int, H: int) -> list[tuple[str, tuple[int, ...]]]:
        """(name, shape) of one layer's parameters, in layout order."""
        GH = self.n_gates * H
        return ([(prefix + "W_in", (GH, n_in)), (prefix + "W_rec", (GH, H)), (prefix + "b", (GH,))]
                + [(prefix + e, (H,)) for e in self.extra])

    def check_options(self, form: str, activation: str) -> None:
        """DataError unless (form, activation) apply to this cell."""
        if form != "standard" or activation != "tanh":
            raise DataError(f"form and activation apply to the vanilla cell only; the {self.name} cell "
                            f"has sigmoid gates and tanh (leave form=standard, activation=tanh)")

    def initial_h(self, form: str, activation: str) -> float:
        """h_0 when no state is given (x_0 = 0)."""
        return 0.0

    def buffers(self, get, tag, T: int, B: int, H: int) -> dict[str, np.ndarray]:
        """The arrays a forward pass fills and backward reads, each from ``get((name, tag), shape)``
        (the model's grow-only scratch; ``tag`` tells layers apart): h (T+1, B, H) and the cell's own."""
        return {"h": get(("h", tag), (T + 1, B, H))}

    def forward_unchecked(self, P, x, s, tmp, act: int, small_mnk: int, lengths=None) -> None:
        """Fill s (from ``buffers``) given s["h"][0] (and s["c"][0]); P = (W_in, W_rec, b, *extra);
        tmp (B, G*H) scratch; act: the activation's code (rnnctl.kernels.activations); lengths:
        None or (B,) int64."""
        raise NotImplementedError

    def backward_unchecked(self, P, G, x, s, dh_out, norms, cnorms, dstate, get, tag, act: int,
                           pascanu: bool, small_mnk: int, lengths=None):
        """BPTT through one layer after forward_unchecked. G: gradient arrays like P (written);
        dh_out (T, B, H): ∂E/∂h_t from outside the recurrence; norms, cnorms (T+1,) written;
        dstate: None or per-state (B, H) arrays, ∂E/∂(final state) from beyond the last step.
        Returns (dA (T, B, G*H), ∂E/∂(input projection), which times W_in reaches the layer below;
        per-state (B, H) arrays ∂E/∂(initial state)). Scratch comes from ``get((name, tag), shape)``
        (one set per stack: layers reuse it). lengths: as in forward_unchecked."""
        raise NotImplementedError

    # -- validating wrappers ------------------------------------------------------------------------
    def forward(self, params, x, state0=None, *, form: str = "standard", activation: str = "tanh",
                small_mnk: int = 0, lengths=None) -> dict[str, np.ndarray]:
        """One layer over x (T, B, I): validates, allocates, runs the kernel; returns ``buffers``.

        params: {"W_in", "W_rec", "b", *extra} C-contiguous float64 or float32 arrays, x of the same
        dtype; state0: None (zeros; σ(0) for h in the Pascanu form) or per-state (B, H) arrays;
        lengths: None or (B,) integers in [1, T] (see the module docstring)."""
        P, dtype, H = self._check_params(params)
        x = _check(x, "x", None, dtype, ndim=3)
        T, B, I = x.shape
        if T < 1 or B < 1 or I != P[0].shape[1]:
            raise DataError(f"{self.name}: x must have shape (T >= 1, B >= 1, {P[0].shape[1]}), got {x.shape}")
        self.check_options(form, activation)
        lengths = check_lengths(lengths, T, B)
        s = self.buffers(lambda key, shape: np.zeros(shape, dtype), None, T, B, H)
        state0 = self._check_state(state0, B, H)
        for i, name in enumerate(self.state):
            s[name][0] = state0[i] if state0 is not None else (
                self.initial_h(form, activation) if i == 0 else 0.0)
        tmp = np.zeros((B, self.n_gates * H), dtype)
        self.forward_unchecked(P, x, s, tmp, ACTIVATIONS.get(activation, 0), int(small_mnk), lengths)
        return s

    def backward(self, params, x, stored, dh_out, dstate=None, *, form: str = "standard",
                 activation: str = "tanh", small_mnk: int = 0, lengths=None) -> dict:
        """BPTT through one layer after ``forward`` (``stored`` is what it returned).

        dh_out (T, B, H): ∂E/∂h_t from outside the recurrence (not modified); dstate: None or
        per-state (B, H) arrays from beyond the last step; lengths: as given to ``forward``.
        Returns {"grads": {name: array}, "norms": (T+1,) Σ_b ‖∂E/∂x_k‖ (over the sequences whose
        step k is real), "cell_norms": (T+1,) or None, "dx": (T, B, I) ∂E/∂x (0 at padded steps),
        "dstate0": per-state (B, H) arrays ∂E/∂(initial state)}."""
        P, dtype, H = self._check_params(params)
        x = _check(x, "x", None, dtype, ndim=3)
        T, B, I = x.shape
        if I != P[0].shape[1]:
            raise DataError(f"{self.name}: x must have shape (T, B, {P[0].shape[1]}), got {x.shape}")
        self.check_options(form, activation)
        lengths = check_lengths(lengths, T, B)
        shapes = self.buffers(lambda key, shape: shape, None, T, B, H)
        if not isinstance(stored, dict):
            raise DataError(f"{self.name}: stored must be the dict forward returned")
        s = {k: _check(stored.get(k), f"stored[{k!r}]", shape, dtype) for k, shape in shapes.items()}
        dh = _check(dh_out, "dh_out", (T, B, H), dtype).copy()  # the vanilla pass adds dstate into it
        dstate = self._check_state(dstate, B, H)
        G = tuple(np.zeros_like(p) for p in P)
        norms = np.zeros(T + 1)
        cnorms = np.zeros(T + 1) if self.cell_norms else None
        dA, d0 = self.backward_unchecked(P, G, x, s, dh, norms, cnorms, dstate,
                                         lambda key, shape: np.zeros(shape, dtype), None,
                                         ACTIVATIONS.get(activation, 0), form == "pascanu", int(small_mnk),
                                         lengths)
        names = ("W_in", "W_rec", "b") + self.extra
        dx = (dA.reshape(T * B, -1) @ P[0]).reshape(T, B, I)
        return {"grads": dict(zip(names, G)), "norms": norms, "cell_norms": cnorms, "dx": dx,
                "dstate0": tuple(d.copy() for d in d0)}

    def _check_params(self, params):
        names = ("W_in", "W_rec", "b") + self.extra
        if not isinstance(params, dict) or any(n not in params for n in names):
            raise DataError(f"{self.name}: params must be a dict with {', '.join(names)}")
        W_rec = np.asarray(params["W_rec"])
        if W_rec.ndim != 2 or W_rec.shape[0] != self.n_gates * W_rec.shape[1] or W_rec.dtype not in _FLOATS:
            raise DataError(f"{self.name}: W_rec must be a float64 or float32 array of shape "
                            f"({self.n_gates}H, H), got {W_rec.dtype} {W_rec.shape}")
        H, dtype = W_rec.shape[1], W_rec.dtype
        W_in = np.asarray(params["W_in"])
        if W_in.ndim != 2:
            raise DataError(f"{self.name}: W_in must have shape ({self.n_gates * H}, I), got {W_in.shape}")
        shapes = dict(self.param_specs("", W_in.shape[1], H))
        return tuple(_check(params[n], n, shapes[n], dtype) for n in names), dtype, H

    def _check_state(self, state, B, H):
        if state is None:
            return None
        if not isinstance(state, (tuple, list)) or len(state) != len(self.state):
            raise DataError(f"{self.name}: a state is a tuple ({', '.join(self.state)},) of (B, H) arrays")
        return tuple(_check(a, name, (B, H), None) for a, name in zip(state, self.state))

    def __repr__(self) -> str:
        return f"<cell {self.name}: gates {', '.join(g or '-' for g in self.gates)}>"


def _check(arr, name: str, shape, dtype, ndim: int | None = None) -> np.ndarray:
    """``arr`` itself if it is a C-contiguous ndarray of ``dtype`` (None: any real) and ``shape``
    (None: any with ``ndim`` axes), else DataError saying what was expected."""
    want = f"shape {shape}" if shape is not None else f"{ndim} axes"
    kind = dtype if dtype is not None else "real"
    if not isinstance(arr, np.ndarray):
        raise DataError(f"{name} must be a {kind} numpy array with {want}, got {type(arr).__name__}")
    if (dtype is not None and arr.dtype != dtype) or (dtype is None and arr.dtype.kind not in "biuf"):
        raise DataError(f"{name} must have dtype {kind}, got {arr.dtype}")
    if (shape is not None and arr.shape != tuple(shape)) or (shape is None and arr.ndim != ndim):
        raise DataError(f"{name} must have {want}, got {arr.shape}")
    if not arr.flags.c_contiguous:
        raise DataError(f"{name} must be C-contiguous (np.ascontiguousarray), got a strided view")
    return arr


def check_lengths(lengths, T: int, B: int, name: str = "lengths"):
    """None, or ``lengths`` as a C-contiguous int64 (B,) array after checking that it is one
    integer per sequence in [1, T]; else DataError saying what was wrong."""
    if lengths is None:
        return None
    arr = np.asarray(lengths)
    if arr.dtype.kind not in "iu":
        raise DataError(f"{name} must be integers (one per sequence, int64), got dtype {arr.dtype}")
    if arr.shape != (B,):
        raise DataError(f"{name} must have shape ({B},), one length per sequence of the batch, "
                        f"got {arr.shape}")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 1 or hi > T:
        bad = lo if lo < 1 else hi
        raise DataError(f"{name} must lie in [1, {T}] (the padded length), got {bad} for sequence "
                        f"{int(np.flatnonzero(arr == bad)[0])}")
    return np.ascontiguousarray(arr, dtype=np.int64)


class VanillaCell(Cell):
    """h_t = σ(W_in x_t + W_rec h_{t-1} + b), both of the paper's forms (rnnctl/kernels/rnn.py)."""

    name, vanilla = "rnn", True

    def check_options(self, form, activation):
        if form not in FORMS:
            raise DataError(f"unknown form '{form}' (available: {', '.join(FORMS)})")
        if activation not in ACTIVATIONS:
            raise DataError(f"unknown activation '{activation}' (available: {', '.join(ACTIVATIONS)})")

    def initial_h(self, form, activation):
        # x_0 = 0: h_0 = 0 in the standard form, σ(0) in Pascanu's form where x is the pre-activation
        if form == "standard":
            return 0.0
        return {"tanh": 0.0, "sigmoid": 0.5, "relu": 0.0, "linear": 0.0}[activation]

    def forward_unchecked(self, P, x, s, tmp, act, small_mnk, lengths=None):
        rnn_forward(P[0], P[1], P[2], x, act, s["h"], tmp, small_mnk, lengths)

    def backward_unchecked(self, P, G, x, s, dh_out, norms, cnorms, dstate, get, tag, act, pascanu, small_mnk,
                           lengths=None, omega=None):
        """omega: None, or (bound, squared): BPTT also computes Pascanu's Ω (kernels/omega.py) into
        the ("omega_C", tag) and ("omega_stats", tag) buffers (asked for by the stack only when the
        model's ``omega_spec`` is set)."""
        T, B, H = dh_out.shape
        if dstate is not None:
            dh_out[T - 1] += dstate[0]  # the vanilla kernel starts its carry at 0
        dA, carry = get(("dA", tag), (T, B, H)), get(("carry", tag), (B, H))
        # keep: the carried rows across a padded step (unused, so not looked up, without lengths)
        keep = None if lengths is None else get(("keep", tag), (B, H))
        om = None
        if omega is not None:
            stats = get(("omega_stats", tag), (3,), np.float64)
            stats[:] = 0.0
            om = (get(("omega_C", tag), (T, B, H)), stats, float(omega[0]), bool(omega[1]))
        rnn_backward(P[0], P[1], x, s["h"], dh_out, act, pascanu, G[0], G[1], G[2], norms, dA, carry,
                     small_mnk, lengths, keep, om)
        return dA, (carry,)


class LSTMCell(Cell):
    """LSTM in PyTorch's gate order and equations (rnnctl/kernels/lstm.py)."""

    name = "lstm"
    gates, keep_gate, state = ("i", "f", "g", "o"), 1, ("h", "c")
    stored, cell_norms = 7, True     # h, c, the 4 gates, tanh(c)

    def buffers(self, get, tag, T, B, H):
        return {"h": get(("h", tag), (T + 1, B, H)), "c": get(("c", tag), (T + 1, B, H)),
                "gates": get(("gates", tag), (T, B, 4 * H)), "tc": get(("tc", tag), (T, B, H))}

    def forward_unchecked(self, P, x, s, tmp, act, small_mnk, lengths=None):
        lstm_forward(P[0], P[1], P[2], x, s["h"], s["c"], s["gates"], s["tc"], tmp, small_mnk, lengths)

    def backward_unchecked(self, P, G, x, s, dh_out, norms, cnorms, dstate, get, tag, act, pascanu, small_mnk,
                           lengths=None):
        T, B, H = dh_out.shape
        dA = get(("dA", tag), (T, B, 4 * H))
        carry, carry_c = get(("carry", tag), (B, H)), get(("carry_c", tag), (B, H))
        carry[...] = 0.0 if dstate is None else dstate[0]
        carry_c[...] = 0.0 if dstate is None else dstate[1]
        keep = None if lengths is None else get(("keep", tag), (B, H))
        lstm_backward(P[0], P[1], x, s["h"], s["c"], s["gates"], s["tc"], dh_out, G[0], G[1], G[2],
                      norms, cnorms, dA, carry, carry_c, small_mnk, lengths, keep)
        return dA, (carry, carry_c)


class GRUCell(Cell):
    """GRU in PyTorch's gate order and equations, with b_rec_n inside the reset gate's product
    (rnnctl/kernels/gru.py)."""

    name = "gru"
    gates, keep_gate, extra = ("r", "z", "n"), 1, ("b_rec_n",)
    stored = 5                       # h, the 3 gates, W_rec_n h_{t-1} + b_rec_n

    def buffers(self, get, tag, T, B, H):
        return {"h": get(("h", tag), (T + 1, B, H)), "gates": get(("gates", tag), (T, B, 3 * H)),
                "hn": get(("hn", tag), (T, B, H))}

    def forward_unchecked(self, P, x, s, tmp, act, small_mnk, lengths=None):
        gru_forward(P[0], P[1], P[2], P[3], x, s["h"], s["gates"], s["hn"], tmp, small_mnk, lengths)

    def backward_unchecked(self, P, G, x, s, dh_out, norms, cnorms, dstate, get, tag, act, pascanu, small_mnk,
                           lengths=None):
        T, B, H = dh_out.shape
        dA, dA_rec = get(("dA", tag), (T, B, 3 * H)), get(("dA_rec", tag), (T, B, 3 * H))
        carry, tmp = get(("carry", tag), (B, H)), get(("tmp_h", tag), (B, H))
        carry[...] = 0.0 if dstate is None else dstate[0]
        gru_backward(P[0], P[1], x, s["h"], s["gates"], s["hn"], dh_out, G[0], G[1], G[2], G[3], norms,
                     dA, dA_rec, carry, tmp, small_mnk, lengths)
        return dA, (carry,)


# The registry targets (rnnctl.registry declares "rnnctl.model.cells:RNN" etc.).
RNN, LSTM, GRU = VanillaCell(), LSTMCell(), GRUCell()
