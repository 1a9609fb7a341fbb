"""Training on real data (task.name: file): datasets feed the loop, the valid split picks the best
parameters, the test split is scored once, and runs resume bit-identically."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from rnnctl.config import check_runnable, load_config
from rnnctl.data import from_text, from_values, metrics, scoring
from rnnctl.errors import ConfigError, DataError
from rnnctl.store import RunFolder, config_path, read_metrics, read_params, read_run
from rnnctl.training import MemorySink, build_model, train
from test_training_state import InterruptAt, whole_and_resumed

TEXT = "".join(f"line {i}: the quick brown fox jumps over the lazy dog {i % 7}\n" for i in range(200))


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "corpus.txt").write_text(TEXT, encoding="utf-8")
    t = np.arange(400)
    series = np.sin(t / 8.0) + 0.05 * np.random.default_rng(0).normal(size=t.size)
    (d / "series.csv").write_text("value\n" + "\n".join(f"{v:.6f}" for v in series) + "\n")
    rng = np.random.default_rng(1)
    arrays = {}
    for i in range(60):
        x = rng.normal(size=(int(rng.integers(2, 12)), 3))
        arrays[f"x_{i}"] = x
    arrays["y"] = np.array([int(arrays[f"x_{i}"][:, 0].sum() > 0) for i in range(60)])
    np.savez(d / "seqs.npz", **arrays)
    rows = ["text,label"] + [f"{'good fine' if i % 2 else 'bad poor'} film {i},{'pos' if i % 2 else 'neg'}"
                             for i in range(80)]
    (d / "reviews.csv").write_text("\n".join(rows) + "\n")
    words = ["".join(rng.choice(list("abcd"), size=int(rng.integers(1, 7)))) for _ in range(60)]
    (d / "pairs.tsv").write_text("".join(f"{w}\t{w[::-1]}\n" for w in words), encoding="utf-8")
    return d


BASE = """
model: {{hidden: 12, init: glorot}}
train: {{steps: {steps}, batch_size: 4, optimizer: {{lr: 0.05}}, gradient: {{method: norm, threshold: 1.0}}}}
eval: {{every: 10{eval}}}
log: {{backprop_every: 5}}
"""
TASKS = {
    "text": "task: {{name: file, path: data/corpus.txt, format: text, length: 20}}",
    "csv": "task: {{name: file, path: data/series.csv, format: csv, length: 16}}",
    "npz": "task: {{name: file, path: data/seqs.npz, format: npz}}",
    "labelled": "task: {{name: file, path: data/reviews.csv, format: labelled}}",
    "pairs": "task: {{name: file, path: data/pairs.tsv, format: pairs}}",
}
METRIC = {"text": "bpc", "csv": "mse", "npz": "accuracy", "labelled": "accuracy", "pairs": "chrf"}


def config(data_dir, kind, steps=40, extra_eval="", overrides=()):
    path = data_dir.parent / f"{kind}.yaml"
    path.write_text(TASKS[kind].format() + BASE.format(steps=steps, eval=extra_eval))
    return load_config(path, list(overrides))


@pytest.mark.parametrize("kind", list(TASKS))
def test_each_format_trains_and_reports_its_metrics_per_split(data_dir, kind, tmp_path):
    cfg = config(data_dir, kind)
    folder = RunFolder.create(tmp_path / "runs", kind, "r")
    result = train(cfg, folder)
    info = read_run(folder.path)
    assert result.status == info["status"] == "completed"
    assert info["dataset"]["hash"] and info["dataset"]["source"].endswith(cfg.task.path.rsplit("/", 1)[-1])
    assert info["metric"] == METRIC[kind] and info["success"] is False and info["final_error"] is None
    for split in ("train", "valid", "test"):
        assert METRIC[kind] in info[split] and math.isfinite(info[split][METRIC[kind]])
    if kind == "csv":
        assert {"mae", "baseline_mse", "baseline_mae"} <= set(info["test"])
    records = read_metrics(folder.path)
    assert [r["update"] for r in records] == [10, 20, 30, 40]
    assert all(r["error"] is None and METRIC[kind] in r["valid"] for r in records)
    # the best update's validation scores are the summary's, and the best parameters were kept
    best = max(records, key=lambda r: r["valid"][METRIC[kind]] * (1 if info["metric_mode"] == "max" else -1))
    assert info["best_update"] == best["update"] and info["valid"] == best["valid"]
    assert set(read_params(folder.path, "best")) == set(read_params(folder.path, "final"))


def test_test_split_is_scored_with_the_best_parameters(data_dir, tmp_path):
    cfg = config(data_dir, "npz", steps=60, extra_eval=", patience: 2")
    sink = MemorySink()
    train(cfg, sink)
    summary = sink.summary
    model = build_model(cfg)
    model.set_params(sink.saved_params["best"])
    from rnnctl.tasks import make_task
    ds = make_task(cfg).dataset
    assert scoring.score(model, ds, "test", batch_size=cfg.eval.batch_size) == summary["test"]
    assert scoring.score(model, ds, "valid", batch_size=cfg.eval.batch_size) == summary["valid"]


def test_patience_stops_after_that_many_evaluations_without_improvement(data_dir, tmp_path):
    cfg = config(data_dir, "npz", steps=400, extra_eval=", patience: 2",
                 overrides=["train.optimizer.lr=0.5"])
    sink = MemorySink()
    result = train(cfg, sink)
    s = sink.summary
    assert result.status == "completed" and s["stopped_early"] is True
    assert s["updates"] == s["best_update"] + 2 * cfg.eval.every < 400
    values = [r["valid"]["accuracy"] for r in sink.records]
    assert max(values[:-2]) >= max(values[-2:])   # the last two were no better


@pytest.mark.parametrize("kind", ["text", "npz", "pairs"])
def test_interrupted_real_data_run_resumes_bit_identically(data_dir, tmp_path, kind):
    # text: a stream window's carried state and the epoch position; npz, pairs: the padded batches' epochs
    cfg = config(data_dir, kind, steps=50)
    whole_and_resumed(cfg, tmp_path, InterruptAt(27), expect_resume_at=20)


def test_same_seed_same_numbers_other_seed_other_batches(data_dir, tmp_path):
    a, b = MemorySink(), MemorySink()
    train(config(data_dir, "labelled", steps=20), a)
    train(config(data_dir, "labelled", steps=20), b)
    assert a.summary["test"] == b.summary["test"]
    c = MemorySink()
    train(config(data_dir, "labelled", steps=20, overrides=["seed=1"]), c)
    assert c.summary["test"] != a.summary["test"]


def test_stream_epochs_cover_the_train_range_in_windows_with_carried_state(data_dir):
    from rnnctl.tasks import make_task
    from rnnctl.training.feed import StreamFeed
    cfg = config(data_dir, "text")
    ds = make_task(cfg).dataset
    feed = StreamFeed(ds, 4, 20, entropy=7)
    n = ds.steps("train")
    assert feed.S == (n - 19) // 4 and feed.per_epoch == -(-feed.S // 20)
    pending, inputs, targets = None, [], []
    for update in range(1, feed.per_epoch + 1):
        batch, pending = feed.batch(update, pending)
        assert (batch.state0 is None) == (update == 1)
        inputs.append(batch.u.argmax(-1))
        targets.append(batch.target)
        pending = feed.carried(pending, [np.zeros((1, 4, 3))])
    # each column is one contiguous run of S steps: every step's target is the next step's input,
    # across window boundaries too, and the columns follow each other without overlap
    u, target = np.concatenate(inputs), np.concatenate(targets)       # (S, B)
    assert u.shape == (feed.S, 4)
    assert np.array_equal(target[:-1], u[1:])
    first = int(np.flatnonzero((np.lib.stride_tricks.sliding_window_view(ds.data, feed.S) == u[:, 0]).all(1))[0])
    assert 0 <= first < 20   # the epoch's offset
    for b in range(4):
        assert np.array_equal(ds.data[first + b * feed.S:first + (b + 1) * feed.S], u[:, b])
    # the next epoch starts afresh (zero state) at another offset
    batch, _ = feed.batch(feed.per_epoch + 1, pending)
    assert batch.state0 is None


def test_bits_per_character_of_a_uniform_model_is_log2_of_the_vocabulary(data_dir):
    cfg = config(data_dir, "text")
    model = build_model(cfg)
    params = {k: v.copy() for k, v in model.params.items()}
    params["W_out"][:] = 0.0
    params["b_out"][:] = 0.0
    model.set_params(params)
    from rnnctl.tasks import make_task
    ds = make_task(cfg).dataset
    out = scoring.score(model, ds, "valid", length=20)
    assert out["bpc"] == pytest.approx(math.log2(ds.n_symbols), rel=1e-12)
    assert out["nll"] == pytest.approx(math.log(ds.n_symbols), rel=1e-12)


def test_stream_scores_do_not_depend_on_the_evaluation_window(monkeypatch):
    ds = from_text(TEXT)
    from rnnctl.model import Model
    model = Model(ds.n_in, ds.n_out, 8, loss="softmax_ce", arch="many_to_many")
    model.init_params(np.random.default_rng(0), "glorot")
    wide = scoring.score(model, ds, "test", length=10)
    monkeypatch.setattr(scoring, "STREAM_EVAL_WINDOW", 7)
    narrow = scoring.score(model, ds, "test", length=10)
    assert narrow.keys() == wide.keys()
    for k in wide:
        assert narrow[k] == pytest.approx(wide[k], rel=1e-12, abs=1e-12)


def test_series_baseline_is_the_last_value_forecast_in_the_files_units():
    t = np.arange(300)
    values = 100.0 + 20.0 * np.sin(t / 5.0)
    ds = from_values(values, horizon=2)
    from rnnctl.model import Model
    model = Model(ds.n_in, ds.n_out, 6, loss="mse", arch="many_to_many")
    model.init_params(np.random.default_rng(0), "glorot")
    out = scoring.score(model, ds, "valid", length=10)
    assert out["baseline_mse"] == pytest.approx(metrics.last_value_mse(ds.raw("valid"), horizon=2), rel=1e-12)
    # the model's errors are in the file's units too: a model that outputs the normalised last
    # value exactly matches the baseline
    y = model.outputs(ds.pairs(np.arange(ds.range("valid")[0], ds.range("valid")[1] - 2)[:, None])[0])
    assert y.shape[-1] == 2 and out["mse"] > 0


# -- config and data errors --------------------------------------------------------------------

@pytest.mark.parametrize("yaml_text, key", [
    ("task: {name: temporal_order, length: 10, path: x.txt}", "task.path"),
    ("task: {name: file, format: text, length: 10}", "task.path"),
    ("task: {name: file, path: data/corpus.txt, length: 10}", "task.format"),
    ("task: {name: file, path: data/corpus.txt, format: text, min_length: 5, max_length: 9}", "task.min_length"),
    ("task: {name: file, path: data/corpus.txt, format: txt, length: 10}", "task.format"),
    ("task: {name: file, path: data/corpus.txt, format: text, valid_fraction: 0.6, test_fraction: 0.5}",
     "task.test_fraction"),
])
def test_config_errors_name_the_key(data_dir, yaml_text, key):
    path = data_dir.parent / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert e.value.key == key


@pytest.mark.parametrize("kind, override, key", [
    ("text", "task.length=null", "task.length"),
    ("npz", "task.length=10", "task.length"),
    ("text", "train.bptt.k1=5", "train.bptt.k1"),
    ("npz", "eval.metric=bpc", "eval.metric"),
])
def test_runnable_checks_on_real_data(data_dir, kind, override, key):
    cfg = config(data_dir, kind, overrides=[override])
    with pytest.raises(ConfigError) as e:
        check_runnable(cfg)
    assert e.value.key == key


def test_task_path_is_relative_to_the_config_file_and_overrides_to_the_cwd(data_dir, monkeypatch):
    cfg = config(data_dir, "text")
    assert cfg.task.path == str((data_dir / "corpus.txt").resolve())
    monkeypatch.chdir(data_dir)
    cfg = config(data_dir, "text", overrides=["task.path=series.csv"])
    assert cfg.task.path == str((data_dir / "series.csv").resolve())


def test_limit_keeps_the_first_sequences_or_characters(data_dir):
    from rnnctl.tasks import make_task
    assert len(make_task(config(data_dir, "npz", overrides=["task.limit=25"])).dataset) == 25
    ds = make_task(config(data_dir, "text", overrides=["task.limit=500"])).dataset
    assert ds.data.shape[0] == 500


def test_bad_data_file_is_a_clear_error_and_leaves_no_run_folder(data_dir, tmp_path):
    (data_dir / "bad.csv").write_text("value\n1.0\nnan\n3.0\n")
    cfg_path = data_dir.parent / "bad.yaml"
    cfg_path.write_text("task: {name: file, path: data/bad.csv, format: csv, length: 4}\nruns_dir: out\n")
    run = subprocess.run([sys.executable, "-m", "rnnctl", "train", str(cfg_path), "-q"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "bad.csv" in run.stderr and "line 3" in run.stderr
    assert not (tmp_path / "out").exists()
    with pytest.raises(DataError):
        check_runnable(load_config(cfg_path))


def test_report_json_of_a_real_run_has_metrics_under_their_split(data_dir, tmp_path):
    cfg_path = data_dir.parent / "text.yaml"
    cfg_path.write_text(TASKS["text"].format() + BASE.format(steps=20, eval="") + "runs_dir: out\n")
    run = subprocess.run([sys.executable, "-m", "rnnctl", "train", str(cfg_path), "-q", "--json"], cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert {"bpc", "nll", "accuracy"} <= set(summary["valid"]) and "bpc" in summary["test"]


def test_resume_refuses_data_that_changed_and_touches_nothing(data_dir, tmp_path):
    from rnnctl.training import resume_run
    cfg = config(data_dir, "text", steps=50)
    folder = RunFolder.create(tmp_path / "runs", "t", "r")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, folder, InterruptAt(27))
    before = {p.name: p.read_bytes() for p in folder.path.iterdir() if p.is_file()}
    (data_dir / "corpus.txt").write_text(TEXT.replace("fox", "cat"), encoding="utf-8")
    with pytest.raises(DataError, match="not what this run trained on"):
        resume_run(folder.path)
    assert {p.name: p.read_bytes() for p in folder.path.iterdir() if p.is_file()} == before
    # the training loop refuses it too (a sweep resumes through it)
    (data_dir / "corpus.txt").write_text(TEXT, encoding="utf-8")
    checkpoint = RunFolder(folder.path).resume()
    (data_dir / "corpus.txt").write_text(TEXT.replace("fox", "cat"), encoding="utf-8")
    with pytest.raises(DataError):
        train(load_config(config_path(folder.path)), RunFolder(folder.path), resume=checkpoint)


def test_scoring_bounds_a_batch_of_long_sequences_and_gives_the_same_numbers(monkeypatch):
    from rnnctl.data import from_arrays
    from rnnctl.model import Model
    rng = np.random.default_rng(3)
    arrays = {f"x_{i}": rng.normal(size=(int(rng.integers(5, 40)), 4)) for i in range(50)}
    arrays["y"] = rng.integers(0, 3, size=50)
    ds = from_arrays(arrays)
    model = Model(4, 3, 6, loss="softmax_ce", arch="many_to_one")
    model.init_params(np.random.default_rng(0), "glorot")
    whole = scoring.score(model, ds, "train", batch_size=1000)
    sizes = []
    real_order = ds.order
    monkeypatch.setattr(ds, "order", lambda split, b, rng=None, bucket=32: sizes.append(b) or real_order(split, b, rng, bucket))
    monkeypatch.setattr(scoring, "MEMORY_BYTES", 8 * 41 * (4 + model.floats_per_step) * 3)
    capped = scoring.score(model, ds, "train", batch_size=1000)
    assert sizes == [3]
    assert capped == pytest.approx(whole, rel=1e-12)


def test_a_sweep_over_a_set_of_sequences_runs_and_reports_the_metric(data_dir, tmp_path):
    from rnnctl.sweep import load_sweep, run_sweep
    config(data_dir, "npz", steps=10)   # writes npz.yaml beside the data folder
    spec = data_dir.parent / "spec.yaml"
    spec.write_text("name: s\nbase: npz.yaml\ngrid:\n  train.gradient.method: [none, norm]\nseeds: 1\n"
                    f"overrides:\n  - runs_dir={tmp_path / 'runs'}\n")
    result = run_sweep(load_sweep(spec), executor="thread", workers=1)
    assert [r["status"] for r in result.runs] == ["completed", "completed"]
    assert all(r["metric"] == "accuracy" and "accuracy" in r["test"] for r in result.runs)
