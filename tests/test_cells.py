"""LSTM and GRU cells, stacked layers and architecture types (rnnctl.model, rnnctl.kernels).

Trusted sides: the per-step NumPy oracle in tests/reference.py (``model_loss_and_grad``, which
shares no code with the kernels and is itself checked by finite differences here), central finite
differences of the model's own loss, and torch.nn.LSTM / torch.nn.GRU where torch is installed.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rnnctl.config import config_from_dict
from rnnctl.errors import ConfigError, DataError
from rnnctl.model import ARCHS, CELLS, Model, model_from_config, resolve_arch
from rnnctl.tasks import TASKS

try:
    from . import reference as ref
except ImportError:
    import reference as ref

I, O, H, B = 3, 4, 5, 3
T_IN, T_OUT = 6, 4   # encoder_decoder lengths (different on purpose); one_to_many: u has 2 steps
CELL_NAMES = tuple(CELLS)
# every arch with the readouts it admits
READOUTS = {"many_to_one": ("softmax_ce", "mse"),
            "many_to_many": ("softmax_ce", "sigmoid_ce", "mse"),
            "one_to_many": ("softmax_ce", "sigmoid_ce", "mse"),
            "encoder_decoder": ("softmax_ce", "sigmoid_ce", "mse")}
GRID = [(c, L, a, loss) for c, L, a in itertools.product(CELL_NAMES, (1, 2), ARCHS) for loss in READOUTS[a]]
GRID_IDS = [f"{c}-L{L}-{a}-{loss}" for c, L, a, loss in GRID]


# -- helpers ----------------------------------------------------------------------------------------
def shapes_of(arch):
    """(u steps, output steps) of the test cases."""
    return {"many_to_one": (T_IN, 1), "many_to_many": (T_IN, T_IN), "one_to_many": (2, T_OUT + 1),
            "encoder_decoder": (T_IN, T_OUT)}[arch]


def make_targets(rng, arch, loss, B=B, O=O):
    T_u, T_o = shapes_of(arch)
    lead = (B,) if arch == "many_to_one" else (T_o, B)
    if loss == "softmax_ce":
        return rng.integers(0, O, size=lead)
    if loss == "sigmoid_ce":
        return rng.integers(0, 2, size=lead + (O,)).astype(float)  # 0/1 labels, fed back as given
    return rng.normal(size=lead + (O,))


def make_case(seed, cell, layers, arch, loss, dtype="float64", form="standard", activation="tanh",
              scale=0.6, H=H, B=B):
    rng = np.random.default_rng(seed)
    model = Model(I, O, H, cell=cell, arch=arch, layers=layers, loss=loss, dtype=dtype, form=form,
                  activation=activation)
    model.theta[:] = rng.normal(0.0, scale, model.theta.size)
    T_u, _ = shapes_of(arch)
    u = rng.normal(size=(T_u, B, I))
    return model, u, make_targets(rng, arch, loss, B=B)


def oracle(model, u, target, **kw):
    u64 = np.asarray(u).astype(model.dtype).astype(np.float64)
    t = target if model.loss_name == "softmax_ce" else np.asarray(target).astype(model.dtype).astype(np.float64)
    return ref.model_loss_and_grad(model.params, u64, t, cell=model.cell, arch=model.arch,
                                   layers=model.layers, loss=model.loss_name, form=model.form,
                                   activation=model.activation, **kw)


def flat(model, grads):
    return np.concatenate([np.asarray(grads[k], dtype=np.float64).ravel() for k in model.params])


def rel_err(a, e):
    a, e = np.asarray(a, np.float64), np.asarray(e, np.float64)
    assert a.shape == e.shape, (a.shape, e.shape)
    assert np.all(np.isfinite(a))
    s = np.max(np.abs(e))
    return np.max(np.abs(a - e)) / s if s > 0 else np.max(np.abs(a - e))


def assert_rel(a, e, tol, what=""):
    err = rel_err(a, e)
    assert err <= tol, f"{what}: relative error {err:.3g} > {tol:g}"


# -- parameter names and layout ---------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("arch", ARCHS)
def test_parameter_names_shapes_and_layout(cell, layers, arch):
    model = Model(I, O, H, cell=cell, arch=arch, layers=layers)
    assert list(model.params) == ref.param_names(cell, layers, arch)
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    for name, v in model.params.items():
        assert np.shares_memory(v, model.theta)
        base = name.rpartition(".")[2]
        if base == "W_rec":
            assert v.shape == (G * H, H)
        elif base == "b":
            assert v.shape == (G * H,)
        elif base == "b_rec_n":
            assert v.shape == (H,)
        elif base == "W_in":
            first = name in ("W_in", "encoder.W_in", "decoder.W_in") or ".layers.0." in "." + name
            n_in = {"many_to_one": I, "many_to_many": I, "one_to_many": I + O,
                    "encoder_decoder": O if name.startswith("decoder.") else I}[arch]
            assert v.shape == (G * H, n_in if first else H), name
    assert model.params["W_out"].shape == (O, H) and model.params["b_out"].shape == (O,)
    if layers == 1 and arch in ("many_to_one", "many_to_many"):
        expected = ["W_in", "W_rec", "b"] + (["b_rec_n"] if cell == "gru" else []) + ["W_out", "b_out"]
        assert list(model.params) == expected  # the paper's plain names


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("arch", ["many_to_one", "encoder_decoder"])
def test_grad_groups_partition_parameters_and_gate_blocks(cell, layers, arch):
    model = Model(I, O, H, cell=cell, arch=arch, layers=layers)
    groups = model.grad_groups()
    slices = model.layout.slices()
    params = [k for k in groups if k in slices]
    assert params == list(slices)  # one entry per parameter, in layout order
    covered = np.zeros(model.theta.size, int)
    for name in params:
        covered[groups[name]] += 1
    assert np.all(covered == 1)
    gates = CELLS[cell]
    blocks = [k for k in groups if k not in slices]
    if not gates:
        assert blocks == []
    for name, sl in slices.items():
        base = name.rpartition(".")[2]
        mine = [f"{name}.{g}" for g in gates] if base in ("W_in", "W_rec", "b") else []
        assert [k for k in blocks if k.rpartition(".")[0] == name] == mine
        if mine:
            idx = np.concatenate([np.arange(model.theta.size)[groups[k]] for k in mine])
            np.testing.assert_array_equal(idx, np.arange(sl.start, sl.stop))  # exact partition
            # block k is rows kH:(k+1)H of the parameter
            model.theta[:] = 0.0
            for k, gname in enumerate(mine):
                model.theta[groups[gname]] = k + 1
            v = model.params[name]
            for k in range(len(gates)):
                assert np.all(v[k * H:(k + 1) * H] == k + 1)
    if cell == "lstm":
        pre = {("many_to_one", 1): "", ("many_to_one", 2): "layers.0.",
               ("encoder_decoder", 1): "encoder.", ("encoder_decoder", 2): "encoder.layers.0."}[arch, layers]
        assert groups[pre + "W_rec.f"] == slice(groups[pre + "W_rec"].start + H * H, groups[pre + "W_rec"].start + 2 * H * H)


# -- the oracle is right (finite differences on the oracle itself) ----------------------------------
ORACLE_CASES = [("lstm", 1, "many_to_many", "softmax_ce"), ("gru", 1, "many_to_one", "mse"),
                ("lstm", 2, "encoder_decoder", "softmax_ce"), ("gru", 2, "one_to_many", "sigmoid_ce"),
                ("rnn", 2, "encoder_decoder", "mse"), ("gru", 2, "encoder_decoder", "softmax_ce"),
                ("lstm", 2, "one_to_many", "mse")]


@pytest.mark.parametrize("cell,layers,arch,loss", ORACLE_CASES, ids=["-".join(map(str, c)) for c in ORACLE_CASES])
def test_oracle_gradients_match_finite_differences(cell, layers, arch, loss):
    Hs = 3   # one sequence, three units: the oracle is slow on purpose
    model, u, target = make_case(100, cell, layers, arch, loss, H=Hs, B=1)
    p = {k: v.copy() for k, v in model.params.items()}
    kw = dict(cell=cell, arch=arch, layers=layers, loss=loss)
    E, g, norms, cnorms, _, _ = ref.model_loss_and_grad(p, u, target, **kw)
    for name in p:
        fd = ref.fd_grad(lambda _: ref.model_loss_and_grad(p, u, target, **kw)[0], p[name], 1e-6)
        assert_rel(g[name], fd, 1e-6, f"oracle d/d{name}")
    # the per-step state gradients behind the norms: perturb one state of sequence 0 at a time
    n_st = 2 if arch == "encoder_decoder" else 1
    T_u, T_o = shapes_of(arch)
    Ts = [T_u, T_o] if arch == "encoder_decoder" else [T_o if arch == "one_to_many" else T_u]
    pert = [[[{"h": np.zeros((Ts[s] + 1, Hs)), "c": np.zeros((Ts[s] + 1, Hs))} for _ in range(layers)]
             for s in range(n_st)]]
    for key in ("h", "c") if cell == "lstm" else ("h",):
        for s in range(n_st):
            for l in range(layers):
                arr = pert[0][s][l][key]
                fd = ref.fd_grad(lambda _: ref.model_loss_and_grad(p, u, target, perturb=pert, **kw)[0], arr, 1e-6)
                k0 = 1 if s == 1 else 0   # the decoder's step 0 is the encoder's final state
                ref_norm = (norms if key == "h" else cnorms)[l]
                want = np.linalg.norm(fd, axis=1)[k0:]
                got = ref_norm[:Ts[0] + 1] if s == 0 else ref_norm[Ts[0] + 1:]
                assert_rel(got, want, 1e-6, f"oracle ‖∂E/∂{key}‖ stack {s} layer {l}")


# -- BLAS products split into OpenBLAS's small-matrix blocks (kernels/blas.py) ---------------------
@pytest.mark.parametrize("split", ["rows", "k"])
@pytest.mark.parametrize("cell,arch", [(c, a) for c in CELL_NAMES for a in ARCHS])
def test_split_products_match_oracle(cell, arch, split):
    """At these sizes no product reaches the real bound (10^6), so force it down: "rows" splits the
    per-step products into row blocks (gemm_rows), "k" the weight gradients over blocks of 32+ rows
    (gemm_tn). The gradients must stay the oracle's."""
    loss = READOUTS[arch][0]
    model, u, target = make_case(3, cell, 2, arch, loss, B=9)
    G = model.n_gates
    model.small_mnk = (4 if split == "rows" else 32) * G * H * H
    E_ref, g_ref, n_ref, *_ = oracle(model, u, target)
    E, g = model.loss_and_grad(u, target)
    assert E == pytest.approx(E_ref, rel=1e-12)
    assert_rel(flat(model, g), flat(model, g_ref), 1e-10, f"split={split}")
    assert_rel(model.backprop_norms, n_ref, 1e-10, "backprop_norms")


# -- kernels vs oracle, float64 ---------------------------------------------------------------------
@pytest.mark.parametrize("cell,layers,arch,loss", GRID, ids=GRID_IDS)
def test_matches_oracle_float64(cell, layers, arch, loss):
    model, u, target = make_case(1, cell, layers, arch, loss)
    E_ref, g_ref, n_ref, c_ref, y_ref, final_ref = oracle(model, u, target)
    E, g = model.loss_and_grad(u, target)
    assert E == pytest.approx(E_ref, rel=1e-12)
    assert set(g) == set(model.params)
    for name in model.params:
        assert g[name].dtype == np.float64 and g[name].shape == model.params[name].shape
        assert_rel(g[name], g_ref[name], 1e-10, f"d/d{name}")
    assert np.max(np.abs(flat(model, g_ref))) > 0
    K = (T_IN + T_OUT + 1) if arch == "encoder_decoder" else shapes_of(arch)[1 if arch == "one_to_many" else 0] + 1
    assert model.backprop_norms.shape == (layers, K)
    assert_rel(model.backprop_norms, n_ref, 1e-10, "backprop_norms")
    if cell == "lstm":
        assert model.backprop_norms_cell.shape == (layers, K)
        assert_rel(model.backprop_norms_cell, c_ref, 1e-10, "backprop_norms_cell")
    else:
        assert model.backprop_norms_cell is None
    assert len(model.last_state) == len(final_ref)
    for a, e in zip(model.last_state, final_ref):
        assert_rel(a, e, 1e-12, "last_state")
    assert model.loss(u, target) == pytest.approx(E_ref, rel=1e-12)
    if not model.generates:
        assert_rel(model.outputs(u), y_ref, 1e-12, "outputs")


@pytest.mark.parametrize("form", ["standard", "pascanu"])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize("arch", ["many_to_many", "encoder_decoder"])
def test_stacked_vanilla_forms_match_oracle(form, activation, arch):
    model, u, target = make_case(2, "rnn", 2, arch, "softmax_ce", form=form, activation=activation)
    E_ref, g_ref, n_ref, _, _, final_ref = oracle(model, u, target)
    E, g = model.loss_and_grad(u, target)
    assert E == pytest.approx(E_ref, rel=1e-12)
    assert_rel(flat(model, g), flat(model, g_ref), 1e-10, "grad")
    assert_rel(model.backprop_norms, n_ref, 1e-10, "backprop_norms")
    assert_rel(model.last_state[0], final_ref[0], 1e-12, "last_state")


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("arch", ["many_to_one", "encoder_decoder"])
def test_encoder_decoder_junction_and_lengths(cell, arch):
    """backprop_norms of an encoder_decoder is one time axis: encoder 0..T_in, decoder 1..T_out;
    and the decoder really starts from the encoder's final state (changing u changes outputs)."""
    model, u, target = make_case(3, cell, 2, "encoder_decoder", "softmax_ce")
    model.loss_and_grad(u, target)
    assert model.backprop_norms.shape == (2, T_IN + T_OUT + 1)
    for T_o in (1, 2, 9):   # any output length
        t = np.random.default_rng(T_o).integers(0, O, size=(T_o, B))
        E, _ = model.loss_and_grad(u, t)
        assert E == pytest.approx(oracle(model, u, t)[0], rel=1e-12)
        assert model.backprop_norms.shape == (2, T_IN + T_o + 1)
    y1 = model.outputs(u, steps=3)
    y2 = model.outputs(u + 1.0, steps=3)
    assert y1.shape == (3, B, O) and not np.allclose(y1, y2)


# -- kernels vs finite differences ------------------------------------------------------------------
@pytest.mark.parametrize("cell,layers,arch,loss", GRID, ids=GRID_IDS)
def test_gradient_matches_finite_differences_float64(cell, layers, arch, loss):
    model, u, target = make_case(4, cell, layers, arch, loss)
    _, g = model.loss_and_grad(u, target)
    fd = ref.fd_grad(lambda _: model.loss(u, target), model.theta, 1e-6)
    assert_rel(flat(model, g), fd, 1e-6, "gradient vs central differences")


F32_GRID = [(c, L, a, "softmax_ce") for c, L, a in itertools.product(("lstm", "gru"), (1, 2), ARCHS)]


@pytest.mark.parametrize("cell,layers,arch,loss", F32_GRID, ids=["-".join(map(str, c)) for c in F32_GRID])
def test_float32_matches_oracle_and_finite_differences(cell, layers, arch, loss):
    model, u, target = make_case(5, cell, layers, arch, loss, dtype="float32")
    assert model.theta.dtype == np.float32
    E_ref, g_ref, n_ref, c_ref, _, _ = oracle(model, u, target)
    E, g = model.loss_and_grad(u, target)
    assert isinstance(E, float) and E == pytest.approx(E_ref, rel=1e-5)
    for name in model.params:
        assert g[name].dtype == np.float32
    assert_rel(flat(model, g), flat(model, g_ref), 1e-4, "float32 grad vs oracle")
    assert_rel(model.backprop_norms, n_ref, 1e-4, "float32 backprop_norms")
    if cell == "lstm":
        assert_rel(model.backprop_norms_cell, c_ref, 1e-4, "float32 backprop_norms_cell")
    fd = ref.fd_grad(lambda _: model.loss(u, target), model.theta, 1e-2)
    assert_rel(flat(model, g), fd, 3e-3, "float32 gradient vs central differences")


# -- PyTorch: same weights, same loss and gradients ------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("layers", [1, 2])
def test_matches_torch(cell, layers):
    torch = pytest.importorskip("torch", reason="torch is not installed (optional; "
                                "pip install torch to compare with torch.nn.LSTM / torch.nn.GRU)")
    T, Bt = 7, 3
    model, _, _ = make_case(6, cell, layers, "many_to_many", "softmax_ce")
    rng = np.random.default_rng(7)
    u = rng.normal(size=(T, Bt, I))
    target = rng.integers(0, O, size=(T, Bt))
    E, g = model.loss_and_grad(u, target)

    net = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(I, H, num_layers=layers, dtype=torch.float64)
    lin = torch.nn.Linear(H, O, dtype=torch.float64)
    names = [""] if layers == 1 else [f"layers.{l}." for l in range(layers)]
    with torch.no_grad():
        for l, pre in enumerate(names):
            getattr(net, f"weight_ih_l{l}").copy_(torch.from_numpy(model.params[pre + "W_in"]))
            getattr(net, f"weight_hh_l{l}").copy_(torch.from_numpy(model.params[pre + "W_rec"]))
            b = model.params[pre + "b"]
            # the mapping documented in the README: our b is torch's bias_ih + bias_hh, except
            # the GRU's n block, where bias_hh is our b_rec_n
            b_hh = np.zeros_like(b)
            if cell == "gru":
                b_hh[2 * H:] = model.params[pre + "b_rec_n"]
            # split b arbitrarily between the two biases where only their sum matters
            split = np.where(np.arange(b.size) < (2 * H if cell == "gru" else b.size), 0.3, 1.0)
            b_ih = b * split
            b_hh = b_hh + b * (1.0 - split) * (split < 1.0)
            getattr(net, f"bias_ih_l{l}").copy_(torch.from_numpy(b_ih))
            getattr(net, f"bias_hh_l{l}").copy_(torch.from_numpy(b_hh))
        lin.weight.copy_(torch.from_numpy(model.params["W_out"]))
        lin.bias.copy_(torch.from_numpy(model.params["b_out"]))
    out, _ = net(torch.from_numpy(u))                      # (T, B, H), time-major like rnnctl
    y = lin(out)
    loss = torch.nn.functional.cross_entropy(y.reshape(T * Bt, O), torch.from_numpy(target.reshape(-1)),
                                             reduction="sum") / Bt
    loss.backward()
    assert E == pytest.approx(loss.item(), rel=1e-12)
    assert_rel(model.outputs(u), y.detach().numpy(), 1e-12, "outputs")
    for l, pre in enumerate(names):
        assert_rel(g[pre + "W_in"], getattr(net, f"weight_ih_l{l}").grad.numpy(), 1e-10, "W_in")
        assert_rel(g[pre + "W_rec"], getattr(net, f"weight_hh_l{l}").grad.numpy(), 1e-10, "W_rec")
        gi, gh = getattr(net, f"bias_ih_l{l}").grad.numpy(), getattr(net, f"bias_hh_l{l}").grad.numpy()
        if cell == "lstm":
            assert_rel(g[pre + "b"], gi, 1e-10, "b")
            assert_rel(g[pre + "b"], gh, 1e-10, "b (bias_hh gets the same gradient)")
        else:
            assert_rel(g[pre + "b"], gi, 1e-10, "b")
            assert_rel(g[pre + "b"][:2 * H], gh[:2 * H], 1e-10, "b r,z")
            assert_rel(g[pre + "b_rec_n"], gh[2 * H:], 1e-10, "b_rec_n")
    assert_rel(g["W_out"], lin.weight.grad.numpy(), 1e-10, "W_out")
    assert_rel(g["b_out"], lin.bias.grad.numpy(), 1e-10, "b_out")


# -- initial and final state ------------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("layers", [1, 2])
def test_state0_continues_a_sequence_exactly(cell, layers):
    """Two chunks with state0 = the first chunk's last_state give the outputs and final state of
    one pass over the whole sequence (what truncated BPTT relies on)."""
    model, u, target = make_case(8, cell, layers, "many_to_many", "softmax_ce")
    y_all = model.outputs(u)
    final = model.last_state
    y1 = model.outputs(u[:2])
    s1 = model.last_state
    assert all(not np.shares_memory(a, model.theta) for a in s1)
    y2 = model.outputs(u[2:], state0=s1)
    np.testing.assert_allclose(np.concatenate([y1, y2]), y_all, rtol=1e-13, atol=1e-14)
    for a, b in zip(model.last_state, final):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
    # the loss of the second chunk, with its gradient, matches the oracle started from s1
    E, g = model.loss_and_grad(u[2:], target[2:], state0=s1)
    E_ref, g_ref, n_ref, c_ref, _, _ = oracle(model, u[2:], target[2:], state0=s1)
    assert E == pytest.approx(E_ref, rel=1e-12)
    assert_rel(flat(model, g), flat(model, g_ref), 1e-10, "grad from state0")
    assert_rel(model.backprop_norms, n_ref, 1e-10, "backprop_norms from state0")


def test_state0_pascanu_form_is_the_h_state():
    """In Pascanu's form the carried state is h = σ(x), so a default start equals state0 = σ(0)."""
    model, u, target = make_case(9, "rnn", 2, "many_to_many", "softmax_ce", form="pascanu",
                                 activation="sigmoid")
    E0, g0 = model.loss_and_grad(u, target)
    n0 = model.backprop_norms.copy()
    E1, g1 = model.loss_and_grad(u, target, state0=(np.full((2, B, H), 0.5),))
    assert E0 == E1 and np.array_equal(flat(model, g0), flat(model, g1))
    np.testing.assert_array_equal(model.backprop_norms, n0)
    x0 = np.random.default_rng(1).normal(size=(2, B, H))
    E2, g2 = model.loss_and_grad(u, target, state0=(1.0 / (1.0 + np.exp(-x0)),))
    E_ref, g_ref, n_ref, _, _, _ = oracle(model, u, target, x0=x0)
    assert E2 == pytest.approx(E_ref, rel=1e-12)
    assert_rel(flat(model, g2), flat(model, g_ref), 1e-10)
    assert_rel(model.backprop_norms, n_ref, 1e-10)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_bad_state0_raises(cell):
    model, u, target = make_case(10, cell, 2, "many_to_one", "softmax_ce")
    good = model.outputs(u) is not None and model.last_state
    model.loss(u, target, state0=good)
    bad = [np.zeros((2, B, H)),                                       # not a tuple
           tuple(np.zeros((1, B, H)) for _ in good),                  # wrong layer count
           tuple(np.zeros((2, B + 1, H)) for _ in good),              # wrong batch
           tuple(np.zeros((2, B, H)) for _ in range(len(good) + 1)),  # wrong arity
           tuple(np.full((2, B, H), "x") for _ in good)]              # not numeric
    for s in bad:
        with pytest.raises(DataError):
            model.loss_and_grad(u, target, state0=s)


# -- free-running generation -----------------------------------------------------------------------
@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("arch", ["one_to_many", "encoder_decoder"])
@pytest.mark.parametrize("loss", ["softmax_ce", "sigmoid_ce", "mse"])
def test_generation_is_deterministic_and_feeds_back_its_choices(cell, arch, loss):
    model, u, _ = make_case(11, cell, 2, arch, loss, scale=1.0)
    steps = 6
    y, ch = model.generate(u, steps)
    y2, ch2 = model.generate(u, steps)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(ch, ch2)
    np.testing.assert_array_equal(model.outputs(u, steps=steps), y)   # outputs() runs free, greedy
    assert y.shape == (steps, B, O)
    # free running = teacher forcing on the model's own choices (checked against the oracle)
    y_ref = oracle(model, u, ch)[4]
    assert_rel(y, y_ref, 1e-12, "generated outputs")
    if loss == "softmax_ce":
        np.testing.assert_array_equal(ch, y.argmax(axis=2))
    # sampling: same seed, same sequence; another seed, another sequence
    a = model.generate(u, 12, rng=np.random.default_rng(5))
    b = model.generate(u, 12, rng=np.random.default_rng(5))
    c = model.generate(u, 12, rng=np.random.default_rng(6))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    if loss != "mse":  # mse feeds back y itself: nothing to sample
        assert not np.array_equal(a[1], c[1])
        assert_rel(a[0], oracle(model, u, a[1])[4], 1e-12, "sampled outputs")


def test_generate_rejects_what_it_cannot_do():
    model, u, _ = make_case(12, "lstm", 1, "many_to_many", "softmax_ce")
    with pytest.raises(DataError):
        model.generate(u)
    with pytest.raises(DataError):
        model.outputs(u, steps=3)
    gen, u, _ = make_case(12, "gru", 1, "one_to_many", "softmax_ce")
    with pytest.raises(DataError):
        gen.generate(u, steps=1)          # fewer steps than u has
    with pytest.raises(DataError):
        gen.generate(u, steps=0)
    with pytest.raises(DataError):
        gen.generate(u, rng=np.random.RandomState(0))
    with pytest.raises(DataError):       # one_to_many target shorter than u
        gen.loss(u, np.zeros((1, B), int))


# -- init -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("scheme", ["orthogonal", "identity", "smart_tanh", "glorot", "basic_tanh", "sigmoid"])
def test_init_per_gate_block(cell, scheme):
    Hb = 16
    model = Model(7, 3, Hb, cell=cell, layers=2)
    model.theta[:] = 9.0
    model.init_params(np.random.default_rng(0), scheme, forget_bias=2.5)
    G = len(CELLS[cell])
    for pre in ("layers.0.", "layers.1."):
        W = model.params[pre + "W_rec"]
        for k in range(G):
            blk = W[k * Hb:(k + 1) * Hb]
            if scheme == "orthogonal":
                np.testing.assert_allclose(blk @ blk.T, np.eye(Hb), atol=1e-12)
            elif scheme == "identity":
                np.testing.assert_array_equal(blk, np.eye(Hb))
            elif scheme == "smart_tanh":
                assert np.all(np.count_nonzero(blk, axis=1) == 15)
                assert np.max(np.abs(np.linalg.eigvals(blk))) == pytest.approx(0.95, rel=1e-9)
        b = model.params[pre + "b"]
        # the gate that keeps the state is block 1: LSTM f (i, f, g, o), GRU z (r, z, n)
        np.testing.assert_array_equal(b[Hb:2 * Hb], 2.5)
        np.testing.assert_array_equal(np.delete(b, np.s_[Hb:2 * Hb]), 0.0)
        if cell == "gru":
            np.testing.assert_array_equal(model.params[pre + "b_rec_n"], 0.0)
    assert np.all(model.params["b_out"] == 0) and np.all(model.params["W_out"] != 9.0)
    if scheme != "identity":   # blocks are separate draws
        W = model.params["layers.0.W_rec"]
        assert not np.array_equal(W[:Hb], W[Hb:2 * Hb])


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_spectral_radius_rescales_every_block_of_every_layer(cell):
    model = Model(4, 3, 12, cell=cell, layers=2, arch="encoder_decoder")
    model.init_params(np.random.default_rng(1), "glorot", spectral_radius=0.7)
    G = max(1, len(CELLS[cell]))
    for name, W in model.params.items():
        if name.endswith("W_rec"):
            for k in range(G):
                rho = np.max(np.abs(np.linalg.eigvals(W[k * 12:(k + 1) * 12])))
                assert rho == pytest.approx(0.7, rel=1e-9), name


def test_single_layer_vanilla_init_is_unchanged():
    """The vanilla single-layer model draws exactly what init_rnn always drew (runs reproduce)."""
    from rnnctl.init import init_rnn
    for scheme in ("smart_tanh", "orthogonal", "glorot", "basic_tanh", "identity", "sigmoid"):
        model = Model(6, 4, 20)
        model.init_params(np.random.default_rng(3), scheme)
        W_in, W_rec, W_out = np.zeros((20, 6)), np.zeros((20, 20)), np.zeros((4, 20))
        init_rnn(np.random.default_rng(3), scheme, W_in, W_rec, W_out)
        for k, v in (("W_in", W_in), ("W_rec", W_rec), ("W_out", W_out)):
            np.testing.assert_array_equal(model.params[k], v)


# -- config, arch resolution and the tasks that need the new archs ---------------------------------
def _cfg(task, **model):
    return config_from_dict({"task": {"name": task, "length": 6}, "model": dict(hidden=4, **model)})


def test_arch_auto_takes_the_tasks_own():
    for name, arch in [("temporal_order", "many_to_one"), ("noiseless_memorization", "many_to_many"),
                       ("class_to_sequence", "one_to_many"), ("sequence_reversal", "encoder_decoder")]:
        task = TASKS[name]()
        assert task.natural_arch == arch and resolve_arch("auto", task) == arch
        assert resolve_arch(arch, task) == arch
    assert resolve_arch("many_to_many", TASKS["class_to_sequence"]()) == "many_to_many"


@pytest.mark.parametrize("task,arch", [("temporal_order", "many_to_many"), ("temporal_order", "encoder_decoder"),
                                       ("sequence_reversal", "many_to_many"), ("addition", "one_to_many"),
                                       ("noiseless_memorization", "many_to_one")])
def test_incompatible_arch_is_a_config_error_naming_model_arch(task, arch):
    cfg = _cfg(task, arch=arch)
    with pytest.raises(ConfigError) as info:
        model_from_config(cfg.model, TASKS[task](), np.random.default_rng(0))
    assert info.value.key == "model.arch"
    assert task in info.value.message and "auto" in info.value.message


@pytest.mark.parametrize("model,key", [(dict(cell="lstm", activation="sigmoid"), "model.activation"),
                                       (dict(cell="gru", form="pascanu"), "model.form"),
                                       (dict(cell="rnn", forget_bias=0.0), "model.forget_bias"),
                                       (dict(layers=0), "model.layers"),
                                       (dict(arch="many_to_few"), "model.arch")])
def test_config_rules_for_cells(model, key):
    with pytest.raises(ConfigError) as info:
        _cfg("temporal_order", **model)
    assert info.value.key == key


def test_model_rejects_vanilla_options_for_gated_cells():
    with pytest.raises(DataError):
        Model(I, O, H, cell="lstm", activation="relu")
    with pytest.raises(DataError):
        Model(I, O, H, cell="gru", form="pascanu")
    with pytest.raises(DataError):
        Model(I, O, H, arch="one_to_many", scored="last")
    with pytest.raises(DataError):
        Model(I, O, H, layers=0)


def test_sequence_reversal_task():
    task = TASKS["sequence_reversal"](n_values=4)
    batch = task.sample(np.random.default_rng(0), 6, 5)
    assert batch.u.shape == (6, 6, 5) and batch.target.shape == (5, 6)
    symbols = batch.u.argmax(axis=2)
    np.testing.assert_array_equal(symbols[5], 4)                   # the end marker
    np.testing.assert_array_equal(batch.target, symbols[4::-1])     # reversed
    assert task.output_steps(6) == 5 and task.max_steps(5) == 6


def test_class_to_sequence_task_has_fixed_sequences():
    task = TASKS["class_to_sequence"](n_values=3, n_classes=5)
    a = task.sample(np.random.default_rng(0), 200, 10)
    b = TASKS["class_to_sequence"](n_values=3, n_classes=5).sample(np.random.default_rng(1), 200, 70)
    cls_a, cls_b = a.u[0].argmax(axis=1), b.u[0].argmax(axis=1)
    assert np.all(a.u[1:] == 0) and np.all(a.u[0].sum(axis=1) == 1)
    table = task.sequences(70)
    assert table.shape == (5, 70) and len({tuple(r) for r in table}) == 5
    np.testing.assert_array_equal(a.target, table[cls_a, :10].T)   # the same sequences in every batch,
    np.testing.assert_array_equal(b.target, table[cls_b].T)        # and a prefix for shorter lengths
    np.testing.assert_array_equal(TASKS["class_to_sequence"](n_values=3, n_classes=5).sequences(10), table[:, :10])


# -- every cell x layers x arch trains from a config ------------------------------------------------
ARCH_TASKS = {"many_to_one": "temporal_order", "many_to_many": "noiseless_memorization",
              "one_to_many": "class_to_sequence", "encoder_decoder": "sequence_reversal"}


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("arch", ARCHS)
def test_every_combination_trains_from_a_config(cell, layers, arch):
    from rnnctl.training import MemorySink, train
    cfg = config_from_dict({
        "task": {"name": ARCH_TASKS[arch], "min_length": 10, "max_length": 13, "n_positions": 2},
        "model": {"cell": cell, "layers": layers, "arch": arch, "hidden": 6, "init": "orthogonal"},
        "train": {"steps": 6, "batch_size": 4, "optimizer": {"lr": 0.1, "momentum": 0.9},
                  "gradient": {"method": "norm", "threshold": 1.0}},
        "eval": {"every": 3, "sequences": 20, "batch_size": 8, "stop_on_success": False}})
    sink = MemorySink()
    result = train(cfg, sink)
    assert result.status == "completed" and result.summary["updates"] == 6
    assert 0.0 <= result.summary["final_error"] <= 1.0
    assert list(sink.saved_params["final"]) == ref.param_names(cell, layers, arch)
    init, final = sink.saved_params["init"], sink.saved_params["final"]
    assert any(not np.array_equal(init[k], final[k]) for k in init)   # it learned something


def test_vanilla_only_diagnostics_skip_or_refuse_generating_archs():
    """Temporal-contribution probes and Pascanu's Ω replay a single vanilla stack read out from u
    alone: probes are skipped for one_to_many / encoder_decoder, Ω is a config error."""
    from rnnctl.training import MemorySink, train
    base = {"task": {"name": "class_to_sequence", "length": 5},
            "model": {"hidden": 4, "arch": "one_to_many"},
            "train": {"steps": 2, "batch_size": 2},
            "eval": {"every": 2, "sequences": 4, "batch_size": 4}}
    cfg = config_from_dict({**base, "log": {"probe_every": 1}})
    assert train(cfg, MemorySink()).status == "completed"
    cfg = config_from_dict({**base, "train": {**base["train"], "regularizer": {"omega": 1.0}}})
    with pytest.raises(ConfigError) as info:
        train(cfg, MemorySink())
    assert info.value.key == "train.regularizer.omega"
