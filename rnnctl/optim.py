"""Optimizers over the flat parameter vector, as (init, update) pairs that edit ``params`` in place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .errors import ConfigError


@dataclass(frozen=True)
class Optimizer:
    init: Callable[[np.ndarray], Any]                            # params -> state
    update: Callable[[np.ndarray, np.ndarray, Any, int], Any]    # (params, g, state, step) -> state


def sgd(lr: float, momentum: float = 0.0) -> Optimizer:
    """Plain SGD, or classical momentum: v ← μ v − lr g; θ ← θ + v (the paper's MSGD)."""
    def init(params):
        return np.zeros_like(params) if momentum else None

    def update(params, g, state, step):
        if momentum:
            state *= momentum
            state -= lr * g
            params += state
        else:
            params -= lr * g
        return state
    return Optimizer(init, update)


OPTIMIZERS: dict[str, Callable[[Any], Optimizer]] = {
    "sgd": lambda cfg: sgd(cfg.lr, cfg.momentum),
}


def build_optimizer(cfg) -> Optimizer:
    if cfg.name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer '{cfg.name}' (available: {', '.join(OPTIMIZERS)})",
                          key="train.optimizer.name")
    return OPTIMIZERS[cfg.name](cfg)
