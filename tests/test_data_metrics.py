"""Tests for rnnctl.data.metrics and the built-in source rnnctl.data.sources.python_docs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnctl.data import metrics, sources
from rnnctl.data.formats import from_values
from rnnctl.errors import DataError


@pytest.fixture(scope="module")
def docs_slice():
    return sources.python_docs(chars=20_000)


def test_python_docs_source_is_stable_text():
    text = sources.python_docs_text()
    assert len(text) > 400_000 and "while" in text
    assert text == sources.python_docs_text()


def test_python_docs_dataset(docs_slice):
    ds = docs_slice
    assert ds.source == "python_docs" and ds.data.shape == (20_000,)
    assert ds.vocab[0] == "" and ds.n_in == len(ds.vocab) > 50
    assert ds.hash == sources.python_docs(chars=20_000).hash
    assert ds.sizes()["train"] == 15_999


def test_uniform_model_bits_per_character_is_log2_vocabulary(docs_slice):
    ds = docs_slice
    V = ds.n_in
    nll = n = 0
    for w in ds.evaluation("valid", 500):
        logits = np.zeros(w.target.shape + (V,))                      # (L, 1, V): uniform
        nll += metrics.softmax_nll_sum(logits, w.target)
        n += w.target.size
    assert n == ds.steps("valid")
    assert metrics.bits_per_character(nll, n) == pytest.approx(math.log2(V), rel=1e-12)


def test_softmax_nll_sum_with_mask():
    logits = np.log(np.array([[[0.5, 0.25, 0.25]], [[0.1, 0.8, 0.1]]]))   # (T=2, B=1, K=3)
    target = np.array([[0], [1]])
    assert metrics.softmax_nll_sum(logits, target) == pytest.approx(-math.log(0.5) - math.log(0.8))
    mask = metrics.step_mask(np.array([1]), 2)
    assert mask.tolist() == [[True], [False]]
    assert metrics.softmax_nll_sum(logits, target, mask) == pytest.approx(-math.log(0.5))
    assert metrics.nll_per_step(3.0, 4) == 0.75
    with pytest.raises(DataError, match="shape"):
        metrics.softmax_nll_sum(logits, target[0])


def test_accuracy_mse_mae():
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert metrics.accuracy(logits, np.array([0, 1, 1])) == pytest.approx(2 / 3)
    assert metrics.accuracy(logits, np.array([0, 1, 1]), np.array([True, True, False])) == 1.0
    y, t = np.array([[[1.0, 2.0]], [[0.0, 0.0]]]), np.array([[[0.0, 0.0]], [[9.0, 9.0]]])  # (2, 1, 2)
    mask = np.array([[True], [False]])
    assert metrics.mse(y, t, mask) == pytest.approx(2.5)
    assert metrics.mae(y, t, mask) == pytest.approx(1.5)
    assert metrics.mse(y, t) == pytest.approx((1 + 4 + 81 + 81) / 4)
    with pytest.raises(DataError, match="does not match"):
        metrics.mse(y, t[:1])
    with pytest.raises(DataError, match="at least one"):
        metrics.accuracy(logits, np.array([0, 1, 1]), np.zeros(3, bool))


def test_last_value_baseline():
    assert metrics.last_value_mse(np.arange(10.0)) == 1.0
    assert metrics.last_value_mse(np.arange(10.0), horizon=2) == pytest.approx((1 + 4) / 2)
    with pytest.raises(DataError, match="no 3-step-ahead"):
        metrics.last_value_mse(np.arange(3.0), horizon=3)
    # on a dataset's stream: the naive model predicting the input equals the helper
    ds = from_values(np.sin(np.arange(200) / 5.0), horizon=1)
    w = next(ds.evaluation("valid", 1000))
    assert metrics.mse(w.u, w.target) == pytest.approx(metrics.last_value_mse(ds.data[slice(*ds.range("valid"))]))


def test_metric_guards():
    with pytest.raises(DataError):
        metrics.bits_per_character(1.0, 0)
    with pytest.raises(DataError):
        metrics.nll_per_step(1.0, 0)
