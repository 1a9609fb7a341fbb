"""Tests for the loaders of rnnctl.data (text, csv, npz, labelled) and every DataError path:
each message names the file and the line, column or key, and says what is wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnctl.data import UNKNOWN, Dataset, StreamDataset, load
from rnnctl.errors import DataError


def write(tmp_path, name, content):
    p = tmp_path / name
    (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
    return p


def fails(match, path, fmt, **kw):
    with pytest.raises(DataError, match=match) as e:
        load(path, fmt, **kw)
    assert str(path) in str(e.value)
    return str(e.value)


# ---- load -------------------------------------------------------------------------------------
def test_unknown_format_and_option(tmp_path):
    p = write(tmp_path, "a.txt", "hello")
    with pytest.raises(DataError, match="unknown data format 'xml'.*text, csv, npz, labelled"):
        load(p, "xml")
    with pytest.raises(DataError, match="takes no option 'horizon'"):
        load(p, "text", horizon=2)


def test_missing_file(tmp_path):
    fails("cannot read", tmp_path / "nope.txt", "text")


# ---- text -------------------------------------------------------------------------------------
def test_text_vocab_from_train_unknown_maps_to_zero(tmp_path):
    p = write(tmp_path, "t.txt", "ab" * 40 + "ab" * 5 + "zzzzzzzzzz")   # 'z' only in valid/test
    ds = load(p, "text", fractions=(0.8, 0.1, 0.1))
    assert isinstance(ds, StreamDataset)
    assert ds.vocab == (UNKNOWN, "a", "b") and ds.n_in == ds.n_out == 3 and ds.loss == "softmax_ce"
    assert (ds.data[-10:] == 0).all()
    assert ds.data[:80].tolist() == [1, 2] * 40


def test_text_bad_utf8_names_byte_offset_and_line(tmp_path):
    p = write(tmp_path, "t.txt", b"first line\nsecond \xff line\n")
    msg = fails("line 2, byte offset 18", p, "text")
    assert "not valid UTF-8" in msg and "0xff" in msg


def test_text_empty_and_too_short(tmp_path):
    fails("empty", write(tmp_path, "e.txt", ""), "text")
    fails("at least 2", write(tmp_path, "s.txt", "a"), "text")


# ---- csv --------------------------------------------------------------------------------------
def test_csv_single_series_with_header(tmp_path):
    p = write(tmp_path, "s.csv", "value\n" + "\n".join(str(v) for v in range(50)) + "\n")
    ds = load(p, "csv", horizon=2)
    assert ds.columns == ("value",) and ds.n_in == 1 and ds.n_out == 2
    assert ds.data.shape == (50, 1)
    np.testing.assert_allclose(ds.mean, [19.5])          # train = first 40 rows
    np.testing.assert_allclose(ds.raw()[:, 0], np.arange(50))


def test_csv_multivariate_without_header(tmp_path):
    p = write(tmp_path, "m.csv", "".join(f"{i},{2 * i},{i % 3}\n" for i in range(30)))
    ds = load(p, "csv")
    assert ds.columns == ("1", "2", "3") and ds.n_in == ds.n_out == 3


@pytest.mark.parametrize("content,where,what", [
    ("a,b\n1,2\n3,\n", "line 3, column 2 \\(b\\)", "empty cell"),
    ("a,b\n1,2\n3,x\n", "line 3, column 2 \\(b\\)", "'x' is not a number"),
    ("1,2\nnan,4\n", "line 2, column 1", "not finite"),
    ("1,2\n3,inf\n", "line 2, column 2", "not finite"),
    ("1,2\n3,4,5\n", "line 2", "3 cells, expected 2"),
])
def test_csv_bad_cells(tmp_path, content, where, what):
    fails(f"{where}: .*{what}", write(tmp_path, "bad.csv", content), "csv")


def test_csv_empty_and_header_only(tmp_path):
    fails("no rows", write(tmp_path, "e.csv", "\n\n"), "csv")
    fails("header row and no data", write(tmp_path, "h.csv", "a,b\n"), "csv")
    fails("too few", write(tmp_path, "t.csv", "1\n2\n3\n"), "csv", horizon=3)


def test_csv_constant_column_keeps_unit_std(tmp_path):
    ds = load(write(tmp_path, "c.csv", "".join(f"{i},5\n" for i in range(20))), "csv")
    assert ds.std[1] == 1.0 and np.isfinite(ds.data).all()


# ---- npz --------------------------------------------------------------------------------------
def test_npz_list_layout_many_to_one(tmp_path):
    g = np.random.default_rng(0)
    xs = {f"x_{i}": g.normal(size=(3 + i, 2)) for i in range(10)}
    p = tmp_path / "l.npz"
    np.savez(p, y=np.arange(10) % 3, **xs)
    ds = load(p, "npz")
    assert isinstance(ds, Dataset) and ds.arch == "many_to_one" and ds.loss == "softmax_ce"
    assert ds.n_in == 2 and ds.n_out == 3 and ds.lengths.tolist() == list(range(3, 13))
    b = ds.batch([4])
    np.testing.assert_array_equal(b.u[:, 0], xs["x_4"])


def test_npz_list_layout_many_to_many_regression_with_split(tmp_path):
    p = tmp_path / "l.npz"
    arrays = {}
    for i in range(4):
        arrays[f"x_{i}"] = np.ones((i + 2, 1))
        arrays[f"y_{i}"] = np.full((i + 2, 2), float(i))
    np.savez(p, split=np.array(["train", "train", "valid", "test"]), **arrays)
    ds = load(p, "npz")
    assert ds.arch == "many_to_many" and ds.loss == "mse" and ds.n_out == 2
    assert ds.split.tolist() == [0, 0, 1, 2]
    assert ds.batch([0, 3]).target.shape == (5, 2, 2)


def test_npz_ragged_layout(tmp_path):
    p = tmp_path / "r.npz"
    np.savez(p, x=np.arange(12.0).reshape(6, 2), lengths=np.array([1, 2, 3]), y=np.arange(6) % 2,
             split=np.array([0, 0, 1]))
    ds = load(p, "npz")
    assert ds.arch == "many_to_many" and ds.n_out == 2
    b = ds.batch([2])
    np.testing.assert_array_equal(b.u[:, 0], [[6, 7], [8, 9], [10, 11]])
    np.savez(p, x=np.arange(12.0).reshape(6, 2), lengths=np.array([1, 2, 3]), y=np.array([0.5, 1.5, 2.5]))
    assert load(p, "npz").arch == "many_to_one"


def _npz(tmp_path, **arrays):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    return p


@pytest.mark.parametrize("arrays,key,what", [
    (dict(x_0=np.ones((3, 2)), x_1=np.ones((4, 3)), y=np.array([0, 1])), "x_1", "3 features, x_0 has 2"),
    (dict(x_0=np.ones((3, 2)), x_2=np.ones((4, 2)), y=np.array([0, 1])), "x_1", "missing"),
    (dict(x_0=np.array([[1.0, np.nan]]), y=np.array([0])), "x_0", "non-finite value nan at index \\(0, 1\\)"),
    (dict(x_0=np.array([[1.0, np.inf]]), y=np.array([0])), "x_0", "non-finite"),
    (dict(x_0=np.ones((0, 2)), y=np.array([0])), "x_0", "empty"),
    (dict(x_0=np.array([["a", "b"]]), y=np.array([0])), "x_0", "not numeric"),
    (dict(x_0=np.ones((2, 2, 2)), y=np.array([0])), "x_0", "shape"),
    (dict(x_0=np.ones((3, 2)), x_1=np.ones((3, 2)), y=np.array([0])), "y", "1 rows for 2 sequences"),
    (dict(x_0=np.ones((3, 2)), y=np.array([-1])), "y", "labels must be >= 0"),
    (dict(x_0=np.ones((3, 2)), y=np.array([True])), "y", "boolean"),
    (dict(x_0=np.ones((3, 2))), "y_0", "missing"),
    (dict(x_0=np.ones((3, 2)), y_0=np.array([0, 1])), "y_0", "2 steps, x_0 has 3"),
    (dict(x_0=np.ones((2, 1)), x_1=np.ones((2, 1)), y_0=np.array([0, 1]), y_1=np.ones((2, 1))), "y_1", "kind"),
    (dict(x=np.ones((5, 2)), lengths=np.array([2, 2]), y=np.array([0, 1])), "lengths", "sum to 4 but x has 5"),
    (dict(x=np.ones((4, 2)), lengths=np.array([2.0, 2.0]), y=np.array([0, 1])), "lengths", "integer"),
    (dict(x=np.ones((4, 2)), lengths=np.array([4, 0]), y=np.array([0, 1])), "lengths", ">= 1"),
    (dict(x=np.ones((4, 2)), y=np.array([0, 1])), "lengths", "missing"),
    (dict(x=np.ones((4, 2)), lengths=np.array([2, 2]), y=np.array([0, 1, 1])), "y", "3 rows; expected 2"),
    (dict(x=np.ones((4, 2)), lengths=np.array([2, 2]), y=np.array([0.5, np.nan])), "y", "non-finite"),
    (dict(x=np.ones((4, 2)), lengths=np.array([2, 2]), y=np.array([0, 1]), split=np.array([0, 5])),
     "split", "index 1.*not one of train"),
    (dict(x=np.ones((4, 2)), lengths=np.array([2, 2]), y=np.array([0, 1]), split=np.array([0])), "split", "shape"),
    (dict(x=np.ones((4, 2)), lengths=np.array([2, 2]), y=np.array([0, 1]), split=np.array([1, 2])), "split", "no sequence in the train"),
])
def test_npz_errors_name_the_key(tmp_path, arrays, key, what):
    fails(f"key '{key}'.*{what}", _npz(tmp_path, **arrays), "npz")


def test_npz_unreadable(tmp_path):
    fails("neither layout.*found keys: a", _npz(tmp_path, a=np.ones(3)), "npz")
    fails("holds no arrays", _npz(tmp_path), "npz")
    fails("not a readable .npz", write(tmp_path, "junk.npz", b"not a zip"), "npz")
    p = tmp_path / "obj.npz"
    np.savez(p, x_0=np.array([np.ones(2), np.ones(3)], dtype=object), y=np.array([0]))
    fails("key 'x_0'.*without pickle", p, "npz")


# ---- labelled ---------------------------------------------------------------------------------
REVIEWS = [("great film", "pos"), ("awful", "neg"), ("loved it", "pos"), ("boring", "neg"),
           ("fine", "neutral"), ("superb acting", "pos"), ("dull plot", "neg"), ("ok I guess", "neutral")]


def test_labelled_csv_with_split_column(tmp_path):
    rows = ["review,sentiment,split"] + [f"{t},{lab},{'train' if i < 6 else 'valid'}" for i, (t, lab) in enumerate(REVIEWS)]
    p = write(tmp_path, "r.csv", "\n".join(rows) + "\n")
    ds = load(p, "labelled", text_column="review", label_column="sentiment")
    assert ds.labels == ("neg", "neutral", "pos")          # sorted
    assert ds.y.tolist() == [2, 0, 2, 0, 1, 2, 0, 1]
    assert ds.split.tolist() == [0] * 6 + [1] * 2
    assert ds.n_symbols == len(ds.vocab) and ds.vocab[0] == UNKNOWN
    b = ds.batch([0, 1])
    assert b.u.shape == (10, 2, ds.n_in) and b.lengths.tolist() == [10, 5] and b.target.tolist() == [2, 0]
    # "dull plot" (valid) has characters absent from train -> unknown (index 0) where absent
    assert ds.vocab[ds.x[ds.offsets[6]]] in ("d", UNKNOWN)


def test_labelled_jsonl_integer_labels_sorted_numerically(tmp_path):
    lines = [json.dumps({"text": t, "label": [10, 2, 33][i % 3]}) for i, (t, _) in enumerate(REVIEWS * 3)]
    ds = load(write(tmp_path, "r.jsonl", "\n".join(lines) + "\n"), "labelled", fractions=(1.0, 0.0, 0.0))
    assert ds.labels == (2, 10, 33) and ds.y[:3].tolist() == [1, 0, 2]


def test_labelled_split_by_rule_is_deterministic(tmp_path):
    rows = ["text,label"] + [f"{t},{lab}" for t, lab in REVIEWS * 5]
    p = write(tmp_path, "r.csv", "\n".join(rows))
    a, b = load(p, "labelled", fractions=(0.8, 0.2, 0.0), seed=1), load(p, "labelled", fractions=(0.8, 0.2, 0.0), seed=1)
    assert a.hash == b.hash and a.sizes() == {"train": 32, "valid": 8, "test": 0}


def test_labelled_unknown_label_names_line(tmp_path):
    rows = ["text,label,split", "a,x,train", "b,y,train", "c,z,test"]
    fails("line 4: label 'z' \\(in the test split\\) does not occur in the train split",
          write(tmp_path, "r.csv", "\n".join(rows)), "labelled")


def test_labelled_missing_column_lists_found(tmp_path):
    msg = fails("no column 'label'; the columns found are 'text', 'sentiment'",
                write(tmp_path, "r.csv", "text,sentiment\na,b\n"), "labelled")
    assert "task.text_column=" in msg and "task.label_column=" in msg     # the keys a config sets
    fails("line 2: no key 'label'; the keys found are 'text'",
          write(tmp_path, "r.jsonl", '{"text": "a", "label": 1}\n{"text": "b"}\n'), "labelled")


@pytest.mark.parametrize("name,content,what", [
    ("r.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": 1\n', "line 2: not valid JSON"),
    ("r.jsonl", '[1, 2]\n', "line 1: expected a JSON object"),
    ("r.jsonl", '{"text": 5, "label": 1}\n', "line 1: 'text' must be a string"),
    ("r.jsonl", '{"text": "a", "label": null}\n', "line 1: label None is not usable"),
    ("r.csv", 'text,label\nabc,1\n,2\n', "line 3: 'text' is empty"),
    ("r.csv", 'text,label\nabc,1\nabc,1,3\n', "line 3: more cells"),
    ("r.csv", 'text,label\nabc\n', "line 2: fewer cells"),
    ("r.csv", 'text,label\n', "no records"),
    ("r.csv", 'text,label\n"ab"c,1\n', "line 2: malformed CSV"),
    ("r.csv", 'text,label,split\nabc,1,dev\n', "line 2, column 'split': split value 'dev'"),
    ("r.csv", 'text,label,split\nabc,1,test\n', "no record in the train split"),
])
def test_labelled_errors(tmp_path, name, content, what):
    fails(what, write(tmp_path, name, content), "labelled")


def test_labelled_bad_encoding(tmp_path):
    fails("line 2, byte offset 13 \\(column 3\\).*UTF-8", write(tmp_path, "r.csv", b"text,label\nab\xe9c,1\n"), "labelled")


def test_csv_line_numbers_count_blank_lines(tmp_path):
    fails("line 5, column 1: 'x' is not a number", write(tmp_path, "b.csv", "1\n2\n\n3\nx\n"), "csv")
    fails("line 2: malformed CSV", write(tmp_path, "q.csv", '1\n"2"x\n'), "csv")


def test_npz_integer_targets_2d(tmp_path):
    fails("key 'y'.*store real-valued targets as floats",
          _npz(tmp_path, x_0=np.ones((2, 1)), y=np.ones((1, 2), dtype=np.int64)), "npz")


def test_npz_single_array_file(tmp_path):
    p = tmp_path / "one.npz"
    with open(p, "wb") as f:
        np.save(f, np.ones(3))
    fails("single array \\(.npy\\)", p, "npz")


def test_from_arrays_in_memory():
    from rnnctl.data import from_arrays
    ds = from_arrays({"x_0": np.ones((2, 3)), "x_1": np.zeros((4, 3)), "y": [1, 0]}, fractions=(1.0, 0.0, 0.0))
    assert ds.lengths.tolist() == [2, 4] and ds.n_out == 2 and ds.source == "<arrays>"
    with pytest.raises(DataError, match="<arrays>: key 'x_1'"):
        from_arrays({"x_0": np.ones((2, 3)), "x_1": np.ones((2, 2)), "y": [1, 0]})


def test_npz_missing_file(tmp_path):
    fails("cannot read the file", tmp_path / "none.npz", "npz")
