"""rnnctl.dynamics: the one-unit model of Pascanu et al. (2013), Figure 6, checked against a slow
obvious loop, central finite differences (float64) and the closed forms of its fixed points."""

import math

import numpy as np
import pytest

from rnnctl.dynamics import (critical_x, fixed_points, fixed_points_along_b, one_unit_error,
                             one_unit_grad, one_unit_states, saddle_node_b, separatrix_b, sigmoid,
                             train_one_unit, wall_b)


def reference_error(w, b, T=50, x0=0.5, target=0.7):
    """Scalar Python, the equations as written: x_t = w σ(x_{t-1}) + b, E = (σ(x_T) − target)²."""
    sig = lambda z: 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))  # noqa: E731
    x = x0
    for _ in range(T):
        x = w * sig(x) + b
    return (sig(x) - target) ** 2


POINTS = [(0.5, 0.2), (3.0, -1.0), (4.5, -3.25), (6.0, -3.3), (8.0, -2.0), (-2.0, 1.0), (11.6, 9.8)]


@pytest.mark.parametrize("w, b", POINTS)
def test_error_matches_the_reference_loop(w, b):
    assert one_unit_error(w, b) == pytest.approx(reference_error(w, b), rel=1e-12, abs=1e-15)


def test_error_is_vectorised_over_a_grid():
    w, b = np.linspace(3, 9, 7)[:, None], np.linspace(-6, 1, 5)[None, :]
    E = one_unit_error(w, b)
    assert E.shape == (7, 5)
    assert E[2, 3] == pytest.approx(reference_error(float(w[2, 0]), float(b[0, 3])), rel=1e-12)
    xs = one_unit_states(w, b, T=50)
    assert xs.shape == (51, 7, 5) and np.all(xs[0] == 0.5)


@pytest.mark.parametrize("w, b", POINTS[:-1])  # (not on the saturated plateau, where E' ≈ 1e-17)
def test_gradient_matches_central_differences(w, b):
    h = 1e-6
    g = one_unit_grad(w, b)
    dw = (reference_error(w + h, b) - reference_error(w - h, b)) / (2 * h)
    db = (reference_error(w, b + h) - reference_error(w, b - h)) / (2 * h)
    assert float(g.dw) == pytest.approx(dw, rel=1e-5, abs=1e-9)
    assert float(g.db) == pytest.approx(db, rel=1e-5, abs=1e-9)
    assert float(g.error) == pytest.approx(reference_error(w, b), rel=1e-12)


def test_jacobians_match_central_differences():
    w, b, h = 4.6, -2.4, 1e-6
    g = one_unit_grad(w, b, T=30)
    xT = lambda w, b, x0: one_unit_states(w, b, T=30, x0=x0)[-1]  # noqa: E731
    assert float(g.dxT_db) == pytest.approx((xT(w, b + h, .5) - xT(w, b - h, .5)) / (2 * h), rel=1e-5)
    assert float(g.dxT_dx0) == pytest.approx((xT(w, b, .5 + h) - xT(w, b, .5 - h)) / (2 * h), rel=1e-5)


# -- fixed points and the closed forms -------------------------------------------------------------

@pytest.mark.parametrize("w", [0.0, 1.0, 3.9, 4.0, 4.5, 6.0, 8.0, 15.0])
def test_fixed_points_solve_the_equation_and_their_count_follows_the_closed_form(w):
    low, high = saddle_node_b(w)
    for b in np.linspace(-10, 3, 53):
        fps = fixed_points(w, b)
        for x, stable in fps:
            assert x == pytest.approx(w / (1 + math.exp(-x)) + b, abs=1e-9)
            s = 1 / (1 + math.exp(-x))
            assert stable == (abs(w * s * (1 - s)) < 1)
        inside = w > 4 and low < b < high
        assert len(fps) == (3 if inside else 1)
        if inside:
            assert [s for _, s in fps] == [True, False, True]


def test_saddle_node_values_are_where_two_fixed_points_meet():
    w = 8.0
    xc = float(critical_x(w))
    s = 1 / (1 + math.exp(-xc))
    assert w * s * (1 - s) == pytest.approx(1.0, abs=1e-12)          # slope 1: σ'(x_c) = 1/w
    low, high = saddle_node_b(w)
    assert low == pytest.approx(xc - w * s) and high == pytest.approx(-low - w)  # symmetric about −w/2
    assert (low, high) == pytest.approx((-5.065680, -2.934320), abs=1e-6)
    # just inside: three fixed points, the upper two close together; just outside: one
    assert len(fixed_points(w, low + 1e-6)) == 3 and len(fixed_points(w, low - 1e-6)) == 1
    xs = [x for x, _ in fixed_points(w, low + 1e-6)]
    assert xs[2] - xs[1] < 0.01 and xs[1] == pytest.approx(xc, abs=0.01)
    assert np.all(np.isnan(saddle_node_b(3.0)))                        # w ≤ 4: no bifurcation


def test_fixed_points_along_b_is_ordered():
    xs, stable = fixed_points_along_b(6.0, np.linspace(-6, 0, 301))
    rows = ~np.isnan(xs[:, 1])
    assert np.all(xs[rows, 0] < xs[rows, 1]) and np.all(xs[rows, 1] < xs[rows, 2])
    assert np.all(stable[rows, 0] & ~stable[rows, 1] & stable[rows, 2])
    with pytest.raises(ValueError):
        fixed_points_along_b(-1.0, [0.0])


def _wall_on_grid(w, b, T):
    """Where σ(x_T) jumps most between neighbouring b (the wall as the surface shows it)."""
    jump = np.abs(np.diff(sigmoid(one_unit_states(w, b, T=T)[-1])))
    i = int(np.argmax(jump))
    return 0.5 * (b[i] + b[i + 1])


@pytest.mark.parametrize("w, T, tol", [(4.5, 50, 3e-3), (4.5, 400, 1e-4), (6.0, 50, 1e-4),
                                       (8.0, 50, 1e-4), (12.0, 50, 1e-4)])
def test_the_surface_wall_sits_at_the_separatrix(w, T, tol):
    # x_0 = 0.5 lies between ±x_c, so the wall is where the unstable fixed point passes through x_0:
    # b = 0.5 − w σ(0.5). At that b, x_t = x_0 for every t; a distance δ away, x_t leaves x_0 like
    # δ λ^t (λ = w σ'(x_0) > 1), so the jump is about λ^−T wide: below one grid step (1e-4) for
    # w ≥ 6 at T = 50 (λ^50 > 3e7), but at w = 4.5, λ = 1.058 and λ^50 is only 17: there the
    # finite-T jump is smeared and pulled 2e-3 towards b_low(4.5), 0.006 below; at T = 400 it is sharp.
    bw = float(wall_b(w))
    assert bw == pytest.approx(float(separatrix_b(w)))
    b = np.linspace(bw - 0.5, bw + 0.5, 10001)
    assert abs(_wall_on_grid(w, b, T) - bw) <= tol
    if T != 50:
        return
    E = one_unit_error(w, b)
    assert abs(b[np.argmax(np.abs(np.diff(E)))] - bw) <= tol


def test_near_the_cusp_the_wall_is_the_saddle_node_and_finite_T_shifts_it_like_1_over_T2():
    # w = 4.1: x_c = 0.31 < x_0, so x_0 is in the upper basin wherever the upper attractor exists
    # and the wall is b_low(w). Just below b_low the attractor is gone but the map is nearly
    # tangent there: x_t crawls through the bottleneck for about π/√(a δ) steps, so at finite T the
    # jump happens a distance δ(T) ∝ 1/T² below b_low.
    w = 4.1
    assert float(wall_b(w)) == pytest.approx(float(saddle_node_b(w)[0]))
    bw = float(wall_b(w))
    shifts = []
    for T in (200, 800):
        b = np.linspace(bw - 0.004, bw + 0.001, 5001)
        shifts.append(_wall_on_grid(w, b, T) - bw)
    assert all(s < 0 for s in shifts)                  # the finite-T wall lies below b_low
    assert abs(shifts[1]) < 2e-4                       # within 2e-4 at T = 800
    ratio = shifts[0] / shifts[1]                      # 1/T²: 16 for 4× the steps (measured ~10.6,
    assert 8 < ratio < 20                              # T = 200 not yet asymptotic)


# -- the trajectories ------------------------------------------------------------------------------

def test_the_shipped_trajectories_show_the_wall():
    # configs/figures/pascanu_fig6.yaml's start, rate and threshold
    kw = dict(lr=0.3, updates=60)
    plain = train_one_unit(4.5, -3.25, **kw)
    clipped = train_one_unit(4.5, -3.25, threshold=0.1, **kw)
    assert plain.points.shape == (61, 2) and plain.losses.shape == (61,) and plain.steps.shape == (60,)
    assert np.array_equal(plain.points[0], clipped.points[0])
    bound = 0.3 * 0.1
    assert np.all(clipped.steps <= bound * (1 + 1e-12))           # every rescaled step ≤ lr·c
    k = int(np.argmax(plain.steps))
    assert plain.steps[k] > 100 * bound                            # the wall throws the plain step
    w, b = plain.points[k]
    assert abs(b - float(wall_b(w))) < 0.05                       # ... from right at the wall
    assert plain.distance > 10 and clipped.distance < 1.5
    assert plain.losses[-1] > 0.08 and clipped.losses[-1] < 1e-3  # stuck on the far plateau vs solved
    assert plain.losses[k + 1] == pytest.approx(one_unit_error(*plain.points[k + 1]))


def test_rescaling_changes_nothing_below_the_threshold():
    a = train_one_unit(3.0, -1.0, lr=0.1, updates=5)
    b = train_one_unit(3.0, -1.0, lr=0.1, updates=5, threshold=1e6)
    assert np.array_equal(a.points, b.points)
