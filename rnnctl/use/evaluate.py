"""``rnnctl eval``: score a trained model again, on its own data, on a new file, or at new lengths.

- Real data, a split (``score_split``): the split of the run's own dataset, scored by
  rnnctl.data.scoring.score with the run's eval.batch_size and window, the metrics in the order of
  run.json's summary (the selection metric first): ``--split test`` with the best parameters gives
  exactly run.json's ``test``. The dataset must be the one the run trained on (same content hash):
  a changed file would bring another vocabulary, label set, normalisation or split.
- Real data, a new file (``load_new_data``, ``score_whole``): a file in the run's format
  (task.format of a file run; a built-in source's natural format: text -> text, series -> csv,
  sentiment -> labelled) read with the run's own vocabulary (a character the training range lacks
  is the unknown symbol, index 0), label set (an unknown label is a DataError naming its line),
  normalisation (the training range's mean and std) and horizon, and scored as a whole: every
  sequence of the file, or the whole file as one stream from a zero state.
- Generated tasks (``score_lengths``): Pascanu et al. (2013)'s generalisation test, the loss and
  error rate (the task's own error rule) on fresh sequences of a fixed length L, in chunks whose
  stored states stay bounded in memory (training.evaluation.evaluate); each length draws its
  sequences from ``numpy.random.default_rng(seed)``, so a length's numbers do not depend on the
  other lengths asked for, and the same call gives the same numbers.

Per-sequence predictions (``write_predictions``) for classification (many-to-one, softmax: the
predicted and true label and the class probabilities), regression per sequence, forecasting
(a series: the prediction and target of every step ahead, in the file's units), and translation
(sentence pairs: the source, the reference and the greedy hypothesis the metrics scored).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError

# a built-in source's natural file format for --data (sources not listed have none)
NATURAL_FORMAT = {"text": "text", "series": "csv", "sentiment": "labelled", "translation": "pairs"}
WHOLE = "train"   # a new file is held as one split (the first: the others may be empty) and scored whole
MAX_CLASS_COLUMNS = 20   # probability columns of every class up to this many classes
PREDICTION_SUFFIXES = (".csv", ".jsonl", ".ndjson")
SPLITS = ("valid", "test", "train")


def is_real(trained) -> bool:
    return hasattr(trained.sampler, "dataset")


def params_update(trained) -> int | None:
    """The update after which the scored parameters were saved: 0 for init, the best validation
    update for best, the run's last update for final (None when run.json does not say)."""
    info = trained.info or {}
    if trained.params == "init":
        return 0
    value = info.get("best_update") if trained.params == "best" else info.get("updates")
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def evaluate_run(run_dir, *, params: str = "best", split: str | None = None, data=None, lengths=(),
                 sequences: int | None = None, seed: int | None = None, batch_size: int | None = None,
                 predictions=None) -> dict:
    """What ``rnnctl eval`` prints: {run, params, task, and split + metrics, data + metrics, or
    seed + lengths (+ predictions: {file, rows})}. Nothing in the run folder is written."""
    from .trained import load_trained
    trained = load_trained(run_dir, params)
    doc = {"run": str(run_dir), "params": trained.params, "update": params_update(trained),
           "task": trained.config.task.name}
    given = {"--split": split is not None, "--data": data is not None, "--predictions": predictions is not None,
             "--length": bool(lengths), "--sequences": sequences is not None, "--seed": seed is not None}
    real = is_real(trained)
    wrong = [k for k in (("--length", "--sequences", "--seed") if real else ("--split", "--data", "--predictions"))
             if given[k]]
    if wrong:
        raise ConfigError(f"{' and '.join(wrong)} {'applies' if len(wrong) == 1 else 'apply'} to "
                          f"{'generated tasks' if real else 'runs on real data'}; this run "
                          f"{'trained on data' if real else 'trained on the generated task ' + repr(doc['task'])}",
                          key=wrong[0])
    if not real:
        doc["seed"] = seed or 0
        doc["lengths"] = score_lengths(trained, list(lengths), sequences, seed or 0, batch_size)
        return doc
    if split is not None and data is not None:
        raise ConfigError("give --split (a split of the run's data) or --data (a new file), not both", key="--data")
    if split is not None and split not in SPLITS:
        raise ConfigError(f"expected one of {', '.join(SPLITS)}, got {split!r}", key="--split")
    if predictions is not None:
        check_predictions_path(predictions)
        prediction_kind(trained.sampler.dataset)      # refuse before any scoring
    if data is not None:
        ds, part = load_new_data(trained, data), WHOLE
        doc.update(data=str(data), metrics=score_whole(trained, ds, batch_size))
    else:
        ds, part = run_dataset(trained), split or "test"
        doc.update(split=part, metrics=score_split(trained, part, batch_size))
    if predictions is not None:
        rows = write_predictions(trained, ds, part, predictions, batch_size)
        doc["predictions"] = {"file": str(predictions), "rows": rows}
    return doc


# ---- real data -----------------------------------------------------------------------------------
def run_dataset(trained):
    """The run's own dataset, checked against the content hash run.json recorded."""
    ds = trained.sampler.dataset
    want = (trained.info.get("dataset") or {}).get("hash")
    if want and ds.hash != want:
        raise DataError(f"{ds.source}: the data changed since the run was trained (content hash "
                        f"{ds.hash[:12]}, the run's {want[:12]}); its splits, vocabulary, labels or "
                        "normalisation would not be the run's. Restore the file, or score a new file with --data")
    return ds


def _ordered(trained, out: dict) -> dict:
    """The selection metric first, then the others (as run.json's summary holds them)."""
    from ..tasks.real import selection_metric
    metric, _ = selection_metric(trained.config, trained.sampler.task)
    return {metric: out[metric], **out}


def score_split(trained, split: str, batch_size: int | None = None) -> dict:
    """The metrics of the run's model on ``split`` of its own dataset."""
    from ..data.scoring import score
    ds = run_dataset(trained)
    out = score(trained.model, ds, split, batch_size=batch_size or trained.config.eval.batch_size,
                length=trained.sampler.window)
    return _ordered(trained, out)


def score_whole(trained, dataset, batch_size: int | None = None) -> dict:
    """The metrics of the run's model on all of ``dataset`` (from ``load_new_data``)."""
    from ..data.scoring import score
    out = score(trained.model, dataset, WHOLE, batch_size=batch_size or trained.config.eval.batch_size,
                length=trained.sampler.window)
    return _ordered(trained, out)


def data_format(config) -> str:
    """The file format a new data file for this run must be in."""
    tc = config.task
    if tc.name == "file":
        return tc.format
    if tc.name not in NATURAL_FORMAT:
        raise ConfigError(f"the run trained on the built-in source {tc.name!r}, which has no file format rnnctl "
                          f"can read it in with the run's preprocessing; --data applies to runs on "
                          f"{', '.join(sorted(NATURAL_FORMAT))} or on a file (task.name: file)", key="--data")
    return NATURAL_FORMAT[tc.name]


def load_new_data(trained, path):
    """The file at ``path`` as a dataset the run's model reads, every sequence (or the whole
    stream) in one split (module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (--data)")
    fmt = data_format(trained.config)
    ds = run_dataset(trained)
    new = {"text": _text, "csv": _series, "labelled": _labelled, "npz": _npz, "pairs": _pairs}[fmt](trained, ds, path)
    if new.n_in != ds.n_in or new.arch != ds.arch:
        raise DataError(f"{path}: {new.n_in} inputs per step ({new.arch}); the run's model reads "
                        f"{ds.n_in} ({ds.arch})")
    return new


def _stream(data, path, horizon: int, **kw):
    from ..data.stream import StreamDataset
    n = int(data.shape[0])
    if n <= horizon:
        raise DataError(f"{path}: {n} positions; scoring needs at least {horizon + 1} (a step and the "
                        f"{horizon} after it)")
    return StreamDataset(data=data, bounds=(n, n), horizon=horizon, source=str(path), **kw)


def _text(trained, ds, path):
    from ..data.common import encode, read_utf8
    return _stream(encode(read_utf8(path), ds.vocab), path, 1, n_symbols=ds.n_symbols, vocab=ds.vocab)


def _series(trained, ds, path):
    from ..data.formats import read_numeric_csv
    values, names = read_numeric_csv(path)                              # (N, C) in the file's units
    C = ds.mean.shape[0]
    if values.shape[1] != C:
        raise DataError(f"{path}: {values.shape[1]} columns; the run's series has {C}"
                        + (f" ({', '.join(ds.columns)})" if ds.columns else ""))
    return _stream((values - ds.mean) / ds.std, path, ds.horizon, mean=ds.mean, std=ds.std,
                   columns=ds.columns)


def _labelled(trained, ds, path):
    import inspect

    from ..data.common import encode, fail, read_utf8
    from ..data.dataset import Dataset
    from ..data.labelled import _csv_rows, _jsonl_rows
    from ..registry import TASKS
    tc = trained.config.task
    cols = (tc.text_column or "text", tc.label_column or "label")
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    rows = (_jsonl_rows if jsonl else _csv_rows)(path, read_utf8(path), cols)
    if not rows:
        raise fail(path, None, "the file has no records")
    cut = None
    if tc.name == "sentiment":   # the source cuts each review to its max_length characters
        cut = inspect.signature(TASKS.get("sentiment")).parameters["max_length"].default
    index = {str(c): k for k, c in enumerate(ds.labels)}
    texts, y = [], np.empty(len(rows), dtype=np.int64)                  # (N,) the run's class indices
    for i, (line, rec) in enumerate(rows):
        text, label = rec[cols[0]], rec[cols[1]]
        if not isinstance(text, str) or not text:
            raise fail(path, f"line {line}", f"{cols[0]!r} must be a non-empty string")
        if str(label) not in index:
            raise fail(path, f"line {line}", f"label {label!r} is not one of the run's labels "
                                             f"{list(ds.labels)}")
        texts.append(text[:cut] if cut else text)
        y[i] = index[str(label)]
    return Dataset(x=encode("".join(texts), ds.vocab), lengths=np.array([len(t) for t in texts], dtype=np.int64),
                   y=y, split=np.zeros(len(texts), np.int8), arch="many_to_one", loss="softmax_ce",
                   n_out=ds.n_out, n_symbols=ds.n_symbols, vocab=ds.vocab, labels=ds.labels, source=str(path))


def _pairs(trained, ds, path):
    from ..data.pairs import from_pairs, read_pairs
    from ..data.translation import most_frequent_target
    tc = trained.config.task
    rows = read_pairs(path, tc.source_column, tc.target_column)
    new = from_pairs(rows, level=ds.level, max_pair_length=tc.max_pair_length, reverse_source=ds.reverse_source,
                     split=np.zeros(len(rows), np.int8), vocabs=(ds.src_vocab, ds.tgt_vocab), source=str(path))
    new.frequent = most_frequent_target(ds)    # the baseline of the run's training data
    return new


def _npz(trained, ds, path):
    from ..data.dataset import Dataset
    from ..data.npzfmt import _open, from_arrays
    arrays = _open(path)
    arrays.pop("split", None)            # scored whole: the file's own splits do not matter
    new = from_arrays(arrays, source=str(path))
    if new.arch == "many_to_one" and new.loss == "softmax_ce" and int(new.y.max()) >= ds.n_out:
        raise DataError(f"{path}: class {int(new.y.max())} is not one of the run's {ds.n_out} classes "
                        f"(0 .. {ds.n_out - 1})")
    try:
        return Dataset(x=new.x, lengths=new.lengths, y=new.y, split=np.zeros(len(new), np.int8),
                       arch=new.arch, loss=ds.loss, n_out=ds.n_out, labels=ds.labels, source=str(path))
    except DataError as e:
        raise DataError(f"{e} (the run's model has {ds.n_out} outputs, loss {ds.loss})") from None


# ---- generated tasks -----------------------------------------------------------------------------
def score_lengths(trained, lengths, sequences: int | None = None, seed: int = 0,
                  batch_size: int | None = None) -> list[dict]:
    """One row per length: {length, loss, error, errors, sequences}. ``lengths`` empty: the run's
    own length rule (one row; ``length`` null when it draws from a range)."""
    from ..tasks import TaskSampler
    from ..training.evaluation import evaluate
    ev = trained.config.eval
    n, batch = sequences or ev.sequences, batch_size or ev.batch_size
    own = trained.sampler
    rows = []
    for L in (lengths or [None]):
        if L is None:
            sampler = own
            head = ({"length": own.min_length} if own.fixed else
                    {"length": None, "min_length": own.min_length, "max_length": own.max_length})
        else:
            try:
                sampler = TaskSampler(own.task, length=L)
            except ConfigError as e:
                raise ConfigError(e.message, key="--length") from None
            head = {"length": int(L)}
        result = evaluate(trained.model, sampler, np.random.default_rng(seed), n, batch)
        errors = int(round(result["error"] * n))
        rows.append({**head, "loss": result["loss"], "error": result["error"], "errors": errors, "sequences": n})
    return rows


# ---- predictions ---------------------------------------------------------------------------------
def prediction_kind(dataset) -> str:
    """'classes', 'values' (one target per sequence), 'forecast' (a series) or 'translations'
    (sentence pairs); others refused."""
    if dataset.kind == "pairs":
        return "translations"
    if dataset.kind == "stream":
        if dataset.mean is not None:
            return "forecast"
        raise ConfigError("per-sequence predictions are for classification and forecasting; this run "
                          "models a text stream (score it, or generate from it with rnnctl sample)",
                          key="--predictions")
    if dataset.arch == "many_to_one":
        return "classes" if dataset.loss == "softmax_ce" else "values"
    raise ConfigError(f"per-sequence predictions are for classification and forecasting; this run's data "
                      f"has a target at every step ({dataset.loss})", key="--predictions")


def check_predictions_path(path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in PREDICTION_SUFFIXES:
        raise ConfigError(f"{path}: write predictions to a .csv or .jsonl file", key="--predictions")
    return path


def write_predictions(trained, dataset, split: str, path, batch_size: int | None = None) -> int:
    """Write the predictions of ``split`` of ``dataset`` to ``path`` (.csv or .jsonl) row by row
    as batches are scored; returns the number of rows."""
    path = check_predictions_path(path)
    kind = prediction_kind(dataset)
    batch_size = batch_size or trained.config.eval.batch_size
    if kind == "translations":
        from .translate import prediction_rows
        rows = prediction_rows(trained.model, dataset, split, batch_size)
    elif kind == "forecast":
        rows = _forecast_rows(trained.model, dataset, split)
    else:
        rows = _sequence_rows(trained.model, dataset, split, kind, batch_size)
    jsonl = path.suffix.lower() != ".csv"
    n = 0
    try:
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = None
            for row in rows:
                if jsonl:
                    f.write(json.dumps(row, allow_nan=False) + "\n")
                else:
                    if writer is None:
                        writer = csv.writer(f)
                        writer.writerow(_flat(row).keys())
                    writer.writerow(_flat(row).values())
                n += 1
    except OSError as e:
        raise DataError(f"{path}: cannot write the predictions ({e.strerror or e})") from None
    return n


def _flat(row: dict) -> dict:
    """A JSONL row as CSV cells: a dict value becomes one column per key, ``<name>.<key>``."""
    out = {}
    for k, v in row.items():
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            out[k] = v
    return out


def _sequence_rows(model, ds, split, kind: str, batch_size: int):
    """Rows in file order: index, predicted and true label, probabilities (classes), or
    prediction and target values (values)."""
    from ..data.scoring import MEMORY_BYTES
    idx = ds.indices(split)
    per_sequence = 8 * (int(ds.lengths.max()) + 1) * (ds.n_in + model.floats_per_step)
    batch_size = max(1, min(batch_size, MEMORY_BYTES // per_sequence))
    names = [str(c) for c in ds.labels] if ds.labels is not None else [str(k) for k in range(ds.n_out)]
    for s in range(0, idx.size, batch_size):
        b = ds.batch(idx[s:s + batch_size])
        y = model.outputs(b.u, lengths=b.lengths)                        # (B, O)
        if kind == "values":
            for i, k in enumerate(b.index):
                yield {"index": int(k), "prediction": {str(j): float(v) for j, v in enumerate(y[i])},
                       "target": {str(j): float(v) for j, v in enumerate(b.target[i])}}
            continue
        p = np.exp(y - y.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)                                # (B, O) softmax
        guess = y.argmax(axis=1)
        for i, k in enumerate(b.index):
            row = {"index": int(k), "predicted": names[guess[i]], "target": names[b.target[i]],
                   "correct": bool(guess[i] == b.target[i]), "probability": float(p[i, guess[i]])}
            if len(names) <= MAX_CLASS_COLUMNS:
                row["p"] = {names[j]: float(p[i, j]) for j in range(len(names))}
            yield row


def _forecast_rows(model, ds, split):
    """Rows by position t of the series: the predictions of the values at t+1 .. t+horizon and
    those values, in the file's units (``<column>+<k>``), scored as scoring.score scores them."""
    from ..data.scoring import STREAM_EVAL_WINDOW
    cols = ds.columns or tuple(str(j + 1) for j in range(ds.mean.shape[0]))
    keys = [f"{c}+{k}" for k in range(1, ds.horizon + 1) for c in cols]   # the target layout: t+1 first
    state = None
    for w in ds.windows(split, 1, STREAM_EVAL_WINDOW, rng=None):
        y = model.outputs(w.u, state0=state)                             # (L, 1, h·C)
        state = model.last_state
        pred, true = ds.denormalise(y[:, 0]), ds.denormalise(w.target[:, 0])
        for t in range(y.shape[0]):
            yield {"position": int(w.start[0]) + t,
                   "prediction": {k: float(v) for k, v in zip(keys, pred[t])},
                   "target": {k: float(v) for k, v in zip(keys, true[t])}}

