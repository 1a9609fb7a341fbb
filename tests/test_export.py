"""rnnctl export / import: a model's parameters to torch.nn.RNN/LSTM/GRU + Linear and back.

Trusted side: torch itself. The exported state_dict loads strictly into the modules the printed
lines build, their forward pass gives rnnctl's ``model.outputs`` to 1e-12 (float64), and importing
the file gives the exported parameters bit for bit."""

import hashlib
import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnctl.cli import app
from rnnctl.config import config_from_dict
from rnnctl.store import read_params, read_run
from rnnctl.training import build_model
from rnnctl.use import load_trained
from rnnctl.use import torchio

torch = pytest.importorskip("torch", reason='torch is not installed (optional: pip install "rnnctl[torch]")')

runner = CliRunner()
TASKS = {"many_to_one": {"name": "temporal_order", "length": 10},
         "many_to_many": {"name": "noiseless_memorization", "length": 6},
         "one_to_many": {"name": "class_to_sequence", "length": 7, "n_values": 4, "n_classes": 3},
         "encoder_decoder": {"name": "sequence_reversal", "min_length": 3, "max_length": 6, "n_values": 4}}
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
GRID = [(c, a, L, arch) for c, a in CELLS for L in (1, 2) for arch in ("many_to_one", "many_to_many")]
GRID += [("lstm", "tanh", 2, "encoder_decoder"), ("gru", "tanh", 1, "encoder_decoder"),
         ("rnn", "relu", 2, "encoder_decoder"), ("lstm", "tanh", 1, "one_to_many"), ("gru", "tanh", 2, "one_to_many")]


def config(cell="lstm", activation="tanh", layers=1, arch="many_to_one", tmp=None, **model):
    d = {"name": "exp", "seed": 3, "task": dict(TASKS[arch]),
         "model": {"cell": cell, "layers": layers, "hidden": 5, **({"activation": activation} if cell == "rnn" else {}),
                   **model},
         "train": {"steps": 4, "batch_size": 4, "optimizer": {"lr": 0.05}},
         "eval": {"every": 4, "sequences": 8, "batch_size": 8, "stop_on_success": False}}
    if tmp is not None:
        d["runs_dir"] = str(tmp / "runs")
    return d


def random_model(cfg_dict, seed=0):
    """The model a config describes (load_trained's code path), every parameter random, biases too."""
    model = build_model(config_from_dict(cfg_dict), np.random.default_rng(0))
    rng = np.random.default_rng(seed)
    model.set_params({k: rng.normal(scale=0.6, size=v.shape) for k, v in model.params.items()})
    model.params["b_out"][0] = -0.0   # a negative zero survives the bias split and back
    return model


def load_snippet(text):
    """Exec the printed lines: they build the modules and load the file strictly."""
    scope = {}
    exec(compile(text, "<export>", "exec"), scope)
    return scope["net"], scope["outputs"]


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def torch_outputs(model, outputs, u, steps):
    with torch.no_grad():
        y = outputs(torch.from_numpy(u), steps) if model.generates else outputs(torch.from_numpy(u))
    return y.numpy()


# -- the mapping, over every cell, layer count and architecture --------------------------------------
@pytest.mark.parametrize("cell, act, layers, arch", GRID, ids=[f"{c}-{a}-L{L}-{r}" for c, a, L, r in GRID])
def test_torch_round_trip(cell, act, layers, arch, tmp_path):
    model = random_model(config(cell, act, layers, arch))
    path = tmp_path / "m.pt"
    torchio.save_torch(model, path)
    net, outputs = load_snippet(torchio.snippet(model, path))
    # the keys are those of the torch modules, and load_state_dict(strict=True) took them
    sd = torch.load(path, weights_only=True)
    assert set(sd) == set(net.state_dict())
    assert all(t.dtype == torch.float64 for t in sd.values())
    if cell == "rnn":
        assert all(getattr(m, "nonlinearity", act) == act for m in net.values())
    rng = np.random.default_rng(1)
    u = rng.normal(size=(2 if arch == "one_to_many" else 7, 3, model.n_in))
    steps = 6 if model.generates else None
    want = model.outputs(u, steps=steps) if model.generates else model.outputs(u)
    got = torch_outputs(model, outputs, u, steps)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # back: the exported parameters, bit for bit
    fresh = build_model(config_from_dict(config(cell, act, layers, arch)), np.random.default_rng(5))
    back = torchio.from_arrays(fresh, torchio.load_torch(path))
    assert list(back) == list(model.params)
    for k, v in model.params.items():
        assert same_bits(back[k], v), k


def test_weights_made_in_torch_import_with_both_biases():
    """A torch.nn.GRU's own bias_hh (nonzero on every block) maps onto b and b_rec_n."""
    model = build_model(config_from_dict(config("gru", layers=2, arch="many_to_many")), np.random.default_rng(0))
    torch.manual_seed(0)
    net = torch.nn.ModuleDict({"rnn": torch.nn.GRU(model.n_in, 5, num_layers=2, dtype=torch.float64),
                               "readout": torch.nn.Linear(5, model.n_out, dtype=torch.float64)})
    arrays = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    model.set_params(torchio.from_arrays(model, arrays))
    u = np.random.default_rng(2).normal(size=(6, 2, model.n_in))
    with torch.no_grad():
        out, _ = net["rnn"](torch.from_numpy(u))
        y = net["readout"](out).numpy()
    np.testing.assert_allclose(model.outputs(u), y, rtol=0, atol=1e-12)


def test_npz_holds_the_named_arrays_and_metadata(tmp_path):
    model = random_model(config("gru", layers=2))
    meta = torchio.save_npz(model, tmp_path / "m.npz", run="r")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:   # plain arrays: no pickle needed
        assert set(z.files) == set(model.params) | {torchio.META_KEY}
        for k, v in model.params.items():
            assert same_bits(z[k], v)
        assert json.loads(str(z[torchio.META_KEY])) == meta
    assert {k: meta[k] for k in ("cell", "layers", "arch", "hidden", "loss")} == \
        {"cell": "gru", "layers": 2, "arch": "many_to_one", "hidden": 5, "loss": "softmax_ce"}


def test_mismatched_keys_and_shapes_are_named():
    model = random_model(config("lstm", layers=2))
    arrays = torchio.to_arrays(model)
    bad = dict(arrays)
    bad["rnn.weight_hh_l7"] = bad.pop("rnn.weight_hh_l1")
    with pytest.raises(torchio.NotExportable, match=r"missing key rnn\.weight_hh_l1; unexpected key rnn\.weight_hh_l7"):
        torchio.from_arrays(model, bad)
    bad = dict(arrays, **{"readout.bias": np.zeros(9)})
    with pytest.raises(torchio.NotExportable, match=r"readout\.bias has shape \(9,\)"):
        torchio.from_arrays(model, bad)
    gru = build_model(config_from_dict(config("gru", layers=2)), np.random.default_rng(0))
    with pytest.raises(torchio.NotExportable, match=r"rnn\.weight_ih_l0 has shape .*4 for lstm, 3 for gru"):
        torchio.from_arrays(gru, arrays)


# -- the commands ----------------------------------------------------------------------------------------
def train_run(tmp_path, write_config, name, **kw):
    text = json.dumps(config(tmp=tmp_path, **kw) | {"name": name})   # JSON is YAML
    r = runner.invoke(app, ["train", str(write_config(text, f"{name}.yaml")), "-q", "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["run_dir"], tmp_path / f"{name}.yaml"


def folder_digest(path):
    from pathlib import Path
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(path).rglob("*")) if p.is_file()}


def test_export_and_import_a_trained_run(tmp_path, write_config):
    run_dir, cfg_path = train_run(tmp_path, write_config, "lstm2", cell="lstm", layers=2)
    before = folder_digest(run_dir)
    pt, npz = tmp_path / "out" / "m.pt", tmp_path / "out" / "m.npz"
    pt.parent.mkdir()
    r = runner.invoke(app, ["export", run_dir, "--to", "torch", str(pt)])
    assert r.exit_code == 0, r.output
    net, outputs = load_snippet(r.stdout)      # the printed lines, pasted
    trained = load_trained(run_dir)
    assert trained.params == "final"           # a generated task: no best parameters
    u = np.random.default_rng(3).normal(size=(9, 4, trained.model.n_in))
    np.testing.assert_allclose(torch_outputs(trained.model, outputs, u, None), trained.model.outputs(u),
                               rtol=0, atol=1e-12)
    assert runner.invoke(app, ["export", run_dir, "--to", "npz", str(npz), "--params", "init"]).exit_code == 0
    arrays, meta = torchio.load_npz(npz)
    init = read_params(run_dir, "init")
    assert meta["params"] == "init" and meta["cell"] == "lstm" and meta["layers"] == 2
    assert all(same_bits(arrays[k], init[k]) for k in init) and set(arrays) == set(init)
    assert folder_digest(run_dir) == before    # export never writes in the run folder

    # import --eval: the evaluation of the weights, as a run's first evaluation would draw it
    r = runner.invoke(app, ["import", "torch", str(pt), str(cfg_path), "--eval", "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    from rnnctl.cli.export import _evaluation
    assert got["loss"] == _evaluation(trained.config, trained.model)["loss"]
    assert got["init_from"]["sha256"] == hashlib.sha256(pt.read_bytes()).hexdigest()

    # import (train): a new run whose initial parameters are the file's, bit for bit
    r = runner.invoke(app, ["import", "torch", str(pt), str(cfg_path), "-q", "--json"])
    assert r.exit_code == 0, r.output
    new = json.loads(r.stdout)["run_dir"]
    assert new != run_dir
    init, final = read_params(new, "init"), read_params(run_dir, "final")
    assert list(init) == list(final) and all(same_bits(init[k], final[k]) for k in final)
    info = read_run(new)
    assert info["init_from"] == {"path": str(pt.resolve()), "format": "torch",
                                 "sha256": hashlib.sha256(pt.read_bytes()).hexdigest()}
    # and from the .npz
    r = runner.invoke(app, ["import", "npz", str(npz), str(cfg_path), "-q", "--json"])
    assert r.exit_code == 0, r.output
    init2, init0 = read_params(json.loads(r.stdout)["run_dir"], "init"), read_params(run_dir, "init")
    assert all(same_bits(init2[k], init0[k]) for k in init0)


def test_import_eval_on_real_data_scores_the_valid_split(tmp_path, write_config):
    from rnnctl.data.scoring import score
    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog {i % 7}\n" for i in range(60))
    (tmp_path / "corpus.txt").write_text(text)
    cfg = write_config(f"""
        name: text
        seed: 0
        task: {{name: file, path: {tmp_path / 'corpus.txt'}, format: text, length: 20}}
        model: {{cell: gru, hidden: 6}}
        train: {{steps: 3, batch_size: 4, optimizer: {{lr: 0.05}}}}
        eval: {{every: 3, batch_size: 8}}
    """, "text.yaml")
    r = runner.invoke(app, ["train", str(cfg), "-q", "--json"])
    assert r.exit_code == 0, r.output
    run_dir = json.loads(r.stdout)["run_dir"]
    r = runner.invoke(app, ["export", run_dir, "--to", "torch", str(tmp_path / "t.pt")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["import", "torch", str(tmp_path / "t.pt"), str(cfg), "--eval", "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    trained = load_trained(run_dir)            # the best parameters
    want = score(trained.model, trained.sampler.dataset, "valid", batch_size=8, length=20)
    assert got["split"] == "valid" and got["bpc"] == pytest.approx(want["bpc"], rel=1e-12)
    r = runner.invoke(app, ["export", run_dir, "--to", "npz", str(tmp_path / "t.npz")])
    assert r.exit_code == 0, r.output
    assert "q" in torchio.load_npz(tmp_path / "t.npz")[1]["vocab"]   # the symbols' characters


# -- refusals ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model, reason", [({"form": "pascanu"}, "Pascanu's form"),
                                           ({"activation": "sigmoid"}, "tanh or relu")])
def test_no_torch_equivalent_exits_2_with_the_reason(model, reason, tmp_path, write_config):
    run_dir, _ = train_run(tmp_path, write_config, "v", cell="rnn", **model)
    r = runner.invoke(app, ["export", run_dir, "--to", "torch", str(tmp_path / "m.pt")])
    assert r.exit_code == 2
    assert reason in r.stderr and "--to npz" in r.stderr
    assert not (tmp_path / "m.pt").exists()
    assert runner.invoke(app, ["export", run_dir, "--to", "npz", str(tmp_path / "m.npz")]).exit_code == 0


def test_torch_missing_names_the_extra(monkeypatch, tmp_path, write_config):
    monkeypatch.setitem(sys.modules, "torch", None)    # import torch -> ImportError
    r = runner.invoke(app, ["export", str(tmp_path), "--to", "torch", str(tmp_path / "m.pt")])
    assert r.exit_code == 2 and 'pip install "rnnctl[torch]"' in r.stderr
    r = runner.invoke(app, ["import", "torch", str(tmp_path / "m.pt"), str(tmp_path / "c.yaml")])
    assert r.exit_code == 2 and 'pip install "rnnctl[torch]"' in r.stderr


def test_usage_errors(tmp_path, write_config):
    (tmp_path / "empty").mkdir()
    r = runner.invoke(app, ["export", str(tmp_path / "empty"), "--to", "torch", str(tmp_path / "m.pt")])
    assert r.exit_code == 5 and "not a run folder" in r.stderr        # load_trained's refusal
    r = runner.invoke(app, ["export", str(tmp_path), "--to", "onnx", str(tmp_path / "m.pt")])
    assert r.exit_code == 2 and "--to" in r.stderr
    run_dir, cfg_path = train_run(tmp_path, write_config, "g", cell="gru")
    r = runner.invoke(app, ["export", run_dir, "--to", "torch", f"{run_dir}/m.pt"])
    assert r.exit_code == 2 and "inside the run folder" in r.stderr
    pt = tmp_path / "g.pt"
    assert runner.invoke(app, ["export", run_dir, "--to", "torch", str(pt)]).exit_code == 0
    r = runner.invoke(app, ["import", "torch", str(pt), str(cfg_path), "model.layers=2", "--eval"])
    assert r.exit_code == 2 and "rnn.weight_ih_l1" in r.stderr
    r = runner.invoke(app, ["import", "torch", str(pt), str(cfg_path), "--eval", "--train"])
    assert r.exit_code == 2
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    r = runner.invoke(app, ["import", "torch", str(tmp_path / "junk.pt"), str(cfg_path), "--eval"])
    assert r.exit_code == 2 and "junk.pt" in r.stderr


def test_float32_exports_float32(tmp_path):
    model = build_model(config_from_dict(config("lstm", layers=2, dtype="float32")), np.random.default_rng(0))
    path = tmp_path / "m.pt"
    torchio.save_torch(model, path)
    text = torchio.snippet(model, path)
    assert "dtype=torch.float32" in text
    net, outputs = load_snippet(text)
    assert all(t.dtype == torch.float32 for t in torch.load(path, weights_only=True).values())
    u = np.random.default_rng(1).normal(size=(5, 2, model.n_in)).astype(np.float32)
    np.testing.assert_allclose(torch_outputs(model, outputs, u, None), model.outputs(u), rtol=0, atol=1e-5)
    back = torchio.from_arrays(model, torchio.load_torch(path))
    assert all(same_bits(back[k], v) for k, v in model.params.items())


def test_import_into_a_model_torch_lacks_is_refused(tmp_path, write_config):
    model = random_model(config("rnn"))
    torchio.save_torch(model, tmp_path / "m.pt")
    cfg = write_config(json.dumps(config("rnn", tmp=tmp_path, form="pascanu")), "p.yaml")
    r = runner.invoke(app, ["import", "torch", str(tmp_path / "m.pt"), str(cfg), "--eval"])
    assert r.exit_code == 2 and "Pascanu's form" in r.stderr and "import an rnnctl .npz" in r.stderr
