"""The stream formats: ``text`` (character-level modelling) and ``csv`` (numeric series).

text: a UTF-8 file is one stream of characters, split into contiguous ranges (`stream`). The
vocabulary is the set of characters of the training range, in code-point order, after index 0,
the unknown symbol: a character that occurs only in valid/test maps to 0. Inputs are one-hot
(I = vocabulary size, unknown included), targets the next character.

csv: numbers, one column (a single series) or several (a multivariate series), comma-separated,
one row per time step; the first row is a header when none of its cells is a number. Every cell
must be a finite number. Each column is normalised to zero mean and unit standard deviation with
statistics of the training range only (a constant column keeps std 1).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from .common import DEFAULT_FRACTIONS, MAX_ABS, build_vocab, encode, fail, read_utf8, split_counts
from .stream import StreamDataset


def from_text(text: str, fractions=DEFAULT_FRACTIONS, source: str = "<text>") -> StreamDataset:
    """A character stream from a string (see the module docstring)."""
    if not text:
        raise fail(source, None, "the text is empty")
    n_train, n_valid, _ = split_counts(len(text), fractions)
    if n_train < 2:
        raise fail(source, None, f"{len(text)} characters leave {n_train} for training; need at least 2")
    vocab = build_vocab([text[:n_train]])
    data = encode(text, vocab)                                          # (N,) int64
    return StreamDataset(data=data, bounds=(n_train, n_train + n_valid), n_symbols=len(vocab),
                         vocab=vocab, source=source)


def load_text(path, fractions=DEFAULT_FRACTIONS) -> StreamDataset:
    """``format: text``: a UTF-8 file as a character stream."""
    return from_text(read_utf8(path), fractions, source=str(path))


def _number(cell: str):
    try:
        return float(cell)
    except ValueError:
        return None


def read_numeric_csv(path) -> tuple[np.ndarray, tuple[str, ...]]:
    """float64 (N, C) values and the column names ('1', '2', ... without a header).

    DataError naming the line and column for an empty cell, a non-number, NaN or Inf, and for a
    row with a different number of cells; for an empty file or one with only a header."""
    text = read_utf8(path)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:  # (line, cells) of every non-blank row; line_num is the row's last physical line
        numbered = [(reader.line_num, r) for r in reader if any(c.strip() for c in r)]
    except csv.Error as e:
        raise fail(path, f"line {reader.line_num}", f"malformed CSV ({e})") from None
    if not numbered:
        raise fail(path, None, "the file has no rows")
    header = None
    first_line, first = numbered[0]
    if all(_number(c) is None for c in first):
        header = tuple(c.strip() for c in first)
        numbered = numbered[1:]
        if not numbered:
            raise fail(path, None, "the file has a header row and no data")
    C = len(header) if header else len(numbered[0][1])
    names = header or tuple(str(j + 1) for j in range(C))
    values = np.empty((len(numbered), C), dtype=np.float64)
    for r, (line, row) in enumerate(numbered):
        if len(row) != C:
            raise fail(path, f"line {line}", f"{len(row)} cells, expected {C} (as in line {first_line})")
        for j, cell in enumerate(row):
            where = f"line {line}, column {j + 1}" + (f" ({names[j]})" if header else "")
            if not cell.strip():
                raise fail(path, where, "empty cell; every cell must be a number")
            v = _number(cell)
            if v is None:
                raise fail(path, where, f"{cell.strip()!r} is not a number")
            if not math.isfinite(v):
                raise fail(path, where, f"{cell.strip()} is not finite; remove or fill the missing values")
            if abs(v) > MAX_ABS:
                raise fail(path, where, f"{cell.strip()} is too large: its square overflows float64 "
                                        f"(|value| at most {MAX_ABS:g}); rescale the column")
            values[r, j] = v
    return values, names


def from_values(values: np.ndarray, fractions=DEFAULT_FRACTIONS, horizon: int = 1,
                columns=None, source: str = "<series>") -> StreamDataset:
    """A normalised series stream from float (N, C) values (or (N,)), predicting ``horizon`` steps."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        raise fail(source, None, f"horizon must be a positive integer, got {horizon!r}")
    n_train, n_valid, _ = split_counts(values.shape[0], fractions)
    if n_train <= horizon:
        raise fail(source, None, f"{values.shape[0]} rows leave {n_train} for training, too few to "
                                 f"predict {horizon} step(s) ahead")
    mean = values[:n_train].mean(axis=0)                                # (C,)
    std = values[:n_train].std(axis=0)                                  # (C,)
    std = np.where(std > 0, std, 1.0)
    return StreamDataset(data=(values - mean) / std, bounds=(n_train, n_train + n_valid),
                         horizon=horizon, mean=mean, std=std,
                         columns=tuple(columns) if columns else None, source=source)


def load_csv(path, fractions=DEFAULT_FRACTIONS, horizon: int = 1) -> StreamDataset:
    """``format: csv``: a numeric series for next-value (or next-``horizon``-values) forecasting."""
    values, names = read_numeric_csv(path)
    return from_values(values, fractions, horizon, columns=names, source=str(Path(path)))
