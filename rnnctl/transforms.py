"""Gradient transforms as (init, update) pairs composed with ``chain`` (the shape of Optax).

A transform edits the flat gradient ``g`` in place and writes the figures it measures into ``stats``.
Measurement is a transform too (``record_norm``), so the pre- and post-transform norms are taken at
exactly the points where they claim to be: "norm_before" is what the model produced, "norm_after" is
what the optimizer receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .errors import ConfigError


@dataclass(frozen=True)
class GradientTransform:
    init: Callable[[np.ndarray], Any]                              # params -> state
    update: Callable[[np.ndarray, Any, np.ndarray, dict], Any]     # (g, state, params, stats) -> state


def global_norm(g: np.ndarray) -> float:
    """‖g‖₂ over the whole flat vector (every parameter as one vector)."""
    return float(np.sqrt(np.dot(g, g)))


def record_norm(key: str) -> GradientTransform:
    def update(g, state, params, stats):
        stats[key] = global_norm(g)
        return state
    return GradientTransform(lambda params: None, update)


def scale_by_global_norm(threshold: float) -> GradientTransform:
    """Pascanu et al. 2013, Algorithm 1: if ‖g‖ ≥ c then g ← c g / ‖g‖."""
    def update(g, state, params, stats):
        norm = global_norm(g)
        # At ‖g‖ = c the rescale is the identity, so "fired" means the gradient actually changed.
        fired = bool(norm > threshold)
        if fired:
            g *= threshold / norm
        stats["fired"] = fired
        return state
    return GradientTransform(lambda params: None, update)


def clip_by_value(threshold: float) -> GradientTransform:
    """Element-wise clipping (Mikolov 2012): g_i ← clamp(g_i, −c, c)."""
    def update(g, state, params, stats):
        fired = bool(np.max(np.abs(g)) > threshold) if g.size else False
        if fired:
            np.clip(g, -threshold, threshold, out=g)
        stats["fired"] = fired
        return state
    return GradientTransform(lambda params: None, update)


def identity() -> GradientTransform:
    def update(g, state, params, stats):
        stats["fired"] = False
        return state
    return GradientTransform(lambda params: None, update)


def chain(*transforms: GradientTransform) -> GradientTransform:
    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(g, state, params, stats):
        return tuple(t.update(g, s, params, stats) for t, s in zip(transforms, state))
    return GradientTransform(init, update)


# train.gradient.method -> factory taking the gradient config section
METHODS: dict[str, Callable[[Any], GradientTransform]] = {
    "none": lambda cfg: identity(),
    "norm": lambda cfg: scale_by_global_norm(cfg.threshold),
    "value": lambda cfg: clip_by_value(cfg.threshold),
}


def build_gradient_transform(cfg) -> GradientTransform:
    """The configured method between two measurements: norm before, method, norm after."""
    if cfg.method not in METHODS:
        raise ConfigError(f"unknown method '{cfg.method}' (available: {', '.join(METHODS)})",
                          key="train.gradient.method")
    return chain(record_norm("norm_before"), METHODS[cfg.method](cfg), record_norm("norm_after"))
