"""Scoring a model on a split of real data: the metrics of Pascanu et al. (2013, Table 1) and of
the forecasting and classification literature, computed batch by batch so that a long split never
needs all its activations in memory.

What each kind of data reports (besides ``loss``):

- text stream: ``bpc`` (bits per character = nll / ln 2), ``nll`` (nats per character),
  ``accuracy`` (next character right);
- series stream: ``mse``, ``mae`` in the file's units, and the naive forecast's (every value
  ahead = the last value seen) ``baseline_mse``, ``baseline_mae`` on the same steps;
- classification (many-to-one): ``accuracy``, ``nll`` (nats per sequence);
- multi-label frames (piano rolls, sigmoid outputs): ``nll`` per time step (Σ over the keys of
  the binary cross-entropy, averaged over frames: Boulanger-Lewandowski et al. 2012, the
  measure of Pascanu's Table 1) and ``frame_accuracy`` (Bay et al. 2009: TP / (TP + FP + FN));
- other per-step targets: ``accuracy`` and ``nll`` per step (classes) or ``mse``, ``mae``;
- sentence pairs (translation): ``chrf``, ``exact_match``, ``bleu`` of greedy decodes, ``nll`` and
  ``accuracy`` per target symbol, and two baselines' scores (``translation.py``).

``loss`` is what training minimises, normalised as training normalises it: the mean over
sequences of each sequence's summed loss (a stream: per window of ``length`` steps), so that it
compares with the training loss.

A stream is scored as one sequence (B = 1) with its state carried through windows: every step
of the split once, each conditioned on everything before it in the split.
"""

from __future__ import annotations

import math

import numpy as np

from . import metrics as M

# evaluation windows of a stream: longer than training's (no BPTT memory), same numbers
STREAM_EVAL_WINDOW = 2000
# a batch of sequences holds its inputs and states under about this many bytes
MEMORY_BYTES = 64 * 2**20


def score(model, dataset, split: str, *, batch_size: int = 256, length: int | None = None) -> dict:
    """Metrics of ``model`` on ``split`` of ``dataset`` (module docstring). ``length``: a stream's
    training window (normalises its ``loss``)."""
    if dataset.kind == "stream":
        return _score_stream(model, dataset, split, length or 1)
    if dataset.kind == "pairs":
        from .translation import score_pairs
        return score_pairs(model, dataset, split, batch_size)
    return _score_sequences(model, dataset, split, batch_size)


def _score_sequences(model, ds, split: str, batch_size: int) -> dict:
    acc = _Tally()
    # a batch's inputs and stored states grow with its longest sequence: cap the batch to bound memory
    per_sequence = 8 * (int(ds.lengths.max()) + 1) * (ds.n_in + model.floats_per_step)
    batch_size = max(1, min(batch_size, MEMORY_BYTES // per_sequence))
    for idx in ds.order(split, batch_size, None):
        b = ds.batch(idx)
        y = model.outputs(b.u, lengths=b.lengths)          # (B, O) or (T, B, O)
        if ds.arch == "many_to_one":
            acc.add(y, b.target, None, ds.loss, sequences=len(idx))
        else:
            acc.add(y, b.target, b.mask, ds.loss, sequences=len(idx))
    return acc.result(ds.loss, per_sequence=True)


def _score_stream(model, ds, split: str, length: int) -> dict:
    acc, state = _Tally(), None
    raw = ds.mean is not None
    for w in ds.windows(split, 1, STREAM_EVAL_WINDOW, rng=None):
        y = model.outputs(w.u, state0=state)               # (L, 1, O)
        state = model.last_state
        if raw:   # series: errors in the file's units, beside the last-value forecast
            y_raw, t_raw = ds.denormalise(y), ds.denormalise(w.target)
            last = ds.denormalise(np.tile(w.u, (1, 1, ds.horizon)))   # the value at t, for every step ahead
            acc.add_series(y, w.target, y_raw, t_raw, last)
        else:
            acc.add(y, w.target, None, ds.loss, sequences=0)
    out = acc.result(ds.loss, per_sequence=False)
    out["loss"] = out.pop("step_loss") * length
    if ds.loss == "softmax_ce":
        out["bpc"] = out["nll"] / math.log(2.0)
    return out


class _Tally:
    """Running sums over batches."""

    def __init__(self):
        self.loss = self.nll = 0.0
        self.sequences = self.steps = self.right = self.predictions = 0
        self.tp = self.fp = self.fn = 0
        self.sq = self.ab = self.base_sq = self.base_ab = 0.0
        self.values = 0

    def add(self, y, target, mask, loss: str, sequences: int) -> None:
        self.sequences += sequences
        rows = int(mask.sum()) if mask is not None else int(np.prod(y.shape[:-1]))
        self.steps += rows
        if loss == "softmax_ce":
            nll = M.softmax_nll_sum(y, target, mask)
            right = y.argmax(axis=-1) == target
            self.right += int((right if mask is None else right[mask]).sum())
            self.predictions += rows
            self.nll += nll
            self.loss += nll
        elif loss == "sigmoid_ce":
            nll = M.sigmoid_nll_sum(y, target, mask)
            on, want = y > 0, target > 0.5
            if mask is not None:
                on, want = on[mask], want[mask]
            self.tp += int((on & want).sum())
            self.fp += int((on & ~want).sum())
            self.fn += int((~on & want).sum())
            self.nll += nll
            self.loss += nll
        else:
            d = y - target
            if mask is not None:
                d = d[mask]
            self.sq += float((d * d).sum())
            self.ab += float(np.abs(d).sum())
            self.values += d.size
            self.loss += float((d * d).sum())   # the squared_error kernel's Σ (y − t)²

    def add_series(self, y, target, y_raw, t_raw, last_raw) -> None:
        d = y - target
        self.loss += float((d * d).sum())
        self.steps += int(np.prod(y.shape[:-1]))
        e, base = y_raw - t_raw, last_raw - t_raw
        self.sq += float((e * e).sum())
        self.ab += float(np.abs(e).sum())
        self.base_sq += float((base * base).sum())
        self.base_ab += float(np.abs(base).sum())
        self.values += e.size

    def result(self, loss: str, per_sequence: bool) -> dict:
        out = {"loss": self.loss / self.sequences} if per_sequence else {"step_loss": self.loss / self.steps}
        if loss == "softmax_ce":
            out.update(nll=self.nll / self.steps, accuracy=self.right / self.predictions)
        elif loss == "sigmoid_ce":
            out.update(nll=self.nll / self.steps,
                       frame_accuracy=self.tp / max(self.tp + self.fp + self.fn, 1))
        else:
            out.update(mse=self.sq / self.values, mae=self.ab / self.values)
            if self.base_sq or self.base_ab:
                out.update(baseline_mse=self.base_sq / self.values, baseline_mae=self.base_ab / self.values)
        return out
