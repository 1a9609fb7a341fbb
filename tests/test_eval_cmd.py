"""rnnctl eval: a trained model scored again on a split of its data (the run.json numbers exactly),
on a new file read with the run's vocabulary, labels and normalisation, and on generated
sequences at new lengths (Pascanu's generalisation test); predictions, --save, and the JSON."""

import csv
import hashlib
import json
import math
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnctl.cli import app
from rnnctl.errors import EXIT_USAGE
from rnnctl.store import layout as L
from rnnctl.store import read_evals, read_run

runner = CliRunner()

TEXT = "".join(f"line {i}: the quick brown fox jumps over the lazy dog {i % 7}\n" for i in range(120))
BASE = """
runs_dir: {runs}
name: {name}
model: {{hidden: 10, init: glorot}}
train: {{steps: 20, batch_size: 4, optimizer: {{lr: 0.05}}, gradient: {{method: norm, threshold: 1.0}}}}
eval: {{every: 10, sequences: 200, batch_size: 64}}
"""
TASKS = {
    "text": "task: {name: file, path: corpus.txt, format: text, length: 20}",
    "csv": "task: {name: file, path: series.csv, format: csv, length: 16}",
    "labelled": "task: {name: file, path: reviews.csv, format: labelled}",
    "npz": "task: {name: file, path: seqs.npz, format: npz}",
    "order": "task: {name: temporal_order, min_length: 10, max_length: 16}",
}


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def eval_json(run, *args):
    r = invoke("eval", run, "--json", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def folder_hashes(path):
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("evaldata")
    (d / "corpus.txt").write_text(TEXT, encoding="utf-8")
    t = np.arange(300)
    series = np.sin(t / 8.0) + 0.05 * np.random.default_rng(0).normal(size=t.size)
    (d / "series.csv").write_text("value\n" + "\n".join(f"{v:.6f}" for v in series) + "\n")
    rows = ["text,label"] + [f"{'good fine' if i % 2 else 'bad poor'} film {i},{'pos' if i % 2 else 'neg'}"
                             for i in range(60)]
    (d / "reviews.csv").write_text("\n".join(rows) + "\n")
    rng = np.random.default_rng(1)
    arrays = {f"x_{i}": rng.normal(size=(int(rng.integers(2, 9)), 3)) for i in range(40)}
    np.savez(d / "seqs.npz", y=np.array([int(arrays[f"x_{i}"][:, 0].sum() > 0) for i in range(40)]), **arrays)
    return d


@pytest.fixture(scope="module")
def runs(data_dir):
    """One tiny trained run per kind: text, csv, labelled (real data) and order (temporal_order)."""
    out = {}
    for kind, task in TASKS.items():
        cfg = data_dir / f"{kind}.yaml"
        cfg.write_text(textwrap.dedent(task + BASE.format(runs=data_dir / "runs", name=kind)))
        r = invoke("train", cfg, "--quiet")
        assert r.exit_code == 0, r.output
        (out[kind],) = [p for p in (data_dir / "runs" / kind).iterdir() if p.is_dir()]
    return out


# ---- real data: the run's own splits ------------------------------------------------------------
@pytest.mark.parametrize("kind", ["text", "csv", "labelled"])
def test_eval_of_a_split_reproduces_the_run_json_metrics_exactly(runs, kind):
    run = runs[kind]
    info = read_run(run)
    test = eval_json(run, "--split", "test")
    assert test["metrics"] == info["test"] and list(test["metrics"]) == list(info["test"])
    assert eval_json(run)["metrics"] == info["test"]           # test is the default split
    assert eval_json(run, "--split", "valid")["metrics"] == info["valid"]
    assert eval_json(run, "--split", "train", "--params", "best")["metrics"] == info["train"]
    final = eval_json(run, "--params", "final")
    assert final["params"] == "final" and set(final["metrics"]) == set(info["test"])


def test_the_json_shape_of_a_real_data_evaluation(runs):
    doc = eval_json(runs["text"], "--split", "valid")
    assert list(doc) == ["run", "params", "update", "task", "split", "metrics"]
    assert doc["run"] == str(runs["text"]) and doc["params"] == "best" and doc["task"] == "file"
    assert list(doc["metrics"]) == ["bpc", "nll", "accuracy", "loss"]
    assert all(isinstance(v, float) and math.isfinite(v) for v in doc["metrics"].values())


def test_the_table_names_the_run_and_every_metric(runs):
    r = invoke("eval", runs["csv"])
    assert r.exit_code == 0, r.output
    assert "best parameters, split test" in r.stdout
    for metric in ("mse", "mae", "baseline_mse", "baseline_mae", "loss"):
        assert metric in r.stdout


# ---- real data: a new file ------------------------------------------------------------------------
def test_data_holding_the_test_range_of_a_text_scores_as_the_test_split(runs, data_dir, tmp_path):
    info = read_run(runs["text"])
    start = info["dataset"]["bounds"][1]
    part = tmp_path / "part.txt"
    part.write_text(TEXT[start:], encoding="utf-8")
    doc = eval_json(runs["text"], "--data", part)
    assert doc["data"] == str(part) and "split" not in doc
    assert doc["metrics"] == info["test"]
    # characters the training range never saw are the unknown symbol, not an error
    odd = tmp_path / "odd.txt"
    odd.write_text("the quick ΩΩ fox ☃ jumps\n" * 20, encoding="utf-8")
    m = eval_json(runs["text"], "--data", odd)["metrics"]
    assert math.isfinite(m["bpc"]) and 0.0 <= m["accuracy"] <= 1.0


def test_data_in_csv_is_normalised_with_the_runs_statistics(runs, data_dir, tmp_path):
    info = read_run(runs["csv"])
    start = info["dataset"]["bounds"][1]
    lines = (data_dir / "series.csv").read_text().splitlines()
    part = tmp_path / "part.csv"
    part.write_text("\n".join([lines[0]] + lines[1 + start:]) + "\n")
    assert eval_json(runs["csv"], "--data", part)["metrics"] == info["test"]
    two = tmp_path / "two.csv"
    two.write_text("a,b\n1,2\n3,4\n5,6\n")
    r = invoke("eval", runs["csv"], "--data", two)
    assert r.exit_code == EXIT_USAGE and "2 columns; the run's series has 1" in r.output


def test_labelled_data_uses_the_runs_labels_and_an_unknown_label_is_an_error(runs, data_dir, tmp_path):
    from rnnctl.data import load
    run = runs["labelled"]
    info = read_run(run)
    ds = load(data_dir / "reviews.csv", "labelled")
    lines = (data_dir / "reviews.csv").read_text().splitlines()
    part = tmp_path / "part.csv"
    part.write_text("\n".join([lines[0]] + [lines[1 + i] for i in ds.indices("test")]) + "\n")
    assert eval_json(run, "--data", part)["metrics"] == info["test"]
    jsonl = tmp_path / "new.jsonl"
    jsonl.write_text('{"text": "good film", "label": "pos"}\n{"text": "bad film", "label": "neg"}\n')
    assert 0.0 <= eval_json(run, "--data", jsonl)["metrics"]["accuracy"] <= 1.0
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\ngood film,pos\nso so film,meh\n")
    r = invoke("eval", run, "--data", bad)
    assert r.exit_code == EXIT_USAGE
    assert "line 3" in r.output and "'meh' is not one of the run's labels" in r.output


def test_npz_data_is_scored_whole_whatever_its_split_key_says(runs, tmp_path):
    rng = np.random.default_rng(5)
    new = {f"x_{i}": rng.normal(size=(4, 3)) for i in range(6)}
    np.savez(tmp_path / "new.npz", y=np.array([0, 1] * 3), split=np.array(["test"] * 6), **new)
    doc = eval_json(runs["npz"], "--data", tmp_path / "new.npz", "--predictions", tmp_path / "p.jsonl")
    assert doc["predictions"]["rows"] == 6 and 0.0 <= doc["metrics"]["accuracy"] <= 1.0
    np.savez(tmp_path / "wide.npz", y=np.array([0, 1]), x_0=np.ones((3, 2)), x_1=np.ones((2, 2)))
    r = invoke("eval", runs["npz"], "--data", tmp_path / "wide.npz")
    assert r.exit_code == EXIT_USAGE and "the run's model reads 3" in r.output
    np.savez(tmp_path / "many.npz", y=np.array([0, 5]), x_0=np.ones((3, 3)), x_1=np.ones((2, 3)))
    r = invoke("eval", runs["npz"], "--data", tmp_path / "many.npz")
    assert r.exit_code == EXIT_USAGE and "class 5 is not one of the run's 2 classes" in r.output


def test_data_and_split_exclude_each_other_and_a_missing_file_is_named(runs, tmp_path):
    r = invoke("eval", runs["text"], "--data", tmp_path / "none.txt")
    assert r.exit_code == EXIT_USAGE and "none.txt: no such file" in r.output
    r = invoke("eval", runs["text"], "--data", tmp_path / "none.txt", "--split", "test")
    assert r.exit_code == EXIT_USAGE and "not both" in r.output
    r = invoke("eval", runs["text"], "--split", "dev")
    assert r.exit_code == EXIT_USAGE and "--split" in r.output


# ---- generated tasks: other lengths ---------------------------------------------------------------
def test_lengths_give_one_deterministic_row_each(runs):
    run = runs["order"]
    doc = eval_json(run, "--length", 20, "--length", 40, "--sequences", 150)
    assert list(doc) == ["run", "params", "update", "task", "seed", "lengths"]
    assert doc["params"] == "final" and doc["task"] == "temporal_order" and doc["seed"] == 0
    assert [row["length"] for row in doc["lengths"]] == [20, 40]
    for row in doc["lengths"]:
        assert set(row) == {"length", "loss", "error", "errors", "sequences"}
        assert 0.0 <= row["error"] <= 1.0 and row["sequences"] == 150
        assert row["errors"] == round(row["error"] * 150) and math.isfinite(row["loss"]) and row["loss"] > 0
    assert eval_json(run, "--length", 20, "--length", 40, "--sequences", 150) == doc      # the same call, the same numbers
    alone = eval_json(run, "--length", 40, "--sequences", 150)["lengths"]
    assert alone == doc["lengths"][1:]                                  # a length's numbers do not depend on the others
    other = eval_json(run, "--length", 20, "--sequences", 150, "--seed", 7)
    assert other["seed"] == 7 and other["lengths"][0]["loss"] != doc["lengths"][0]["loss"]
    big = eval_json(run, "--length", 20, "--sequences", 150, "--batch-size", 150)["lengths"][0]
    assert 0.0 <= big["error"] <= 1.0 and big["sequences"] == 150      # chunks of 150: other draws, same kind of numbers


def test_without_length_the_runs_own_length_rule_is_used(runs):
    (row,) = eval_json(runs["order"], "--sequences", 100)["lengths"]
    assert row["length"] is None and (row["min_length"], row["max_length"]) == (10, 16)
    assert row["sequences"] == 100                          # default would be eval.sequences (200)
    (row,) = eval_json(runs["order"])["lengths"]
    assert row["sequences"] == 200
    r = invoke("eval", runs["order"], "--length", 500, "--length", 1000, "--sequences", 20)
    assert r.exit_code == 0, r.output
    assert "errors / sequences" in r.stdout and "1000" in r.stdout and "/ 20" in r.stdout


def test_options_of_the_other_kind_of_run_are_refused(runs):
    r = invoke("eval", runs["order"], "--split", "test")
    assert r.exit_code == EXIT_USAGE and "--split applies to runs on real data" in r.output
    r = invoke("eval", runs["text"], "--length", 100)
    assert r.exit_code == EXIT_USAGE and "--length applies to generated tasks" in r.output
    r = invoke("eval", runs["order"], "--length", 1)
    assert r.exit_code == EXIT_USAGE and "--length" in r.output


# ---- predictions -------------------------------------------------------------------------------
def test_classification_predictions_in_csv_and_jsonl(runs, tmp_path):
    run = runs["labelled"]
    info = read_run(run)
    out_csv, out_jsonl = tmp_path / "p.csv", tmp_path / "p.jsonl"
    doc = eval_json(run, "--predictions", out_csv)
    assert doc["predictions"] == {"file": str(out_csv), "rows": info["dataset"]["sizes"]["test"]}
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == info["dataset"]["sizes"]["test"]
    assert list(rows[0]) == ["index", "predicted", "target", "correct", "probability", "p.neg", "p.pos"]
    assert np.mean([r["correct"] == "True" for r in rows]) == pytest.approx(info["test"]["accuracy"], abs=1e-12)
    for r in rows:
        p = {"neg": float(r["p.neg"]), "pos": float(r["p.pos"])}
        assert r["predicted"] == max(p, key=p.get) and float(r["probability"]) == max(p.values())
        assert abs(sum(p.values()) - 1) < 1e-12 and (r["predicted"] == r["target"]) == (r["correct"] == "True")
    eval_json(run, "--predictions", out_jsonl)
    lines = [json.loads(x) for x in out_jsonl.read_text().splitlines()]
    assert [x["index"] for x in lines] == [int(r["index"]) for r in rows] == sorted(int(r["index"]) for r in rows)
    assert [x["predicted"] for x in lines] == [r["predicted"] for r in rows]
    assert set(lines[0]["p"]) == {"neg", "pos"}


def test_forecast_predictions_are_in_the_files_units(runs, data_dir, tmp_path):
    run = runs["csv"]
    info = read_run(run)
    out = tmp_path / "f.jsonl"
    doc = eval_json(run, "--predictions", out)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == doc["predictions"]["rows"] == info["dataset"]["sizes"]["test"]
    raw = np.loadtxt(data_dir / "series.csv", skiprows=1)
    start = info["dataset"]["bounds"][1]
    assert [r["position"] for r in rows] == list(range(start, start + len(rows)))
    assert all(r["target"]["value+1"] == pytest.approx(raw[r["position"] + 1], abs=1e-9) for r in rows)
    err = np.array([r["prediction"]["value+1"] - r["target"]["value+1"] for r in rows])
    assert np.mean(err ** 2) == pytest.approx(info["test"]["mse"], rel=1e-9)


def test_predictions_are_refused_for_other_kinds_and_suffixes(runs, tmp_path):
    r = invoke("eval", runs["text"], "--predictions", tmp_path / "p.csv")
    assert r.exit_code == EXIT_USAGE and "classification and forecasting" in r.output
    r = invoke("eval", runs["labelled"], "--predictions", tmp_path / "p.txt")
    assert r.exit_code == EXIT_USAGE and ".csv or .jsonl" in r.output
    r = invoke("eval", runs["order"], "--predictions", tmp_path / "p.csv")
    assert r.exit_code == EXIT_USAGE
    assert not list(tmp_path.iterdir())


# ---- the run folder ------------------------------------------------------------------------------
def test_eval_changes_nothing_in_the_run_folder_without_save(runs, tmp_path):
    for kind, args in (("labelled", ("--predictions", tmp_path / "p.csv")), ("order", ("--length", 30)),
                       ("text", ("--split", "valid"))):
        before = folder_hashes(runs[kind])
        eval_json(runs[kind], *args)
        assert folder_hashes(runs[kind]) == before


def test_save_writes_one_eval_file_and_nothing_else(runs, data_dir):
    import shutil
    run = shutil.copytree(runs["order"], data_dir / "saved-run")
    before = folder_hashes(run)
    doc = eval_json(run, "--length", 25, "--sequences", 50, "--save")
    after = folder_hashes(run)
    new = sorted(set(after) - set(before))
    assert len(new) == 1 and new[0].startswith(L.EVALS_DIR + "/") and new[0].endswith(".json")
    assert {k: after[k] for k in before} == before
    saved = json.loads((run / new[0]).read_text())
    assert {k: v for k, v in saved.items() if k != "saved"} == doc and saved["saved"]
    eval_json(run, "--length", 30, "--sequences", 50, "--save")         # same second: a second file
    records = read_evals(run)
    assert [r["lengths"][0]["length"] for r in records] == [25, 30]
    assert len(list((run / L.EVALS_DIR).iterdir())) == 2


def test_data_that_changed_since_training_is_refused(runs, tmp_path):
    import shutil
    run = shutil.copytree(runs["text"], tmp_path / "run")
    info = json.loads((run / L.RUN_INFO).read_text())
    info["dataset"]["hash"] = "0" * 64                  # as if the file had been edited since
    (run / L.RUN_INFO).write_text(json.dumps(info))
    r = invoke("eval", run)
    assert r.exit_code == EXIT_USAGE and "the data changed since the run was trained" in r.output
