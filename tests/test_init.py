"""Initialization schemes (rnnctl.init), through Model.init_params and init_rnn."""

from __future__ import annotations

import numpy as np
import pytest

from rnnctl.errors import ConfigError
from rnnctl.init import INIT_SCHEMES, init_rnn
from rnnctl.model import Model

I, O, H = 7, 6, 30
MATRICES = ("W_in", "W_rec", "W_out")


def init_model(scheme, seed=0, H=H, I=I, O=O, dtype="float64", spectral_radius=None):
    model = Model(I, O, H, dtype=dtype)
    model.theta[:] = 1.0  # init must overwrite everything, biases included
    model.init_params(np.random.default_rng(seed), scheme, spectral_radius=spectral_radius)
    return model


def spectral_radius(W):
    return np.max(np.abs(np.linalg.eigvals(np.asarray(W, dtype=np.float64))))


def excess_kurtosis(x):
    x = np.asarray(x, dtype=np.float64).ravel()
    z = (x - x.mean()) / x.std()
    return np.mean(z ** 4) - 3.0


def assert_normal(W, std, what):
    """Zero-mean normal with the given std: std within 1.5% (> 5 standard errors for the 10^5 draws
    used here), mean within 5 standard errors, and a kurtosis that tells a normal (0) from a
    uniform (-1.2) of the same spread."""
    W = np.asarray(W, dtype=np.float64).ravel()
    n = W.size
    assert n >= 50_000, "too few draws for these tolerances"
    assert W.std() == pytest.approx(std, rel=0.015), what
    assert abs(W.mean()) < 5 * std / np.sqrt(n), what
    assert abs(excess_kurtosis(W)) < 10 * np.sqrt(24 / n) + 0.05, what


def assert_uniform(W, a, what):
    """Uniform on [-a, a]: inside the bounds and reaching them (the largest of n draws is within
    ~a/n of a), std a/sqrt(3), kurtosis -1.2."""
    W = np.asarray(W, dtype=np.float64).ravel()
    assert W.size >= 50_000, "too few draws for these tolerances"
    assert np.all(np.abs(W) <= a), what
    assert np.abs(W).max() > (1 - 1e-3) * a, what
    assert W.std() == pytest.approx(a / np.sqrt(3), rel=0.01), what
    assert excess_kurtosis(W) == pytest.approx(-1.2, abs=0.15), what


@pytest.mark.parametrize("scheme", INIT_SCHEMES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_shapes_dtype_and_zero_biases(scheme, dtype):
    model = init_model(scheme, dtype=dtype)
    shapes = {"W_in": (H, I), "W_rec": (H, H), "b": (H,), "W_out": (O, H), "b_out": (O,)}
    for name, shape in shapes.items():
        v = model.params[name]
        assert v.shape == shape and v.dtype == np.dtype(dtype), name
        assert np.all(np.isfinite(v)), name
        assert np.shares_memory(v, model.theta), name
    assert np.all(model.params["b"] == 0.0)
    assert np.all(model.params["b_out"] == 0.0)
    for name in MATRICES:
        assert np.count_nonzero(model.params[name]) > 0, name


@pytest.mark.parametrize("scheme", INIT_SCHEMES)
def test_same_seed_same_params_and_different_seed_differs(scheme):
    a, b, c = init_model(scheme, seed=3), init_model(scheme, seed=3), init_model(scheme, seed=4)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert not np.array_equal(a.params["W_in"], c.params["W_in"])
    if scheme != "identity":
        assert not np.array_equal(a.params["W_rec"], c.params["W_rec"])


@pytest.mark.parametrize("scheme", INIT_SCHEMES)
def test_float32_is_the_float64_draw_cast(scheme):
    a, b = init_model(scheme, seed=5), init_model(scheme, seed=5, dtype="float32")
    np.testing.assert_array_equal(b.theta, a.theta.astype(np.float32))


@pytest.mark.parametrize("scheme", INIT_SCHEMES)
@pytest.mark.parametrize("rho", [0.5, 1.3])
def test_spectral_radius_override_rescales(scheme, rho):
    base = init_model(scheme, seed=6)
    scaled = init_model(scheme, seed=6, spectral_radius=rho)
    W0, W = base.params["W_rec"], scaled.params["W_rec"]
    assert spectral_radius(W) == pytest.approx(rho, rel=1e-9)
    # a rescaling of the same draw, not a new draw; the other matrices are untouched
    np.testing.assert_allclose(W, W0 * (rho / spectral_radius(W0)), rtol=1e-12, atol=0)
    for name in ("W_in", "W_out", "b", "b_out"):
        np.testing.assert_array_equal(scaled.params[name], base.params[name])


@pytest.mark.parametrize("Hs", [5, 15, 16, 64])
def test_smart_tanh_sparsity_and_radius(Hs):
    model = init_model("smart_tanh", seed=7, H=Hs)
    W = model.params["W_rec"]
    per_row = np.count_nonzero(W, axis=1)
    assert np.all(per_row == min(15, Hs)), per_row
    if Hs > 15:  # the pattern really varies between units (not the same 15 columns every row)
        assert len({tuple(np.flatnonzero(r)) for r in W}) > 1
    assert spectral_radius(W) == pytest.approx(0.95, rel=1e-9)


def test_smart_tanh_input_and_output_std():
    model = init_model("smart_tanh", seed=8, H=400, I=300, O=300)
    assert_normal(model.params["W_in"], 0.01, "W_in")
    assert_normal(model.params["W_out"], 0.01, "W_out")
    nz = model.params["W_rec"][model.params["W_rec"] != 0]
    assert nz.size == 400 * 15
    assert abs(excess_kurtosis(nz)) < 0.3  # rescaled normal draws


@pytest.mark.parametrize("scheme,std", [("sigmoid", 0.01), ("basic_tanh", 0.1)])
def test_gaussian_scheme_std(scheme, std):
    model = init_model(scheme, seed=9, H=400, I=300, O=300)
    for name in MATRICES:
        assert_normal(model.params[name], std, f"{scheme} {name}")


def test_identity_scheme():
    model = init_model("identity", seed=10, H=400, I=300, O=300)
    np.testing.assert_array_equal(model.params["W_rec"], np.eye(400))
    assert_normal(model.params["W_in"], 0.001, "W_in")
    assert_normal(model.params["W_out"], 0.001, "W_out")


@pytest.mark.parametrize("Hs", [1, 2, 30, 200])
def test_orthogonal_scheme(Hs):
    model = init_model("orthogonal", seed=11, H=Hs)
    W = model.params["W_rec"]
    np.testing.assert_allclose(W.T @ W, np.eye(Hs), atol=1e-12)
    np.testing.assert_allclose(W @ W.T, np.eye(Hs), atol=1e-12)
    assert spectral_radius(W) == pytest.approx(1.0, rel=1e-9)


def test_orthogonal_draws_are_not_degenerate():
    """Different seeds give different rotations, and the mean of many draws is near 0 (uniform over
    the group; a sign convention tied to QR would bias the diagonal towards +1)."""
    Ws = [init_model("orthogonal", seed=s, H=4).params["W_rec"].copy() for s in range(400)]
    assert np.abs(np.mean(Ws, axis=0)).max() < 0.15


@pytest.mark.parametrize("scheme", ["glorot", "orthogonal"])
def test_glorot_bounds(scheme):
    model = init_model(scheme, seed=12, H=400, I=300, O=300)
    names = MATRICES if scheme == "glorot" else ("W_in", "W_out")
    for name in names:
        W = model.params[name]
        fan_out, fan_in = W.shape
        assert_uniform(W, np.sqrt(6.0 / (fan_in + fan_out)), f"{scheme} {name}")


def test_unknown_scheme_raises():
    with pytest.raises(ConfigError):
        init_model("he_normal")
    W_in, W_rec, W_out = np.zeros((H, I)), np.zeros((H, H)), np.zeros((O, H))
    with pytest.raises(ConfigError):
        init_rnn(np.random.default_rng(0), "xavier", W_in, W_rec, W_out)


def test_init_rnn_fills_in_place():
    W_in, W_rec, W_out = np.zeros((H, I)), np.zeros((H, H)), np.zeros((O, H))
    ids = [id(W) for W in (W_in, W_rec, W_out)]
    init_rnn(np.random.default_rng(0), "basic_tanh", W_in, W_rec, W_out)
    assert [id(W) for W in (W_in, W_rec, W_out)] == ids
    assert all(np.count_nonzero(W) == W.size for W in (W_in, W_rec, W_out))
