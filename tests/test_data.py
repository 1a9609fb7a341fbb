"""Tests for rnnctl.data.dataset, rnnctl.data.stream and the split/hash rules (rnnctl.data.common)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnctl.data import Dataset, StreamDataset, assign_splits, from_text, from_values, padding_fraction
from rnnctl.data.common import content_hash, split_counts
from rnnctl.errors import DataError


def rng(seed=0):
    return np.random.default_rng(seed)


def make_dataset(lengths, I=3, arch="many_to_one", loss="softmax_ce", seed=0, split=None):
    """Sequences whose values encode (sequence, step): x[t] = 1000 i + t in every feature."""
    lengths = np.asarray(lengths, dtype=np.int64)
    N = lengths.size
    x = np.concatenate([np.repeat((1000.0 * i + np.arange(L))[:, None], I, axis=1) for i, L in enumerate(lengths)])
    if arch == "many_to_one":
        y = np.arange(N, dtype=np.int64) % 4 if loss == "softmax_ce" else np.arange(2 * N, dtype=float).reshape(N, 2)
    else:
        y = (np.arange(lengths.sum()) % 4).astype(np.int64) if loss == "softmax_ce" else x[:, :2] + 0.5
    split = assign_splits(N, (0.6, 0.2, 0.2), seed) if split is None else split
    return Dataset(x=x, lengths=lengths, y=y, split=split, arch=arch, loss=loss, n_out=4 if loss == "softmax_ce" else 2)


# ---- splits and hash --------------------------------------------------------------------------
def test_split_rule_counts_and_determinism():
    assert split_counts(10, (0.8, 0.1, 0.1)) == (8, 1, 1)
    assert split_counts(7, (0.5, 0.25, 0.25)) == (3, 2, 2)
    a = assign_splits(100, (0.8, 0.1, 0.1), seed=3)
    assert a.dtype == np.int8 and np.bincount(a).tolist() == [80, 10, 10]
    np.testing.assert_array_equal(a, assign_splits(100, (0.8, 0.1, 0.1), seed=3))
    assert not np.array_equal(a, assign_splits(100, (0.8, 0.1, 0.1), seed=4))
    # the documented rule, spelled out
    p = np.random.default_rng(3).permutation(100)
    assert (a[p[:80]] == 0).all() and (a[p[80:90]] == 1).all() and (a[p[90:]] == 2).all()


@pytest.mark.parametrize("bad", [(0.5, 0.5), (0.0, 0.5, 0.5), (0.8, 0.3, 0.1), (-0.1, 0.6, 0.5), "abc"])
def test_bad_fractions(bad):
    with pytest.raises(DataError, match="fractions"):
        assign_splits(10, bad)


def test_hash_same_data_same_hash_and_sensitive():
    a, b = make_dataset([3, 5, 2, 7, 4]), make_dataset([3, 5, 2, 7, 4])
    assert a.hash == b.hash and len(a.hash) == 64
    assert make_dataset([3, 5, 2, 7, 4], seed=1).hash != a.hash          # another split
    c = make_dataset([3, 5, 2, 7, 4])
    c.x[0, 0] += 1e-9
    assert Dataset(x=c.x, lengths=c.lengths, y=c.y, split=c.split, arch=c.arch, loss=c.loss, n_out=4).hash != a.hash
    # canonical form: the byte order does not matter
    assert content_hash(np.arange(3.0)) == content_hash(np.arange(3.0).astype(">f8"))


def test_dataset_checks_consistency():
    with pytest.raises(DataError, match="rows"):
        Dataset(x=np.zeros((5, 2)), lengths=[2, 2], y=np.zeros(2, np.int64), split=[0, 0],
                arch="many_to_one", loss="softmax_ce", n_out=2)
    with pytest.raises(DataError, match="split"):
        Dataset(x=np.zeros((4, 2)), lengths=[2, 2], y=np.zeros(2, np.int64), split=[0, 3],
                arch="many_to_one", loss="softmax_ce", n_out=2)


# ---- padded batches ---------------------------------------------------------------------------
@pytest.mark.parametrize("arch,loss", [("many_to_one", "softmax_ce"), ("many_to_one", "mse"),
                                       ("many_to_many", "softmax_ce"), ("many_to_many", "mse")])
def test_batch_shapes_padding_and_content(arch, loss):
    ds = make_dataset([3, 5, 2, 7, 4, 1], arch=arch, loss=loss)
    b = ds.batch([1, 2, 5])
    assert b.u.shape == (5, 3, 3) and b.u.dtype == np.float64
    assert b.lengths.dtype == np.int64 and b.lengths.tolist() == [5, 2, 1]
    for col, i in enumerate([1, 2, 5]):
        L = ds.lengths[i]
        np.testing.assert_array_equal(b.u[:L, col, 0], 1000.0 * i + np.arange(L))
        assert (b.u[L:, col] == 0).all()
    if arch == "many_to_one":
        assert b.target.shape == ((3,) if loss == "softmax_ce" else (3, 2))
    else:
        assert b.target.shape == ((5, 3) if loss == "softmax_ce" else (5, 3, 2))
        assert (b.target[2:, 1] == 0).all() and (b.target[1:, 2] == 0).all()
        if loss == "mse":
            np.testing.assert_array_equal(b.target[:5, 0, 0], 1000.0 + np.arange(5) + 0.5)
    assert b.mask.sum() == 8


def test_symbol_inputs_are_one_hot_with_zero_padding():
    x = np.array([1, 2, 3, 1, 2], dtype=np.int64)
    seq = Dataset(x=x, lengths=[3, 2], y=np.array([0, 1]), split=[0, 0], arch="many_to_one",
                  loss="softmax_ce", n_out=2, n_symbols=4)
    b = seq.batch([0, 1])
    assert b.u.shape == (3, 2, 4)
    np.testing.assert_array_equal(b.u.argmax(-1)[:, 0], [1, 2, 3])
    np.testing.assert_array_equal(b.u.sum(-1), [[1, 1], [1, 1], [1, 0]])
    assert seq.n_in == 4 and seq.x.ndim == 1  # stored as symbols, one-hot only in the batch


def test_epoch_covers_split_once_and_is_seeded():
    ds = make_dataset(np.arange(1, 41))
    for bucket in (None, 4):
        seen = np.concatenate([b.index for b in ds.epoch("train", 5, rng(1), bucket=bucket)])
        assert sorted(seen.tolist()) == ds.indices("train").tolist()
        again = np.concatenate([b.index for b in ds.epoch("train", 5, rng(1), bucket=bucket)])
        other = np.concatenate([b.index for b in ds.epoch("train", 5, rng(2), bucket=bucket)])
        np.testing.assert_array_equal(seen, again)
        assert not np.array_equal(seen, other)
    stable = np.concatenate([b.index for b in ds.epoch("valid", 3, None, bucket=None)])
    np.testing.assert_array_equal(stable, ds.indices("valid"))


def test_bucketing_keeps_padding_low_on_skewed_lengths():
    # log-normal lengths (median 19, mean 26, max 233): most short, a long tail. Measured here:
    # padding 75% with random batches of 32; bucketed by chunks of k batches: k=8 37%, k=16 23%,
    # k=32 (the default) 12%, one chunk for the whole epoch (k=63) 6%.
    lengths = np.clip(np.random.default_rng(0).lognormal(3.0, 0.8, size=2000).astype(int), 1, None)
    ds = make_dataset(lengths, I=1, split=np.zeros(2000, np.int8))
    plain = padding_fraction(ds.epoch("train", 32, rng(0), bucket=None))
    default = padding_fraction(ds.epoch("train", 32, rng(0)))
    whole = padding_fraction(ds.epoch("train", 32, rng(0), bucket=63))
    print(f"padding: random batches {plain:.3f}, bucketed by 32 batches {default:.3f}, whole epoch {whole:.3f}")
    assert plain > 0.7
    assert default < 0.15
    assert whole < 0.08


def test_epoch_errors():
    ds = make_dataset([2, 3, 4], split=np.array([0, 0, 2], np.int8))
    with pytest.raises(DataError, match="valid split is empty"):
        list(ds.epoch("valid", 2))
    with pytest.raises(DataError, match="batch_size"):
        list(ds.epoch("train", 0))
    with pytest.raises(DataError, match="unknown split"):
        ds.indices("dev")
    with pytest.raises(TypeError, match="Generator"):
        list(ds.epoch("train", 2, rng=np.random.RandomState(0)))


def test_describe_is_plain_data():
    import json
    d = make_dataset([2, 3, 4, 5, 6]).describe()
    json.dumps(d)
    assert d["sizes"] == {"train": 3, "valid": 1, "test": 1} and d["kind"] == "sequences"


# ---- streams ----------------------------------------------------------------------------------
def test_stream_splits_are_contiguous_in_order():
    ds = from_text("".join(chr(97 + i % 26) for i in range(1000)), (0.8, 0.1, 0.1))
    assert ds.range("train") == (0, 800) and ds.range("valid") == (800, 900) and ds.range("test") == (900, 1000)
    assert ds.sizes() == {"train": 799, "valid": 99, "test": 99}


def test_stream_windows_layout_carries_state():
    ds = from_text("".join(chr(97 + i % 26) for i in range(1000)), (0.8, 0.1, 0.1))
    wins = list(ds.windows("train", batch_size=4, length=30, rng=None))
    S = 799 // 4
    assert [w.first for w in wins] == [True] + [False] * (len(wins) - 1)
    assert sum(w.u.shape[0] for w in wins) == S
    np.testing.assert_array_equal(wins[0].start, np.arange(4) * S)
    for a, b in zip(wins, wins[1:]):   # column b of window k+1 continues column b of window k
        np.testing.assert_array_equal(b.start, a.start + a.u.shape[0])
    w = wins[1]
    assert w.u.shape == (30, 4, ds.n_in) and w.target.shape == (30, 4) and w.lengths.tolist() == [30] * 4
    # the target at step t is the input at step t+1
    np.testing.assert_array_equal(w.u.argmax(-1)[1:], w.target[:-1])
    np.testing.assert_array_equal(w.target[:, 0], ds.data[w.start[0] + 1:w.start[0] + 31])


def test_stream_epoch_offset_is_seeded():
    ds = from_text("abcdefghij" * 100)
    s1 = [w.start[0] for w in ds.windows("train", 2, 25, rng(5))][0]
    s2 = [w.start[0] for w in ds.windows("train", 2, 25, rng(5))][0]
    assert s1 == s2 and 0 <= s1 < 25


def test_stream_evaluation_covers_split_once():
    ds = from_text("".join(chr(97 + i % 26) for i in range(1000)), (0.8, 0.1, 0.1))
    wins = list(ds.evaluation("valid", 40))
    assert all(w.u.shape[1] == 1 for w in wins)
    assert sum(w.u.shape[0] for w in wins) == ds.steps("valid") == 99
    targets = np.concatenate([w.target[:, 0] for w in wins])
    np.testing.assert_array_equal(targets, ds.data[801:900])


def test_stream_too_short_for_batch():
    ds = from_text("abcdefghij" * 10)
    with pytest.raises(DataError, match="too few for 50 streams"):
        list(ds.windows("valid", 50, 5))
    with pytest.raises(DataError, match="length"):
        list(ds.windows("train", 2, 0))


def test_series_horizon_targets_and_denormalise():
    values = np.stack([np.arange(100.0), 10 * np.arange(100.0) + 3], axis=1)     # (100, 2)
    ds = from_values(values, (0.8, 0.1, 0.1), horizon=3)
    assert ds.n_in == 2 and ds.n_out == 6 and ds.loss == "mse"
    np.testing.assert_allclose(ds.data[:80].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(ds.data[:80].std(0), 1)
    w = next(ds.evaluation("train", 10))
    assert w.u.shape == (10, 1, 2) and w.target.shape == (10, 1, 6)
    raw = ds.denormalise(w.target[0, 0])            # values at t = 1, 2, 3
    np.testing.assert_allclose(raw, [1, 13, 2, 23, 3, 33])
    np.testing.assert_allclose(ds.raw("valid")[0], [80, 803])
    assert ds.steps("train") == 77


def test_stream_hash():
    a, b = from_text("hello world" * 20), from_text("hello world" * 20)
    assert a.hash == b.hash
    assert from_text("hello world" * 20, (0.7, 0.2, 0.1)).hash != a.hash
    assert from_values(np.arange(50.0)).hash != from_values(np.arange(50.0) ** 2).hash
    assert isinstance(a, StreamDataset)


def test_dataset_checks_targets():
    base = dict(x=np.zeros((4, 2)), lengths=[2, 2], split=[0, 0], arch="many_to_one")
    with pytest.raises(DataError, match="integer targets"):
        Dataset(y=np.zeros(2), loss="softmax_ce", n_out=2, **base)
    with pytest.raises(DataError, match="lie in \\[0, 2\\)"):
        Dataset(y=np.array([0, 2]), loss="softmax_ce", n_out=2, **base)
    with pytest.raises(DataError, match="float targets"):
        Dataset(y=np.zeros((2, 3)), loss="mse", n_out=2, **base)
    with pytest.raises(DataError, match="symbols"):
        Dataset(y=np.array([0, 1]), loss="softmax_ce", n_out=2, n_symbols=5, **base)


def test_stream_empty_split_is_explained():
    ds = from_text("abcdefghij" * 10, (1.0, 0.0, 0.0))
    with pytest.raises(DataError, match="valid split holds 0 positions, no step to score"):
        list(ds.evaluation("valid", 10))


def test_batch_rejects_bad_indices():
    ds = make_dataset([2, 3])
    for bad in ([], [2], [-1]):
        with pytest.raises(DataError, match="indices in \\[0, 2\\)"):
            ds.batch(bad)


def test_vocab_and_encode():
    from rnnctl.data.common import build_vocab, encode
    vocab = build_vocab(["bca", "ab\u00e9", "\U0001F600"])
    assert vocab == ("", "a", "b", "c", "\u00e9", "\U0001F600")
    assert encode("abz\u00e9\U0001F600\u4e00", vocab).tolist() == [1, 2, 0, 4, 5, 0]
    assert encode("xyz", build_vocab([""])).tolist() == [0, 0, 0]
    assert encode("", vocab).tolist() == []


def test_remaining_error_paths():
    x, y = np.zeros((4, 2)), np.array([0, 1])
    with pytest.raises(DataError, match="arch must be one of"):
        Dataset(x=x, lengths=[2, 2], y=y, split=[0, 0], arch="one_to_many", loss="softmax_ce", n_out=2)
    with pytest.raises(DataError, match="at least one sequence"):
        Dataset(x=x[:0], lengths=np.zeros(0, np.int64), y=y[:0], split=np.zeros(0, np.int8),
                arch="many_to_one", loss="softmax_ce", n_out=2)
    with pytest.raises(DataError, match="y has 2 rows, expected 4"):
        Dataset(x=x, lengths=[2, 2], y=y, split=[0, 0], arch="many_to_many", loss="softmax_ce", n_out=2)
    with pytest.raises(DataError, match="do not fit"):
        StreamDataset(data=np.arange(10), bounds=(8, 12), n_symbols=10)
    with pytest.raises(DataError, match="too few to predict"):
        StreamDataset(data=np.arange(10), bounds=(1, 5), n_symbols=10)
    text = from_text("abcdefghij" * 10)
    with pytest.raises(DataError, match="only for series"):
        text.raw()
    with pytest.raises(DataError, match="only series"):
        text.denormalise(np.zeros(3))
    with pytest.raises(TypeError, match="Generator"):
        list(text.windows("train", 2, 5, rng=1))
    with pytest.raises(DataError, match="the text is empty"):
        from_text("")
    with pytest.raises(DataError, match="horizon must be a positive integer"):
        from_values(np.arange(10.0), horizon=0)
    with pytest.raises(DataError, match="multiple of the 2 columns"):
        from_values(np.ones((20, 2)) * np.arange(20)[:, None]).denormalise(np.zeros(3))
