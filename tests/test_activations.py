"""The kernels' own σ, tanh and e^x (no libm call, so LLVM vectorizes them) against NumPy, per dtype,
and the row helpers the vanilla kernels use."""

import numpy as np
import pytest
from numba import njit

from rnnctl.kernels.activations import (
    ACTIVATIONS, RELU, SIGMOID, TANH, act_add, dact_row, exp_neg, sigmoid, tanh)
from rnnctl.kernels.reduce import sum_row_norms, sumsq


@njit(error_model="numpy")
def _apply_tanh(x, y):
    for j in range(x.shape[0]):
        y[j] = tanh(x[j])


@njit(error_model="numpy")
def _apply_sigmoid(x, y):
    for j in range(x.shape[0]):
        y[j] = sigmoid(x[j])


@njit(error_model="numpy")
def _apply_exp_neg(x, y):
    for j in range(x.shape[0]):
        y[j] = exp_neg(x[j])


@njit
def _scalar_tanh(z):
    return tanh(z)


def _grid(dtype):
    """Dense over the range where the functions change, geometric near 0 (the series branch)."""
    tiny = np.geomspace(1e-30 if dtype == np.float64 else 1e-20, 2.0, 20001)
    return np.concatenate([np.linspace(-40, 40, 400001), tiny, -tiny]).astype(dtype)


def _ulps(got, exact, dtype):
    """|got - exact| in units of the last place of exact rounded to dtype."""
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.longdouble)
    return (np.abs(got.astype(np.longdouble) - exact) / spacing).astype(np.float64)


# worst case measured: float64 tanh 2.5 ulp (4 before issue 22), σ 3, e^x 1; float32 tanh 1.5, σ 2.5, e^x 1.2
@pytest.mark.parametrize("dtype,max_ulp", [(np.float64, 6), (np.float32, 4)])
@pytest.mark.parametrize("name", ["tanh", "sigmoid", "exp_neg"])
def test_accuracy_in_ulps(name, dtype, max_ulp):
    x = _grid(dtype)
    if name == "exp_neg":
        x = -np.abs(x)
        # below the clamp the result is the clamp's value, not e^x (documented: -708 / -87)
        x = x[x > (-700 if dtype == np.float64 else -85)]
    xl = x.astype(np.longdouble)  # 80-bit on x86: the reference is then exact to float64's last bit
    exact = {"tanh": np.tanh(xl), "sigmoid": 1 / (1 + np.exp(-xl)), "exp_neg": np.exp(xl)}[name]
    y = np.empty_like(x)
    {"tanh": _apply_tanh, "sigmoid": _apply_sigmoid, "exp_neg": _apply_exp_neg}[name](x, y)
    assert y.dtype == dtype
    ulps = _ulps(y, exact, dtype)
    assert ulps.max() <= max_ulp, (name, x[np.argmax(ulps)], ulps.max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_special_values(dtype):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-38, 200.0, -200.0], dtype)
    t, s = np.empty_like(x), np.empty_like(x)
    _apply_tanh(x, t)
    _apply_sigmoid(x, s)
    np.testing.assert_array_equal(t[:2], [1.0, -1.0])
    assert np.isnan(t[2]) and np.isnan(s[2])
    assert t[3] == 0.0 and np.signbit(t[4]) and t[5] == dtype(1e-38)
    np.testing.assert_array_equal(t[6:], [1.0, -1.0])
    assert s[0] == 1.0 and 0.0 < s[1] < 1e-37 and s[3] == 0.5 and s[6] == 1.0 and 0.0 < s[7] < 1e-37


def test_float32_work_stays_float32():
    """A float literal in float32 arithmetic widens it to float64 in Numba (half the SIMD lanes): the
    float32 path must type as float32 end to end."""
    _scalar_tanh(np.float32(0.3))
    _scalar_tanh(0.3)
    sigs = {str(s.args[0]): str(s.return_type) for s in _scalar_tanh.nopython_signatures}
    assert sigs == {"float32": "float32", "float64": "float64"}


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-15), (np.float32, 3e-7)])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_blocks_match_numpy(name, dtype, rtol):
    rng = np.random.default_rng(0)
    a, p = (rng.standard_normal(37).astype(dtype) * 3 for _ in range(2))
    z = a.astype(np.float64) + p
    want = {"tanh": np.tanh(z), "sigmoid": 1 / (1 + np.exp(-z)), "relu": np.maximum(z, 0), "linear": z}[name]
    out = a.copy()
    act_add(out, p, ACTIVATIONS[name])
    np.testing.assert_allclose(out, want, rtol=rtol * 8, atol=rtol * 8)
    h = out.copy()
    g = rng.standard_normal(37).astype(dtype)
    h64 = h.astype(np.float64)
    dwant = g * {"tanh": 1 - h64 ** 2, "sigmoid": h64 * (1 - h64), "relu": (h64 > 0) * 1.0,
                 "linear": np.ones_like(h64)}[name]
    d = np.empty_like(g)
    dact_row(d, g, h, ACTIVATIONS[name])
    np.testing.assert_allclose(d, dwant, rtol=rtol * 8, atol=rtol * 8)


def test_act_add_codes():
    assert (TANH, SIGMOID, RELU) == (ACTIVATIONS["tanh"], ACTIVATIONS["sigmoid"], ACTIVATIONS["relu"])
    z = np.array([-1.0, 0.5])
    act_add(z, np.zeros(2), RELU)
    np.testing.assert_array_equal(z, [0.0, 0.5])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sumsq(dtype):
    v = np.random.default_rng(1).standard_normal(1001).astype(dtype)
    assert sumsq(v) == pytest.approx(float(np.sum(v.astype(np.float64) ** 2)), rel=1e-13)
    assert sumsq(v[:0]) == 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sum_row_norms(dtype):
    X = np.random.default_rng(2).standard_normal((7, 33)).astype(dtype)
    want = float(np.sum(np.linalg.norm(X.astype(np.float64), axis=1)))
    assert sum_row_norms(X) == pytest.approx(want, rel=1e-13)
    assert sum_row_norms(X[:0]) == 0.0
