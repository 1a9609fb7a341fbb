"""Trivial baselines (rnnctl.data.baselines): each function against a slow, obvious computation,
and ``baselines_of`` on every kind of dataset, with the names a run's own metrics use."""

import math
import statistics

import numpy as np
import pytest

from rnnctl.data import baselines as B
from rnnctl.data import from_text, from_values, metrics, scoring
from rnnctl.data.dataset import Dataset

RNG = np.random.default_rng(5)


def test_uniform_is_log_k_and_bits_divide_by_ln2():
    assert B.uniform_nll(np.zeros(3, int), np.zeros(4, int), 104) == pytest.approx(math.log(104))
    assert B.bits(B.uniform_nll)(None, None, 104) == pytest.approx(math.log2(104))     # 6.70 bits


def test_unigram_is_the_add_one_frequency_of_training():
    K, train, target = 6, RNG.integers(0, 5, size=200), RNG.integers(0, 6, size=50)  # class 5 unseen
    total = 0.0
    for y in target:
        count = sum(1 for t in train if t == y)
        total += -math.log((count + 1) / (len(train) + K))
    assert B.unigram_nll(train, target, K) == pytest.approx(total / len(target), rel=1e-12)


def test_majority_is_the_most_frequent_training_class_lowest_on_a_tie():
    train, target = np.array([2, 1, 2, 1, 0]), np.array([1, 2, 2, 0, 1, 1])
    assert B.majority_accuracy(train, target, 3) == pytest.approx(3 / 6)      # tie 1-2: class 1
    train = RNG.integers(0, 4, size=99)
    top = max(range(4), key=lambda k: (list(train).count(k), -k))
    target = RNG.integers(0, 4, size=40)
    assert B.majority_accuracy(train, target, 4) == pytest.approx(sum(t == top for t in target) / 40)


def test_independent_notes_against_a_loop_over_frames_and_notes():
    train = (RNG.random((70, 5)) < [0.1, 0.6, 0.0, 0.9, 0.5]).astype(float)
    target = (RNG.random((30, 5)) < 0.4).astype(float)
    F = len(train)
    p = [(sum(train[f][j] for f in range(F)) + 1) / (F + 2) for j in range(5)]
    nll = sum(-sum(math.log(p[j]) if y[j] else math.log(1 - p[j]) for j in range(5)) for y in target)
    assert B.independent_note_nll(train, target) == pytest.approx(nll / len(target), rel=1e-12)
    on = [pj > 0.5 for pj in p]
    tp = sum(1 for y in target for j in range(5) if on[j] and y[j])
    fp = sum(1 for y in target for j in range(5) if on[j] and not y[j])
    fn = sum(1 for y in target for j in range(5) if not on[j] and y[j])
    assert B.independent_frame_accuracy(train, target) == pytest.approx(tp / (tp + fp + fn))


def test_mean_and_median_against_statistics():
    train, target = RNG.normal(size=(41, 2)) * [1, 5], RNG.normal(size=(17, 2))
    mu = [statistics.fmean(train[:, c]) for c in range(2)]
    med = [statistics.median(train[:, c]) for c in range(2)]
    assert B.mean_mse(train, target) == pytest.approx(
        statistics.fmean((y[c] - mu[c]) ** 2 for y in target for c in range(2)), rel=1e-12)
    assert B.median_mae(train, target) == pytest.approx(
        statistics.fmean(abs(y[c] - med[c]) for y in target for c in range(2)), rel=1e-12)


@pytest.mark.parametrize("horizon", [1, 3])
def test_persistence_against_a_loop(horizon):
    v = RNG.normal(size=(25, 2)).cumsum(axis=0)
    pairs = [(v[t + k] - v[t]) for t in range(25 - horizon) for k in range(1, horizon + 1)]
    assert B.persistence_mse is metrics.last_value_mse            # reused, not rewritten
    assert B.persistence_mse(v, horizon) == pytest.approx(statistics.fmean(float((d ** 2).mean()) for d in pairs))
    assert B.persistence_mae(v, horizon) == pytest.approx(statistics.fmean(float(abs(d).mean()) for d in pairs))


def test_every_metric_has_a_direction_and_every_entry_is_a_function():
    for kind, table in B.BASELINES.items():
        for metric, entries in table.items():
            assert B.BETTER[metric] in ("lower", "higher") and entries
            assert all(callable(f) for f in entries.values())


# -- baselines_of: datasets of each kind ---------------------------------------------------------

def _check_shape(out, metrics_of_split):
    for split, per_metric in out.items():
        assert split in ("train", "valid", "test")
        for metric, entry in per_metric.items():
            assert metric in metrics_of_split and entry["better"] == B.BETTER[metric]
            assert all(math.isfinite(v) for v in entry["values"].values())


def test_text_stream_uniform_unigram_and_majority():
    text = "abracadabra, said the cat. " * 40
    ds = from_text(text)
    out = B.baselines_of(ds)
    _check_shape(out, ("bpc", "nll", "accuracy"))
    s, e = ds.range("test")
    target = ds.data[s + 1:e]
    assert len(target) == ds.steps("test")
    assert out["test"]["bpc"]["values"]["uniform"] == pytest.approx(math.log2(ds.n_out))
    train = ds.data[1:ds.range("train")[1]]
    assert out["test"]["nll"]["values"]["unigram"] == pytest.approx(B.unigram_nll(train, target, ds.n_out))
    assert out["test"]["bpc"]["values"]["unigram"] == pytest.approx(
        out["test"]["nll"]["values"]["unigram"] / math.log(2))
    assert out["valid"]["accuracy"]["values"]["majority"] == pytest.approx(
        B.majority_accuracy(train, ds.data[slice(ds.range("valid")[0] + 1, ds.range("valid")[1])], ds.n_out))


def test_series_persistence_is_the_scored_baseline_mse_and_mae():
    from rnnctl.model import Model
    t = np.arange(300)
    ds = from_values(100.0 + 20.0 * np.sin(t / 5.0) + RNG.normal(size=300), horizon=2)
    model = Model(ds.n_in, ds.n_out, 6, loss="mse", arch="many_to_many")
    model.init_params(np.random.default_rng(0), "glorot")
    out = B.baselines_of(ds)
    _check_shape(out, ("mse", "mae"))
    for split in ("valid", "test"):
        scored = scoring.score(model, ds, split, length=10)
        assert out[split]["mse"]["values"]["persistence"] == pytest.approx(scored["baseline_mse"], rel=1e-9)
        assert out[split]["mae"]["values"]["persistence"] == pytest.approx(scored["baseline_mae"], rel=1e-9)
    # the training mean of each value ahead: of v[t + k] over the training steps t, k = 1, 2
    v, n = ds.raw("train")[:, 0], ds.steps("train")
    mu = [statistics.fmean(v[t + k] for t in range(n)) for k in (1, 2)]
    w, m = ds.raw("test")[:, 0], ds.steps("test")
    want = statistics.fmean((w[t + k] - mu[k - 1]) ** 2 for t in range(m) for k in (1, 2))
    assert B.split_targets(ds, "test").shape == (m, 2)
    assert out["test"]["mse"]["values"]["mean"] == pytest.approx(want, rel=1e-12)


def _sequences(loss, arch, n=30, O=3):
    lengths = RNG.integers(2, 6, size=n)
    x = RNG.normal(size=(int(lengths.sum()), 2))
    rows = n if arch == "many_to_one" else int(lengths.sum())
    if loss == "softmax_ce":
        y = RNG.integers(0, O, size=rows)
    elif loss == "sigmoid_ce":
        y = (RNG.random((rows, O)) < 0.3).astype(float)
    else:
        y = RNG.normal(size=(rows, O))
    return Dataset(x=x, lengths=lengths, y=y, split=np.arange(n) % 3, arch=arch, loss=loss, n_out=O)


def test_classes_per_sequence_and_per_step():
    for arch in ("many_to_one", "many_to_many"):
        ds = _sequences("softmax_ce", arch)
        out = B.baselines_of(ds)
        _check_shape(out, ("nll", "accuracy"))
        train = B.split_targets(ds, "train")
        want = (ds.split == 0).sum() if arch == "many_to_one" else ds.lengths[ds.split == 0].sum()
        assert len(train) == want
        assert set(out["test"]["nll"]["values"]) == {"uniform", "prior"}
        assert out["test"]["accuracy"]["values"]["majority"] == pytest.approx(
            B.majority_accuracy(train, B.split_targets(ds, "test"), 3))


def test_piano_rolls_and_real_targets():
    ds = _sequences("sigmoid_ce", "many_to_many")
    out = B.baselines_of(ds)
    _check_shape(out, ("nll", "frame_accuracy"))
    assert out["valid"]["nll"]["values"]["independent"] == pytest.approx(
        B.independent_note_nll(B.split_targets(ds, "train"), B.split_targets(ds, "valid")))
    assert set(out["valid"]["frame_accuracy"]["values"]) == {"independent"}   # inputs are not frames
    out = B.baselines_of(_sequences("mse", "many_to_one"))
    _check_shape(out, ("mse", "mae"))
    assert set(out["test"]) == {"mse", "mae"} and set(out["test"]["mse"]["values"]) == {"mean"}


# -- a run stores them beside its metrics ----------------------------------------------------------

from test_real_training import config, data_dir  # noqa: E402,F401  (the files and configs of real-data runs)


@pytest.mark.parametrize("kind", ["text", "csv", "npz", "labelled"])
def test_a_run_stores_the_baselines_beside_its_own_metrics(data_dir, kind, tmp_path):  # noqa: F811
    from rnnctl.store import RunFolder, read_run
    from rnnctl.training import train
    folder = RunFolder.create(tmp_path / "runs", kind, "r")
    train(config(data_dir, kind, steps=10), folder)
    info = read_run(folder.path)
    assert set(info["baselines"]) == {"train", "valid", "test"}
    for split, per_metric in info["baselines"].items():
        assert per_metric and set(per_metric) <= set(info[split])      # the run's own names
        assert info["metric"] in per_metric
    if kind == "csv":
        assert info["baselines"]["test"]["mse"]["values"]["persistence"] == pytest.approx(
            info["test"]["baseline_mse"], rel=1e-9)


def test_piano_roll_persistence_when_the_inputs_are_the_previous_frames():
    rolls = [(RNG.random((int(T), 4)) < 0.4).astype(float) for T in RNG.integers(3, 9, size=12)]
    ds = Dataset(x=np.concatenate([r[:-1] for r in rolls]), lengths=np.array([len(r) - 1 for r in rolls]),
                 y=np.concatenate([r[1:] for r in rolls]), split=np.arange(12) % 3, arch="many_to_many",
                 loss="sigmoid_ce", n_out=4)
    out = B.baselines_of(ds)
    tp = fp = fn = 0
    for i in np.flatnonzero(ds.split == 2):
        r = rolls[i]
        for t in range(len(r) - 1):
            for j in range(4):
                now, nxt = r[t][j] > 0.5, r[t + 1][j] > 0.5
                tp, fp, fn = tp + (now and nxt), fp + (now and not nxt), fn + (nxt and not now)
    assert out["test"]["frame_accuracy"]["values"]["persistence"] == pytest.approx(tp / (tp + fp + fn))
