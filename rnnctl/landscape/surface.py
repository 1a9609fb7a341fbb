"""The loss over a grid of points in a slice: a fast fused kernel for the single-layer vanilla RNN
(kernel.py), and a generic path for any model (one ``Model.loss`` per point)."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..model import Model
from .kernel import LOSS_CODES, SEQUENCE_BLOCK, rnn_surface

DTYPES = ("float32", "float64")
METHODS = ("auto", "fast", "generic")


def fast_path_applies(model: Model) -> bool:
    """The fused kernel covers the single-layer vanilla RNN read out at the last or at every step
    (either form, any activation), with one of the three losses."""
    return (model.cell_def.vanilla and model.layers == 1 and model.arch in ("many_to_one", "many_to_many")
            and model.loss_name in LOSS_CODES and model.params["W_rec"].ndim == 2)


def like(model: Model, dtype: str) -> Model:
    """A model of the same architecture in ``dtype`` (its parameters are set per point)."""
    return Model(model.n_in, model.n_out, model.hidden, cell=model.cell, form=model.form,
                 activation=model.activation, loss=model.loss_name, arch=model.arch,
                 layers=model.layers, dtype=dtype)


def grid_loss(model: Model, center: np.ndarray, directions: np.ndarray, coords: np.ndarray, u, target,
              dtype: str = "float32", method: str = "auto", approx: bool | None = None) -> tuple[np.ndarray, str]:
    """E at center + coords[g] @ directions for every row g of coords (G, k), on the batch
    (u (T, S, I), target). -> (loss (G,) float64, the method used: "fast" or "generic").

    ``approx`` (fast path only; default: True for float32): σ through kernel.fast_tanh.
    A non-finite loss (an exploded point) is returned as inf or NaN."""
    if dtype not in DTYPES:
        raise ConfigError(f"expected one of {', '.join(DTYPES)}, got {dtype!r}", key="--dtype")
    if method not in METHODS:
        raise ConfigError(f"expected one of {', '.join(METHODS)}, got {method!r}", key="--method")
    fast = fast_path_applies(model)
    if method == "fast" and not fast:
        raise ConfigError(f"the fast path covers the single-layer vanilla RNN; this model is a "
                          f"{model.layers}-layer {model.cell} ({model.arch}); use --method generic",
                          key="--method")
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    center = np.asarray(center, np.float64)
    directions = np.ascontiguousarray(directions, dtype=np.float64)
    if fast and method != "generic":
        approx = dtype == "float32" if approx is None else approx
        return _fast(model, center, directions, coords, u, target, dtype, approx), "fast"
    return _generic(model, center, directions, coords, u, target, dtype), "generic"


def _generic(model, center, directions, coords, u, target, dtype) -> np.ndarray:
    m = like(model, dtype)
    out = np.empty(len(coords))
    with np.errstate(all="ignore"):
        for g, c in enumerate(coords):
            m.theta[:] = center + c @ directions
            out[g] = m.loss(u, target)
    return out


def _fast(model, center, directions, coords, u, target, dtype, approx) -> np.ndarray:
    H, I, O = model.hidden, model.n_in, model.n_out
    slices = model.layout.slices()
    offsets = np.array([slices[n].start for n in ("W_in", "W_rec", "b", "W_out", "b_out")], np.int64)
    last = model.scored == "last"
    T, S = u.shape[:2]
    if model.loss_name == "softmax_ce":
        y_class = np.ascontiguousarray(np.asarray(target, np.int64).reshape((1, S) if last else (T, S)))
        y_real = np.zeros((1, 1, 1))
    else:
        y_class = np.zeros((1, 1), np.int64)
        y_real = np.ascontiguousarray(np.asarray(target, np.float64).reshape((1, S, O) if last else (T, S, O)))
    u_c = np.ones((T, S, I + 1), dtype)                # the last column of ones carries b
    u_c[:, :, :I] = u
    h0 = model.cell_def.initial_h(model.form, model.activation)
    out = np.empty(len(coords))
    with _one_blas_thread(), np.errstate(all="ignore"):
        rnn_surface(center, directions, coords, offsets, np.array([H, I, O], np.int64), u_c, y_class,
                    y_real, h0, model._act, LOSS_CODES[model.loss_name], last, approx, SEQUENCE_BLOCK, out)
    return out


class _one_blas_thread:
    """The kernel runs its points in parallel and each makes its own small GEMMs: a multi-threaded
    BLAS inside every one of them oversubscribes the cores (measured 30x slower with OpenBLAS's 2
    threads per call on 2 cores). threadpoolctl (a dependency) limits the BLAS to one thread while
    the kernel runs."""

    def __enter__(self):
        from threadpoolctl import threadpool_limits
        self._limits = threadpool_limits(1, user_api="blas")
        return self

    def __exit__(self, *exc):
        self._limits.restore_original_limits()
        return False
