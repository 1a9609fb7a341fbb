"""``task.name: file``: the user's own data file, as the config's task.* keys describe it.

The five formats and their checks are in ``formats``, ``labelled``, ``npzfmt`` and ``pairs``; this module maps
the config's keys onto them and applies ``task.limit`` (the first N characters or values of a
stream, before the split; the first N sequences of a set, keeping their splits).
"""

from __future__ import annotations

from pathlib import Path

from rnnctl.errors import DataError

from .common import DEFAULT_FRACTIONS, read_utf8
from .dataset import Dataset
from .formats import from_text, from_values, read_numeric_csv
from .labelled import load_labelled
from .npzfmt import load_npz
from .pairs import DEFAULT_MAX_LENGTH, load_pairs
from .pairset import PairDataset
from .stream import StreamDataset


def from_file(path, format: str, fractions=DEFAULT_FRACTIONS, split_seed: int = 0, limit: int | None = None,
              horizon: int = 1, text_column: str = "text", label_column: str = "label",
              source_column: str = "source", target_column: str = "target", level: str = "char",
              vocab_size: int | None = None, max_pair_length: int = DEFAULT_MAX_LENGTH,
              reverse_source: bool = False) -> Dataset | StreamDataset | PairDataset:
    """The file at ``path`` in ``format`` (text | csv | npz | labelled | pairs) as a dataset (docs/data.md)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file (task.path)")
    if p.is_dir():
        raise DataError(f"{p}: is a folder; task.path must name a file")
    if format == "text":
        text = read_utf8(p)
        return from_text(text[:limit] if limit else text, fractions, source=str(p))
    if format == "csv":
        values, names = read_numeric_csv(p)
        return from_values(values[:limit] if limit else values, fractions, horizon, columns=names, source=str(p))
    if format == "npz":
        ds = load_npz(p, fractions, split_seed)
    elif format == "labelled":
        ds = load_labelled(p, text_column, label_column, fractions, split_seed)
    elif format == "pairs":
        ds = load_pairs(p, level, vocab_size, max_pair_length, reverse_source, source_column, target_column,
                        fractions, split_seed)
    else:
        raise DataError(f"unknown data format {format!r} (task.format: text, csv, npz, labelled or pairs)")
    return first_sequences(ds, limit) if limit else ds


def first_sequences(ds, n: int):
    """The first ``n`` sequences (pairs) of ``ds`` (file order) with their splits, vocabulary and labels."""
    if n >= len(ds):
        return ds
    if ds.kind == "pairs":
        return first_pairs(ds, n)
    end = int(ds.offsets[n])
    y = ds.y[:n] if ds.arch == "many_to_one" else ds.y[:end]
    return Dataset(x=ds.x[:end], lengths=ds.lengths[:n], y=y, split=ds.split[:n], arch=ds.arch,
                   loss=ds.loss, n_out=ds.n_out, n_symbols=ds.n_symbols, vocab=ds.vocab, labels=ds.labels,
                   source=ds.source)



def first_pairs(ds: PairDataset, n: int) -> PairDataset:
    """The first ``n`` pairs of ``ds`` with their splits and the vocabularies of all of ``ds``."""
    return PairDataset(src=ds.src[:int(ds.src_offsets[n])], src_lengths=ds.src_lengths[:n],
                       tgt=ds.tgt[:int(ds.tgt_offsets[n])], tgt_lengths=ds.tgt_lengths[:n], split=ds.split[:n],
                       src_vocab=ds.src_vocab, tgt_vocab=ds.tgt_vocab, level=ds.level,
                       reverse_source=ds.reverse_source, texts=ds.texts[:n], source=f"{ds.source}[:{n}]")
