"""Optimizers and learning-rate schedules over the flat parameter vector.

An optimizer is an (init, update) pair that edits ``params`` in place; the learning rate of the
current update comes from the schedule, so the two compose freely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .errors import ConfigError


@dataclass(frozen=True)
class Optimizer:
    init: Callable[[np.ndarray], Any]                                   # params -> state
    update: Callable[[np.ndarray, np.ndarray, Any, float], Any]         # (params, g, state, lr) -> state


def sgd(momentum: float = 0.0, nesterov: bool = False) -> Optimizer:
    """SGD; with momentum (PyTorch's form) v ← μ v + g and θ ← θ − lr v, or with Nesterov
    θ ← θ − lr (g + μ v). Momentum 0 is the paper's plain SGD."""
    def init(params):
        return np.zeros_like(params) if momentum else None

    def update(params, g, v, lr):
        if not momentum:
            params -= lr * g
            return v
        v *= momentum
        v += g
        params -= lr * (g + momentum * v) if nesterov else lr * v
        return v
    return Optimizer(init, update)


def adam(beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    """Adam (Kingma & Ba 2015) with bias correction; the step count is its own, so skipped
    updates do not advance it."""
    def init(params):
        return {"t": 0, "m": np.zeros_like(params), "v": np.zeros_like(params)}

    def update(params, g, s, lr):
        s["t"] += 1
        m, v, t = s["m"], s["v"], s["t"]
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        params -= lr * m_hat / (np.sqrt(v_hat) + eps)
        return s
    return Optimizer(init, update)


OPTIMIZERS: dict[str, Callable[[Any], Optimizer]] = {
    "sgd": lambda cfg: sgd(cfg.momentum, cfg.nesterov),
    "adam": lambda cfg: adam(cfg.beta1, cfg.beta2, cfg.eps),
}


def build_optimizer(cfg) -> Optimizer:
    if cfg.name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer '{cfg.name}' (available: {', '.join(OPTIMIZERS)})",
                          key="train.optimizer.name")
    return OPTIMIZERS[cfg.name](cfg)


# Schedules: (schedule config, base lr, total updates) -> lr(t) for t = 1, 2, ...
SCHEDULES: dict[str, Callable[[Any, float, int], Callable[[int], float]]] = {
    "constant": lambda c, lr, n: lambda t: lr,
    "step": lambda c, lr, n: lambda t: lr * c.gamma ** ((t - 1) // c.every),
    "inverse_time": lambda c, lr, n: lambda t: lr * c.t0 / (c.t0 + t - 1),
    "cosine": lambda c, lr, n: lambda t: c.min_lr + (lr - c.min_lr) * 0.5 * (
        1 + math.cos(math.pi * min(t - 1, n) / max(n, 1))),
}


def build_schedule(cfg, lr: float, steps: int) -> Callable[[int], float]:
    if cfg.name not in SCHEDULES:
        raise ConfigError(f"unknown schedule '{cfg.name}' (available: {', '.join(SCHEDULES)})",
                          key="train.schedule.name")
    return SCHEDULES[cfg.name](cfg, lr, steps)
