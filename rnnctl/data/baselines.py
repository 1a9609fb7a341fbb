"""Trivial baselines beside every real-data metric: what a model that learned nothing about the
sequence would score, fitted on the training split only (issue 21). A metric means little without
them: 1.9 bpc is good on a 104-symbol text and poor on a binary one.

Every baseline is a pure function of arrays, ``fn(train, target, n_classes)`` for class targets
and ``fn(train, target)`` otherwise, ``train`` being the training split's targets (the thing to
predict) and ``target`` those of the split scored. ``BASELINES`` maps a data kind and a metric to
{baseline name: function}; ``BETTER`` says which way each metric is better. ``baselines_of`` turns
a dataset into the plain data a run's summary stores under ``baselines``:

    {split: {metric: {"better": "lower" | "higher", "values": {name: value}}}}

with the split and metric names of the run's own metrics (``rnnctl.data.scoring``).

The baselines:

- ``uniform`` (bpc, nll): every class equally likely, −ln(1/K) per prediction.
- ``unigram`` (text) and ``prior`` (class labels): each class with its training frequency,
  add-one (Laplace) smoothed over the K classes, p_k = (n_k + 1) / (N + K), so that a class
  unseen in training costs a finite −ln(1/(N + K)) (Manning & Schütze 1999, §6.2.2).
- ``majority`` (accuracy): always the most frequent training class (the lowest index on a tie).
- ``persistence`` (series mse, mae): every value ahead predicted by the last value seen, the
  forecast that ``baseline_mse``/``baseline_mae`` already report (``metrics.last_value_mse``).
- ``mean`` (mse) and ``median`` (mae): the constant that minimises the error on the training
  targets, per output.
- ``independent`` (piano-roll nll, frame_accuracy): each note on with its training frequency,
  independently of the others and of time (add-one smoothed over on/off: (n_j + 1) / (F + 2));
  its frame accuracy predicts the notes whose frequency is above 1/2, as the model's rule does
  for a logit above 0.
- ``persistence`` (piano-roll frame_accuracy, when each step's input is the frame before its
  target, i.e. next-frame prediction as the chorales): the next frame is the current one.

``loss`` has no baseline: it is training's own normalisation (summed over a window or a
sequence), and the metrics above say the same thing in their units.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from . import metrics as M

#: Which way each metric with baselines is better.
BETTER = {"bpc": "lower", "nll": "lower", "accuracy": "higher", "frame_accuracy": "higher",
          "mse": "lower", "mae": "lower"}

LN2 = math.log(2.0)


# -- classes (text symbols, labels, per-step classes): fn(train, target, n_classes) ---------------

def uniform_nll(train: np.ndarray, target: np.ndarray, n_classes: int) -> float:
    """−ln(1/K) nats per prediction: the guess that knows only the number of classes."""
    return math.log(n_classes)


def unigram_nll(train: np.ndarray, target: np.ndarray, n_classes: int, alpha: float = 1.0) -> float:
    """Mean −ln p(target) under the training frequencies, add-``alpha`` smoothed:
    p_k = (n_k + α) / (N + αK)."""
    counts = np.bincount(np.asarray(train, dtype=np.int64), minlength=n_classes).astype(np.float64)
    p = (counts + alpha) / (counts.sum() + alpha * n_classes)
    return float(-np.mean(np.log(p[np.asarray(target, dtype=np.int64)])))


def majority_accuracy(train: np.ndarray, target: np.ndarray, n_classes: int) -> float:
    """Fraction of ``target`` equal to the most frequent training class."""
    k = int(np.argmax(np.bincount(np.asarray(train, dtype=np.int64), minlength=n_classes)))
    return float(np.mean(np.asarray(target) == k))


def bits(fn: Callable[..., float]) -> Callable[..., float]:
    """The same baseline in bits (bpc) instead of nats."""
    def in_bits(*args, **kw) -> float:
        return fn(*args, **kw) / LN2
    in_bits.__name__ = in_bits.__qualname__ = f"{fn.__name__}_bits"
    in_bits.__doc__ = f"{fn.__name__} / ln 2."
    return in_bits


# -- multi-label frames (piano rolls): fn(train (F, O) 0/1, target (n, O) 0/1) ----------------------

def _note_rates(train: np.ndarray, alpha: float) -> np.ndarray:
    train = np.asarray(train, dtype=np.float64)
    return (train.sum(axis=0) + alpha) / (train.shape[0] + 2.0 * alpha)


def independent_note_nll(train: np.ndarray, target: np.ndarray, alpha: float = 1.0) -> float:
    """Mean over frames of Σ_j −[y_j ln p_j + (1 − y_j) ln(1 − p_j)], p_j the note's smoothed
    training frequency: the NLL per time step of notes that ignore each other and time."""
    p = _note_rates(train, alpha)
    y = np.asarray(target, dtype=np.float64)
    return float(-np.mean((y * np.log(p) + (1.0 - y) * np.log1p(-p)).sum(axis=1)))


def independent_frame_accuracy(train: np.ndarray, target: np.ndarray, alpha: float = 1.0) -> float:
    """Frame accuracy (TP / (TP + FP + FN)) of predicting, in every frame, the notes whose
    training frequency is above 1/2."""
    on = _note_rates(train, alpha) > 0.5
    y = np.asarray(target, dtype=np.float64)
    logits = np.where(on, 1.0, -1.0) * np.ones_like(y)
    return M.frame_accuracy(logits, y)


def persistence_frame_accuracy(inputs: np.ndarray, target: np.ndarray) -> float:
    """Frame accuracy of predicting each step's target frame by its input frame (the notes on
    now stay on): ``inputs`` and ``target`` (n, O), 0/1."""
    on = np.asarray(inputs, dtype=np.float64) > 0.5
    return M.frame_accuracy(np.where(on, 1.0, -1.0), np.asarray(target, dtype=np.float64))


# -- real values: fn(train (m, O), target (n, O)) ---------------------------------------------------

def mean_mse(train: np.ndarray, target: np.ndarray) -> float:
    """MSE of predicting every output by its training mean."""
    mu = np.mean(np.asarray(train, dtype=np.float64), axis=0)
    return M.mse(np.broadcast_to(mu, np.shape(target)), target)


def median_mae(train: np.ndarray, target: np.ndarray) -> float:
    """MAE of predicting every output by its training median."""
    med = np.median(np.asarray(train, dtype=np.float64), axis=0)
    return M.mae(np.broadcast_to(med, np.shape(target)), target)


# -- series forecasts: fn(values (n + h, C) of the split, horizon) ----------------------------------

persistence_mse = M.last_value_mse   # the forecast of the split's baseline_mse, reused


def persistence_mae(values: np.ndarray, horizon: int = 1) -> float:
    """MAE of the forecast of ``persistence_mse``: the values at t+1 .. t+horizon predicted by
    the value at t."""
    v = np.asarray(values, dtype=np.float64)
    v = v[:, None] if v.ndim == 1 else v
    n = v.shape[0] - horizon
    return float(np.mean([np.abs(v[k:k + n] - v[:n]) for k in range(1, horizon + 1)]))


#: {data kind: {metric: {baseline: function}}}; the kinds are those of ``kind_of``.
BASELINES: dict[str, dict[str, dict[str, Callable[..., float]]]] = {
    "text": {"bpc": {"uniform": bits(uniform_nll), "unigram": bits(unigram_nll)},
             "nll": {"uniform": uniform_nll, "unigram": unigram_nll},
             "accuracy": {"majority": majority_accuracy}},
    "classes": {"nll": {"uniform": uniform_nll, "prior": unigram_nll},
                "accuracy": {"majority": majority_accuracy}},
    "notes": {"nll": {"independent": independent_note_nll},
              "frame_accuracy": {"independent": independent_frame_accuracy,
                                 "persistence": persistence_frame_accuracy}},
    "values": {"mse": {"mean": mean_mse}, "mae": {"median": median_mae}},
    "series": {"mse": {"persistence": persistence_mse, "mean": mean_mse},
               "mae": {"persistence": persistence_mae, "median": median_mae}},
}
#: Baselines that take other arrays than (train, target): a series' split values and horizon,
#: a piano roll's inputs and targets (and only when the inputs are the previous frames).
FORECASTS = {"persistence"}


def kind_of(dataset) -> str:
    """The BASELINES kind of a ``Dataset`` or ``StreamDataset``."""
    if dataset.kind == "stream":
        return "text" if dataset.loss == "softmax_ce" else "series"
    return {"softmax_ce": "classes", "sigmoid_ce": "notes", "mse": "values"}[dataset.loss]


def split_targets(dataset, split: str) -> np.ndarray:
    """The targets the metrics of ``split`` are computed over, in the order scoring meets them:
    a text's next symbols (n,), a series' values ahead (n, horizon·C) in the file's units,
    a set of sequences' labels (N,) or the rows of its per-step targets (ΣT, ...)."""
    if dataset.kind == "stream":
        s, e = dataset.range(split)
        if dataset.loss == "softmax_ce":
            return dataset.data[s + 1:e]
        v, h = dataset.raw(split), dataset.horizon
        n = v.shape[0] - h
        return np.concatenate([v[k:k + n] for k in range(1, h + 1)], axis=1) if n > 0 else v[:0]
    idx = dataset.indices(split)
    if dataset.arch == "many_to_one":
        return dataset.y[idx]
    o = dataset.offsets
    rows = np.concatenate([np.arange(o[i], o[i + 1]) for i in idx]) if idx.size else np.zeros(0, np.int64)
    return dataset.y[rows]


def baselines_of(dataset, splits=("train", "valid", "test")) -> dict:
    """{split: {metric: {"better": ..., "values": {name: value}}}} of ``dataset`` (module
    docstring), every baseline fitted on the train split; splits without a scored step are left
    out."""
    if getattr(dataset, "kind", None) == "pairs":
        return _pair_baselines(dataset, splits)
    kind = kind_of(dataset)
    train = split_targets(dataset, "train")
    out: dict = {}
    for split in splits:
        target = split_targets(dataset, split)
        if len(target) == 0:
            continue
        out[split] = {}
        for metric, table in BASELINES[kind].items():
            values = {name: _call(fn, name, kind, dataset, split, train, target) for name, fn in table.items()}
            out[split][metric] = {"better": BETTER[metric],
                                  "values": {k: v for k, v in values.items() if v is not None}}
    return out


def _pair_baselines(ds, splits) -> dict:
    """Sentence pairs: chrF, BLEU and exact match of copying the source and of answering every
    pair with the train split's most frequent target (``data.translation``, where sacrebleu scores
    them as it scores the model)."""
    from .translation import most_frequent_target, text_scores
    frequent, out = most_frequent_target(ds), {}
    for split in splits:
        idx = ds.indices(split)
        if len(idx) == 0:
            continue
        refs = [ds.target_text(i) for i in idx]
        copy = text_scores([ds.source_text(i) for i in idx], refs)
        most = text_scores([frequent] * len(refs), refs)
        out[split] = {m: {"better": "higher", "values": {"copy": copy[m], "frequent": most[m]}} for m in copy}
    return out


def _call(fn, name, kind, dataset, split, train, target) -> float | None:
    if name in FORECASTS and kind == "series":
        return float(fn(dataset.raw(split), dataset.horizon))
    if name in FORECASTS:   # piano rolls: only for next-frame prediction
        inputs = _inputs(dataset, split)
        return float(fn(inputs, target)) if inputs is not None else None
    if kind in ("text", "classes"):
        return float(fn(train, target, dataset.n_out))
    return float(fn(train, target))


def _inputs(dataset, split: str) -> np.ndarray | None:
    """The input rows of ``split`` aligned with its target rows, when every sequence's input at
    t + 1 is its target at t (next-frame prediction); else None."""
    if dataset.n_in != dataset.n_out or dataset.n_symbols is not None:
        return None
    o = dataset.offsets
    for i in range(len(dataset)):   # the test over the whole dataset: one answer for every split
        x, y = dataset.x[o[i]:o[i + 1]], dataset.y[o[i]:o[i + 1]]
        if not np.array_equal(x[1:], y[:-1]):
            return None
    idx = dataset.indices(split)
    return dataset.x[np.concatenate([np.arange(o[i], o[i + 1]) for i in idx])]
