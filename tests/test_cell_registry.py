"""The cell registry (rnnctl.model.cells): each Cell's validating wrappers against the per-layer NumPy
oracle (tests/oracles/cells.py), their refusals before Numba, and a cell registered from Python
building a model like any other."""

from __future__ import annotations

import numpy as np
import pytest

from oracles import cells as oc
from rnnctl.errors import DataError
from rnnctl.model import GRU, LSTM, RNN, Model
from rnnctl.model.cells import VanillaCell
from rnnctl.registry import CELLS

T, B, I, H = 5, 3, 4, 6


def params_for(cell, rng, dtype=np.float64, scale=0.5):
    return {name: rng.normal(0.0, scale, shape).astype(dtype) for name, shape in cell.param_specs("", I, H)}


def oracle_layer(cell, p, x, state0, dh_out, dstate, form="standard", activation="tanh"):
    """Per-sequence oracle summed over the batch: (h, grads, dx, norms, cell norms, dstate0)."""
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
    hs, dxs, grads, norms, cnorms, d0h, d0c = [], [], None, 0.0, 0.0, [], []
    for b in range(x.shape[1]):
        h0 = state0[0][b]
        if cell is LSTM:
            cache = oc.lstm_layer_forward(p, x[:, b], h0, state0[1][b])
            g, dx, dEdh, dEdc = oc.lstm_layer_backward(p, cache, dh_out[:, b], dstate[0][b], dstate[1][b])
            cnorms = cnorms + np.linalg.norm(dEdc, axis=1)
            d0c.append(dEdc[0])
        elif cell is GRU:
            cache = oc.gru_layer_forward(p, x[:, b], h0)
            g, dx, dEdh, _ = oc.gru_layer_backward(p, cache, dh_out[:, b], dstate[0][b])
        else:
            cache = oc.rnn_layer_forward(p, x[:, b], h0, form, activation)
            g, dx, dEdh, _ = oc.rnn_layer_backward(p, cache, dh_out[:, b], dstate[0][b])
        hs.append(cache["h"])
        dxs.append(dx)
        norms = norms + np.linalg.norm(dEdh, axis=1)
        d0h.append(dEdh[0])
        grads = g if grads is None else {k: grads[k] + g[k] for k in g}
    return (np.stack(hs, axis=1), grads, np.stack(dxs, axis=1), norms, cnorms,
            (np.stack(d0h),) + ((np.stack(d0c),) if cell is LSTM else ()))


def rel(a, e):
    s = np.max(np.abs(e))
    return np.max(np.abs(np.asarray(a, np.float64) - e)) / (s if s > 0 else 1.0)


@pytest.mark.parametrize("cell", [RNN, LSTM, GRU], ids=lambda c: c.name)
def test_wrappers_match_the_cell_oracle(cell):
    rng = np.random.default_rng(0)
    p = params_for(cell, rng)
    x = rng.normal(size=(T, B, I))
    state0 = tuple(rng.normal(0, 0.5, (B, H)) for _ in cell.state)
    dh_out = rng.normal(size=(T, B, H))
    dstate = tuple(rng.normal(size=(B, H)) for _ in cell.state)
    s = cell.forward(p, x, state0)
    assert set(s) == set(cell.buffers(lambda key, shape: shape, None, T, B, H))
    out = cell.backward(p, x, s, dh_out, dstate)
    h, grads, dx, norms, cnorms, d0 = oracle_layer(cell, p, x, state0, dh_out, dstate)
    assert rel(s["h"], h) < 1e-12
    assert set(out["grads"]) == set(grads)
    for k in grads:
        assert rel(out["grads"][k], grads[k]) < 1e-10, k
    assert rel(out["dx"], dx) < 1e-10 and rel(out["norms"], norms) < 1e-10
    assert len(out["dstate0"]) == len(cell.state)
    for got, want in zip(out["dstate0"], d0):
        assert rel(got, want) < 1e-10
    if cell.cell_norms:
        assert rel(out["cell_norms"], cnorms) < 1e-10
    else:
        assert out["cell_norms"] is None


@pytest.mark.parametrize("form", ["standard", "pascanu"])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "linear"])
def test_vanilla_wrapper_forms_and_activations(form, activation):
    """Default initial state (x_0 = 0: h_0 = σ(0) in Pascanu's form); norms of ∂E/∂x_k, x_k being
    the pre-activation in Pascanu's form."""
    rng = np.random.default_rng(1)
    p = params_for(RNN, rng)
    x, dh_out = rng.normal(size=(T, B, I)), rng.normal(size=(T, B, H))
    s = RNN.forward(p, x, form=form, activation=activation)
    out = RNN.backward(p, x, s, dh_out, form=form, activation=activation)
    zeros = (np.zeros((B, H)),)
    h, grads, dx, norms, _, d0 = oracle_layer(RNN, p, x, zeros, dh_out, zeros, form, activation)
    assert rel(s["h"], h) < 1e-12
    for k in grads:
        assert rel(out["grads"][k], grads[k]) < 1e-10, k
    assert rel(out["dx"], dx) < 1e-10 and rel(out["norms"], norms) < 1e-10
    if form == "standard":  # the oracle's state at k = 0 is x_0 in Pascanu's form, the cell's h_0
        assert rel(out["dstate0"][0], d0[0]) < 1e-10


def _good(cell, dtype=np.float64):
    rng = np.random.default_rng(2)
    return params_for(cell, rng, dtype), rng.normal(size=(T, B, I)).astype(dtype)


@pytest.mark.parametrize("cell", [RNN, LSTM, GRU], ids=lambda c: c.name)
@pytest.mark.parametrize("break_it, words", [
    (lambda p, x: (p, np.ascontiguousarray(x[:, :, :-1])), "x must have shape"),
    (lambda p, x: (p, x.astype(np.float32)), "x must have dtype float64"),
    (lambda p, x: (p, np.asfortranarray(x)), "C-contiguous"),
    (lambda p, x: (p, x[::2]), "C-contiguous"),
    (lambda p, x: (p, x.tolist()), "numpy array"),
    (lambda p, x: ({**p, "W_in": np.ascontiguousarray(p["W_in"][:, :-1])}, x), "x must have shape"),
    (lambda p, x: ({**p, "W_in": p["W_in"][:, :-1]}, x), "W_in must be C-contiguous"),
    (lambda p, x: ({**p, "b": p["b"][:-1]}, x), "b must have shape"),
    (lambda p, x: ({**p, "W_rec": p["W_rec"][:-1]}, x), "W_rec must be"),
    (lambda p, x: ({**p, "b": p["b"].astype(np.float32)}, x), "b must have dtype float64"),
    (lambda p, x: ({k: v for k, v in p.items() if k != "b"}, x), "params must be a dict with"),
])
def test_forward_wrapper_refuses_bad_arrays_before_numba(cell, break_it, words):
    p, x = break_it(*_good(cell))
    with pytest.raises(DataError, match=words):
        cell.forward(p, x)


@pytest.mark.parametrize("cell", [RNN, LSTM, GRU], ids=lambda c: c.name)
def test_backward_wrapper_refuses_bad_arrays(cell):
    p, x = _good(cell)
    s = cell.forward(p, x)
    dh = np.zeros((T, B, H))
    with pytest.raises(DataError, match="dh_out must have shape"):
        cell.backward(p, x, s, dh[:-1])
    with pytest.raises(DataError, match=r"stored\['h'\] must have shape"):
        cell.backward(p, x, {**s, "h": s["h"][:-1]}, dh)
    with pytest.raises(DataError, match="a state is a tuple"):
        cell.backward(p, x, s, dh, dstate=(np.zeros((B, H)),) * 3)
    with pytest.raises(DataError, match="must have shape"):
        cell.forward(p, x, state0=tuple(np.zeros((B + 1, H)) for _ in cell.state))


def test_float32_wrappers_stay_float32():
    p, x = _good(LSTM, np.float32)
    s = LSTM.forward(p, x)
    out = LSTM.backward(p, x, s, np.ones((T, B, H), np.float32))
    assert s["h"].dtype == np.float32 and out["grads"]["W_rec"].dtype == np.float32


def test_gated_cells_refuse_vanilla_options():
    p, x = _good(GRU)
    with pytest.raises(DataError, match="vanilla cell only"):
        GRU.forward(p, x, activation="relu")
    with pytest.raises(DataError, match="unknown form"):
        RNN.forward(*_good(RNN), form="other")


def test_registry_targets_are_these_cells():
    assert [CELLS.get(n) for n in ("rnn", "lstm", "gru")] == [RNN, LSTM, GRU]
    for name in CELLS.names():
        cell = CELLS.get(name)
        assert cell.name == name and cell.gates == CELLS.meta(name)["gates"]
        assert cell.vanilla == CELLS.meta(name)["vanilla"]


class LeakyCell(VanillaCell):
    """The vanilla cell under another name, with only linear and relu allowed: a cell registered
    from Python (here it reuses the vanilla kernels, so its numbers must equal rnn's)."""

    name = "leaky_test"

    def check_options(self, form, activation):
        super().check_options(form, activation)
        if activation not in ("relu", "linear"):
            raise DataError(f"{self.name} takes relu or linear")


@pytest.fixture
def leaky():
    cell = LeakyCell()
    CELLS.register(cell.name, cell, help="a test cell", gates=cell.gates, vanilla=True)
    yield cell
    CELLS.unregister(cell.name)


def test_a_cell_registered_from_python_builds_a_model(leaky):
    rng = np.random.default_rng(3)
    u, target = rng.normal(size=(T, B, I)), rng.integers(0, 2, size=B)
    with pytest.raises(DataError, match="takes relu or linear"):
        Model(I, 2, H, cell="leaky_test")
    mine, rnn = Model(I, 2, H, cell="leaky_test", activation="relu"), Model(I, 2, H, activation="relu")
    assert mine.cell_def is leaky and list(mine.params) == list(rnn.params)
    mine.theta[:] = rnn.theta[:] = rng.normal(0, 0.5, rnn.theta.size)
    E1, g1 = mine.loss_and_grad(u, target)
    E2, g2 = rnn.loss_and_grad(u, target)
    assert E1 == E2 and all(np.array_equal(g1[k], g2[k]) for k in g1)


def test_the_model_resolves_its_cell_once(leaky):
    model = Model(I, 2, H, cell="leaky_test", activation="linear")
    CELLS.unregister("leaky_test")           # later changes to the registry do not reach it
    try:
        model.loss(np.ones((T, B, I)), np.zeros(B, int))
        assert model.cell_def is leaky
    finally:
        CELLS.register("leaky_test", leaky, gates=leaky.gates, vanilla=True)
