"""kernels/omega.py: Pascanu's Ω computed inside BPTT, step by step (issue 22), and over a finished
pass's arrays.

- Both equal the NumPy statement of Ω (diagnostics.omega_terms + omega) and the slow per-sequence
  oracle (tests/oracles/omega.py), for both forms, every activation, squared or not, padded or not.
- The kernel's gradient matches central differences of Ω in W_rec with the error signal held
  constant (E) and the states too.
- The pipeline's Ω stage gives the same figures whether BPTT computed Ω or not.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from rnnctl.diagnostics import omega, omega_terms
from rnnctl.kernels.activations import ACTIVATIONS
from rnnctl.kernels.omega import omega_finish, omega_vanilla
from rnnctl.model import Model
from rnnctl.pipeline import pascanu_regularizer

from oracles.omega import omega_reference

T, B, I, H, O = 7, 4, 3, 5, 3
LENGTHS = np.array([7, 3, 1, 5], dtype=np.int64)
CASES = [(f, a, arch) for f in ("standard", "pascanu") for a in ("tanh", "sigmoid", "relu", "linear")
         for arch in ("many_to_one", "many_to_many")]
IDS = ["-".join(c) for c in CASES]


def _setup(form, act, arch, lengths, seed=0, squared=True, bound=1e-20):
    """A model whose BPTT pass also computed Ω (``omega_spec``), and the pipeline's Ω stage."""
    loss = "softmax_ce" if arch == "many_to_one" else "mse"
    m = Model(I, O, H, form=form, activation=act, loss=loss, arch=arch)
    m.init_params(np.random.default_rng(seed), "glorot")
    m.theta += 0.1 * np.random.default_rng(seed + 1).normal(size=m.theta.shape)
    rng = np.random.default_rng(seed + 2)
    u = rng.normal(size=(T, B, I))
    target = rng.integers(0, O, size=B) if arch == "many_to_one" else rng.normal(size=(T, B, O))
    stage = pascanu_regularizer(m, SimpleNamespace(omega=1.0, decay="none", t0=1.0, bound=bound, squared=squared),
                                m.layout.slices()["W_rec"])
    m.loss_and_grad_flat(u, target, np.zeros_like(m.theta), lengths=lengths)
    return m, u, target, loss, stage


def _fused(m):
    """Ω, ∂Ω/∂W_rec and the fraction from what the last BPTT pass computed."""
    _, dz, _ = m.bptt_buffers()
    C, stats = m.bptt_omega()
    G = np.zeros((H, H))
    value, frac = omega_finish(dz, C, G, stats, m.small_mnk)
    return value, G, frac


def _kernel(m, squared=True, bound=1e-20, E=None, W=None):
    """The same over the pass's arrays, with V = dz W (W: W_rec unless given) and E (default V)."""
    h, dz, dh_out = m.bptt_buffers()
    V = (dz.reshape(-1, H) @ (m.params["W_rec"] if W is None else W)).reshape(dz.shape)
    G = np.zeros((H, H))
    value, frac = omega_vanilla(dz, dh_out, h, V, V if E is None else E, m.form == "pascanu",
                                ACTIVATIONS[m.activation], bound, squared, np.zeros_like(dz), np.zeros((B, H)), G,
                                m.small_mnk, m.last_lengths)
    return value, G, frac


def test_bptt_computes_omega_only_when_asked():
    m = Model(I, O, H)
    m.loss_and_grad_flat(np.ones((T, B, I)), np.zeros(B, np.int64), np.zeros_like(m.theta))
    assert m.bptt_omega() is None
    lstm = Model(I, O, H, cell="lstm")
    lstm.omega_spec = (1e-20, True)     # not a vanilla layer: BPTT runs as ever, without Ω
    lstm.loss_and_grad_flat(np.ones((T, B, I)), np.zeros(B, np.int64), np.zeros_like(lstm.theta))
    assert lstm.bptt_omega() is None


@pytest.mark.parametrize("squared", [True, False], ids=["squared", "plain"])
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "padded"])
@pytest.mark.parametrize("form,act,arch", CASES, ids=IDS)
def test_kernel_is_the_numpy_omega_and_the_oracle(form, act, arch, lengths, squared):
    m, u, target, loss, _ = _setup(form, act, arch, lengths, squared=squared)
    value, grad, frac = _fused(m)
    v2, g2, f2 = _kernel(m, squared)
    assert v2 == pytest.approx(value, rel=1e-13) and f2 == frac
    np.testing.assert_allclose(g2, grad, rtol=1e-12, atol=1e-14 * np.abs(grad).max())
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
    W = m.params["W_rec"].copy()
    _, dz, _ = m.bptt_buffers()
    E = (dz.reshape(-1, H) @ W).reshape(dz.shape)
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
    m, *_ = _setup("standard", "tanh", "many_to_one", None, bound=1e300)
    assert _fused(m)[0] == _fused(m)[2] == 0.0 and not _fused(m)[1].any()
    assert _kernel(m, bound=1e300)[:3:2] == (0.0, 0.0)
    h, dz, dh_out = m.bptt_buffers()
    err = omega_terms(m.params["W_rec"], h, dz, dh_out)[1]
    en2 = np.einsum("tbh,tbh->tb", err, err)
    bound = float(np.median(en2))
    m, *_ = _setup("standard", "tanh", "many_to_one", None, bound=bound)
    assert _fused(m)[2] == _kernel(m, bound=bound)[2] == pytest.approx((en2 >= bound).mean(), rel=1e-15)


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "padded"])
def test_pipeline_stage_gives_the_same_figures_whether_bptt_computed_omega_or_not(lengths):
    m, u, target, _, stage = _setup("standard", "tanh", "many_to_one", lengths)
    out = []
    for spec in ((1e-20, True), None):
        m.omega_spec = spec
        m.loss_and_grad_flat(u, target, np.zeros_like(m.theta), lengths=lengths)
        assert (m.bptt_omega() is not None) == (spec is not None)
        g, stats = np.zeros_like(m.theta), {"update": 1, "loss": 0.0}
        stage.update(g, {}, m.theta, stats)
        out.append((stats["omega"], stats["omega_steps"], g))
    (v0, s0, g0), (v1, s1, g1) = out
    assert v0 == pytest.approx(v1, rel=1e-13) and s0 == s1
    np.testing.assert_allclose(g0, g1, rtol=1e-12, atol=1e-15)
