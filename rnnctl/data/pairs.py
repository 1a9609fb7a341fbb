"""``format: pairs``: sentence pairs for translation with an encoder-decoder.

A file is either
- text (any suffix but ``.csv``): UTF-8, one pair per line, the source and its translation
  separated by a tab (the layout of the Tatoeba/Anki pair files; further tab-separated fields,
  such as those files' attribution, are ignored); blank lines are skipped;
- CSV (``.csv``): a header row naming the columns; ``source_column`` and ``target_column`` (default
  ``source``, ``target``) hold the pair.

A line without a tab, a pair with an empty side, or a side longer than ``max_pair_length``
tokens is a DataError naming the line. Tokens are characters (``level: char``) or white-space
separated words (``level: word``). Pairs are split by `common.assign_splits` (fractions, seed)
over the file order, as the other sets of sequences are. Each side has its own vocabulary, built
from the training split only: index 0 the unknown token, 1 the end marker, then the tokens by
decreasing count in the training split (ties in code-point order), at most ``vocab_size``
entries with the two markers; a token outside it (rarer, or only in valid/test) reads as unknown.
``reverse_source`` reverses each source's tokens (Sutskever, Vinyals & Le 2014, "Sequence to
sequence learning with neural networks", §3.3); the end marker stays last.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import numpy as np

from .common import DEFAULT_FRACTIONS, assign_splits, fail, read_utf8
from .pairset import END, LEVELS, MARKERS, UNK, PairDataset

DEFAULT_MAX_LENGTH = 250


def read_pairs(path, source_column: str = "source", target_column: str = "target") -> list[tuple[int, str, str]]:
    """[(line, source text, target text)] of the file at ``path`` (module docstring); empty
    sides and missing tabs or columns are DataErrors naming the line."""
    p = Path(path)
    text = read_utf8(p)
    rows = _csv(p, text, source_column, target_column) if p.suffix.lower() == ".csv" else _tsv(p, text)
    if not rows:
        raise fail(p, None, "the file has no pairs")
    for line, s, t in rows:
        for side, value in (("source", s), ("target", t)):
            if not value.strip():
                raise fail(p, f"line {line}", f"the {side} side is empty; every pair needs text on both sides")
    return rows


def _tsv(path, text: str) -> list[tuple[int, str, str]]:
    rows = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        cells = raw.split("\t")
        if len(cells) < 2:
            raise fail(path, f"line {line}", "no tab; each line is a source sentence, a tab, then its "
                                             "translation (a .csv file is read as CSV with a header)")
        rows.append((line, cells[0].strip(), cells[1].strip()))
    return rows


def _csv(path, text: str, source_column: str, target_column: str) -> list[tuple[int, str, str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    found = reader.fieldnames or []
    missing = [c for c in (source_column, target_column) if c not in found]
    if missing:
        raise fail(path, "line 1", f"no column {', '.join(map(repr, missing))}; the columns found are "
                                   f"{', '.join(map(repr, found)) or 'none'} (name them with task.source_column, "
                                   "task.target_column)")
    rows = []
    try:
        for rec in reader:
            line = reader.line_num
            if all(v in (None, "") for v in rec.values()):
                continue
            s, t = rec.get(source_column), rec.get(target_column)
            if s is None or t is None:
                raise fail(path, f"line {line}", f"fewer cells than the {len(found)} columns of the header")
            rows.append((line, s.strip(), t.strip()))
    except csv.Error as e:
        raise fail(path, f"line {reader.line_num}", f"malformed CSV ({e})") from None
    return rows


def tokenize(text: str, level: str) -> list[str]:
    """Characters, or words split at white space."""
    return list(text) if level == "char" else text.split()


def build_vocab(token_lists, vocab_size: int | None = None) -> tuple[str, ...]:
    """(UNK, END, tokens by decreasing count, ties in code-point order), at most ``vocab_size``."""
    counts = Counter(tok for toks in token_lists for tok in toks)
    ranked = sorted(counts, key=lambda tok: (-counts[tok], tok))
    if vocab_size is not None:
        ranked = ranked[:max(vocab_size - len(MARKERS), 0)]
    return (*MARKERS, *ranked)


def encode_tokens(tokens, index: dict) -> list[int]:
    """Token indices, then END; a token outside ``index`` is UNK."""
    return [index.get(tok, UNK) for tok in tokens] + [END]


def source_symbols(text: str, vocab, level: str, reverse: bool) -> np.ndarray:
    """int64 (n + 1,) the encoder's symbols for ``text``: its tokens (reversed if ``reverse``), END."""
    toks = tokenize(text, level)
    index = {tok: k for k, tok in enumerate(vocab) if k >= len(MARKERS)}
    return np.asarray(encode_tokens(toks[::-1] if reverse else toks, index), dtype=np.int64)


def from_pairs(rows, *, level: str = "char", vocab_size: int | None = None,
               max_pair_length: int = DEFAULT_MAX_LENGTH, reverse_source: bool = False,
               fractions=DEFAULT_FRACTIONS, seed: int = 0, split=None, vocabs=None,
               source: str = "<pairs>") -> PairDataset:
    """A PairDataset from rows [(line, source text, target text)] (module docstring).

    ``split``: given split codes (N,) instead of the rule; ``vocabs``: (source, target)
    vocabularies to read with (a trained run's) instead of building them from the train split."""
    if level not in LEVELS:
        raise fail(source, None, f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if vocab_size is not None and vocab_size < len(MARKERS) + 1:
        raise fail(source, None, f"vocab_size must be at least {len(MARKERS) + 1} (the unknown and end "
                                 f"markers and one token), got {vocab_size}")
    src_toks, tgt_toks = [], []
    for line, s, t in rows:
        a, b = tokenize(s, level), tokenize(t, level)
        for side, toks in (("source", a), ("target", b)):
            if len(toks) > max_pair_length:
                raise fail(source, f"line {line}", f"the {side} side has {len(toks)} {level} tokens, more than "
                                                   f"task.max_pair_length = {max_pair_length}; shorten or "
                                                   "drop the pair, or raise the cap")
        src_toks.append(a[::-1] if reverse_source else a)
        tgt_toks.append(b)
    codes = assign_splits(len(rows), fractions, seed) if split is None else np.asarray(split, np.int8)
    train = np.flatnonzero(codes == 0)
    if vocabs is None:
        if train.size == 0:
            raise fail(source, None, "no pair in the train split")
        vocabs = tuple(build_vocab((side[i] for i in train), vocab_size) for side in (src_toks, tgt_toks))
    sv, tv = vocabs
    si = {tok: k for k, tok in enumerate(sv) if k >= len(MARKERS)}
    ti = {tok: k for k, tok in enumerate(tv) if k >= len(MARKERS)}
    src = [encode_tokens(toks, si) for toks in src_toks]
    tgt = [encode_tokens(toks, ti) for toks in tgt_toks]
    return PairDataset(src=np.fromiter((k for s in src for k in s), np.int64),
                       src_lengths=np.array([len(s) for s in src], np.int64),
                       tgt=np.fromiter((k for t in tgt for k in t), np.int64),
                       tgt_lengths=np.array([len(t) for t in tgt], np.int64),
                       split=codes, src_vocab=tuple(sv), tgt_vocab=tuple(tv), level=level,
                       reverse_source=bool(reverse_source), texts=tuple((s, t) for _, s, t in rows),
                       source=source)


def load_pairs(path, level: str = "char", vocab_size: int | None = None,
               max_pair_length: int = DEFAULT_MAX_LENGTH, reverse_source: bool = False,
               source_column: str = "source", target_column: str = "target",
               fractions=DEFAULT_FRACTIONS, seed: int = 0) -> PairDataset:
    """``format: pairs``: the sentence pairs of a tab-separated or CSV file (module docstring)."""
    rows = read_pairs(path, source_column, target_column)
    return from_pairs(rows, level=level, vocab_size=vocab_size, max_pair_length=max_pair_length,
                      reverse_source=reverse_source, fractions=fractions, seed=seed, source=str(path))
