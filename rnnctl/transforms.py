"""Gradient transforms as (init, update) pairs composed with ``chain`` (the shape of Optax).

A transform edits the flat gradient ``g`` in place and writes the figures it measures into
``stats``. Measurement is a transform too (``record_norm``), so the pre- and post-transform norms
are taken exactly where they claim to be: "norm_before" is what BPTT produced, "norm_after" is
what the optimizer receives. Recorded norms are always Euclidean, whatever p a method uses.

Transforms that work per parameter (per_tensor_norm, agc) get the layout of the flat vector as
``params``: a list of ``Param(name, slice, shape)``.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np

from .errors import ConfigError


@dataclass(frozen=True)
class GradientTransform:
    init: Callable[[np.ndarray], Any]                              # params -> state
    update: Callable[[np.ndarray, Any, np.ndarray, dict], Any]     # (g, state, params, stats) -> state


class Param(NamedTuple):
    name: str
    slice: slice
    shape: tuple


def global_norm(g: np.ndarray) -> float:
    """‖g‖₂ over the whole flat vector (every parameter as one vector)."""
    return float(np.sqrt(np.dot(g, g)))


def norm_p(g: np.ndarray, p) -> float:
    if p == 2:
        return global_norm(g)
    if p == 1:
        return float(np.sum(np.abs(g)))
    return float(np.max(np.abs(g))) if g.size else 0.0  # "inf"


def _stateless(update) -> GradientTransform:
    return GradientTransform(lambda params: None, update)


def record_norm(key: str) -> GradientTransform:
    def update(g, state, params, stats):
        stats[key] = global_norm(g)
        return state
    return _stateless(update)


def record_group_norms(groups: dict[str, Any], key: str = "groups") -> GradientTransform:
    """Euclidean norm of each named group (a parameter, or one gate block of it)."""
    def update(g, state, params, stats):
        stats[key] = {name: global_norm(g[idx]) for name, idx in groups.items()}
        return state
    return _stateless(update)


def _scale_to(g, norm, threshold) -> bool:
    # At ‖g‖ = c the rescale is the identity, so "fired" means the gradient actually changed.
    if norm > threshold:
        g *= threshold / norm
        return True
    return False


def scale_by_global_norm(threshold: float, p=2) -> GradientTransform:
    """Pascanu et al. 2013, Algorithm 1: if ‖g‖ ≥ c then g ← c g / ‖g‖ (over all parameters)."""
    def update(g, state, params, stats):
        stats["fired"] = _scale_to(g, norm_p(g, p), threshold)
        return state
    return _stateless(update)


def clip_by_value(threshold: float) -> GradientTransform:
    """Element-wise clipping (Mikolov 2012): g_i ← clamp(g_i, −c, c)."""
    def update(g, state, params, stats):
        fired = bool(np.max(np.abs(g)) > threshold) if g.size else False
        if fired:
            np.clip(g, -threshold, threshold, out=g)
        stats["fired"] = fired
        return state
    return _stateless(update)


def scale_per_tensor(threshold: float, layout: list[Param], p=2) -> GradientTransform:
    """Norm scaling of each parameter separately (Keras ``clipnorm``)."""
    def update(g, state, params, stats):
        fired = False
        for prm in layout:
            part = g[prm.slice]
            fired |= _scale_to(part, norm_p(part, p), threshold)
        stats["fired"] = fired
        return state
    return _stateless(update)


class _Sorted:
    """A bounded history of values kept sorted, for O(1) percentiles and O(n) updates."""

    def __init__(self, maxlen: int):
        self.order = deque()          # arrival order, to drop the oldest
        self.sorted: list[float] = []
        self.maxlen = maxlen

    def add(self, x: float) -> None:
        self.order.append(x)
        bisect.insort(self.sorted, x)
        if self.maxlen and len(self.order) > self.maxlen:
            old = self.order.popleft()
            del self.sorted[bisect.bisect_left(self.sorted, old)]

    def percentile(self, q: float) -> float:
        # numpy's default 'linear' method
        pos = q / 100.0 * (len(self.sorted) - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, len(self.sorted) - 1)
        return self.sorted[lo] + (pos - lo) * (self.sorted[hi] - self.sorted[lo])


def autoclip(percentile: float, history: int = 0, p=2) -> GradientTransform:
    """AutoClip (Seetharaman et al. 2020): append ‖g‖ to the history of observed norms, then scale
    the gradient to the ``percentile``-th percentile of that history."""
    def update(g, state, params, stats):
        norm = norm_p(g, p)
        state.add(norm)
        threshold = state.percentile(percentile)
        stats["threshold"] = threshold
        stats["fired"] = _scale_to(g, norm, threshold)
        return state
    return GradientTransform(lambda params: _Sorted(history), update)


def _unit_norms(x: np.ndarray) -> np.ndarray:
    # A unit is a row (one output unit) of a matrix; a vector counts as one unit.
    return np.sqrt(np.sum(x * x, axis=1)) if x.ndim == 2 else np.array([np.sqrt(np.dot(x, x))])


def adaptive_clip(clipping: float, layout: list[Param], eps: float = 1e-3) -> GradientTransform:
    """Adaptive gradient clipping (Brock et al. 2021): cap each unit's ‖g‖/max(‖θ‖, eps) at c."""
    def update(g, state, params, stats):
        fired = False
        for prm in layout:
            gp = g[prm.slice].reshape(prm.shape)
            tp = params[prm.slice].reshape(prm.shape)
            gn, wn = _unit_norms(gp), _unit_norms(tp)
            cap = clipping * np.maximum(wn, eps)
            over = gn > cap
            if over.any():
                fired = True
                factor = np.where(over, cap / np.maximum(gn, 1e-30), 1.0)
                if gp.ndim == 2:
                    gp *= factor[:, None]
                else:
                    gp *= factor[0]
        stats["fired"] = fired
        return state
    return _stateless(update)


def identity() -> GradientTransform:
    def update(g, state, params, stats):
        stats["fired"] = False
        return state
    return _stateless(update)


def chain(*transforms: GradientTransform) -> GradientTransform:
    def init(params):
        return tuple(t.init(params) for t in transforms)

    def update(g, state, params, stats):
        return tuple(t.update(g, s, params, stats) for t, s in zip(transforms, state))
    return GradientTransform(init, update)


class _AutoState:
    def __init__(self):
        self.count, self.total, self.threshold, self.inner, self.inner_state = 0, 0.0, None, None, None


def auto_threshold(make: Callable[[float], GradientTransform], statistic: Callable[[np.ndarray], float],
                   updates: int, factor: float) -> GradientTransform:
    """The paper's heuristic: for the first ``updates`` updates leave the gradient alone and average
    ``statistic(g)``; then run ``make(factor * average)`` from there on."""
    def update(g, state, params, stats):
        if state.threshold is None:
            state.count += 1
            state.total += statistic(g)
            stats["fired"] = False
            if state.count == updates:
                state.threshold = factor * state.total / updates
                state.inner = make(state.threshold)
                state.inner_state = state.inner.init(params)
            stats["threshold"] = state.threshold if state.threshold is not None else float("nan")
            return state
        state.inner_state = state.inner.update(g, state.inner_state, params, stats)
        stats["threshold"] = state.threshold
        return state
    return GradientTransform(lambda params: _AutoState(), update)


def _p(cfg):
    return float("inf") if cfg.norm_type == "inf" else cfg.norm_type


# train.gradient.method -> (factory(cfg, threshold, layout), statistic averaged by threshold=auto)
METHODS: dict[str, tuple[Callable, Callable | None]] = {
    "none": (lambda cfg, c, layout: identity(), None),
    "norm": (lambda cfg, c, layout: scale_by_global_norm(c, _p(cfg)),
             lambda cfg, layout: lambda g: norm_p(g, _p(cfg))),
    "value": (lambda cfg, c, layout: clip_by_value(c),
              lambda cfg, layout: lambda g: norm_p(g, "inf")),
    "per_tensor_norm": (lambda cfg, c, layout: scale_per_tensor(c, layout, _p(cfg)),
                        lambda cfg, layout: lambda g: max(norm_p(g[q.slice], _p(cfg)) for q in layout)),
    "autoclip": (lambda cfg, c, layout: autoclip(cfg.percentile, cfg.history, _p(cfg)), None),
    "agc": (lambda cfg, c, layout: adaptive_clip(c, layout, cfg.agc_eps), None),
}


def build_gradient_transform(cfg, layout: list[Param] | None = None) -> GradientTransform:
    """The configured method alone (the training loop measures before and after it)."""
    if cfg.method not in METHODS:
        raise ConfigError(f"unknown method '{cfg.method}' (available: {', '.join(METHODS)})",
                          key="train.gradient.method")
    make, statistic = METHODS[cfg.method]
    layout = layout or []
    if cfg.threshold == "auto":
        if statistic is None:
            raise ConfigError(f"threshold 'auto' applies to norm, value and per_tensor_norm, not "
                              f"{cfg.method}", key="train.gradient.threshold")
        return auto_threshold(lambda c: make(cfg, c, layout), statistic(cfg, layout),
                              cfg.auto_updates, cfg.auto_factor)
    return make(cfg, cfg.threshold, layout)
