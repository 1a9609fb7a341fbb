"""Compile every Numba kernel once, so that later processes load them from the cache.

Numba compiles a kernel on first call for each combination of argument types (here: float32 and
float64, integer or float targets, with and without per-sequence ``lengths``) and, with ``cache=True``, stores the machine code beside the
sources in ``__pycache__`` (or under ``NUMBA_CACHE_DIR`` when that is set, e.g. on a read-only
install or a cluster's shared disk). Warming up makes the first update of every later run fast.
"""

from __future__ import annotations

import time

import numpy as np

from .model import Model
from .registry import CELLS

# (loss, scored, target kind) covering every readout kernel and the BPTT paths of each cell
_READOUTS = (("softmax_ce", "last"), ("softmax_ce", "all"), ("mse", "last"), ("sigmoid_ce", "all"))


def _target(rng, loss, scored, T, B, O):
    lead = (B,) if scored == "last" else (T, B)
    if loss == "softmax_ce":
        return rng.integers(0, O, size=lead)
    if loss == "sigmoid_ce":
        return (rng.random(lead + (O,)) > 0.5).astype(float)
    return rng.normal(size=lead + (O,))


def warmup(dtypes=("float64", "float32"), progress=None) -> dict[str, float]:
    """Call every kernel once per dtype; returns seconds per (cell, dtype)."""
    rng = np.random.default_rng(0)
    T, B, I, H, O = 3, 2, 2, 3, 2
    u = rng.normal(size=(T, B, I))
    seconds = {}
    for cell in CELLS.names():
        for dtype in dtypes:
            t0 = time.perf_counter()
            for loss, scored in _READOUTS:
                m = Model(I, O, H, cell=cell, loss=loss, scored=scored, dtype=dtype)
                m.init_params(rng, "glorot")
                target = _target(rng, loss, scored, T, B, O)
                m.loss_and_grad(u, target)
                m.loss_and_grad(u, target, lengths=np.array([T, T - 1]))   # the masked kernels
            if CELLS.get(cell).vanilla:
                for act in ("sigmoid", "relu", "linear"):
                    Model(I, O, H, activation=act, dtype=dtype).loss_and_grad(u, rng.integers(0, O, size=B))
                _omega_and_scoring(rng, u, dtype, I, O, H)
            seconds[f"{cell}/{dtype}"] = time.perf_counter() - t0
            if progress:
                progress(cell, dtype, seconds[f"{cell}/{dtype}"])
    _landscape(rng, u, dtypes, seconds, progress)
    return seconds


def _omega_and_scoring(rng, u, dtype, I, O, H) -> None:
    """Pascanu's Ω inside BPTT and over a finished pass (the pipeline's two paths), and the
    scoring forward pass that keeps only the last state (evaluation)."""
    from .kernels.activations import ACTIVATIONS
    from .kernels.omega import omega_finish, omega_vanilla
    T, B, _ = u.shape
    target = rng.integers(0, O, size=B)
    m = Model(I, O, H, dtype=dtype)
    m.init_params(rng, "glorot")
    m.omega_spec = (1e-20, True)
    G = np.zeros((H, H), dtype)
    for lengths in (None, np.array([T, T - 1])):
        m.loss_and_grad(u, target, lengths=lengths)
        h, dz, dh_out = m.bptt_buffers()
        C, stats = m.bptt_omega()
        omega_finish(dz, C, G, stats, m.small_mnk)
        omega_vanilla(dz, dh_out, h, dz, dz, False, ACTIVATIONS["tanh"], 1e-20, True, np.zeros_like(dz),
                      np.zeros((B, H), dtype), G, m.small_mnk, None if lengths is None else lengths.astype(np.int64))
    m.outputs_and_loss(u.astype(dtype), target)


def _landscape(rng, u, dtypes, seconds, progress) -> None:
    """rnnctl landscape's fused kernel (parallel, one specialisation per compute dtype: about 15 s
    each to compile, the longest of all)."""
    from .landscape.surface import grid_loss
    m = Model(u.shape[2], 2, 3, dtype="float64")
    m.init_params(rng, "glorot")
    target = rng.integers(0, 2, size=u.shape[1])
    directions = np.eye(1, m.layout.size)
    for dtype in dtypes:
        t0 = time.perf_counter()
        grid_loss(m, m.theta.copy(), directions, np.zeros((2, 1)), u, target, dtype, "fast")
        seconds[f"landscape/{dtype}"] = time.perf_counter() - t0
        if progress:
            progress("landscape", dtype, seconds[f"landscape/{dtype}"])
