"""Fixed points and bifurcations of the one-unit map x ↦ w σ(x) + b (Pascanu et al. 2013, §2.2
and Figure 6), in closed form where one exists.

A fixed point solves f(x) = w σ(x) + b − x = 0; it is stable when the map's slope there,
w σ'(x*), has absolute value below 1. Since σ' ≤ 1/4, for 0 ≤ w ≤ 4 the map's slope never reaches 1,
f is decreasing and there is exactly one fixed point, stable. For w > 4, σ'(x) = 1/w has the two
solutions σ(x) = (1 ± √(1 − 4/w))/2, i.e. x = ±x_c(w) with x_c = logit((1 + √(1 − 4/w))/2);
between them the slope exceeds 1. Where a fixed point sits at ±x_c, two fixed points meet and
vanish (a saddle-node bifurcation): that happens at

    b = x − w σ(x)   for x = ±x_c(w),

so b_low(w) = x_c − w σ(x_c) < b_high(w) = −x_c − w σ(−x_c). For b strictly between them there are
three fixed points (two stable ones around an unstable one: the map is bistable); outside, one.
(For w < 0 the map is decreasing and can oscillate instead: a flip, not a saddle-node; the
closed forms below are for w > 4.)

The wall of Figure 6 is where x_T, started at x_0, changes attractor. Because the map is increasing
(w > 0), x_t moves monotonically towards the fixed point on x_0's side of the unstable one. So for
T → ∞, along a line of fixed w > 4, x_∞ jumps at

- b = x_0 − w σ(x_0), where the unstable fixed point passes through x_0 (x_0 sits on the boundary
  between the basins), when −x_c < x_0 < x_c;
- b_low(w), where the upper attractor x_0 belongs to disappears, when x_0 ≥ x_c;
- b_high(w), where the lower one disappears, when x_0 ≤ −x_c.

``wall_b`` returns this b. For x_0 = 0.5 the first case holds for w above about 4.26 (where
x_c(w) = 0.5) and the wall is the straight line b = 0.5 − 0.6225 w; between w = 4 and 4.26 it is
the saddle-node curve b_low(w).
"""

from __future__ import annotations

import numpy as np

from .one_unit import sigmoid

__all__ = ["critical_x", "saddle_node_b", "separatrix_b", "wall_b", "fixed_points",
           "fixed_points_along_b"]


def critical_x(w):
    """x_c(w) > 0 with w σ'(±x_c) = 1 (NaN for w ≤ 4, where the slope never reaches 1)."""
    w = np.asarray(w, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = (1.0 + np.sqrt(1.0 - 4.0 / w)) / 2.0
        return np.where(w > 4.0, np.log(s / (1.0 - s)), np.nan)


def saddle_node_b(w):
    """(b_low, b_high): the saddle-node bifurcation values of b at this w (NaN for w ≤ 4);
    three fixed points for b_low < b < b_high."""
    xc = critical_x(w)
    return xc - w * sigmoid(xc), -xc - w * sigmoid(-xc)


def separatrix_b(w, x0: float = 0.5):
    """The b at which the fixed point equals x_0 (x_0 = w σ(x_0) + b): for w > 4 and |x_0| < x_c(w)
    that fixed point is the unstable one, the boundary between the two basins."""
    return x0 - np.asarray(w, np.float64) * sigmoid(x0)


def wall_b(w, x0: float = 0.5):
    """Where x_∞ (started at x_0) jumps between attractors along a line of fixed w, for T → ∞
    (module docstring); NaN for w ≤ 4, where it does not jump."""
    w = np.asarray(w, np.float64)
    xc = critical_x(w)
    low, high = saddle_node_b(w)
    inside = np.abs(x0) < xc
    return np.where(inside, separatrix_b(w, x0), np.where(x0 >= xc, low, high))


def _bisect(w, b, lo, hi, iterations: int = 80):
    """A root of f(x) = w σ(x) + b − x in [lo, hi] where f(lo) and f(hi) differ in sign (f
    decreasing or increasing on it); arrays throughout, 80 halvings reach float64 resolution."""
    f_lo = w * sigmoid(lo) + b - lo
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        f_mid = w * sigmoid(mid) + b - mid
        same = np.sign(f_mid) == np.sign(f_lo)
        lo, f_lo, hi = np.where(same, mid, lo), np.where(same, f_mid, f_lo), np.where(same, hi, mid)
    return 0.5 * (lo + hi)


def fixed_points_along_b(w: float, b) -> tuple[np.ndarray, np.ndarray]:
    """For one w ≥ 0 and an array of b: (xs, stable), each (len(b), 3). Column 0 is the lowest
    fixed point, 2 the highest, 1 the middle (unstable) one; where there is only one fixed point
    it is in column 0 and columns 1, 2 are NaN. ``stable`` is |w σ'(x*)| < 1 (False for NaN)."""
    b = np.atleast_1d(np.asarray(b, np.float64))
    if w < 0:
        raise ValueError(f"fixed_points_along_b covers w ≥ 0 (got w={w}); for w < 0 the map "
                         "is decreasing and its long-run behaviour can be a 2-cycle")
    lo, hi = b + min(0.0, w) - 1.0, b + max(0.0, w) + 1.0   # σ ∈ (0, 1) bounds every fixed point
    xs = np.full((len(b), 3), np.nan)
    if w <= 4.0:
        xs[:, 0] = _bisect(w, b, lo, hi)
    else:
        xc = float(critical_x(w))
        b_low, b_high = (float(v) for v in saddle_node_b(w))
        left = np.full_like(b, -xc)
        right = np.full_like(b, xc)
        three = (b > b_low) & (b < b_high)
        xs[:, 0] = np.where(b > b_high, np.nan, _bisect(w, b, lo, left))    # below −x_c
        xs[:, 2] = np.where(b < b_low, np.nan, _bisect(w, b, right, hi))    # above +x_c
        xs[:, 1] = np.where(three, _bisect(w, b, left, right), np.nan)       # the unstable one
        only_high = np.isnan(xs[:, 0])
        xs[only_high, 0], xs[only_high, 2] = xs[only_high, 2], np.nan       # column 0 = lowest
    s = sigmoid(xs)
    with np.errstate(invalid="ignore"):
        stable = np.abs(w * s * (1.0 - s)) < 1.0
    return xs, stable & ~np.isnan(xs)


def fixed_points(w: float, b: float) -> list[tuple[float, bool]]:
    """The fixed points of x ↦ w σ(x) + b for one (w ≥ 0, b), lowest first, each with its
    stability: one or three of them (two exactly at a bifurcation value of b)."""
    xs, stable = fixed_points_along_b(w, [b])
    return [(float(x), bool(s)) for x, s in zip(xs[0], stable[0]) if not np.isnan(x)]
