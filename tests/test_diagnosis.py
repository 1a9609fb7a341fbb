"""rnnctl.diagnosis: a labelled set of pathological runs, each made here on purpose with a tiny
model and diagnosed with its kind; below_baseline from run.json's baselines; the contract of the
returned object; runs that read themselves (run.json's ``diagnosis``, train's stderr); the CLI."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import rnnctl
from rnnctl import store
from rnnctl.cli import app
from rnnctl.diagnosis import KINDS, Limits, diagnose, summary_line
from rnnctl.diagnosis.evidence import Evidence
from rnnctl.diagnosis.outcome import read_outcome
from rnnctl.diagnosis.record import problem_lines
from rnnctl.errors import EXIT_OK, EXIT_UNUSABLE
from rnnctl.store import RunFolder
from sweepkit import run as run_sweep, spec  # noqa: F401 (spec: a fixture)

runner = CliRunner()

BASE = {"name": "p", "seed": 0,
        "task": {"name": "temporal_order", "length": 20},
        "model": {"cell": "rnn", "hidden": 10, "activation": "tanh", "init": "smart_tanh"},
        "train": {"steps": 100, "batch_size": 10, "optimizer": {"name": "sgd", "lr": 0.01},
                  "gradient": {"method": "none"}},
        "eval": {"every": 50, "sequences": 100}}

#: kind -> the config changes that make a run show it (docs/diagnosis.md, "Tested pathologies")
PATHOLOGIES = {
    "exploding": {"model": {"spectral_radius": 3.0, "init": "glorot"}, "train": {"optimizer": {"lr": 0.1}}},
    "vanishing": {"task": {"length": 100}, "model": {"spectral_radius": 0.3, "init": "glorot"}},
    "saturated": {"model": {"spectral_radius": 20.0, "init": "glorot"}},
    "clipping": {"train": {"gradient": {"method": "norm", "threshold": 1e-4}}},
    "no_learning": {"train": {"optimizer": {"lr": 1e-6}}},
    "diverged": {"model": {"activation": "linear", "spectral_radius": 1.5, "init": "glorot"}},
}


def deep(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = deep(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
    return out


def train_run(root, name: str, config: dict):
    cfg = rnnctl.config_from_dict(deep({**config, "runs_dir": str(root)}, {"name": name}))
    folder = RunFolder.create(cfg.runs_dir, name, "run")
    rnnctl.train(cfg, folder)
    return folder.path


@pytest.fixture(scope="module")
def noise_text(tmp_path_factory):
    """1,200 characters drawn uniformly from 8 letters: nothing to learn but the training split
    itself, so a model that trains long memorises it and its validation bpc worsens."""
    path = tmp_path_factory.mktemp("data") / "noise.txt"
    rng = np.random.default_rng(0)
    path.write_text("".join(rng.choice(list("abcdefgh"), 1200)))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, noise_text):
    root = tmp_path_factory.mktemp("runs")
    out = {kind: train_run(root, kind, deep(BASE, over)) for kind, over in PATHOLOGIES.items()}
    out["overfitting"] = train_run(root, "overfitting", {
        "name": "o", "seed": 0,
        "task": {"name": "file", "path": str(noise_text), "format": "text", "length": 20},
        "model": {"cell": "rnn", "hidden": 32, "activation": "tanh", "init": "glorot"},
        "train": {"steps": 600, "batch_size": 8, "optimizer": {"name": "adam", "lr": 0.003},
                  "gradient": {"method": "none"}},
        "eval": {"every": 50}})
    return out


@pytest.mark.parametrize("kind", [*PATHOLOGIES, "overfitting"])
def test_each_pathological_run_is_diagnosed_with_its_kind(runs, kind):
    d = diagnose(runs[kind])
    kinds = {f["kind"]: f for f in d["findings"]}
    assert kind in kinds, d
    f = kinds[kind]
    assert f["evidence"] and any(ch.isdigit() for ch in f["evidence"])   # the evidence is numbers
    if kind in ("vanishing", "clipping", "no_learning", "diverged"):
        assert f["severity"] == "problem" and d["healthy"] is False
    if kind == "overfitting":   # model selection kept the best parameters: handled
        assert f["severity"] == "warning"
        # random letters hold nothing beyond their frequencies: the only problem the run can have
        # is that its best parameters still lose to the unigram guess fitted on the train split
        assert d["healthy"] is all(k["kind"] != "below_baseline" for k in d["findings"])


def test_the_diagnosis_is_stored_in_run_json_and_is_the_same(runs):
    for kind, path in runs.items():
        stored = store.read_run(path)["diagnosis"]
        again = diagnose(path)
        assert stored["healthy"] == again["healthy"], kind
        assert [f["kind"] for f in stored["findings"]] == [f["kind"] for f in again["findings"]], kind


def test_the_returned_object_keeps_its_contract(runs):
    for path in runs.values():
        d = diagnose(path)
        assert set(d) == {"run", "healthy", "findings"} and d["run"] == str(path)
        assert d["healthy"] is (not any(f["severity"] == "problem" for f in d["findings"]))
        for f in d["findings"]:
            assert {"kind", "severity", "evidence", "remedies"} <= set(f)
            assert f["kind"] in KINDS and f["severity"] in ("warning", "problem")
            assert all(isinstance(r, str) for r in f["remedies"])
        json.loads(json.dumps(d, allow_nan=False))   # plain JSON: no NaN, no NumPy types


def test_every_remedy_is_a_valid_override_of_the_run_config(runs):
    """A remedy is pasted after `rnnctl train CONFIG`: it must load (keys as `rnnctl keys` lists
    them, values their checks accept) on top of the run's own config."""
    seen = 0
    for path in runs.values():
        for f in diagnose(path)["findings"]:
            for remedy in f["remedies"]:
                rnnctl.load_config(store.config_path(path), remedy.split())
                seen += 1
    assert seen >= 5


def test_a_clipping_remedy_is_computed_from_the_run_norms(runs):
    (f,) = [f for f in diagnose(runs["clipping"])["findings"] if f["kind"] == "clipping"]
    median = float(np.median(store.read_trace(runs["clipping"])["norm_before"]))
    value = float(f["remedies"][0].split("=")[-1])
    assert value == pytest.approx(median, rel=0.05)   # the median norm, to 2 significant digits
    assert f["values"]["clip_rate"] == 1.0


def test_the_exploding_remedy_sits_in_pascanus_range(runs):
    (f,) = [f for f in diagnose(runs["exploding"])["findings"] if f["kind"] == "exploding"]
    c = float(f["remedies"][0].split("threshold=")[1])
    mean = f["values"]["healthy_mean_norm"]
    assert 0.5 * mean <= c <= 10 * mean


# -- below_baseline: run.json's baselines (written by the training end, item 3 of issue 21) -----------

def with_baselines(path, baselines):
    info = store.read_run(path)
    info["baselines"] = baselines
    store.write_run(path, info)
    return path


def test_below_baseline_is_silent_without_baselines(runs, tmp_path):
    import shutil
    path = shutil.copytree(runs["overfitting"], tmp_path / "run")
    info = store.read_run(path)
    info.pop("baselines", None)               # a run recorded before baselines were stored
    store.write_run(path, info)
    assert all(f["kind"] != "below_baseline" for f in diagnose(path)["findings"])


def test_below_baseline_compares_the_result_split_with_each_baseline(runs, tmp_path):
    import shutil
    path = shutil.copytree(runs["overfitting"], tmp_path / "run")
    info = store.read_run(path)
    ours = info["test"]["bpc"]
    with_baselines(path, {"test": {"bpc": {"better": "lower", "values": {"uniform": ours - 0.1, "unigram": ours + 5}},
                                   "accuracy": {"better": "higher", "values": {"majority": 1.0}}},
                          "valid": {"bpc": {"better": "lower", "values": {"uniform": 0.0}}}})
    d = diagnose(path)
    (f,) = [f for f in d["findings"] if f["kind"] == "below_baseline"]
    assert f["severity"] == "problem" and d["healthy"] is False
    assert "uniform" in f["evidence"] and "unigram" not in f["evidence"] and "majority" in f["evidence"]
    assert "valid" not in f["evidence"]   # the test split is the result when the run was scored on it
    assert f["values"]["bpc.uniform"] == pytest.approx(ours - 0.1)
    # better than every baseline: nothing to say
    with_baselines(path, {"test": {"bpc": {"better": "lower", "values": {"uniform": ours + 1}}}})
    assert all(f["kind"] != "below_baseline" for f in diagnose(path)["findings"])


def test_below_baseline_reads_valid_when_there_is_no_test_score(runs, tmp_path):
    import shutil
    path = shutil.copytree(runs["overfitting"], tmp_path / "run")
    info = store.read_run(path)
    info["test"] = None
    info["baselines"] = {"valid": {"accuracy": {"better": "higher",
                                                "values": {"majority": info["valid"]["accuracy"] + 0.01}}}}
    store.write_run(path, info)
    kinds = [f["kind"] for f in diagnose(path)["findings"]]
    assert "below_baseline" in kinds


# -- the rules on evidence given directly ----------------------------------------------------------

def evidence(loss, norms, updates=None, fired=None, info=None, config=None, metrics=None, backprop=None):
    loss, norms = np.asarray(loss, float), np.asarray(norms, float)
    updates = np.arange(1, len(loss) + 1, dtype=float) if updates is None else np.asarray(updates, float)
    trace = {"update": updates, "loss": loss, "norm_before": norms, "norm_after": norms,
             "fired": np.zeros(len(loss)) if fired is None else np.asarray(fired, float)}
    return Evidence("x", {"status": "completed", **(info or {})},
                    config or {"model": {"cell": "rnn"}, "train": {"gradient": {"method": "none"},
                                                                    "optimizer": {"lr": 0.1}}},
                    trace, metrics or [], backprop, None, Limits())


def test_a_thinned_trace_is_read_by_its_update_numbers():
    """Every 10th update recorded: a spike is reported at its own update number."""
    from rnnctl.diagnosis import diagnose_evidence
    n = 300
    updates = np.arange(10, 10 * n + 1, 10)
    norms = np.ones(n)
    norms[150] = 1e3
    loss = np.linspace(2.0, 1.0, n)
    d = diagnose_evidence(evidence(loss, norms, updates))
    (f,) = [f for f in d["findings"] if f["kind"] == "exploding"]
    assert f["severity"] == "warning" and f["updates"] == [1510]
    assert "update 1510" in f["evidence"]


def test_no_learning_and_a_runaway_loss_on_given_evidence():
    from rnnctl.diagnosis import diagnose_evidence
    flat = diagnose_evidence(evidence(np.full(200, 1.386), np.ones(200)))
    assert [f["kind"] for f in flat["findings"]] == ["no_learning"]
    up = np.concatenate([np.linspace(2.0, 1.0, 100), np.linspace(1.0, 9.0, 100)])
    g = np.concatenate([np.ones(100), np.linspace(1, 100, 100)])
    d = diagnose_evidence(evidence(up, g))
    kinds = {f["kind"]: f["severity"] for f in d["findings"]}
    assert kinds == {"diverged": "problem", "exploding": "problem"}
    out = read_outcome(evidence(up, g))
    assert out.ran_away and out.learned


def test_an_auto_threshold_taken_from_exploded_updates_is_flagged():
    from rnnctl.diagnosis import diagnose_evidence
    g = np.concatenate([[30.0, 130, 60, 2500], np.full(296, 400.0)])   # the text-with-tanh case
    loss = np.concatenate([[230.0, 220, 210], np.full(297, 2500.0)])
    fired = (g > 376).astype(float)
    cfg = {"model": {"cell": "rnn"}, "train": {"optimizer": {"lr": 0.05},
                                               "gradient": {"method": "norm", "threshold": "auto", "auto_updates": 100}}}
    d = diagnose_evidence(evidence(loss, g, fired=fired, info={"threshold": 376.0}, config=cfg))
    kinds = {f["kind"]: f for f in d["findings"]}
    assert {"clipping", "exploding", "diverged"} <= set(kinds)
    assert kinds["clipping"]["severity"] == "problem"
    assert kinds["clipping"]["remedies"] == ["train.gradient.method=norm train.gradient.threshold=30"]


def test_vanishing_reads_the_last_finite_step_of_padded_rows():
    from rnnctl.diagnosis.signal import decay_orders
    norms = np.full((2, 1, 6), np.nan)
    norms[0, 0, :6] = [9, 1e-6, 1e-4, 1e-2, 1e-1, 1.0]     # x_0 is left out; T = 5
    norms[1, 0, :4] = [9, 1e-3, 1e-2, 1.0]                 # padded after step 3
    assert np.allclose(decay_orders(norms), [6.0, 3.0])


def test_limits_are_options_of_diagnose(runs):
    loose = diagnose(runs["clipping"], always_fires=1.01, learned_drop=0.0)
    assert all(f["kind"] != "clipping" for f in loose["findings"])
    with pytest.raises(TypeError):
        diagnose(runs["clipping"], no_such_limit=1)


# -- runs read themselves -------------------------------------------------------------------------

def test_a_memory_sink_gets_the_diagnosis_in_its_summary():
    cfg = rnnctl.config_from_dict(deep(BASE, {"train": {"optimizer": {"lr": 1e-6}, "steps": 40}}))
    sink = rnnctl.MemorySink()
    rnnctl.train(cfg, sink)
    d = sink.summary["diagnosis"]
    assert d["run"] == "<memory>" and [f["kind"] for f in d["findings"]] == ["no_learning"]


def test_a_failing_diagnosis_is_recorded_and_never_fails_the_run(tmp_path, monkeypatch):
    import rnnctl.diagnosis.record as record

    def broken(ev):
        raise ValueError("boom")
    monkeypatch.setattr(record, "diagnose_evidence", broken)
    path = train_run(tmp_path, "x", deep(BASE, {"train": {"steps": 20}}))
    info = store.read_run(path)
    assert info["status"] == "completed"
    assert info["diagnosis"]["healthy"] is None and "ValueError: boom" in info["diagnosis"]["error"]
    assert problem_lines(info["diagnosis"]) == ["the diagnosis failed: ValueError: boom"]


def test_train_prints_one_line_per_problem_on_stderr(write_config):
    path = write_config("""
        name: flat
        task: {name: temporal_order, length: 12}
        model: {hidden: 8}
        train: {steps: 40, batch_size: 4, optimizer: {lr: 1.0e-6}}
        eval: {every: 20, sequences: 50}
    """)
    r = runner.invoke(app, ["train", str(path), "-q", "--json"])
    assert r.exit_code == EXIT_OK, r.output
    info = json.loads(r.stdout)
    assert info["diagnosis"]["healthy"] is False
    assert "no_learning:" in r.stderr and "try: train.optimizer.lr=" in r.stderr
    assert "no_learning" not in r.stdout.replace('"no_learning"', "")   # stdout: only the JSON


# -- the CLI ----------------------------------------------------------------------------------------

def test_cli_json_one_object_for_one_run_a_list_for_several(runs):
    r = runner.invoke(app, ["diagnose", str(runs["clipping"]), "--json"])
    assert r.exit_code == EXIT_OK, r.output
    one = json.loads(r.stdout)
    assert one["run"] == str(runs["clipping"]) and "clipping" in [f["kind"] for f in one["findings"]]
    r = runner.invoke(app, ["diagnose", str(runs["clipping"]), str(runs["no_learning"]), "--json"])
    many = json.loads(r.stdout)
    assert isinstance(many, list) and len(many) == 2


def test_cli_a_folder_of_runs_gives_a_line_per_run_and_a_summary(runs):
    root = runs["clipping"].parents[1]
    r = runner.invoke(app, ["diagnose", str(root)])
    assert r.exit_code == EXIT_OK, r.output
    lines = r.stdout.strip().splitlines()
    assert lines[-1].startswith(f"{len(runs)} runs: ") and "with problems" in lines[-1]
    r = runner.invoke(app, ["diagnose", str(root), "--json"])
    assert len(json.loads(r.stdout)) == len(runs)


def test_cli_a_path_without_runs_exits_5(tmp_path):
    r = runner.invoke(app, ["diagnose", str(tmp_path / "nothing")])
    assert r.exit_code == EXIT_UNUSABLE
    (tmp_path / "empty").mkdir()
    assert runner.invoke(app, ["diagnose", str(tmp_path / "empty")]).exit_code == EXIT_UNUSABLE


def test_summary_line_counts_problems_by_kind():
    ds = [{"healthy": True, "findings": []},
          {"healthy": False, "findings": [{"kind": "diverged", "severity": "problem"},
                                          {"kind": "exploding", "severity": "problem"}]},
          {"healthy": None, "findings": [], "error": "x"}]
    assert summary_line(ds) == "3 runs: 1 healthy, 1 with problems (exploding 1, diverged 1), 1 not diagnosed"


def test_an_extended_run_is_diagnosed_at_its_new_end(tmp_path):
    from rnnctl.training import resume_run
    path = train_run(tmp_path, "x", deep(BASE, {"train": {"steps": 40, "optimizer": {"lr": 1e-6}}}))
    assert store.read_run(path)["diagnosis"]["findings"][0]["values"]["loss_best"]
    cfg, folder, checkpoint = resume_run(path, ["train.steps=60"])
    rnnctl.train(cfg, folder, resume=checkpoint)
    info = store.read_run(path)
    assert info["updates"] == 60 and info["diagnosis"]["run"] == str(path)
    assert "over 60 updates" in info["diagnosis"]["findings"][0]["evidence"]


def test_each_sweep_job_reads_itself_and_diagnose_reads_the_sweep(spec):
    path = spec("""
        name: sw
        grid:
          train.optimizer.lr: [1.0e-6, 0.05]
    """)
    run_sweep(path, executor="thread", workers=1)
    folder = path.parent / "runs" / "sw"
    runs = sorted(p for p in folder.glob("*/") if store.is_run_folder(p))
    assert len(runs) == 2 and all("diagnosis" in store.read_run(p) for p in runs)
    r = runner.invoke(app, ["diagnose", str(folder)])
    assert r.exit_code == EXIT_OK, r.output
    assert r.stdout.strip().splitlines()[-1].startswith("2 runs: ")
    assert "no_learning" in r.stdout


def test_a_validation_metric_that_ran_away_from_its_best_is_diverged():
    """The issue's first case: a character model without clipping, valid bpc 1.39 at best, 9.6 at
    the end; the training loss level itself did not double (the last window had recovered a bit)."""
    from rnnctl.diagnosis import diagnose_evidence
    records = [{"update": u, "valid": {"bpc": v}, "train_loss": tl}
               for u, v, tl in ((1000, 2.4, 90.0), (2000, 1.39, 70.0), (3000, 9.6, 120.0))]
    loss = np.concatenate([np.linspace(150, 70, 2000), np.linspace(70, 120, 1000)])
    info = {"metric": "bpc", "metric_mode": "min", "valid": {"bpc": 1.39}}
    d = diagnose_evidence(evidence(loss, np.ones(3000), info=info, metrics=records))
    (f,) = [f for f in d["findings"] if f["kind"] == "diverged"]
    assert f["severity"] == "problem" and f["updates"] == [2000, 3000] and "9.6" in f["evidence"]
    # worse than its best but not than its first evaluation, training still improving: overfitting
    records[-1] = {"update": 3000, "valid": {"bpc": 1.6}, "train_loss": 60.0}
    loss = np.linspace(150, 60, 3000)
    d = diagnose_evidence(evidence(loss, np.ones(3000), info=info, metrics=records))
    assert [f["kind"] for f in d["findings"]] == ["overfitting"]


def test_the_lesson_sentences_name_the_problems_of_a_run():
    from rnnctl.lesson.story import diagnosed
    info = {"diagnosis": {"healthy": False, "findings": [
        {"kind": "vanishing", "severity": "problem"}, {"kind": "exploding", "severity": "warning"},
        {"kind": "no_learning", "severity": "problem"}]}}
    assert diagnosed(info) == "; its diagnosis reads vanishing and no_learning"
    assert diagnosed({"diagnosis": {"healthy": True, "findings": []}}) == diagnosed({}) == ""


def test_a_threshold_above_every_spike_is_flagged_but_not_auto_warm_up_spikes():
    from rnnctl.diagnosis import diagnose_evidence
    g = np.ones(400)
    g[[50, 300]] = 40.0
    loss = np.linspace(2.0, 1.0, 400)
    fixed = {"model": {"cell": "rnn"}, "train": {"optimizer": {"lr": 0.1},
                                                 "gradient": {"method": "norm", "threshold": 100.0}}}
    d = diagnose_evidence(evidence(loss, g, config=fixed))
    (f,) = [f for f in d["findings"] if f["kind"] == "clipping"]
    assert f["severity"] == "warning" and f["updates"] == [51, 301]
    auto = deep(fixed, {"train": {"gradient": {"threshold": "auto", "auto_updates": 100}}})
    fired = (np.arange(400) == 300).astype(float)   # the spike after the warm-up was scaled
    d = diagnose_evidence(evidence(loss, g, fired=fired, info={"threshold": 1.2}, config=auto))
    assert all(f["kind"] != "clipping" for f in d["findings"])


def test_a_forget_gate_stuck_shut_is_saturated(tmp_path):
    path = train_run(tmp_path, "lstm", deep(BASE, {"model": {"cell": "lstm", "forget_bias": -10.0, "init": "glorot"},
                                                   "train": {"steps": 20}}))
    (f,) = [f for f in diagnose(path)["findings"] if f["kind"] == "saturated"]
    assert "forget gate is stuck shut" in f["evidence"] and f["values"]["stuck_f"] == 1.0
    assert f["remedies"][0] == "model.forget_bias=1"
