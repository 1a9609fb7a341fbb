"""Gradient transforms as (init, update) pairs composed with ``chain`` (the shape of Optax).

A transform edits the flat gradient ``g`` in place and writes the figures it measures into
``stats``. Measurement is a transform too (``record_norm``), so the pre- and post-transform norms
are taken exactly where they claim to be: "norm_before" is what the method receives, "norm_after"
is what the optimizer receives. Recorded norms are always Euclidean, whatever p a method uses.

State is plain data: a dict of ndarrays, ints, floats (and None), or a list of such for a chain,
so that a checkpoint is arrays plus JSON and never a pickle (rnnctl.training.state). A transform
mutates its state in place and returns it; transforms themselves hold no state between calls.

Transforms that work per parameter (per_tensor_norm, agc) get the layout of the flat vector as
``layout``: a list of ``Param(name, slice, shape)``.

The gradient methods a config chooses (train.gradient.method) are ``Method`` objects registered
in ``rnnctl.registry.TRANSFORMS``; the registry's metadata says which take a threshold c
(``threshold``) and which allow threshold=auto (``auto``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np

from .errors import ConfigError
from .registry import TRANSFORMS

State = Any   # dict of ndarrays / ints / floats / None, or a list of such (chain)


@dataclass(frozen=True)
class GradientTransform:
    init: Callable[[np.ndarray], State]                              # params -> state
    update: Callable[[np.ndarray, State, np.ndarray, dict], State]   # (g, state, params, stats) -> state


class Param(NamedTuple):
    name: str
    slice: slice
    shape: tuple


def global_norm(g: np.ndarray) -> float:
    """‖g‖₂ over the whole flat vector (every parameter as one vector)."""
    return float(np.sqrt(np.dot(g, g)))


def max_abs(g: np.ndarray) -> float:
    """‖g‖_∞ = max_i |g_i|, as max(max g, −min g): no temporary the size of g."""
    return float(max(g.max(), -g.min())) if g.size else 0.0


def norm_p(g: np.ndarray, p) -> float:
    if p == 2:
        return global_norm(g)
    if p == 1:
        return float(np.sum(np.abs(g)))
    return max_abs(g)  # "inf"


def _stateless(update) -> GradientTransform:
    return GradientTransform(lambda params: {}, update)


# -- measurements ---------------------------------------------------------------------------------

def record_norm(key: str) -> GradientTransform:
    """stats[key] = ‖g‖₂ at this point of the chain."""
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


# -- the methods ----------------------------------------------------------------------------------

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
        fired = max_abs(g) > threshold
        if fired:
            np.clip(g, -threshold, threshold, out=g)
        stats["fired"] = fired
        return state
    return _stateless(update)


def scale_per_tensor(threshold: float, layout: list[Param], p=2) -> GradientTransform:
    """Norm scaling of each parameter separately (Keras ``clipnorm``): for every parameter W,
    if ‖g_W‖ > c then g_W ← c g_W / ‖g_W‖."""
    def update(g, state, params, stats):
        fired = False
        for prm in layout:
            part = g[prm.slice]
            fired |= _scale_to(part, norm_p(part, p), threshold)
        stats["fired"] = fired
        return state
    return _stateless(update)


def autoclip(percentile: float, history: int = 0, p=2) -> GradientTransform:
    """AutoClip (Seetharaman et al. 2020): append ‖g‖ to the history of observed norms, then scale
    the gradient to the ``percentile``-th percentile of that history (numpy's 'linear' rule).
    ``history`` > 0 keeps only the latest that many norms.

    State: ``sorted`` (the norms kept, ascending, in its first ``n`` entries), ``ring`` (with a
    bounded history: the same norms in arrival order, a ring buffer whose oldest entry is at
    ``head``), ``n``, ``head``. An update moves O(n) floats in place, as an insertion into a sorted
    list would; an unbounded history grows its buffer by doubling, so allocations are amortized.
    """
    def init(params):
        return {"sorted": np.zeros(history or 64), "ring": np.zeros(history), "n": 0, "head": 0}

    def update(g, state, params, stats):
        norm = norm_p(g, p)
        _history_add(state, norm, history)
        threshold = _percentile(state["sorted"], state["n"], percentile)
        stats["threshold"] = threshold
        stats["fired"] = _scale_to(g, norm, threshold)
        return state
    return GradientTransform(init, update)


def _history_add(state: dict, x: float, maxlen: int) -> None:
    s, ring, n, head = state["sorted"], state["ring"], state["n"], state["head"]
    if maxlen and n == maxlen:  # full: forget the oldest, in both orders
        old = ring[head]
        i = int(np.searchsorted(s[:n], old, side="left"))
        s[i:n - 1] = s[i + 1:n]      # 1-D overlapping copies run in the safe direction, no temporary
        ring[head] = x
        state["head"] = (head + 1) % maxlen
        n -= 1
    elif maxlen:
        ring[n] = x
    elif n == len(s):  # unbounded history: grow by doubling
        s = state["sorted"] = np.concatenate([s, np.zeros_like(s)])
    i = int(np.searchsorted(s[:n], x, side="right"))   # after equal values, as bisect.insort
    s[i + 1:n + 1] = s[i:n]
    s[i] = x
    state["n"] = n + 1


def _percentile(s: np.ndarray, n: int, q: float) -> float:
    # numpy's default 'linear' method over s[:n], sorted
    pos = q / 100.0 * (n - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, n - 1)
    a, b = float(s[lo]), float(s[hi])
    return a + (pos - lo) * (b - a)


def _unit_norms(x: np.ndarray) -> np.ndarray:
    # A unit is a row (one output unit) of a matrix; a vector counts as one unit.
    return np.sqrt(np.sum(x * x, axis=1)) if x.ndim == 2 else np.array([np.sqrt(np.dot(x, x))])


def adaptive_clip(clipping: float, layout: list[Param], eps: float = 1e-3) -> GradientTransform:
    """Adaptive gradient clipping (Brock et al. 2021): for every unit (row) i of every parameter,
    if ‖g_i‖ / max(‖θ_i‖, eps) > c then g_i ← c max(‖θ_i‖, eps) g_i / ‖g_i‖."""
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
    """Leave the gradient alone (train.gradient.method=none)."""
    def update(g, state, params, stats):
        stats["fired"] = False
        return state
    return _stateless(update)


# -- combinators ----------------------------------------------------------------------------------

def chain(*transforms: GradientTransform) -> GradientTransform:
    """Apply ``transforms`` in order; the state is the list of their states."""
    def init(params):
        return [t.init(params) for t in transforms]

    def update(g, state, params, stats):
        for i, t in enumerate(transforms):   # in place: the list is reused from update to update
            state[i] = t.update(g, state[i], params, stats)
        return state
    return GradientTransform(init, update)


#: threshold auto: warm-up update t ≥ 2 is scaled to at most WARMUP_BOUND × ‖g‖ of update 1 ...
WARMUP_BOUND = 1.0
#: ... and a statistic above WARMUP_JUMP × that of update 1 counts as exploded and is not kept
#: (ten times the reference: the top of the range of c that Pascanu et al. found workable).
WARMUP_JUMP = 10.0


def auto_threshold(make: Callable[[float], GradientTransform], statistic: Callable[[np.ndarray], float],
                   updates: int, factor: float) -> GradientTransform:
    """threshold=auto, a rule that updates which already exploded cannot poison (issue 21).

    Pascanu et al. (2013, section 3.2) set c from the average norm over a stretch of training, and
    rnnctl once took the mean of the first ``updates`` unclipped updates. A run whose first updates
    explode then set c from its own explosion (text with tanh units: c = 376; sunspots: 8.9e78).
    The rule now, over a warm-up of ``updates`` updates:

      * the reference r is the statistic of update 1: the gradient at the initial parameters,
        which no update can have blown up; that update runs as it is;
      * every later warm-up update goes through the method with c = WARMUP_BOUND × r, so the
        parameters cannot run away while c is measured. The bound is fixed: a bound that
        followed the norms (their running median, say) ratchets up when each step makes the next
        norm larger, which is what an explosion is;
      * a statistic is kept unless it exceeds WARMUP_JUMP × r: a tenfold jump is an explosion and
        does not count;
      * after the warm-up, c = ``factor`` × the median of the statistics kept (the lower of the two
        middle ones for an even count, never their mean), frozen from there.

    A median over a bounded warm-up is AutoClip's idea (Seetharaman et al. 2020: c a percentile of
    the norms seen) made into the paper's single c. A zero statistic is not kept (it cannot serve
    as the reference), and the warm-up goes on until one is. The trace's ``threshold`` is the c in
    force at each update (NaN at update 1).

    State: ``count`` (warm-up updates done), ``kept`` and ``norms`` (the statistics kept, in
    ``norms[:kept]``; ``norms[0]`` is r), ``threshold`` (None while measuring), ``inner`` (the state
    of the method once c is set). The method is rebuilt from the threshold when needed, so the
    state alone (e.g. from a checkpoint) determines what happens next.
    """
    built: dict = {}   # threshold -> the method: a cache of a pure function of the state

    def inner(c: float) -> GradientTransform:
        if c not in built:
            built.clear()
            built[c] = make(c)
        return built[c]

    def init(params):
        return {"count": 0, "kept": 0, "norms": np.zeros(updates), "threshold": None, "inner": {}}

    def update(g, state, params, stats):
        if state["threshold"] is None:
            if "norms" not in state:            # a checkpoint of the old rule: its mean stands in
                state["norms"] = np.full(updates, state.pop("total") / max(state["count"], 1))
                state["kept"] = state["count"]
            kept, norms = state["kept"], state["norms"]
            x = statistic(g)
            if kept:
                method = inner(WARMUP_BOUND * float(norms[0]))
                method.update(g, method.init(params), params, stats)
            else:
                stats["fired"] = False
            if kept < updates and x > 0 and (not kept or x <= WARMUP_JUMP * norms[0]):
                norms[kept] = x
                state["kept"] = kept + 1
            stats["threshold"] = WARMUP_BOUND * float(norms[0]) if kept else float("nan")
            state["count"] += 1
            if state["count"] >= updates and state["kept"]:
                state["threshold"] = factor * _low_median(norms[:state["kept"]])
                state["inner"] = inner(state["threshold"]).init(params)
            return state
        state["inner"] = inner(state["threshold"]).update(g, state["inner"], params, stats)
        stats["threshold"] = state["threshold"]
        return state
    return GradientTransform(init, update)


def _low_median(x: np.ndarray) -> float:
    # the lower of the two middle values: with two values kept it is the smaller, never their mean
    return float(np.partition(x, (len(x) - 1) // 2)[(len(x) - 1) // 2])


# -- gradient methods for the registry -------------------------------------------------------------

@dataclass(frozen=True)
class Method:
    """A gradient method as ``train.gradient.method`` names it (an entry of registry.TRANSFORMS).

    ``make(cfg, threshold, layout)`` builds the transform from the GradientConfig, the threshold c
    (None for methods whose registry entry says threshold=False) and the parameter layout.
    ``statistic(cfg, layout)``, if given, returns the function g -> float that threshold=auto
    summarises over the first updates to set c (the entry must then say auto=True).
    ``columns`` are the trace columns the method's figures go to (besides ``fired``).
    """

    make: Callable[[Any, float | None, list[Param]], GradientTransform]
    statistic: Callable[[Any, list[Param]], Callable[[np.ndarray], float]] | None = None
    columns: tuple[str, ...] = ()


def _p(cfg):
    return float("inf") if cfg.norm_type == "inf" else cfg.norm_type


method_none = Method(lambda cfg, c, layout: identity())
method_norm = Method(lambda cfg, c, layout: scale_by_global_norm(c, _p(cfg)),
                     lambda cfg, layout: lambda g: norm_p(g, _p(cfg)))
method_value = Method(lambda cfg, c, layout: clip_by_value(c),
                      lambda cfg, layout: lambda g: norm_p(g, "inf"))
method_per_tensor_norm = Method(lambda cfg, c, layout: scale_per_tensor(c, layout, _p(cfg)),
                                lambda cfg, layout: lambda g: max(norm_p(g[q.slice], _p(cfg)) for q in layout))
method_autoclip = Method(lambda cfg, c, layout: autoclip(cfg.percentile, cfg.history, _p(cfg)),
                         columns=("threshold",))
method_agc = Method(lambda cfg, c, layout: adaptive_clip(c, layout, cfg.agc_eps))


def method_columns(cfg) -> tuple[str, ...]:
    """The trace columns the configured method records (threshold=auto records the threshold)."""
    own = TRANSFORMS.get(cfg.method).columns
    return own + (("threshold",) if cfg.threshold == "auto" and "threshold" not in own else ())


def build_gradient_transform(cfg, layout: list[Param] | None = None) -> GradientTransform:
    """The configured method alone (rnnctl.pipeline measures before and after it). ``cfg`` is a
    GradientConfig; the method is looked up in registry.TRANSFORMS."""
    method = TRANSFORMS.get(cfg.method)          # ConfigError naming train.gradient.method if unknown
    meta = TRANSFORMS.meta(cfg.method)
    layout = layout or []
    if cfg.threshold == "auto":
        if not meta.get("auto") or method.statistic is None:
            raise ConfigError(f"threshold 'auto' applies to {', '.join(TRANSFORMS.where(auto=True))}, "
                              f"not {cfg.method}", key="train.gradient.threshold")
        return auto_threshold(lambda c: method.make(cfg, c, layout), method.statistic(cfg, layout),
                              cfg.auto_updates, cfg.auto_factor)
    return method.make(cfg, cfg.threshold if meta.get("threshold") else None, layout)
