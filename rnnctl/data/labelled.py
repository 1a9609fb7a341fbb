"""``format: labelled``: texts with class labels, for many-to-one classification at character level.

A CSV file (with a header row) or a JSONL file (one JSON object per line; chosen by the
``.jsonl``/``.ndjson`` suffix) with a text column and a label column (names configurable,
defaults ``text`` and ``label``) and optionally a ``split`` column (train/valid/test per row);
without it, rows are split by `common.assign_splits` (fractions, seed) over the file order.

Labels: the distinct labels of the training split in sorted order get 0, 1, ... (numerically
when every label is an integer, else as strings), so the mapping does not depend on row order;
a label in valid/test that train lacks is a DataError naming its line. Characters: the
vocabulary of the training texts after index 0, the unknown symbol (as for ``text``).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from rnnctl.safeio import Refused, loads_json

from .common import (DEFAULT_FRACTIONS, SPLITS, assign_splits, build_vocab, encode, fail,
                     parse_split_values, read_utf8)
from .dataset import Dataset


def _csv_rows(path, text: str, needed: tuple[str, ...]):
    """[(line, {column: value})] from a CSV with a header."""
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:   # the header is read here: a malformed one is a csv.Error too
        found = reader.fieldnames or []
    except csv.Error as e:
        raise fail(path, "line 1", f"malformed CSV header ({e})") from None
    missing = [c for c in needed if c not in found]
    if missing:
        raise fail(path, "line 1", f"no column {', '.join(map(repr, missing))}; the columns found are "
                                   f"{', '.join(map(repr, found)) or 'none'} (name the columns with the config keys task.text_column= and task.label_column=)")
    rows = []
    try:
        for rec in reader:
            line = reader.line_num
            if None in rec:
                raise fail(path, f"line {line}", f"more cells than the {len(found)} columns of the header")
            if all(v in (None, "") for v in rec.values()):
                continue  # a blank line
            if any(rec.get(c) is None for c in needed):
                raise fail(path, f"line {line}", f"fewer cells than the {len(found)} columns of the header")
            rows.append((line, rec))
    except csv.Error as e:
        raise fail(path, f"line {reader.reader.line_num}", f"malformed CSV ({e})") from None
    return rows


def _jsonl_rows(path, text: str, needed: tuple[str, ...]):
    rows = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:   # bounded: nesting and integer size (rnnctl.safeio)
            rec = loads_json(raw)
        except Refused as e:
            raise fail(path, f"line {line}", f"the record {e}") from None
        except json.JSONDecodeError as e:
            raise fail(path, f"line {line}", f"not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(rec, dict):
            raise fail(path, f"line {line}", f"expected a JSON object, got {type(rec).__name__}")
        missing = [c for c in needed if c not in rec]
        if missing:
            raise fail(path, f"line {line}", f"no key {', '.join(map(repr, missing))}; the keys found are "
                                             f"{', '.join(map(repr, rec)) or 'none'} (name the keys with the config keys "
                                             "task.text_column= and task.label_column=)")
        rows.append((line, rec))
    return rows


def _label_order(values) -> list:
    """Distinct labels sorted: numerically if all are integers, else as strings."""
    distinct = set(values)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in distinct):
        return sorted(distinct)
    return sorted(distinct, key=str)


def load_labelled(path, text_column: str = "text", label_column: str = "label",
                  fractions=DEFAULT_FRACTIONS, seed: int = 0, jsonl: bool | None = None) -> Dataset:
    """``format: labelled``: a CSV or JSONL file of texts and labels (module docstring)."""
    p = Path(path)
    content = read_utf8(p)
    if jsonl is None:
        jsonl = p.suffix.lower() in (".jsonl", ".ndjson")
    needed = (text_column, label_column)
    rows = (_jsonl_rows if jsonl else _csv_rows)(p, content, needed)
    if not rows:
        raise fail(p, None, "the file has no records")
    texts, labels = [], []
    for line, rec in rows:
        t = rec[text_column]
        if not isinstance(t, str):
            raise fail(p, f"line {line}", f"{text_column!r} must be a string, got {type(t).__name__}")
        if not t:
            raise fail(p, f"line {line}", f"{text_column!r} is empty; every text needs at least one character")
        lab = rec[label_column]
        if lab is None or lab == "" or isinstance(lab, (list, dict, float)):
            raise fail(p, f"line {line}", f"label {lab!r} is not usable; labels are non-empty strings or integers")
        if isinstance(lab, int) and not -2**63 <= lab < 2**63:
            raise fail(p, f"line {line}", "an integer label must fit in 64 bits; write a large one as a string")
        texts.append(t)
        labels.append(lab)
    if "split" in rows[0][1]:
        split = parse_split_values([rec.get("split") for _, rec in rows], p,
                                   lambda i: f"line {rows[i][0]}, column 'split'")
    else:
        split = assign_splits(len(rows), fractions, seed)
    train = np.flatnonzero(split == 0)
    if train.size == 0:
        raise fail(p, None, "no record in the train split")
    classes = _label_order([labels[i] for i in train])
    index = {c: k for k, c in enumerate(classes)}
    y = np.empty(len(rows), dtype=np.int64)                              # (N,) class indices
    for i, lab in enumerate(labels):
        if lab not in index:
            raise fail(p, f"line {rows[i][0]}", f"label {lab!r} (in the {SPLITS[split[i]]} split) does not occur "
                                                f"in the train split, whose labels are {classes}")
        y[i] = index[lab]
    vocab = build_vocab(texts[i] for i in train)
    x = encode("".join(texts), vocab)                                   # (ΣT,) int64 symbols
    lengths = np.array([len(t) for t in texts], dtype=np.int64)          # (N,)
    return Dataset(x=x, lengths=lengths, y=y, split=split, arch="many_to_one", loss="softmax_ce",
                   n_out=len(classes), n_symbols=len(vocab), vocab=vocab, labels=tuple(classes),
                   source=str(p))
