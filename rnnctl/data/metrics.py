"""Metrics for real data, from model outputs and targets (time-major), ignoring padded steps.

- ``bits_per_character(nll_sum, n_chars)``: Σ −ln p(next char) / (n_chars · ln 2) (Graves 2013,
  "Generating sequences with recurrent neural networks", §3; Pascanu et al. 2013, Table 1).
- ``nll_per_step(nll_sum, n_steps)``: mean negative log-likelihood (nats) per scored time step
  (Boulanger-Lewandowski et al. 2012; Pascanu et al. 2013, Table 1 for the polyphonic music).
- ``sigmoid_nll_sum``: Σ binary cross-entropy (nats) over scored steps and outputs, for
  multi-label targets such as piano rolls; divided by the scored steps it is the NLL per time
  step of Boulanger-Lewandowski et al. 2012 and Pascanu et al. 2013, Table 1.
- ``frame_accuracy``: ΣTP / (ΣTP + ΣFP + ΣFN) over scored frames, a note predicted where its
  logit > 0 (Bay, Ehmann, Downie 2009; Boulanger-Lewandowski et al. 2012, §6).
- ``accuracy``: fraction of scored predictions (argmax of the logits) equal to the label.
- ``mse``, ``mae``: mean over scored steps and outputs of the squared / absolute error.
- ``last_value_mse``: the naive forecast — every value ahead predicted by the last value seen.
"""

from __future__ import annotations

import math

import numpy as np

from rnnctl.errors import DataError


def step_mask(lengths: np.ndarray, T: int) -> np.ndarray:
    """bool (T, B): True where t < lengths[b]."""
    return np.arange(T)[:, None] < np.asarray(lengths)[None, :]


def softmax_nll_sum(logits: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Σ −ln softmax(logits)[target] in nats over the rows where ``mask`` is True.

    logits (..., K) float; target (...) int; mask (...) bool or None (every row)."""
    logits = np.asarray(logits, dtype=np.float64)
    target = np.asarray(target)
    if target.shape != logits.shape[:-1]:
        raise DataError(f"target shape {target.shape} must be logits.shape[:-1] = {logits.shape[:-1]}")
    m = logits.max(axis=-1, keepdims=True)
    logz = (m[..., 0] + np.log(np.exp(logits - m).sum(axis=-1)))        # (...)
    picked = np.take_along_axis(logits, target[..., None].astype(np.int64), axis=-1)[..., 0]
    nll = logz - picked
    return float(nll[mask].sum() if mask is not None else nll.sum())


def sigmoid_nll_sum(logits: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Σ −[y ln σ(z) + (1 − y) ln(1 − σ(z))] in nats over the scored rows and every output.

    logits z (..., O) float; target y (..., O) in [0, 1]; mask (...) bool or None (every row).
    Computed stably from the logits: −ln σ(z) = softplus(−z), −ln(1 − σ(z)) = softplus(z), so
    the term is softplus(z) − y·z = max(z, 0) − y·z + ln(1 + e^(−|z|)), finite for any z."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    if y.shape != z.shape:
        raise DataError(f"target shape {y.shape} must equal the logits' shape {z.shape}")
    bce = np.maximum(z, 0.0) - y * z + np.log1p(np.exp(-np.abs(z)))   # (..., O)
    bce = bce[mask] if mask is not None else bce
    return float(bce.sum())


def frame_accuracy(logits: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Frame-level accuracy of multi-label predictions: ΣTP / (ΣTP + ΣFP + ΣFN), summed over all
    scored frames (rows) and outputs; an output is predicted on where its logit > 0 (σ > 1/2),
    and is on in the target where target > 0.5 (Bay, Ehmann, Downie 2009, "Evaluation of
    multiple-F0 estimation and tracking systems", ISMIR; the measure of Boulanger-Lewandowski et
    al. 2012). True negatives do not count, so silence predicted as silence earns nothing.

    logits (..., O); target (..., O); mask (...) bool or None. When the scored frames have no
    note in the target and none predicted (0/0), the result is 1.0: nothing was missed."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(target)
    if y.shape != z.shape:
        raise DataError(f"target shape {y.shape} must equal the logits' shape {z.shape}")
    pred, truth = z > 0, y > 0.5
    if mask is not None:
        pred, truth = pred[mask], truth[mask]
    if pred.size == 0:
        raise DataError("frame accuracy needs at least one scored frame")
    tp = int(np.count_nonzero(pred & truth))
    fp = int(np.count_nonzero(pred & ~truth))
    fn = int(np.count_nonzero(~pred & truth))
    return 1.0 if tp + fp + fn == 0 else tp / (tp + fp + fn)


def bits_per_character(nll_sum: float, n_chars: int) -> float:
    """Bits per character from a summed natural-log cross-entropy over ``n_chars`` characters."""
    if n_chars <= 0:
        raise DataError(f"bits per character needs at least one character, got {n_chars}")
    return float(nll_sum) / (n_chars * math.log(2.0))


def nll_per_step(nll_sum: float, n_steps: int) -> float:
    """Negative log-likelihood (nats) per scored time step."""
    if n_steps <= 0:
        raise DataError(f"NLL per time step needs at least one step, got {n_steps}")
    return float(nll_sum) / n_steps


def accuracy(logits: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Fraction of rows where argmax(logits) == target. logits (..., K), target (...) int."""
    right = np.asarray(logits).argmax(axis=-1) == np.asarray(target)
    right = right[mask] if mask is not None else right.ravel()
    if right.size == 0:
        raise DataError("accuracy needs at least one scored prediction")
    return float(right.mean())


def _errors(y, target, mask):
    y, target = np.asarray(y, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if y.shape != target.shape:
        raise DataError(f"prediction shape {y.shape} does not match target shape {target.shape}")
    d = y - target
    d = d[mask] if mask is not None else d.reshape(-1, d.shape[-1])
    if d.size == 0:
        raise DataError("the error needs at least one scored value")
    return d


def mse(y: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean squared error over scored rows and outputs. y, target (..., O); mask (...) bool."""
    return float(np.mean(_errors(y, target, mask) ** 2))


def mae(y: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute error over scored rows and outputs. y, target (..., O); mask (...) bool."""
    return float(np.mean(np.abs(_errors(y, target, mask))))


def last_value_mse(values: np.ndarray, horizon: int = 1) -> float:
    """MSE of the naive forecast on a series ``values`` (N, C) (or (N,)): for each t in
    [0, N − horizon) the values at t+1 .. t+horizon are all predicted by the value at t."""
    v = np.asarray(values, dtype=np.float64)
    v = v[:, None] if v.ndim == 1 else v
    n = v.shape[0] - horizon
    if n < 1:
        raise DataError(f"a series of {v.shape[0]} values has no {horizon}-step-ahead pair")
    sq = [(v[k:k + n] - v[:n]) ** 2 for k in range(1, horizon + 1)]
    return float(np.mean(sq))
