"""Diagnostics against independent computations: temporal contributions and ∂x_t/∂x_k by finite
differences of the NumPy oracle's states, Ω by finite differences with its constants frozen, λ₁ by
numpy.linalg.svd, and the whole thing wired through the training loop."""

import numpy as np
import pytest

from rnnctl.diagnostics import omega, omega_terms, spectral, temporal_contributions, vanishing_bound
from rnnctl.model import Model

from oracles import model as ref


def _params(rng, I=3, H=4, O=3, scale=0.6):
    return {"W_in": rng.normal(size=(H, I)) * scale, "W_rec": rng.normal(size=(H, H)) * scale,
            "b": rng.normal(size=H) * 0.1, "W_out": rng.normal(size=(O, H)) * scale,
            "b_out": rng.normal(size=O) * 0.1}


def _fd_state_jacobian(params, u, form, act, t, k, eps=1e-6):
    """∂x_t/∂x_k of one sequence by central differences of the oracle's dx perturbation."""
    T, H = u.shape[0], params["W_rec"].shape[0]
    J = np.zeros((H, H))
    for j in range(H):
        dx = np.zeros((T + 1, H))
        dx[k, j] = eps
        xp = ref.forward_sequence(params, u, form, act, dx)[0][t]
        dx[k, j] = -eps
        xm = ref.forward_sequence(params, u, form, act, dx)[0][t]
        J[:, j] = (xp - xm) / (2 * eps)
    return J


def _fd_step_loss_grad(params, u, target, form, act, loss, t, k, eps=1e-6):
    """∂E_t/∂x_k of one sequence by central differences (E_t alone, not the sum over t)."""
    T, H = u.shape[0], params["W_rec"].shape[0]
    g = np.zeros(H)
    for j in range(H):
        vals = []
        for s in (eps, -eps):
            dx = np.zeros((T + 1, H))
            dx[k, j] = s
            y = ref.forward_sequence(params, u, form, act, dx)[3]
            vals.append(ref.step_loss(loss, y[t - 1], target)[0])
        g[j] = (vals[0] - vals[1]) / (2 * eps)
    return g


@pytest.mark.parametrize("form", ["standard", "pascanu"])
@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
def test_jacobian_norms_match_finite_differences_of_the_states(form, act):
    rng = np.random.default_rng(0)
    p = _params(rng)
    u = rng.normal(size=(5, 1, 3))
    out = temporal_contributions(p, u, np.array([1]), form=form, activation=act)
    J = out["jacobian_norms"]
    assert J.shape == (6, 6) and np.isnan(J[0, 1]) and J[3, 3] == 1.0
    for t, k in [(1, 0), (3, 1), (5, 0), (5, 4), (4, 2)]:
        fd = np.linalg.norm(_fd_state_jacobian(p, u[:, 0], form, act, t, k), 2)
        assert J[t, k] == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("form", ["standard", "pascanu"])
def test_contributions_match_finite_differences_for_every_step_loss(form):
    rng = np.random.default_rng(1)
    p = _params(rng)
    T = 4
    u = rng.normal(size=(T, 1, 3))
    target = rng.integers(0, 3, size=(T, 1))
    out = temporal_contributions(p, u, target, form=form, activation="tanh", loss="softmax_ce", scored="all")
    C = out["contributions"]
    assert C.shape == (T, T + 1)
    for t in range(1, T + 1):
        assert np.isnan(C[t - 1, t + 1:]).all()
        for k in range(0, t + 1):
            fd = _fd_step_loss_grad(p, u[:, 0], target[t - 1, 0], form, "tanh", "softmax_ce", t, k)
            assert C[t - 1, k] == pytest.approx(np.linalg.norm(fd), rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("form", ["standard", "pascanu"])
@pytest.mark.parametrize("loss, scored", [("softmax_ce", "last"), ("softmax_ce", "all"), ("mse", "last")])
def test_probe_backprop_norms_agree_with_the_kernel(form, loss, scored):
    rng = np.random.default_rng(2)
    T, B, I, H, O = 7, 3, 3, 4, 3
    model = Model(I, O, H, form=form, activation="tanh", loss=loss, scored=scored)
    for k, v in _params(rng, I, H, O).items():
        model.params[k][...] = v
    u = rng.normal(size=(T, B, I))
    if loss == "softmax_ce":
        target = rng.integers(0, O, size=(B,) if scored == "last" else (T, B))
    else:
        target = rng.normal(size=(B, O))
    model.loss_and_grad(u, target)
    out = temporal_contributions(model.params, u, target, form=form, activation="tanh", loss=loss,
                                 scored=scored, jacobians=False)
    # the kernel reports Σ_b ‖∂E/∂x_k‖ with E the batch mean = mean_b ‖∂E_b/∂x_k‖
    assert np.allclose(np.ravel(model.backprop_norms)[-T - 1:], out["backprop_norms"], rtol=1e-9)


def test_long_lag_fraction_is_a_share_and_grows_with_memory():
    rng = np.random.default_rng(3)
    p = _params(rng, H=6)
    u = rng.normal(size=(30, 2, 3))
    tgt = rng.integers(0, 3, size=(30, 2))
    fractions = []
    for scale in (0.3, 1.5):
        q = dict(p, W_rec=p["W_rec"] / np.linalg.norm(p["W_rec"], 2) * scale)
        out = temporal_contributions(q, u, tgt, activation="linear", scored="all", long_lag=5, jacobians=False)
        fractions.append(out["long_lag_fraction"])
    assert 0 <= fractions[0] < fractions[1] <= 1.0 + 1e-12
    assert fractions[0] < 0.01           # λ₁ = 0.3: almost nothing survives 5 steps
    every = temporal_contributions(p, u, tgt, scored="all", long_lag=1000, jacobians=False)
    assert every["long_lag_fraction"] == 0.0


def test_spectral_matches_svd_and_eigvals_per_gate_block():
    rng = np.random.default_rng(4)
    W = rng.normal(size=(5, 5))
    s = spectral({"W_rec": W, "W_in": rng.normal(size=(5, 2))})
    assert list(s) == ["W_rec"]
    assert s["W_rec"]["sv_max"] == pytest.approx(np.linalg.svd(W, compute_uv=False)[0], rel=1e-12)
    assert s["W_rec"]["radius"] == pytest.approx(np.max(np.abs(np.linalg.eigvals(W))))
    W4 = rng.normal(size=(12, 3))
    s = spectral({"layers.1.W_rec": W4}, cell="lstm")
    assert list(s) == [f"layers.1.W_rec.{g}" for g in "ifgo"]
    assert s["layers.1.W_rec.f"]["sv_max"] == pytest.approx(np.linalg.svd(W4[3:6], compute_uv=False)[0])
    assert vanishing_bound("tanh") == 1.0 and vanishing_bound("sigmoid") == 4.0


@pytest.mark.parametrize("form", ["standard", "pascanu"])
@pytest.mark.parametrize("squared", [True, False])
def test_omega_gradient_matches_finite_differences_with_constants_frozen(form, squared):
    rng = np.random.default_rng(5)
    T, B, H = 6, 3, 5
    W = rng.normal(size=(H, H)) * 0.5
    h = np.tanh(rng.normal(size=(T + 1, B, H)))
    dz, dh_out = rng.normal(size=(T, B, H)), rng.normal(size=(T, B, H))
    a, err, mult = omega_terms(W, h, dz, dh_out, form=form)
    value, grad, frac = omega(W, a, err, mult, squared=squared)
    assert value > 0 and frac == 1.0
    fd = np.zeros_like(W)
    eps = 1e-6
    for i in range(H):
        for j in range(H):
            Wp, Wm = W.copy(), W.copy()
            Wp[i, j] += eps
            Wm[i, j] -= eps
            fd[i, j] = (omega(Wp, a, err, mult, squared=squared)[0] - omega(Wm, a, err, mult, squared=squared)[0]) / (2 * eps)
    assert np.allclose(grad, fd, rtol=1e-6, atol=1e-9)


def test_omega_ratio_is_the_one_step_backprop_of_the_model():
    """In the standard form the numerator is ‖∂E/∂h_{k−1} through step k alone‖: check the terms
    against the oracle's ∂E/∂x_k for a last-step loss, where ∂E/∂h_{k−1} has no other path."""
    rng = np.random.default_rng(6)
    T, H = 5, 4
    p = _params(rng, H=H)
    u = rng.normal(size=(T, 1, 3))
    model = Model(3, 3, H, form="standard", activation="tanh", loss="softmax_ce", scored="last")
    for k, v in p.items():
        model.params[k][...] = v
    model.loss_and_grad(u, np.array([2]))
    h, dz, dh_out = model.bptt_buffers()
    a, err, mult = omega_terms(p["W_rec"], h, dz, dh_out)
    _, _, dEdx, _ = ref.loss_and_grad(p, u, np.array([2]), "standard", "tanh", "softmax_ce", "last")
    dEdx = dEdx[0]                                            # (T+1, H) for the one sequence
    assert np.allclose(err[:, 0], dEdx[1:], atol=1e-12)       # ∂E/∂h_k, k = 1..T
    v = (a[:, 0] @ p["W_rec"])
    assert np.allclose(v, dEdx[:-1], atol=1e-12)              # only path back: v_k = ∂E/∂h_{k−1}


def test_omega_masks_steps_with_a_negligible_error_signal():
    rng = np.random.default_rng(7)
    T, B, H = 4, 2, 3
    W = rng.normal(size=(H, H))
    a, err = rng.normal(size=(T, B, H)), rng.normal(size=(T, B, H))
    err[1] = 1e-15                                         # ‖err‖² = 3e-30 < bound
    value, grad, frac = omega(W, a, err, None, bound=1e-20)
    assert frac == pytest.approx(3 / 4)
    a2 = a.copy()
    a2[1] = rng.normal(size=(B, H))                        # a masked step changes nothing
    value2, grad2, _ = omega(W, a2, err, None, bound=1e-20)
    assert value == pytest.approx(value2) and np.allclose(grad, grad2)
