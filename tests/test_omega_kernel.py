"""kernels/omega.py: Pascanu's Ω in one pass from the products BPTT keeps (issue 22).

- The products rnn_backward keeps are dz_t W_rec, step by step (0 at padded steps).
- The kernel, fed by a real BPTT pass that kept them, equals the NumPy statement of Ω
  (diagnostics.omega_terms + omega) and the slow per-sequence oracle (tests/oracles/omega.py), for
  both forms, every activation, squared or not, padded or not.
- Its gradient matches central differences of Ω in W_rec with the error signal held constant (E).
- The pipeline's Ω stage gives the same figures whether BPTT kept the products or not.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from rnnctl.diagnostics import omega, omega_terms
from rnnctl.kernels.activations import ACTIVATIONS
from rnnctl.kernels.omega import omega_vanilla
from rnnctl.model import Model
from rnnctl.pipeline import pascanu_regularizer

from oracles.omega import omega_reference

T, B, I, H, O = 7, 4, 3, 5, 3
LENGTHS = np.array([7, 3, 1, 5], dtype=np.int64)
CASES = [(f, a, arch) for f in ("standard", "pascanu") for a in ("tanh", "sigmoid", "relu", "linear")
         for arch in ("many_to_one", "many_to_many")]
IDS = ["-".join(c) for c in CASES]


def _setup(form, act, arch, lengths, seed=0):
    loss = "softmax_ce" if arch == "many_to_one" else "mse"
    m = Model(I, O, H, form=form, activation=act, loss=loss, arch=arch)
    m.init_params(np.random.default_rng(seed), "glorot")
    m.theta += 0.1 * np.random.default_rng(seed + 1).normal(size=m.theta.shape)
    rng = np.random.default_rng(seed + 2)
    u = rng.normal(size=(T, B, I))
    target = rng.integers(0, O, size=B) if arch == "many_to_one" else rng.normal(size=(T, B, O))
    stage = pascanu_regularizer(m, SimpleNamespace(omega=1.0, decay="none", t0=1.0, bound=1e-20, squared=True),
                                m.layout.slices()["W_rec"])
    m.loss_and_grad_flat(u, target, np.zeros_like(m.theta), lengths=lengths)
    return m, u, target, loss, stage


def _kernel(m, squared=True, bound=1e-20, E=None, W=None):
    h, dz, dh_out = m.bptt_buffers()
    V = m.bptt_products() if W is None else (dz.reshape(-1, H) @ W).reshape(dz.shape)
    G = np.zeros((H, H))
    value, frac = omega_vanilla(dz, dh_out, h, V, V if E is None else E, m.form == "pascanu",
                                ACTIVATIONS[m.activation], bound, squared, np.zeros_like(dz), np.zeros((B, H)), G,
                                m.small_mnk, m.last_lengths)
    return value, G, frac


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "padded"])
def test_products_are_each_steps_dz_times_w_rec(lengths):
    m, *_ = _setup("standard", "tanh", "many_to_many", lengths)
    _, dz, _ = m.bptt_buffers()
    V = m.bptt_products()
    assert V is not None
    np.testing.assert_allclose(V, dz @ m.params["W_rec"], rtol=1e-13, atol=1e-16)
    if lengths is not None:
        pad = np.arange(1, T + 1)[:, None] > lengths[None, :]
        assert pad.any() and not V[pad].any()


def test_products_are_not_kept_unless_asked():
    m = Model(I, O, H)
    m.loss_and_grad_flat(np.ones((T, B, I)), np.zeros(B, np.int64), np.zeros_like(m.theta))
    assert m.bptt_products() is None


@pytest.mark.parametrize("squared", [True, False], ids=["squared", "plain"])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "padded"])
@pytest.mark.parametrize("form,act,arch", CASES, ids=IDS)
def test_kernel_is_the_numpy_omega_and_the_oracle(form, act, arch, lengths, squared):
    m, u, target, loss, _ = _setup(form, act, arch, lengths)
    value, grad, frac = _kernel(m, squared)
    h, dz, dh_out = m.bptt_buffers()
    W = m.params["W_rec"]
    a, err, mult = omega_terms(W, h, dz, dh_out, form=form, activation=act, lengths=lengths)
    want, want_grad, want_frac = omega(W, a, err, mult, squared=squared, lengths=lengths)
    assert value > 0
    assert value == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-10, atol=1e-12 * np.abs(want_grad).max())
    assert frac == pytest.approx(want_frac, rel=1e-15)
    lens = LENGTHS if lengths is not None else np.full(B, T)
    ref, ref_grad, ref_frac = omega_reference(m.params, u, target, lens, form=form, activation=act, loss=loss,
                                              scored=m.scored, squared=squared)
    assert value == pytest.approx(ref, rel=1e-11)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-11 * np.abs(ref_grad).max())


@pytest.mark.parametrize("squared", [True, False], ids=["squared", "plain"])
@pytest.mark.parametrize("form,act,arch,lengths", [("standard", "tanh", "many_to_one", None),
                                                   ("standard", "sigmoid", "many_to_many", LENGTHS),
                                                   ("pascanu", "tanh", "many_to_many", None),
                                                   ("pascanu", "relu", "many_to_one", LENGTHS)],
                         ids=lambda x: x if isinstance(x, str) else ("padded" if x is not None else "full"))
def test_kernel_gradient_matches_central_differences(form, act, arch, lengths, squared):
    """Ω(W) with the error signal's products E and the states held constant, as the paper holds them."""
    m, *_ = _setup(form, act, arch, lengths)
    E = m.bptt_products().copy()
    W = m.params["W_rec"].copy()
    value, grad, _ = _kernel(m, squared, E=E)
    eps, fd = 1e-6, np.zeros_like(W)
    for i in range(H):
        for j in range(H):
            Wp, Wm = W.copy(), W.copy()
            Wp[i, j] += eps
            Wm[i, j] -= eps
            fd[i, j] = (_kernel(m, squared, E=E, W=Wp)[0] - _kernel(m, squared, E=E, W=Wm)[0]) / (2 * eps)
    assert value > 0
    assert np.linalg.norm(grad - fd) <= 1e-7 * np.linalg.norm(fd)


def test_kernel_masks_pairs_under_the_bound():
    m, *_ = _setup("standard", "tanh", "many_to_one", None)
    _, dz, _ = m.bptt_buffers()
    value, grad, frac = _kernel(m, bound=1e300)
    assert (value, frac) == (0.0, 0.0) and not grad.any()
    h, dz, dh_out = m.bptt_buffers()
    W = m.params["W_rec"]
    en2 = np.einsum("tbh,tbh->tb", *[omega_terms(W, h, dz, dh_out)[1]] * 2)
    bound = float(np.median(en2))
    assert _kernel(m, bound=bound)[2] == pytest.approx((en2 >= bound).mean(), rel=1e-15)


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "padded"])
def test_pipeline_stage_gives_the_same_figures_with_or_without_kept_products(lengths):
    m, u, target, _, stage = _setup("standard", "tanh", "many_to_one", lengths)
    out = []
    for keep in (True, False):
        m.keep_products = keep
        m.loss_and_grad_flat(u, target, np.zeros_like(m.theta), lengths=lengths)
        assert (m.bptt_products() is not None) == keep
        g, stats = np.zeros_like(m.theta), {"update": 1, "loss": 0.0}
        stage.update(g, {}, m.theta, stats)
        out.append((stats["omega"], stats["omega_steps"], g))
    (v0, s0, g0), (v1, s1, g1) = out
    assert v0 == pytest.approx(v1, rel=1e-13) and s0 == s1
    np.testing.assert_allclose(g0, g1, rtol=1e-12, atol=1e-15)
