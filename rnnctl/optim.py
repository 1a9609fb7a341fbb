"""Optimizers and learning-rate schedules over the flat parameter vector.

An optimizer is an (init, update) pair that edits ``params`` in place; the learning rate of the
current update comes from the schedule, so the two compose freely. Its state is plain data (a
dict of ndarrays and numbers) so that a checkpoint holds it as arrays plus JSON. Scratch space
for the update is kept by the optimizer object, not in its state: it carries nothing from one
update to the next, and reusing it keeps the hot path free of full-size temporaries.

Optimizers and schedules are chosen by name from ``rnnctl.registry.OPTIMIZERS`` and
``SCHEDULES``, whose built-in entries are the ``*_from_config`` and ``*_schedule`` functions below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .registry import OPTIMIZERS, SCHEDULES


@dataclass(frozen=True)
class Optimizer:
    init: Callable[[np.ndarray], dict]                                  # params -> state
    update: Callable[[np.ndarray, np.ndarray, dict, float], dict]       # (params, g, state, lr) -> state


class _Scratch:
    """One reusable buffer the size of the parameters, made at the first update."""

    def __init__(self):
        self.buf: np.ndarray | None = None

    def __call__(self, like: np.ndarray) -> np.ndarray:
        if self.buf is None or self.buf.shape != like.shape or self.buf.dtype != like.dtype:
            self.buf = np.empty_like(like)
        return self.buf


def sgd(momentum: float = 0.0, nesterov: bool = False) -> Optimizer:
    """SGD; with momentum (PyTorch's form) v ← μ v + g and θ ← θ − lr v, or with Nesterov
    θ ← θ − lr (g + μ v). Momentum 0 is the paper's plain SGD. State: {"v"} with momentum, {}
    without."""
    scratch = _Scratch()

    def init(params):
        return {"v": np.zeros_like(params)} if momentum else {}

    def update(params, g, s, lr):
        step = scratch(params)
        if not momentum:
            np.multiply(g, lr, out=step)            # lr g
        else:
            v = s["v"]
            v *= momentum
            v += g
            if nesterov:
                np.multiply(v, momentum, out=step)  # lr (g + μ v), in this order
                step += g
                step *= lr
            else:
                np.multiply(v, lr, out=step)        # lr v
        params -= step
        return s
    return Optimizer(init, update)


def adam(beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """Adam (Kingma & Ba 2015) with bias correction: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
    θ ← θ − lr m̂ / (√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ). State {"t", "m", "v"}; the step
    count t is its own, so skipped updates do not advance it."""
    scratch_a, scratch_b = _Scratch(), _Scratch()

    def init(params):
        return {"t": 0, "m": np.zeros_like(params), "v": np.zeros_like(params)}

    def update(params, g, s, lr):
        s["t"] += 1
        m, v, t = s["m"], s["v"], s["t"]
        a, b = scratch_a(params), scratch_b(params)
        m *= beta1
        np.multiply(g, 1 - beta1, out=a)
        m += a
        v *= beta2
        np.multiply(g, 1 - beta2, out=a)
        a *= g
        v += a
        np.divide(m, 1 - beta1 ** t, out=a)          # m̂
        np.divide(v, 1 - beta2 ** t, out=b)          # v̂
        np.sqrt(b, out=b)
        b += eps
        np.multiply(a, lr, out=a)
        a /= b
        params -= a
        return s
    return Optimizer(init, update)


# -- registry entries: (OptimizerConfig) -> Optimizer ----------------------------------------------

def sgd_from_config(cfg) -> Optimizer:
    return sgd(cfg.momentum, cfg.nesterov)


def adam_from_config(cfg) -> Optimizer:
    return adam(cfg.beta1, cfg.beta2, cfg.eps)


def build_optimizer(cfg) -> Optimizer:
    """The optimizer ``cfg.name`` names (ConfigError naming train.optimizer.name if unknown)."""
    return OPTIMIZERS.get(cfg.name)(cfg)


# -- registry entries: (ScheduleConfig, base lr, total updates) -> lr(t) for t = 1, 2, ... ----------

def constant_schedule(c, lr: float, n: int) -> Callable[[int], float]:
    """lr throughout."""
    return lambda t: lr


def step_schedule(c, lr: float, n: int) -> Callable[[int], float]:
    """lr γ^⌊(t−1)/every⌋: times gamma every ``every`` updates."""
    return lambda t: lr * c.gamma ** ((t - 1) // c.every)


def inverse_time_schedule(c, lr: float, n: int) -> Callable[[int], float]:
    """lr t0 / (t0 + t − 1): halved after t0 updates."""
    return lambda t: lr * c.t0 / (c.t0 + t - 1)


def cosine_schedule(c, lr: float, n: int) -> Callable[[int], float]:
    """From lr at t = 1 to min_lr at t = n + 1 along half a cosine (Loshchilov & Hutter 2017,
    without restarts). It depends on n = train.steps: a run cannot be extended under it."""
    return lambda t: c.min_lr + (lr - c.min_lr) * 0.5 * (1 + math.cos(math.pi * min(t - 1, n) / max(n, 1)))


cosine_schedule.uses_steps = True


def build_schedule(cfg, lr: float, steps: int) -> Callable[[int], float]:
    """lr(t) for the schedule ``cfg.name`` names (ConfigError naming train.schedule.name if unknown)."""
    return SCHEDULES.get(cfg.name)(cfg, lr, steps)


def schedule_depends_on_steps(name: str) -> bool:
    """Whether a schedule's rates depend on train.steps, so that extending a run would change the
    rates of updates already done. A schedule says so with a ``uses_steps = True`` attribute."""
    return bool(getattr(SCHEDULES.get(name), "uses_steps", False))

