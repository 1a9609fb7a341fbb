"""Pascanu's Ω, the per-step backprop norms and the temporal-contribution probes on padded batches
(issue 12, item 2): the padded steps of a sequence add nothing, and each figure is that of the
sequences run alone, combined by its stated rule.

- Ω (pipeline.pascanu_regularizer, diagnostics.omega): the mean of (r_k − 1)² over the real
  (sequence, step) pairs whose error signal reaches ``bound``; checked against the slow oracle
  tests/oracles/omega.py (each sequence alone through tests/oracles/model.py, explicit Jacobians)
  to 1e-12, and ∂Ω/∂W_rec against central differences with the error signal held constant.
- backprop_norms (Session.record_backprop): (1/B) Σ over the sequences whose step k is real of
  ‖∂E_b/∂x_k‖, against the oracle run on each sequence alone.
- temporal_contributions(lengths=): each entry the mean over the sequences that reach it, against
  the function run on each sequence alone (S = 1, no lengths).
"""

from types import SimpleNamespace

import numpy as np
import pytest

from rnnctl.config import load_config
from rnnctl.diagnostics import omega, omega_terms, temporal_contributions
from rnnctl.errors import DataError
from rnnctl.model import Model
from rnnctl.pipeline import pascanu_regularizer
from rnnctl.training import MemorySink
from rnnctl.training.session import Session

from oracles import model as ref
from oracles.cells import dsigma
from oracles.omega import omega_reference

T, B, I, H, O = 7, 4, 3, 5, 3
LENGTHS = np.array([7, 3, 1, 5], dtype=np.int64)     # the full length, short, a single step, between
SHORT = np.array([4, 2, 1, 3], dtype=np.int64)       # none reaches T: the last steps are all padding

FORMS = ("standard", "pascanu")
ACTS = ("tanh", "sigmoid", "relu", "linear")
ARCHS = ("many_to_one", "many_to_many")
LOSSES = ("softmax_ce", "mse", "sigmoid_ce")
CASES = [(f, a, arch) for f in FORMS for a in ACTS for arch in ARCHS]
IDS = ["-".join(c) for c in CASES]


def _loss(act, arch):
    return "softmax_ce" if arch == "many_to_one" else LOSSES[ACTS.index(act) % 3]


def _model(form, act, arch, loss, seed=0):
    m = Model(I, O, H, form=form, activation=act, loss=loss, arch=arch)
    m.init_params(np.random.default_rng(seed), "glorot")
    m.theta += 0.1 * np.random.default_rng(seed + 1).normal(size=m.theta.shape)
    return m


def _data(arch, loss, lengths=LENGTHS, steps=T, seed=2):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(steps, B, I))
    lead = (B,) if arch == "many_to_one" else (steps, B)
    if loss == "softmax_ce":
        target = rng.integers(0, O, size=lead)
    elif loss == "sigmoid_ce":
        target = (rng.random(lead + (O,)) > 0.5).astype(float)
    else:
        target = rng.normal(size=lead + (O,))
    for b in range(B):               # padding that would change every result if it leaked in
        u[lengths[b]:, b] = 1e3
        if arch == "many_to_many":
            target[lengths[b]:, b] = 1 if loss == "softmax_ce" else 1e3
    return u, target


def _omega_via_pipeline(m, squared=True, bound=1e-20, alpha=0.7):
    """Run the pipeline's Ω stage on the model's last pass: (Ω, ∂Ω/∂W_rec, omega_steps)."""
    reg = SimpleNamespace(omega=alpha, decay="none", t0=1.0, bound=bound, squared=squared)
    sl = m.layout.slices()["W_rec"]
    stage = pascanu_regularizer(m, reg, sl)
    g = np.zeros_like(m.theta)
    stats = {"update": 1, "loss": 0.0}
    stage.update(g, stage.init(m.theta), m.theta, stats)
    return stats["omega"], g[sl].reshape(H, H) / alpha, stats["omega_steps"]


# -- Ω ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("squared", [True, False], ids=["squared", "plain"])
@pytest.mark.parametrize("form,act,arch", CASES, ids=IDS)
def test_padded_omega_is_the_masked_reference(form, act, arch, squared):
    loss = _loss(act, arch)
    m = _model(form, act, arch, loss)
    u, target = _data(arch, loss)
    m.loss_and_grad_flat(u, target, np.zeros_like(m.theta), lengths=LENGTHS)
    value, grad, steps = _omega_via_pipeline(m, squared)
    want, want_grad, want_steps = omega_reference(m.params, u, target, LENGTHS, form=form, activation=act,
                                                  loss=loss, scored=m.scored, squared=squared)
    assert value > 0
    assert value == pytest.approx(want, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-11, atol=1e-13 * np.abs(want_grad).max())
    assert steps == pytest.approx(want_steps, rel=1e-15)


@pytest.mark.parametrize("form,act,arch", [("standard", "tanh", "many_to_one"), ("pascanu", "sigmoid", "many_to_many"),
                                           ("standard", "relu", "many_to_many"), ("pascanu", "tanh", "many_to_one")],
                         ids=lambda x: x)
@pytest.mark.parametrize("squared", [True, False], ids=["squared", "plain"])
def test_padded_omega_gradient_matches_central_differences(form, act, arch, squared):
    """The error signal and states of the padded pass held constant, as the pipeline holds them."""
    loss = _loss(act, arch)
    m = _model(form, act, arch, loss)
    u, target = _data(arch, loss)
    m.loss_and_grad_flat(u, target, np.zeros_like(m.theta), lengths=LENGTHS)
    h, dz, dh_out = (x.copy() for x in m.bptt_buffers())
    W = m.params["W_rec"].copy()
    a, err, mult = omega_terms(W, h, dz, dh_out, form=form, activation=act, lengths=m.last_lengths)
    value, grad, _ = omega(W, a, err, mult, squared=squared, lengths=LENGTHS)
    f = lambda Wx: omega(Wx, a, err, mult, squared=squared, lengths=LENGTHS)[0]   # noqa: E731
    eps = 1e-6
    fd = np.zeros_like(W)
    for i in range(H):
        for j in range(H):
            Wp, Wm = W.copy(), W.copy()
            Wp[i, j] += eps
            Wm[i, j] -= eps
            fd[i, j] = (f(Wp) - f(Wm)) / (2 * eps)
    assert value > 0
    assert np.linalg.norm(grad - fd) <= 1e-7 * np.linalg.norm(fd)


@pytest.mark.parametrize("form,act,arch", CASES[::3], ids=IDS[::3])
def test_omega_with_lengths_all_T_is_bit_identical_to_none(form, act, arch):
    loss = _loss(act, arch)
    m = _model(form, act, arch, loss)
    u, target = _data(arch, loss, lengths=np.full(B, T))
    m.omega_spec = (1e-20, True)   # both passes compute Ω inside BPTT, as training does
    runs = []
    for lengths in (None, np.full(B, T, np.int64)):
        m.loss_and_grad_flat(u, target, np.zeros_like(m.theta), lengths=lengths)
        runs.append(_omega_via_pipeline(m))
    (v0, g0, s0), (v1, g1, s1) = runs
    assert v0 == v1 and s0 == s1
    np.testing.assert_array_equal(g0, g1)


@pytest.mark.parametrize("form,arch", [(f, a) for f in FORMS for a in ARCHS])
def test_omega_ignores_padding_values_and_extra_padded_steps(form, arch):
    """Ω of the batch at T + 3 steps (three more padded steps for every sequence) is Ω at T."""
    loss = _loss("tanh", arch)
    m = _model(form, "tanh", arch, loss)
    u, target = _data(arch, loss, lengths=SHORT)
    m.loss_and_grad_flat(u, target, np.zeros_like(m.theta), lengths=SHORT)
    v0, g0, s0 = _omega_via_pipeline(m)
    u2 = np.concatenate([u, np.full((3, B, I), -5.0)])
    t2 = target if arch == "many_to_one" else np.concatenate([target, target[:3]])
    m.loss_and_grad_flat(u2, t2, np.zeros_like(m.theta), lengths=SHORT)
    v1, g1, s1 = _omega_via_pipeline(m)
    assert v1 == pytest.approx(v0, rel=1e-13) and s1 == pytest.approx(s0, rel=1e-15)
    np.testing.assert_allclose(g1, g0, rtol=1e-12, atol=1e-15)


def test_omega_needs_the_lengths_on_a_padded_batch():
    """The test has teeth: Ω of the same buffers taken as if unpadded is not the padded batch's Ω
    (in the standard form many_to_one, the readout's error at step T would be a term of every
    shorter sequence, and its last real step would lose its error signal)."""
    m = _model("standard", "tanh", "many_to_one", "softmax_ce")
    u, target = _data("many_to_one", "softmax_ce")
    m.loss_and_grad_flat(u, target, np.zeros_like(m.theta), lengths=LENGTHS)
    h, dz, dh_out = m.bptt_buffers()
    W = m.params["W_rec"]
    blind = omega(W, *omega_terms(W, h, dz, dh_out))[0]
    assert blind != pytest.approx(_omega_via_pipeline(m)[0], rel=1e-3)


def test_last_lengths_follow_the_last_pass():
    m = _model("standard", "tanh", "many_to_many", "mse")
    u, target = _data("many_to_many", "mse")
    m.loss_and_grad_flat(u, target, np.zeros_like(m.theta), lengths=LENGTHS)
    np.testing.assert_array_equal(m.last_lengths, LENGTHS)
    m.loss_and_grad_flat(u, target, np.zeros_like(m.theta))
    assert m.last_lengths is None


# -- backprop norms, as Session.record_backprop records them --------------------------------------------
@pytest.fixture
def session(tiny_path):
    def make(*overrides):
        return Session(load_config(tiny_path, ["log.backprop_every=1", "log.probe_every=1",
                                               "log.probe_sequences=3", *overrides]))
    return make


@pytest.mark.parametrize("form", FORMS)
def test_recorded_backprop_norms_are_the_sequences_alone(session, form):
    s = session(f"model.form={form}")
    m = s.model
    rng = np.random.default_rng(8)
    u = rng.normal(size=(T, B, m.n_in))
    for b in range(B):
        u[LENGTHS[b]:, b] = 1e3
    target = rng.integers(0, m.n_out, size=B)
    s.batch = SimpleNamespace(u=u, target=target, lengths=LENGTHS)   # what the probe reads too
    m.loss_and_grad_flat(u, target, s.grad, lengths=LENGTHS)
    sink = MemorySink()
    s.record_backprop(sink, None, 5)   # explicit backprop_every: no reservoir, no state
    (update, norms), = sink.backprop_rows
    assert len(sink.probes) == 1
    want = np.zeros(T + 1)
    for b in range(B):                                       # each sequence alone, through the oracle
        n = LENGTHS[b]
        _, _, dEdx = ref.loss_and_grad_sequence(m.params, u[:n, b], target[b], form, m.activation,
                                                m.loss_name, "last")
        want[:n + 1] += np.linalg.norm(dEdx, axis=1) / B    # an ended sequence counts 0 in the 1/B
    assert update == 5 and norms.shape == (1, T + 1)
    np.testing.assert_allclose(norms[0], want, rtol=1e-12, atol=1e-15)


# -- temporal-contribution probes -------------------------------------------------------------------------
def _alone(params, u, target, lengths, **kw):
    """temporal_contributions of each sequence alone at its own length (S = 1, no lengths)."""
    out = []
    for b in range(u.shape[1]):
        n = lengths[b]
        tb = target[b:b + 1] if kw["scored"] == "last" else target[:n, b:b + 1]
        out.append(temporal_contributions(params, u[:n, b:b + 1], tb, **kw))
    return out


def _mean_over_reaching(parts, key, shape, index):
    """The mean at each entry over the sequences that have it (``index(part)``: that part's block)."""
    total, count = np.zeros(shape), np.zeros(shape)
    for p in parts:
        block = index(p[key])
        total[block] += np.nan_to_num(p[key])
        count[block] += ~np.isnan(p[key])
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


PROBE_CASES = [(f, a, arch) for f in FORMS for a in ("tanh", "sigmoid", "relu") for arch in ARCHS]


@pytest.mark.parametrize("form,act,arch", PROBE_CASES, ids=["-".join(c) for c in PROBE_CASES])
def test_probe_on_a_padded_batch_is_the_sequences_alone(form, act, arch):
    loss = _loss(act, arch)
    m = _model(form, act, arch, loss)
    steps = T + 2                                     # two steps that no sequence reaches
    u, target = _data(arch, loss, lengths=LENGTHS, steps=steps)
    kw = dict(form=form, activation=act, loss=loss, scored=m.scored, long_lag=2)
    out = temporal_contributions(m.params, u, target, lengths=LENGTHS, **kw)
    parts = _alone(m.params, u, target, LENGTHS, **kw)
    C = _mean_over_reaching(parts, "contributions", (steps, steps + 1),
                            lambda a: (slice(0, a.shape[0]), slice(0, a.shape[1])))
    J = _mean_over_reaching(parts, "jacobian_norms", (steps + 1, steps + 1),
                            lambda a: (slice(0, a.shape[0]), slice(0, a.shape[1])))
    N = _mean_over_reaching(parts, "backprop_norms", (steps + 1,), lambda a: slice(0, a.shape[0]))
    assert out["contributions"].shape == (steps, steps + 1)
    np.testing.assert_allclose(out["contributions"], C, rtol=1e-12, atol=1e-15)   # NaN where NaN
    np.testing.assert_allclose(out["jacobian_norms"], J, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out["backprop_norms"], N, rtol=1e-12, atol=1e-15)
    assert np.isnan(out["contributions"][T:]).all() and np.isnan(out["backprop_norms"][T + 1:]).all()
    # against the kernel: Model.backprop_norms divides by the whole batch (an ended sequence counts 0)
    m.loss_and_grad_flat(u, target, np.zeros_like(m.theta), lengths=LENGTHS)
    reach = (np.arange(steps + 1)[:, None] <= LENGTHS[None, :]).sum(axis=1)
    np.testing.assert_allclose(m.backprop_norms[0], np.nan_to_num(out["backprop_norms"]) * reach / B,
                               rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize("form", FORMS)
def test_probe_long_lag_fraction_on_a_padded_batch(form):
    """many_to_one: E_b has the one term E_{n_b}, so the long-lag share of ∂E/∂W_rec is the sum of
    the oracle's ∂E_b/∂W_rec|_k over k < n_b − long_lag, over the sequences alone."""
    act, lag = "tanh", 1
    m = _model(form, act, "many_to_one", "softmax_ce")
    u, target = _data("many_to_one", "softmax_ce")
    out = temporal_contributions(m.params, u, target, form=form, activation=act, scored="last",
                                 long_lag=lag, lengths=LENGTHS, jacobians=False)
    total, longg = np.zeros((H, H)), np.zeros((H, H))
    for b in range(B):
        n = LENGTHS[b]
        _, _, dEdx = ref.loss_and_grad_sequence(m.params, u[:n, b], target[b], form, act, "softmax_ce", "last")
        x, h, pre, _ = ref.forward_sequence(m.params, u[:n, b], form, act)
        for k in range(1, n + 1):
            dEda = dEdx[k] * dsigma(act, pre[k]) if form == "standard" else dEdx[k]
            term = np.outer(dEda, h[k - 1])                    # ∂E_b/∂W_rec through step k
            total += term
            if n - k > lag:
                longg += term
    assert 0 < out["long_lag_fraction"] < 1
    assert out["long_lag_fraction"] == pytest.approx(np.linalg.norm(longg) / np.linalg.norm(total), rel=1e-12)
    # the share is blind to the padding: padding values changed, three more padded steps
    u2 = np.concatenate([np.where(u == 1e3, -4.0, u), np.full((3, B, I), 9.0)])
    again = temporal_contributions(m.params, u2, target, form=form, activation=act, scored="last",
                                   long_lag=lag, lengths=LENGTHS, jacobians=False)
    assert again["long_lag_fraction"] == pytest.approx(out["long_lag_fraction"], rel=1e-13)


def test_session_probe_passes_the_batch_lengths(session):
    s = session()
    m = s.model
    rng = np.random.default_rng(9)
    u = rng.normal(size=(T, B, m.n_in))
    target = rng.integers(0, m.n_out, size=B)
    sink = MemorySink()
    for lengths in (LENGTHS, None):
        s.batch = SimpleNamespace(u=u, target=target, lengths=lengths)
        s._probe(sink, 1)
    (_, padded, info), (_, plain, _) = sink.probes
    S = 3
    want = temporal_contributions(m.params, u[:, :S], target[:S], form=m.form, activation=m.activation,
                                  loss=m.loss_name, scored=m.scored, long_lag=s.config.log.long_lag,
                                  lengths=LENGTHS[:S])
    assert info["sequences"] == S
    for key in ("contributions", "jacobian_norms", "backprop_norms"):
        np.testing.assert_array_equal(padded[key], want[key])
    assert not np.allclose(np.nan_to_num(padded["backprop_norms"]), plain["backprop_norms"])
    s.batch = SimpleNamespace(u=u, target=target)              # a batch without lengths (synthetic)
    s._probe(sink, 2)
    np.testing.assert_array_equal(sink.probes[-1][1]["backprop_norms"], plain["backprop_norms"])


@pytest.mark.parametrize("squared", [True, False], ids=["squared", "plain"])
def test_omega_leaves_padded_pairs_out_whatever_they_hold(squared):
    """omega(lengths=) alone, on random terms: a padded pair is out of the sum, the count and the
    fraction even when its error signal is large; the real pairs give the mean over them."""
    rng = np.random.default_rng(11)
    W = rng.normal(size=(H, H)) * 0.5
    a, err, mult = (rng.normal(size=(T, B, H)) for _ in range(3))
    err[1, 1] = 1e-15                                        # one real pair below the bound
    real = np.arange(1, T + 1)[:, None] <= LENGTHS[None, :]  # (T, B): pair k of sequence b
    value, grad, frac = omega(W, a, err, mult, squared=squared, lengths=LENGTHS)
    junk = [x.copy() for x in (a, err, mult)]
    for x in junk:
        x[~real] = rng.normal(size=(int((~real).sum()), H)) * 50
    assert omega(W, *junk, squared=squared, lengths=LENGTHS)[0] == value
    # the mean over the kept pairs, written out
    v = np.einsum("tbh,hj->tbj", a, W) * mult
    kept = real & (np.einsum("tbh,tbh->tb", err, err) >= 1e-20)
    r = (v ** 2).sum(-1) / (err ** 2).sum(-1)
    r = r if squared else np.sqrt(r)
    assert value == pytest.approx(((r - 1) ** 2)[kept].mean(), rel=1e-12)
    assert frac == pytest.approx(kept.sum() / real.sum(), rel=1e-15) and kept.sum() == real.sum() - 1
    assert grad.shape == (H, H)


def test_probe_rejects_lengths_that_do_not_fit():
    m = _model("standard", "tanh", "many_to_one", "softmax_ce")
    u, target = _data("many_to_one", "softmax_ce")
    for bad in (np.array([7, 3, 1]), np.array([8, 3, 1, 5]), np.array([7, 0, 1, 5])):
        with pytest.raises(DataError, match=r"lengths must be 4 integers in \[1, 7\]"):
            temporal_contributions(m.params, u, target, lengths=bad)
