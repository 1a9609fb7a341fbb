"""The model: named parameters over one flat vector, init, and dispatch to the cell's kernels.

Parameters live in ONE flat vector ``theta``; ``params`` holds zero-copy named views of it, so the
gradient transforms and optimizers see a single vector (Pascanu's norm is over all parameters as one
vector) while users and files see named arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DataError
from .init import init_rnn, rescale_spectral_radius
from .kernels.activations import ACTIVATIONS
from .kernels.readout import sigmoid_ce, softmax_ce, squared_error
from .kernels.rnn import rnn_backward, rnn_forward

# loss name -> (kernel, whether targets are class indices)
LOSSES = {"softmax_ce": (softmax_ce, True), "sigmoid_ce": (sigmoid_ce, False), "mse": (squared_error, False)}
SCORED = ("last", "all")
FORMS = ("standard", "pascanu")


@dataclass(frozen=True)
class Layout:
    """name -> (offset, shape) inside the flat vector, in a fixed order."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(int(np.prod(s)) for s in self.shapes)

    @property
    def size(self) -> int:
        return sum(self.sizes)

    def views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        out, offset = {}, 0
        for name, shape, n in zip(self.names, self.shapes, self.sizes):
            out[name] = flat[offset:offset + n].reshape(shape)
            offset += n
        return out

    def slices(self) -> dict[str, slice]:
        out, offset = {}, 0
        for name, n in zip(self.names, self.sizes):
            out[name] = slice(offset, offset + n)
            offset += n
        return out


class _Workspace:
    """Buffers for one batch size, grown to the longest T seen, so the time loop never allocates."""

    def __init__(self, B, H, O, dtype):
        self.B, self.H, self.O, self.dtype = B, H, O, dtype
        self.T = 0

    def ensure(self, T):
        if T <= self.T:
            return
        B, H, O, dt = self.B, self.H, self.O, self.dtype
        self.T = T
        self.h = np.zeros((T + 1, B, H), dt)     # h[0] initial state
        self.dh_out = np.zeros((T, B, H), dt)    # ∂E/∂h_t from the readout
        self.dz = np.zeros((T, B, H), dt)        # ∂E/∂(pre-activation) per step
        self.y = np.zeros((T * B, O), dt)        # readout outputs, rows t*B + b
        self.dy = np.zeros((T * B, O), dt)
        self.tmp = np.zeros((B, H), dt)
        self.carry = np.zeros((B, H), dt)
        self.dx_norm = np.zeros(T + 1, np.float64)


class Model:
    """A vanilla RNN with a linear readout and a loss scored at the last step or at every step."""

    def __init__(self, n_in: int, n_out: int, hidden: int = 50, *, cell: str = "rnn", form: str = "standard",
                 activation: str = "tanh", loss: str = "softmax_ce", scored: str = "last",
                 dtype: str = "float64"):
        if cell != "rnn":
            raise DataError(f"unknown cell '{cell}' (available: rnn)")
        if form not in FORMS:
            raise DataError(f"unknown form '{form}' (available: {', '.join(FORMS)})")
        if activation not in ACTIVATIONS:
            raise DataError(f"unknown activation '{activation}' (available: {', '.join(ACTIVATIONS)})")
        if loss not in LOSSES:
            raise DataError(f"unknown loss '{loss}' (available: {', '.join(LOSSES)})")
        if scored not in SCORED:
            raise DataError(f"unknown scoring '{scored}' (available: {', '.join(SCORED)})")
        self.n_in, self.n_out, self.hidden = int(n_in), int(n_out), int(hidden)
        self.cell, self.form, self.activation, self.loss_name, self.scored = cell, form, activation, loss, scored
        self.dtype = np.dtype(dtype)
        H, I, O = self.hidden, self.n_in, self.n_out
        self.layout = Layout(("W_in", "W_rec", "b", "W_out", "b_out"), ((H, I), (H, H), (H,), (O, H), (O,)))
        self.theta = np.zeros(self.layout.size, self.dtype)
        self.params = self.layout.views(self.theta)
        self._grad = np.zeros_like(self.theta)
        self._workspaces: dict[int, _Workspace] = {}
        self._act = ACTIVATIONS[activation]
        self.backprop_norms = np.zeros(0)  # Σ_b ‖∂E/∂x_k‖ for k = 0..T from the last loss_and_grad

    # -- parameters -------------------------------------------------------------------------------
    def init_params(self, rng: np.random.Generator, scheme: str, spectral_radius: float | None = None) -> None:
        """Fill the parameters in place with an init scheme (drawn in float64, then cast)."""
        p = {k: np.zeros(v.shape) for k, v in self.params.items()}
        init_rnn(rng, scheme, p["W_in"], p["W_rec"], p["W_out"])
        if spectral_radius is not None:
            rescale_spectral_radius(p["W_rec"], spectral_radius)
        for k, v in p.items():
            self.params[k][...] = v

    def set_params(self, values: dict[str, np.ndarray]) -> None:
        for name, view in self.params.items():
            if name not in values:
                raise DataError(f"missing parameter '{name}'")
            arr = np.asarray(values[name])
            if arr.shape != view.shape:
                raise DataError(f"parameter '{name}' has shape {arr.shape}, expected {view.shape}")
            view[...] = arr

    # -- validation -------------------------------------------------------------------------------
    def _check_inputs(self, u, target=None):
        u = np.asarray(u)
        if u.dtype.kind not in "biuf":
            raise DataError(f"u must be a real numeric array, got dtype {u.dtype}")
        if u.ndim != 3 or u.shape[2] != self.n_in or u.shape[0] < 1 or u.shape[1] < 1:
            raise DataError(f"u must have shape (T, B, {self.n_in}), got {u.shape}")
        u = np.ascontiguousarray(u, dtype=self.dtype)
        if target is None:
            return u, None
        T, B, _ = u.shape
        classes = LOSSES[self.loss_name][1]
        target = np.asarray(target)
        if classes:
            want = (B,) if self.scored == "last" else (T, B)
            if target.shape != want or not np.issubdtype(target.dtype, np.integer):
                raise DataError(f"target must be integer class indices of shape {want}, "
                                f"got {target.dtype} {target.shape}")
            if target.size and (target.min() < 0 or target.max() >= self.n_out):
                raise DataError(f"target classes must lie in [0, {self.n_out})")
            target = np.ascontiguousarray(target.reshape(-1), dtype=np.int64)
        else:
            want = (B, self.n_out) if self.scored == "last" else (T, B, self.n_out)
            if target.dtype.kind not in "biuf":
                raise DataError(f"target must be a real numeric array, got dtype {target.dtype}")
            if target.shape != want:
                raise DataError(f"target must have shape {want}, got {target.shape}")
            target = np.ascontiguousarray(target.reshape(-1, self.n_out), dtype=self.dtype)
        return u, target

    def _workspace(self, T, B):
        ws = self._workspaces.get(B)
        if ws is None:
            ws = self._workspaces[B] = _Workspace(B, self.hidden, self.n_out, self.dtype)
        ws.ensure(T)
        return ws

    # -- forward / backward -----------------------------------------------------------------------
    def _forward(self, u):
        T, B, _ = u.shape
        ws = self._workspace(T, B)
        h = ws.h[:T + 1]
        # x_0 = 0: h_0 = 0 in the standard form, σ(0) in Pascanu's form where x is pre-activation
        h[0] = 0.0 if self.form == "standard" else _act_numpy(self.activation, 0.0)
        p = self.params
        rnn_forward(p["W_in"], p["W_rec"], p["b"], u, self._act, h, ws.tmp)
        return ws, h

    def _readout(self, ws, h, T, B):
        """y rows for the scored steps: (B, O) at the last step, or (T*B, O) over every step."""
        hs = h[T] if self.scored == "last" else h[1:].reshape(T * B, self.hidden)
        y = ws.y[:hs.shape[0]]
        np.dot(hs, self.params["W_out"].T, out=y)
        y += self.params["b_out"]
        return hs, y

    def outputs(self, u) -> np.ndarray:
        """Readout outputs (logits or linear outputs): (B, O) if scored at the last step, else (T, B, O)."""
        u, _ = self._check_inputs(u)
        T, B, _ = u.shape
        ws, h = self._forward(u)
        _, y = self._readout(ws, h, T, B)
        y = y.copy()
        return y if self.scored == "last" else y.reshape(T, B, self.n_out)

    def loss(self, u, target) -> float:
        u, target = self._check_inputs(u, target)
        T, B, _ = u.shape
        ws, h = self._forward(u)
        _, y = self._readout(ws, h, T, B)
        return float(LOSSES[self.loss_name][0](y, target, 1.0 / B, ws.dy[:y.shape[0]]))

    def loss_and_grad_flat(self, u, target, grad: np.ndarray) -> float:
        """Loss E and its gradient written into ``grad`` (flat, same layout as ``theta``)."""
        u, target = self._check_inputs(u, target)
        if not (isinstance(grad, np.ndarray) and grad.shape == self.theta.shape and grad.dtype == self.dtype
                and grad.flags.c_contiguous):
            raise DataError(f"grad must be a contiguous {self.dtype} array of shape {self.theta.shape}")
        T, B, _ = u.shape
        ws, h = self._forward(u)
        hs, y = self._readout(ws, h, T, B)
        dy = ws.dy[:y.shape[0]]
        E = float(LOSSES[self.loss_name][0](y, target, 1.0 / B, dy))
        g = self.layout.views(grad)
        p = self.params
        np.dot(dy.T, hs, out=g["W_out"])
        g["b_out"][...] = dy.sum(axis=0)
        dh_out = ws.dh_out[:T]
        if self.scored == "last":
            dh_out[:T - 1] = 0.0
            np.dot(dy, p["W_out"], out=dh_out[T - 1])
        else:
            np.dot(dy, p["W_out"], out=dh_out.reshape(T * B, self.hidden))
        dx_norm = ws.dx_norm[:T + 1]
        rnn_backward(p["W_in"], p["W_rec"], u, h, dh_out, self._act, self.form == "pascanu",
                     g["W_in"], g["W_rec"], g["b"], dx_norm, ws.dz[:T], ws.carry)
        self.backprop_norms = dx_norm.copy()
        return E

    def loss_and_grad(self, u, target) -> tuple[float, dict[str, np.ndarray]]:
        """Loss E (Σ_t E_t per sequence, averaged over the batch) and a dict of gradients named like ``params``."""
        E = self.loss_and_grad_flat(u, target, self._grad)
        return E, {k: v.copy() for k, v in self.layout.views(self._grad).items()}


def _act_numpy(name, z):
    return {"tanh": np.tanh, "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
            "relu": lambda v: max(v, 0.0), "linear": lambda v: v}[name](z)
