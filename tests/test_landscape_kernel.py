"""The landscape's surface kernel (rnnctl/landscape/kernel.py) against a slow NumPy reference of
the vanilla RNN's loss (exact activations, float64), its fast tanh against math.tanh, the float32
fast path against the exact Model.loss, the generic path for the other cells, and exploded points."""

import math

import numpy as np
import pytest

from rnnctl.landscape.kernel import fast_tanh
from rnnctl.landscape.surface import fast_path_applies, grid_loss
from rnnctl.model import Model

ACT = {"tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "relu": lambda z: np.maximum(z, 0),
       "linear": lambda z: z}


def reference_loss(model, theta, u, target):
    """Σ over scored steps of E_t per sequence, averaged: the vanilla RNN written out in NumPy."""
    p = model.layout.views(np.asarray(theta, float))
    act = ACT[model.activation]
    T, S, _ = u.shape
    h = np.full((S, model.hidden), model.cell_def.initial_h(model.form, model.activation))
    ys = []
    for t in range(T):
        h = act(h @ p["W_rec"].T + u[t] @ p["W_in"].T + p["b"])
        ys.append(h @ p["W_out"].T + p["b_out"])
    ys = ys[-1:] if model.scored == "last" else ys
    tg = [target] if model.scored == "last" else list(target)
    total = 0.0
    for y, t in zip(ys, tg):
        if model.loss_name == "softmax_ce":
            m = y.max(1, keepdims=True)
            total += (np.log(np.exp(y - m).sum(1)) + m[:, 0] - y[np.arange(S), t]).sum()
        elif model.loss_name == "mse":
            total += ((y - t) ** 2).sum()
        else:
            total += (np.maximum(y, 0) + np.log1p(np.exp(-np.abs(y))) - t * y).sum()
    return total / S


def make(rng, *, loss="softmax_ce", arch="many_to_one", form="standard", activation="tanh", cell="rnn",
         layers=1, H=5, I=3, O=2, T=7, S=9, scale=0.6):
    model = Model(I, O, H, cell=cell, form=form, activation=activation, loss=loss, arch=arch, layers=layers)
    model.theta[:] = rng.standard_normal(model.theta.size) * scale
    u = rng.standard_normal((T, S, I))
    last = model.scored == "last"
    if loss == "softmax_ce":
        target = rng.integers(0, O, S if last else (T, S))
    else:
        target = rng.random((S, O) if last else (T, S, O))
    return model, u, target


CASES = [dict(), dict(form="pascanu", activation="sigmoid"), dict(arch="many_to_many", loss="mse"),
         dict(loss="sigmoid_ce", activation="relu"), dict(arch="many_to_many", activation="linear", scale=0.3),
         dict(arch="many_to_many", form="pascanu")]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c.values())) or "default")
def test_kernel_equals_the_numpy_reference_in_float64(case):
    rng = np.random.default_rng(1)
    model, u, target = make(rng, **case)
    center = model.theta.copy()
    dirs = rng.standard_normal((2, center.size)) * 0.3
    coords = rng.standard_normal((5, 2))
    loss, used = grid_loss(model, center, dirs, coords, u, target, dtype="float64", method="fast")
    assert used == "fast"
    ref = [reference_loss(model, center + c @ dirs, u, target) for c in coords]
    np.testing.assert_allclose(loss, ref, rtol=1e-11, atol=1e-12)


def test_fast_tanh_error_bound():
    x = np.concatenate([np.linspace(-12, 12, 400001), np.geomspace(1e-8, 30, 2000),
                        -np.geomspace(1e-8, 30, 2000), [0.0, 1e30, -1e30, np.inf, -np.inf]]).astype(np.float32)
    approx = np.array([fast_tanh(v) for v in x[::7]] + [fast_tanh(v) for v in x[-5:]], dtype=np.float64)
    exact = np.array([math.tanh(float(v)) for v in x[::7]] + [math.tanh(float(v)) for v in x[-5:]])
    assert np.max(np.abs(approx - exact)) < 8e-7        # docs/landscape.md: 7.1e-7 measured on a dense grid
    assert approx[-5] == 0.0 and abs(approx[-2] - 1) < 8e-7 and abs(approx[-1] + 1) < 8e-7   # ±inf
    assert math.isnan(fast_tanh(np.float32("nan")))


def test_float32_fast_path_agrees_with_the_exact_model_loss():
    rng = np.random.default_rng(2)
    model, u, target = make(rng, H=12, T=25, S=40, scale=0.4)
    center = model.theta.copy()
    dirs = rng.standard_normal((2, center.size)) * 0.2
    coords = rng.uniform(-1, 1, (8, 2))
    fast, _ = grid_loss(model, center, dirs, coords, u, target, dtype="float32")
    exact = []
    for c in coords:
        model.theta[:] = center + c @ dirs
        exact.append(model.loss(u, target))
    np.testing.assert_allclose(fast, exact, rtol=2e-5)   # float32 + the tanh approximation


@pytest.mark.parametrize("cell,layers", [("lstm", 1), ("gru", 1), ("rnn", 2)])
def test_generic_path_for_every_cell(cell, layers):
    rng = np.random.default_rng(3)
    model, u, target = make(rng, cell=cell, layers=layers, scale=0.3)
    assert not fast_path_applies(model)
    center = model.theta.copy()
    dirs = rng.standard_normal((1, center.size)) * 0.1
    coords = np.array([[0.0], [1.0]])
    loss, used = grid_loss(model, center, dirs, coords, u, target, dtype="float64")
    assert used == "generic"
    assert loss[0] == model.loss(u, target)
    model.theta[:] = center + dirs[0]
    assert loss[1] == pytest.approx(model.loss(u, target), rel=1e-12)


def test_exploded_points_are_kept_as_inf_or_nan():
    rng = np.random.default_rng(4)
    model, u, target = make(rng, activation="linear", loss="mse", arch="many_to_many", T=60)
    center = model.theta.copy()
    d = np.zeros((1, center.size))
    d[0, model.layout.slices()["W_rec"]] = 1e3          # |W_rec| ~ 1e3 over 60 steps: overflow
    for method in ("fast", "generic"):
        loss, _ = grid_loss(model, center, d, np.array([[0.0], [1.0]]), u, target, dtype="float32", method=method)
        assert np.isfinite(loss[0]) and not np.isfinite(loss[1]), method
