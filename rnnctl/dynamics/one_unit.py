"""The one-unit recurrent network of Pascanu, Mikolov & Bengio (2013), Figure 6.

    x_t = w σ(x_{t-1}) + b,   σ the logistic sigmoid,   x_0 = 0.5,   E(w, b) = (σ(x_T) − 0.7)²

with T = 50 in the paper. Every function here is pure and vectorised: ``w`` and ``b`` are arrays (or
scalars) broadcast against each other, and the result has their broadcast shape, so a whole grid of
(w, b) is one call. T is tiny, so a Python loop over time with NumPy arrays over the grid is fast
(a 201 × 201 grid with its gradient takes milliseconds); Numba would not pay.

The gradient is exact, by forward-mode differentiation through the recursion: with
``s = σ(x_{t-1})`` and ``a_t = w σ'(x_{t-1})`` (the one-step Jacobian ∂x_t/∂x_{t-1}),

    ∂x_t/∂w = s + a_t ∂x_{t-1}/∂w,    ∂x_t/∂b = 1 + a_t ∂x_{t-1}/∂b,    ∂x_t/∂x_0 = a_t ∂x_{t-1}/∂x_0

and ∂E/∂θ = 2 (σ(x_T) − target) σ'(x_T) ∂x_T/∂θ. The product ∂x_T/∂x_0 = Π a_t is the paper's
eq. (5) for one unit: where it grows with T, so does the gradient (the "exploding" case).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["sigmoid", "one_unit_states", "one_unit_error", "one_unit_grad", "OneUnitGrad",
           "Trajectory", "train_one_unit"]


def sigmoid(x):
    """σ(x) = 1 / (1 + e^{−x}), written with tanh so that no value of x overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def _broadcast(w, b):
    w, b = np.broadcast_arrays(np.asarray(w, np.float64), np.asarray(b, np.float64))
    return w, b


def one_unit_states(w, b, T: int = 50, x0: float = 0.5) -> np.ndarray:
    """The states x_0 .. x_T: shape (T + 1, *broadcast(w, b).shape)."""
    w, b = _broadcast(w, b)
    xs = np.empty((T + 1, *w.shape))
    xs[0] = x0
    for t in range(1, T + 1):
        xs[t] = w * sigmoid(xs[t - 1]) + b
    return xs


def one_unit_error(w, b, T: int = 50, x0: float = 0.5, target: float = 0.7) -> np.ndarray:
    """E(w, b) = (σ(x_T) − target)², shaped as broadcast(w, b)."""
    w, b = _broadcast(w, b)
    x = np.full(w.shape, float(x0))
    for _ in range(T):
        x = w * sigmoid(x) + b
    return (sigmoid(x) - target) ** 2


@dataclass(frozen=True)
class OneUnitGrad:
    """The error and its exact derivatives at every (w, b) of a broadcast grid (all one shape)."""

    error: np.ndarray      # E
    dw: np.ndarray         # ∂E/∂w
    db: np.ndarray         # ∂E/∂b
    x_T: np.ndarray        # the final state
    dxT_dx0: np.ndarray    # ∂x_T/∂x_0 = Π_t w σ'(x_{t-1}): the time-T Jacobian
    dxT_db: np.ndarray     # ∂x_T/∂b


def one_unit_grad(w, b, T: int = 50, x0: float = 0.5, target: float = 0.7) -> OneUnitGrad:
    """E, ∂E/∂w, ∂E/∂b and the Jacobians ∂x_T/∂x_0, ∂x_T/∂b by forward mode (module docstring)."""
    w, b = _broadcast(w, b)
    x = np.full(w.shape, float(x0))
    xw, xb, x0j = np.zeros(w.shape), np.zeros(w.shape), np.ones(w.shape)
    for _ in range(T):
        s = sigmoid(x)
        a = w * s * (1.0 - s)                 # ∂x_t/∂x_{t-1}
        xw, xb, x0j = s + a * xw, 1.0 + a * xb, a * x0j
        x = w * s + b
    s = sigmoid(x)
    g = 2.0 * (s - target) * s * (1.0 - s)    # ∂E/∂x_T
    return OneUnitGrad((s - target) ** 2, g * xw, g * xb, x, x0j, xb)


@dataclass(frozen=True)
class Trajectory:
    """Gradient descent on (w, b): ``points[k]`` are the parameters before update k (the last one
    after the final update), ``losses[k]`` the error there, ``grad_norms[k]`` ‖∇E‖ before any
    rescaling, ``steps[k]`` the length of update k (‖θ_{k+1} − θ_k‖)."""

    points: np.ndarray       # (updates + 1, 2): (w, b)
    losses: np.ndarray       # (updates + 1,)
    grad_norms: np.ndarray   # (updates + 1,)
    steps: np.ndarray        # (updates,)
    threshold: float | None  # None: plain gradient descent

    @property
    def largest_step(self) -> float:
        return float(self.steps.max()) if len(self.steps) else 0.0

    @property
    def distance(self) -> float:
        """How far the last point is from the start."""
        return float(np.hypot(*(self.points[-1] - self.points[0])))


def train_one_unit(w: float, b: float, *, lr: float, updates: int, threshold: float | None = None,
                   T: int = 50, x0: float = 0.5, target: float = 0.7) -> Trajectory:
    """Plain gradient descent θ ← θ − lr·ĝ on θ = (w, b), with Pascanu et al.'s Algorithm 1 when
    ``threshold`` (c) is given: ĝ = (c/‖g‖)·g when ‖g‖ > c (the strict ``>`` of their code; at
    ‖g‖ = c the two rules agree), so no step is longer than lr·c. Without it ĝ = g."""
    theta = np.array([w, b], dtype=np.float64)
    points, losses, norms = [theta.copy()], [], []
    for _ in range(updates + 1):
        r = one_unit_grad(theta[0], theta[1], T, x0, target)
        g = np.array([float(r.dw), float(r.db)])
        n = float(np.hypot(*g))
        losses.append(float(r.error))
        norms.append(n)
        if len(points) > updates:              # the last point is evaluated, not stepped from
            break
        if threshold is not None and n > threshold:
            g *= threshold / n
        theta = theta - lr * g
        points.append(theta.copy())
    P = np.array(points)
    return Trajectory(P, np.array(losses), np.array(norms),
                      np.hypot(*np.diff(P, axis=0).T), threshold)
