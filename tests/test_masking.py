"""Variable lengths and masking (issue 12, item 2): a padded batch with per-sequence ``lengths`` (and
``target_lengths`` for one_to_many and encoder_decoder) is the sequences run one by one at their own
lengths.

The batch loss is the mean over the batch of each sequence's own loss (Σ over its real steps), so
with E_b the loss of sequence b run alone (B = 1): E = (1/B) Σ_b E_b, every gradient likewise, and
backprop_norms[l, k] = (1/B) Σ over the sequences whose step k is real (k <= lengths[b]) of theirs.
The one-by-one runs take the unmasked kernels, which tests/test_cells.py and tests/test_model.py check
against the NumPy oracles; here the masked kernels are checked against them to 1e-12 in float64.
"""

import numpy as np
import pytest

from rnnctl.errors import DataError
from rnnctl.model import Model
from rnnctl.model.cells import GRU, LSTM, RNN

T, B, I, H, O = 7, 4, 3, 5, 3
LENGTHS = np.array([7, 3, 1, 5], dtype=np.int64)   # the full length, short, a single step, between

VANILLA = [("rnn", form, act) for form in ("standard", "pascanu")
           for act in ("tanh", "sigmoid", "relu", "linear")]
CELLS = VANILLA + [("lstm", "standard", "tanh"), ("gru", "standard", "tanh")]
CELL_IDS = [f"{c}-{f}-{a}" for c, f, a in CELLS]
# many_to_many cycles through the three losses so that each masked loss kernel is covered
LOSSES = ("softmax_ce", "mse", "sigmoid_ce")


def _model(cell, form, act, arch, layers, loss, dtype="float64", seed=0):
    m = Model(I, O, H, cell=cell, form=form, activation=act, loss=loss, arch=arch, layers=layers,
              dtype=dtype)
    m.init_params(np.random.default_rng(seed), "glorot")
    # biases away from 0, so that a wrong step (or a missing bias) shows
    m.theta += 0.1 * np.random.default_rng(seed + 1).normal(size=m.theta.shape)
    return m


def _data(m, loss, seed=2):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(T, B, I))
    lead = (B,) if m.arch == "many_to_one" else (T, B)
    if loss == "softmax_ce":
        target = rng.integers(0, O, size=lead)
    elif loss == "sigmoid_ce":
        target = (rng.random(lead + (O,)) > 0.5).astype(float)
    else:
        target = rng.normal(size=lead + (O,))
    # padding that would change every result if it leaked in
    for b in range(B):
        u[LENGTHS[b]:, b] = 1e3
    return u, target


def _one(m, u, target, b):
    """Sequence b alone at its own length: (E, grad, norms, last_state, outputs)."""
    n = LENGTHS[b]
    ub = np.ascontiguousarray(u[:n, b:b + 1])
    tb = target[b:b + 1] if m.arch == "many_to_one" else np.ascontiguousarray(target[:n, b:b + 1])
    grad = np.zeros_like(m.theta)
    E = m.loss_and_grad_flat(ub, tb, grad)
    norms, state = m.backprop_norms.copy(), tuple(s.copy() for s in m.last_state)
    return E, grad, norms, state, m.outputs(ub)


CASES = [(c, arch, layers) for c in CELLS for arch in ("many_to_one", "many_to_many") for layers in (1, 2)]


@pytest.mark.parametrize("cell,arch,layers", CASES,
                         ids=[f"{'-'.join(c)}-{a}-L{l}" for c, a, l in CASES])
def test_padded_batch_is_the_sequences_one_by_one(cell, arch, layers):
    name, form, act = cell
    loss = "softmax_ce" if arch == "many_to_one" else LOSSES[CELLS.index(cell) % 3]
    m = _model(name, form, act, arch, layers, loss)
    u, target = _data(m, loss)
    grad = np.zeros_like(m.theta)
    E = m.loss_and_grad_flat(u, target, grad, lengths=LENGTHS)
    norms, state = m.backprop_norms.copy(), tuple(s.copy() for s in m.last_state)
    cnorms = None if m.backprop_norms_cell is None else m.backprop_norms_cell.copy()
    y = m.outputs(u, lengths=LENGTHS)
    assert m.loss(u, target, lengths=LENGTHS) == E

    E1, grad1, norms1 = 0.0, np.zeros_like(grad), np.zeros_like(norms)
    cnorms1 = None if cnorms is None else np.zeros_like(cnorms)
    for b in range(B):
        Eb, gb, nb, sb, yb = _one(m, u, target, b)
        n = LENGTHS[b]
        E1 += Eb / B
        grad1 += gb / B
        norms1[:, :n + 1] += nb / B
        if cnorms is not None:
            cnorms1[:, :n + 1] += m.backprop_norms_cell / B
        for s, s1 in zip(state, sb):
            np.testing.assert_allclose(s[:, b], s1[:, 0], rtol=1e-12, atol=1e-14)
        if arch == "many_to_one":
            np.testing.assert_allclose(y[b], yb[0], rtol=1e-12, atol=1e-14)
        else:
            np.testing.assert_allclose(y[:n, b], yb[:, 0], rtol=1e-12, atol=1e-14)
            np.testing.assert_array_equal(y[n:, b], np.broadcast_to(y[n - 1, b], y[n:, b].shape))
    assert E == pytest.approx(E1, rel=1e-12, abs=1e-14)
    for name_, sl in m.layout.slices().items():
        np.testing.assert_allclose(grad[sl], grad1[sl], rtol=1e-12, atol=1e-13, err_msg=name_)
    assert norms.shape == (layers, T + 1)
    np.testing.assert_allclose(norms, norms1, rtol=1e-12, atol=1e-14)
    if cnorms is not None:
        np.testing.assert_allclose(cnorms, cnorms1, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("arch", ["many_to_one", "many_to_many"])
def test_lengths_all_T_are_bit_identical_to_none(cell, arch, dtype):
    name, form, act = cell
    loss = "softmax_ce" if arch == "many_to_one" else LOSSES[CELLS.index(cell) % 3]
    for layers in (1, 2):
        m = _model(name, form, act, arch, layers, loss, dtype=dtype)
        u, target = _data(m, loss)
        runs = []
        for lengths in (None, np.full(B, T, np.int64)):
            grad = np.zeros_like(m.theta)
            E = m.loss_and_grad_flat(u, target, grad, lengths=lengths)
            runs.append((E, grad, m.backprop_norms.copy(), m.backprop_norms_cell,
                         [s.copy() for s in m.last_state], m.outputs(u, lengths=lengths),
                         m.loss(u, target, lengths=lengths)))
        (E0, g0, n0, c0, s0, y0, L0), (E1, g1, n1, c1, s1, y1, L1) = runs
        assert E0 == E1 and L0 == L1
        np.testing.assert_array_equal(g0, g1)
        np.testing.assert_array_equal(n0, n1)
        if c0 is not None:
            np.testing.assert_array_equal(c0, c1)
        for a, b_ in zip(s0, s1):
            np.testing.assert_array_equal(a, b_)
        np.testing.assert_array_equal(y0, y1)


@pytest.mark.parametrize("cell", [("rnn", "standard", "tanh"), ("rnn", "pascanu", "sigmoid"),
                                  ("lstm", "standard", "tanh"), ("gru", "standard", "tanh")],
                         ids=lambda c: "-".join(c))
def test_masked_gradient_matches_central_differences(cell):
    name, form, act = cell
    m = _model(name, form, act, "many_to_many", 2, "mse")
    u, target = _data(m, "mse")
    grad = np.zeros_like(m.theta)
    m.loss_and_grad_flat(u, target, grad, lengths=LENGTHS)
    rng = np.random.default_rng(5)
    eps = 1e-6
    idx = rng.choice(m.theta.size, size=40, replace=False)
    fd = np.zeros(idx.size)
    for k, i in enumerate(idx):
        old = m.theta[i]
        m.theta[i] = old + eps
        Ep = m.loss(u, target, lengths=LENGTHS)
        m.theta[i] = old - eps
        Em = m.loss(u, target, lengths=LENGTHS)
        m.theta[i] = old
        fd[k] = (Ep - Em) / (2 * eps)
    # relative to the vector's norm, as tests/test_model.py does: a central difference is good to
    # about eps² |third derivative| + 1e-16 |E| / eps, some 1e-9 here
    assert np.linalg.norm(grad[idx] - fd) <= 1e-6 * np.linalg.norm(fd)


def test_padding_values_and_padded_targets_change_nothing():
    m = _model("lstm", "standard", "tanh", "many_to_many", 2, "softmax_ce")
    u, target = _data(m, "softmax_ce")
    g0, g1 = np.zeros_like(m.theta), np.zeros_like(m.theta)
    E0 = m.loss_and_grad_flat(u, target, g0, lengths=LENGTHS)
    u2, t2 = u.copy(), target.copy()
    for b in range(B):
        u2[LENGTHS[b]:, b] = -7.0
        t2[LENGTHS[b]:, b] = (t2[LENGTHS[b]:, b] + 1) % O
    E1 = m.loss_and_grad_flat(u2, t2, g1, lengths=LENGTHS)
    assert E0 == E1
    np.testing.assert_array_equal(g0, g1)


@pytest.mark.parametrize("lengths,match", [
    (np.array([7, 3, 1], np.int64), r"shape \(4,\)"),
    (np.array([[7, 3, 1, 5]], np.int64), r"shape \(4,\)"),
    (np.array([7.0, 3.0, 1.0, 5.0]), "integers"),
    (np.array([True, True, True, True]), "integers"),
    (np.array([7, 0, 1, 5], np.int64), r"\[1, 7\].*got 0 for sequence 1"),
    (np.array([7, 3, -2, 5], np.int64), r"\[1, 7\].*got -2"),
    (np.array([8, 3, 1, 5], np.int64), r"\[1, 7\].*got 8 for sequence 0"),
    ("7,3,1,5", "integers"),
])
def test_bad_lengths_raise_data_error(lengths, match):
    m = _model("rnn", "standard", "tanh", "many_to_many", 1, "softmax_ce")
    u, target = _data(m, "softmax_ce")
    grad = np.zeros_like(m.theta)
    for call in (lambda: m.loss_and_grad_flat(u, target, grad, lengths=lengths),
                 lambda: m.loss_and_grad(u, target, lengths=lengths),
                 lambda: m.loss(u, target, lengths=lengths),
                 lambda: m.outputs(u, lengths=lengths)):
        with pytest.raises(DataError, match=match):
            call()


def test_lengths_as_a_list_or_int32_are_accepted():
    m = _model("gru", "standard", "tanh", "many_to_one", 1, "softmax_ce")
    u, target = _data(m, "softmax_ce")
    E = m.loss(u, target, lengths=LENGTHS)
    assert m.loss(u, target, lengths=list(LENGTHS)) == E
    assert m.loss(u, target, lengths=LENGTHS.astype(np.int32)) == E


# The generating archs: the target has steps of its own. one_to_many runs over the target's T_OUT
# steps with u (T_U steps) at the first of them, so its sequences' lengths are target_lengths;
# encoder_decoder takes lengths for the encoder's T steps and target_lengths for the decoder's.
T_U, T_OUT = 2, 6
TARGET_LENGTHS = np.array([6, 2, 4, 1], dtype=np.int64)
GEN_CASES = [(c, arch, layers) for c in CELLS[::3] + CELLS[-2:]  # rnn forms/activations sampled
             for arch in ("one_to_many", "encoder_decoder") for layers in (1, 2)]


def _gen_data(arch, loss, seed=4):
    rng = np.random.default_rng(seed)
    u = rng.normal(size=(T_U if arch == "one_to_many" else T, B, I))
    target = (rng.integers(0, O, size=(T_OUT, B)) if loss == "softmax_ce"
              else rng.normal(size=(T_OUT, B, O)))
    return u, target


@pytest.mark.parametrize("cell,arch,layers", GEN_CASES,
                         ids=[f"{'-'.join(c)}-{a}-L{l}" for c, a, l in GEN_CASES])
def test_generating_archs_padded_batch_is_the_sequences_one_by_one(cell, arch, layers):
    name, form, act = cell
    loss = "softmax_ce" if CELLS.index(cell) % 2 else "mse"
    m = _model(name, form, act, arch, layers, loss)
    u, target = _gen_data(arch, loss)
    enc = arch == "encoder_decoder"
    lengths = LENGTHS if enc else None
    grad = np.zeros_like(m.theta)
    E = m.loss_and_grad_flat(u, target, grad, lengths=lengths, target_lengths=TARGET_LENGTHS)
    assert m.loss(u, target, lengths=lengths, target_lengths=TARGET_LENGTHS) == E
    norms, state = m.backprop_norms.copy(), [s.copy() for s in m.last_state]
    y = m.outputs(u, steps=T_OUT, lengths=lengths) if enc else None
    Tin = u.shape[0]
    E1, grad1, norms1 = 0.0, np.zeros_like(grad), np.zeros_like(norms)
    for b in range(B):
        n_in = LENGTHS[b] if enc else min(T_U, TARGET_LENGTHS[b])
        n_out = TARGET_LENGTHS[b]
        ub = np.ascontiguousarray(u[:n_in, b:b + 1])
        tb = np.ascontiguousarray(target[:n_out, b:b + 1])
        gb = np.zeros_like(grad)
        E1 += m.loss_and_grad_flat(ub, tb, gb) / B
        grad1 += gb / B
        nb = m.backprop_norms
        if enc:  # encoder steps 0..T_in, then the decoder's 1..T_out after all T_in of them
            norms1[:, :n_in + 1] += nb[:, :n_in + 1] / B
            norms1[:, Tin + 1:Tin + 1 + n_out] += nb[:, n_in + 1:] / B
        else:
            norms1[:, :n_out + 1] += nb / B
        for s, s1 in zip(state, m.last_state):
            np.testing.assert_allclose(s[:, b], s1[:, 0], rtol=1e-12, atol=1e-14)
        if enc:
            np.testing.assert_allclose(y[:, b], m.outputs(ub, steps=T_OUT)[:, 0], rtol=1e-12, atol=1e-14)
    assert E == pytest.approx(E1, rel=1e-12, abs=1e-14)
    for name_, sl in m.layout.slices().items():
        np.testing.assert_allclose(grad[sl], grad1[sl], rtol=1e-12, atol=1e-13, err_msg=name_)
    np.testing.assert_allclose(norms, norms1, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("arch", ["one_to_many", "encoder_decoder"])
def test_generating_archs_all_full_lengths_are_bit_identical(arch):
    m = _model("lstm", "standard", "tanh", arch, 2, "softmax_ce")
    u, target = _gen_data(arch, "softmax_ce")
    g0, g1 = np.zeros_like(m.theta), np.zeros_like(m.theta)
    E0 = m.loss_and_grad_flat(u, target, g0)
    n0 = m.backprop_norms.copy()
    lengths = np.full(B, u.shape[0], np.int64) if arch == "encoder_decoder" else None
    E1 = m.loss_and_grad_flat(u, target, g1, lengths=lengths, target_lengths=np.full(B, T_OUT))
    assert E0 == E1
    np.testing.assert_array_equal(g0, g1)
    np.testing.assert_array_equal(n0, m.backprop_norms)


def test_which_lengths_an_arch_takes():
    grad = lambda m: np.zeros_like(m.theta)  # noqa: E731
    m = _model("gru", "standard", "tanh", "one_to_many", 1, "softmax_ce")
    u, target = _gen_data("one_to_many", "softmax_ce")
    with pytest.raises(DataError, match="one_to_many.*pass target_lengths instead of lengths"):
        m.loss_and_grad_flat(u, target, grad(m), lengths=np.array([2, 1, 1, 2]))
    with pytest.raises(DataError, match="one_to_many: outputs and generate run free"):
        m.outputs(u, steps=T_OUT, lengths=np.array([2, 1, 1, 2]))
    with pytest.raises(DataError, match=r"target_lengths must lie in \[1, 6\].*got 7"):
        m.loss(u, target, target_lengths=np.array([7, 1, 1, 2]))
    with pytest.raises(DataError, match="target_lengths must be integers"):
        m.loss(u, target, target_lengths=np.ones(B))
    m = _model("gru", "standard", "tanh", "encoder_decoder", 1, "softmax_ce")
    u, target = _gen_data("encoder_decoder", "softmax_ce")
    with pytest.raises(DataError, match=r"lengths must lie in \[1, 7\]"):
        m.loss(u, target, lengths=np.array([8, 1, 1, 2]))
    with pytest.raises(DataError, match=r"target_lengths must have shape \(4,\)"):
        m.loss(u, target, target_lengths=np.array([1, 1]))
    with pytest.raises(DataError, match=r"lengths must lie in \[1, 7\]"):
        m.generate(u, T_OUT, lengths=np.array([0, 1, 1, 2]))
    for arch in ("many_to_one", "many_to_many"):
        m = _model("rnn", "standard", "tanh", arch, 1, "softmax_ce")
        u, target = _data(m, "softmax_ce")
        with pytest.raises(DataError, match=f"target of arch {arch} has u's steps: pass lengths"):
            m.loss_and_grad_flat(u, target, grad(m), target_lengths=LENGTHS)


@pytest.mark.parametrize("cell", [RNN, LSTM, GRU], ids=lambda c: c.name)
def test_cell_wrappers_take_lengths(cell):
    """Cell.forward / Cell.backward on one layer: the padded rows of a masked pass are those of the
    sequence alone."""
    rng = np.random.default_rng(3)
    params = {n: rng.normal(scale=0.4, size=s) for n, s in cell.param_specs("", I, H)}
    x = rng.normal(size=(T, B, I))
    dh = rng.normal(size=(T, B, H))
    for b in range(B):
        dh[LENGTHS[b]:, b] = 0.0   # what a masked readout passes down
    s = cell.forward(params, x, lengths=LENGTHS)
    out = cell.backward(params, x, s, dh, lengths=LENGTHS)
    for b in range(B):
        n = LENGTHS[b]
        xb = np.ascontiguousarray(x[:n, b:b + 1])
        sb = cell.forward(params, xb)
        ob = cell.backward(params, xb, sb, np.ascontiguousarray(dh[:n, b:b + 1]))
        np.testing.assert_allclose(s["h"][n:, b], np.broadcast_to(sb["h"][n, 0], s["h"][n:, b].shape),
                                   rtol=1e-13)
        np.testing.assert_allclose(out["dx"][:n, b], ob["dx"][:, 0], rtol=1e-12, atol=1e-14)
        assert not out["dx"][n:, b].any()
        for d, db in zip(out["dstate0"], ob["dstate0"]):
            np.testing.assert_allclose(d[b], db[0], rtol=1e-12, atol=1e-14)
    with pytest.raises(DataError, match="lengths"):
        cell.forward(params, x, lengths=np.array([0, 1, 2, 3]))
