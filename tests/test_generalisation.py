"""The generalisation test's figures and data: each length bucket's error over training, and the
error at fixed lengths far beyond training from evaluations saved by ``rnnctl eval --save``, with
the update of the parameters each evaluation scored."""

from __future__ import annotations

import pytest

from rnnctl import plots as P
from rnnctl import report as R
from rnnctl import store
from rnnctl.config import config_from_dict
from rnnctl.store import RunFolder, read_run_record
from rnnctl.training import train
from rnnctl.use.evaluate import evaluate_run


def _range_run(tmp_path, name="r1", steps=6, seed=1):
    config = config_from_dict({"seed": seed, "task": {"name": "temporal_order", "min_length": 10, "max_length": 20},
                               "model": {"hidden": 4}, "train": {"steps": steps, "batch_size": 5},
                               "eval": {"every": 2, "sequences": 100, "length_buckets": 5}})
    folder = RunFolder.create(tmp_path / "runs", "range", name)
    train(config, folder)
    return folder.path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return _range_run(tmp_path_factory.mktemp("gen"))


def test_an_evaluation_names_the_update_of_the_parameters_it_scored(run_dir):
    doc = evaluate_run(run_dir, params="final", lengths=[30, 40], sequences=50)
    assert doc["update"] == store.read_run(run_dir)["updates"] == 6
    assert evaluate_run(run_dir, params="init", lengths=[30], sequences=50)["update"] == 0


def test_each_bucket_over_training_is_drawn_from_every_evaluation(run_dir):
    run = read_run_record(run_dir)
    metrics = store.read_metrics(run_dir)
    assert [m["update"] for m in metrics] == [2, 4, 6]
    fig = P.fig_bucket_error_over_training(run, metrics)
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("lengths")]
    assert len(lines) == 5                                           # one per bucket
    assert list(lines[0].get_xdata()) == [2, 4, 6]
    assert list(lines[-1].get_ydata()) == [100 * m["per_length"][-1]["error"] for m in metrics]
    assert P.fig_bucket_error_over_training(run, metrics[:1]) is None   # one evaluation: no curve
    assert "bucket_error_over_training" in P.run_figures(run)


def test_saved_evaluations_make_one_curve_per_set_of_parameters(tmp_path):
    a, b = _range_run(tmp_path, "a", seed=1), _range_run(tmp_path, "b", seed=2)
    for run_dir, params in ((a, "init"), (a, "final"), (b, "final")):
        store.write_eval(run_dir, evaluate_run(run_dir, params=params, lengths=[25, 50], sequences=40))
    store.write_eval(b, evaluate_run(b, params="final", lengths=[100], sequences=40))   # joins b's final curve
    runs = [read_run_record(a), read_run_record(b)]
    curves = P.generalisation_curves(runs)
    assert [(c["run"], c["update"], c["lengths"]) for c in curves] == [
        ("a", 0, [25, 50]), ("a", 6, [25, 50]), ("b", 6, [25, 50, 100])]
    saved = store.read_evals(b)
    assert curves[2]["errors"] == [saved[0]["lengths"][0]["error"], saved[0]["lengths"][1]["error"],
                                   saved[1]["lengths"][0]["error"]]
    fig = P.fig_generalisation(runs)
    assert len([ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("seed")]) == 3
    assert P.fig_generalisation([read_run_record(_range_run(tmp_path, "c"))]) is None   # nothing saved


def test_the_run_document_holds_the_data_behind_the_figures(run_dir):
    store.write_eval(run_dir, evaluate_run(run_dir, params="final", lengths=[30], sequences=20))
    doc = R.inspect_run(R.load_report(run_dir)).document()
    assert [e["update"] for e in doc["evaluations"]] == [2, 4, 6]
    assert doc["evaluations"][-1]["per_length"] == doc["per_length"]
    assert doc["saved_evals"][-1]["lengths"][0]["length"] == 30 and doc["saved_evals"][-1]["update"] == 6
