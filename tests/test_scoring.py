"""Model.outputs_and_loss, evaluation's one forward pass per chunk (issue 22), and the vanilla
many_to_one scoring kernel behind it (kernels/rnn.py ``rnn_final_state``, which keeps only the
current state): the same outputs and loss as ``outputs`` and ``loss`` called apart, and the
outputs of the per-sequence NumPy oracle (tests/oracles/model.py)."""

import numpy as np
import pytest

from rnnctl.model import Model
import rnnctl.model.network as network

from oracles import model as ref

I, O, H = 3, 4, 6


def _model(arch="many_to_one", cell="rnn", form="standard", act="tanh", dtype="float64", layers=1):
    m = Model(I, O, H, arch=arch, cell=cell, form=form, activation=act, dtype=dtype, layers=layers)
    m.init_params(np.random.default_rng(0), "glorot")
    return m


def _data(T, B, arch, dtype="float64"):
    rng = np.random.default_rng(1)
    u = rng.normal(size=(T, B, I)).astype(dtype)
    return u, rng.integers(0, O, size=B if arch == "many_to_one" else (T, B))


@pytest.mark.parametrize("form", ["standard", "pascanu"])
@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", "linear"])
def test_the_scoring_kernel_gives_the_oracles_outputs_and_the_models_loss(form, act, monkeypatch):
    monkeypatch.setattr(network, "_STREAM_ROWS", 3)   # several blocks of sequences, the last one short
    m = _model(form=form, act=act)
    u, target = _data(9, 8, "many_to_one")
    y, E = m.outputs_and_loss(u, target)
    want = ref.outputs(m.params, u, form, act, "last")
    np.testing.assert_allclose(y, want, rtol=1e-13, atol=1e-14)
    assert E == pytest.approx(m.loss(u, target), rel=1e-13)
    np.testing.assert_allclose(m.last_state[0][0], ref.forward(m.params, u, form, act)[1][-1], rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("dtype,rtol", [("float64", 1e-13), ("float32", 2e-6)])
@pytest.mark.parametrize("arch,cell,layers", [("many_to_one", "rnn", 1), ("many_to_one", "rnn", 2),
                                              ("many_to_many", "rnn", 1), ("many_to_one", "lstm", 1),
                                              ("many_to_many", "gru", 1), ("one_to_many", "rnn", 1)])
def test_one_pass_equals_outputs_and_loss_apart(arch, cell, layers, dtype, rtol):
    m = _model(arch=arch, cell=cell, dtype=dtype, layers=layers)
    u, target = _data(7, 300, arch, dtype)   # more sequences than a block of the scoring kernel
    y, E = m.outputs_and_loss(u, target)
    want = m.outputs(u, steps=7 if m.generates else None)
    assert y.shape == want.shape and y.dtype == want.dtype
    np.testing.assert_allclose(y, want, rtol=rtol, atol=rtol)
    assert E == pytest.approx(m.loss(u, target), rel=rtol)
