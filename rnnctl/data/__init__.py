"""Real data beside the generators: datasets with fixed splits, loaders for the user's own files,
built-in sources and metrics. See docs/data.md.

    from rnnctl.data import load
    ds = load("corpus.txt", "text")                  # a StreamDataset
    for w in ds.windows("train", batch_size=32, length=100, rng=np.random.default_rng(0)): ...
    ds = load("seqs.npz", "npz")                     # a Dataset
    for b in ds.epoch("train", batch_size=16, rng=np.random.default_rng(0)): ...
"""

from __future__ import annotations

from rnnctl.errors import DataError

from .common import DEFAULT_FRACTIONS, SPLITS, UNKNOWN, assign_splits, content_hash
from .dataset import DataBatch, Dataset, padding_fraction
from .formats import from_text, from_values, load_csv, load_text
from .labelled import load_labelled
from .npzfmt import from_arrays, load_npz
from .pairs import from_pairs, load_pairs
from .pairset import PairBatch, PairDataset
from .stream import StreamDataset, StreamWindow

FORMATS = {"text": load_text, "csv": load_csv, "npz": load_npz, "labelled": load_labelled, "pairs": load_pairs}


def load(path, format: str, **options):
    """Load the file at ``path`` in ``format`` (text | csv | npz | labelled | pairs) -> Dataset,
    StreamDataset or PairDataset. Options go to the format's loader (fractions, seed, horizon,
    text_column, label_column; pairs: level, vocab_size, max_pair_length, reverse_source,
    source_column, target_column); an option the format does not take is a DataError."""
    import inspect

    if format not in FORMATS:
        raise DataError(f"unknown data format {format!r} (available: {', '.join(FORMATS)})")
    loader = FORMATS[format]
    takes = [p for p in inspect.signature(loader).parameters if p != "path"]
    extra = sorted(set(options) - set(takes))
    if extra:
        raise DataError(f"format {format!r} takes no option {', '.join(map(repr, extra))} "
                        f"(it takes: {', '.join(takes)})")
    return loader(path, **options)


__all__ = ["DEFAULT_FRACTIONS", "FORMATS", "SPLITS", "UNKNOWN", "DataBatch", "Dataset", "PairBatch", "PairDataset",
           "StreamDataset", "StreamWindow", "assign_splits", "content_hash", "from_arrays", "from_text",
           "from_pairs", "from_values", "load", "load_csv", "load_labelled", "load_npz", "load_pairs", "load_text",
           "padding_fraction"]
