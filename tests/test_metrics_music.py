"""Tests for the multi-label (piano-roll) pieces of rnnctl.data: the loss sigmoid_ce of `Dataset`
and the metrics sigmoid_nll_sum and frame_accuracy, against slow obvious references."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnctl.data import Dataset, metrics
from rnnctl.errors import DataError


def slow_bce_sum(z, y, mask):
    total = 0.0
    for idx in np.ndindex(*mask.shape):
        if mask[idx]:
            for o in range(z.shape[-1]):
                p = 1.0 / (1.0 + math.exp(-z[idx + (o,)]))
                t = y[idx + (o,)]
                total -= t * math.log(p) + (1 - t) * math.log(1 - p)
    return total


def slow_frame_accuracy(z, y, mask):
    tp = fp = fn = 0
    for idx in np.ndindex(*mask.shape):
        if mask[idx]:
            for o in range(z.shape[-1]):
                on, truth = z[idx + (o,)] > 0, y[idx + (o,)] == 1
                tp += on and truth
                fp += on and not truth
                fn += truth and not on
    return tp / (tp + fp + fn)


@pytest.fixture
def roll_batch():
    rng = np.random.default_rng(3)
    z = rng.normal(0, 3, (7, 4, 6))                                      # (T, B, O) logits
    y = (rng.random((7, 4, 6)) < 0.3).astype(np.float64)                 # (T, B, O) 0/1 targets
    mask = metrics.step_mask(np.array([7, 3, 5, 1]), 7)                  # (T, B)
    return z, y, mask


def test_sigmoid_nll_sum_matches_the_slow_reference(roll_batch):
    z, y, mask = roll_batch
    assert metrics.sigmoid_nll_sum(z, y, mask) == pytest.approx(slow_bce_sum(z, y, mask), rel=1e-12)
    full = np.ones(mask.shape, dtype=bool)
    assert metrics.sigmoid_nll_sum(z, y) == pytest.approx(slow_bce_sum(z, y, full), rel=1e-12)


def test_sigmoid_nll_sum_is_stable_and_exact_at_the_extremes():
    z = np.array([[800.0, -800.0, 0.0]])
    assert metrics.sigmoid_nll_sum(z, np.array([[1.0, 0.0, 1.0]])) == pytest.approx(math.log(2))
    assert metrics.sigmoid_nll_sum(z, np.array([[0.0, 1.0, 0.0]])) == pytest.approx(1600 + math.log(2))
    # a model that says 1/2 everywhere: ln 2 per output per step, whatever the targets
    assert metrics.sigmoid_nll_sum(np.zeros((5, 2, 3)), np.ones((5, 2, 3))) == pytest.approx(30 * math.log(2))


def test_frame_accuracy_matches_the_slow_reference(roll_batch):
    z, y, mask = roll_batch
    assert metrics.frame_accuracy(z, y, mask) == pytest.approx(slow_frame_accuracy(z, y, mask), rel=1e-15)


def test_frame_accuracy_by_hand():
    y = np.array([[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 1]], dtype=float)   # 4 notes on
    z = np.array([[5, -1, 2, -3], [-1, -1, -1, -1], [1, -2, -2, 0.0]])     # logit 0 is off
    # TP: (0,0), (2,0) = 2; FP: (0,2) = 1; FN: (0,1), (2,3) = 2 -> 2 / 5; silent row 1 counts nothing
    assert metrics.frame_accuracy(z, y) == pytest.approx(2 / 5)
    assert metrics.frame_accuracy(z, y, np.array([False, True, True])) == pytest.approx(1 / 2)
    assert metrics.frame_accuracy(-np.ones((2, 3)), np.zeros((2, 3))) == 1.0   # nothing to find
    with pytest.raises(DataError, match="at least one scored frame"):
        metrics.frame_accuracy(z, y, np.zeros(3, dtype=bool))
    with pytest.raises(DataError, match="shape"):
        metrics.sigmoid_nll_sum(z, y[:, :2])


def test_dataset_sigmoid_ce_needs_0_1_float_targets_per_step():
    x = np.zeros((5, 3))
    ok = Dataset(x=x, lengths=[2, 3], y=np.eye(5, 3), split=[0, 1], arch="many_to_many",
                 loss="sigmoid_ce", n_out=3)
    b = ok.batch([0, 1])
    assert b.target.shape == (3, 2, 3) and b.target[2, 0].sum() == 0      # padded step holds 0
    assert ok.describe()["loss"] == "sigmoid_ce"
    with pytest.raises(DataError, match="0.0 or 1.0"):
        Dataset(x=x, lengths=[2, 3], y=np.full((5, 3), 0.5), split=[0, 1], arch="many_to_many",
                loss="sigmoid_ce", n_out=3)
    with pytest.raises(DataError, match="float targets"):
        Dataset(x=x, lengths=[2, 3], y=np.ones((5, 3), dtype=np.int64), split=[0, 1],
                arch="many_to_many", loss="sigmoid_ce", n_out=3)
    with pytest.raises(DataError, match="needs arch many_to_many"):
        Dataset(x=x, lengths=[2, 3], y=np.ones((2, 3)), split=[0, 1], arch="many_to_one",
                loss="sigmoid_ce", n_out=3)
