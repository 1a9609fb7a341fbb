"""`PairDataset`: sentence pairs (a source and its translation) with train/valid/test splits,
batched for an encoder-decoder as padded, time-major, length-bucketed `PairBatch`es.

Storage is ragged, as in `Dataset`: pair i's source is ``src[src_offsets[i]:src_offsets[i+1]]``
and its target ``tgt[tgt_offsets[i]:...]``, both int64 symbol indices in their own vocabulary.
Both vocabularies start with the same two markers: index 0 the unknown token (``UNK``), index 1
the end marker (``END``). A source is its tokens, then END (the encoder reads where the sentence
stops); a target is its tokens, then END (the decoder learns to stop). The start marker of the
decoder is its first input: the zero vector (rnnctl.model feeds fb_1 = 0, then the previous
target one-hot), so it needs no symbol of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from rnnctl.errors import DataError

from .common import SPLITS, SplitIndex, content_hash, one_hot, split_code
from .dataset import bucketed

UNK, END = 0, 1
MARKERS = ("<unk>", "</s>")   # how the markers print; a vocabulary's entries 0 and 1
LEVELS = ("char", "word")


@dataclass(frozen=True, eq=False)
class PairBatch:
    """One padded, time-major batch of pairs.

    u:              float64 (T_in, B, V_src) one-hot source symbols, zeros at padded steps.
    lengths:        int64 (B,) source lengths (END included).
    target:         int64 (T_out, B) target symbols (END included), 0 at padded steps.
    target_lengths: int64 (B,) target lengths (END included).
    index:          int64 (B,) the pairs' indices in the dataset (file order).
    """

    u: np.ndarray
    lengths: np.ndarray
    target: np.ndarray
    target_lengths: np.ndarray
    index: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """bool (T_out, B): True at real target steps."""
        return np.arange(self.target.shape[0])[:, None] < self.target_lengths[None, :]


def join(tokens, level: str) -> str:
    """Tokens back into text: characters side by side, words with one space between."""
    return ("" if level == "char" else " ").join(tokens)


@dataclass(eq=False)
class PairDataset(SplitIndex):
    """Sentence pairs for an encoder-decoder (module docstring).

    src, tgt:            int64 (ΣS,), (ΣT,) symbols, END closing each sequence.
    src_lengths, tgt_lengths: int64 (N,) each >= 2 (at least one token and END).
    split:               int8 (N,) codes 0 train, 1 valid, 2 test.
    src_vocab, tgt_vocab: token strings by index (0 UNK, 1 END).
    level:               'char' or 'word' (how tokens join back into text).
    reverse_source:      the source tokens are stored reversed (Sutskever et al. 2014); END stays last.
    texts:               (N,) (source text, target text) as read, for baselines and predictions.
    frequent:            the most frequent-target baseline's text when it comes from elsewhere (a
                         new file scored by a trained run takes the run's), else None.
    """

    src: np.ndarray
    src_lengths: np.ndarray
    tgt: np.ndarray
    tgt_lengths: np.ndarray
    split: np.ndarray
    src_vocab: tuple[str, ...]
    tgt_vocab: tuple[str, ...]
    level: str = "char"
    reverse_source: bool = False
    texts: tuple = ()
    source: str = "<pairs>"
    frequent: str | None = None   # the most frequent target of another dataset's train split (a run's)
    kind: str = field(default="pairs", init=False)
    arch: str = field(default="encoder_decoder", init=False)
    loss: str = field(default="softmax_ce", init=False)

    def __post_init__(self):
        self.src_lengths = np.asarray(self.src_lengths, dtype=np.int64)
        self.tgt_lengths = np.asarray(self.tgt_lengths, dtype=np.int64)
        self.split = np.asarray(self.split, dtype=np.int8)
        n = self.src_lengths.shape[0]
        if n == 0 or self.tgt_lengths.shape != (n,) or self.split.shape != (n,):
            raise DataError(f"{self.source}: pairs need (N,) source lengths, target lengths and splits, N >= 1")
        if self.src.shape != (int(self.src_lengths.sum()),) or self.tgt.shape != (int(self.tgt_lengths.sum()),):
            raise DataError(f"{self.source}: the symbols do not add up to the lengths")
        if self.level not in LEVELS:
            raise DataError(f"{self.source}: level must be one of {LEVELS}, got {self.level!r}")
        self.src_offsets = np.concatenate([[0], np.cumsum(self.src_lengths)]).astype(np.int64)   # (N+1,)
        self.tgt_offsets = np.concatenate([[0], np.cumsum(self.tgt_lengths)]).astype(np.int64)   # (N+1,)

    # ---- description ------------------------------------------------------------------------
    n_in = property(lambda self: len(self.src_vocab))
    n_out = property(lambda self: len(self.tgt_vocab))
    lengths = property(lambda self: self.src_lengths)   # what a sampler sizes the encoder by

    def __len__(self) -> int:
        return int(self.src_lengths.shape[0])

    @property
    def hash(self) -> str:
        """sha256 of the symbols, lengths, splits, vocabularies and options."""
        if not hasattr(self, "_hash"):
            extra = repr((self.src_vocab, self.tgt_vocab, self.level, self.reverse_source))
            self._hash = content_hash(self.src, self.src_lengths, self.tgt, self.tgt_lengths, self.split,
                                      extra=extra)
        return self._hash

    def describe(self) -> dict:
        return {"kind": self.kind, "source": self.source, "hash": self.hash, "sizes": self.sizes(),
                "n_in": self.n_in, "n_out": self.n_out, "arch": self.arch, "loss": self.loss,
                "max_length": int(self.src_lengths.max()), "max_target_length": int(self.tgt_lengths.max()),
                "vocab_size": self.n_in, "target_vocab_size": self.n_out, "level": self.level,
                "reverse_source": self.reverse_source, "labels": None}

    # ---- text ---------------------------------------------------------------------------------
    def target_text(self, i: int) -> str:
        """The reference of pair i as read (unknown tokens included as written)."""
        return self.texts[i][1]

    def source_text(self, i: int) -> str:
        return self.texts[i][0]

    def decode(self, symbols) -> str:
        """Target symbols -> text, stopping at the first END (UNK prints as <unk>)."""
        out = []
        for k in np.asarray(symbols).tolist():
            if k == END:
                break
            out.append(self.tgt_vocab[k] if k != UNK else MARKERS[UNK])
        return join(out, self.level)

    # ---- batches ----------------------------------------------------------------------------
    def batch(self, idx) -> PairBatch:
        """The padded batch of pairs ``idx`` (int (B,)), in that order."""
        idx = np.asarray(idx, dtype=np.int64)
        if idx.ndim != 1 or idx.size == 0 or idx.min() < 0 or idx.max() >= len(self):
            raise DataError(f"{self.source}: a batch needs 1-D indices in [0, {len(self)}), got {idx.tolist()!r}")
        ls, lt = self.src_lengths[idx], self.tgt_lengths[idx]
        src, src_mask = _padded(self.src, self.src_offsets[idx], ls)                  # (T_in, B)
        u = one_hot(src, self.n_in, src_mask)                                          # (T_in, B, V_src)
        target, mask = _padded(self.tgt, self.tgt_offsets[idx], lt)                   # (T_out, B)
        return PairBatch(u=u, lengths=ls, target=np.where(mask, target, 0), target_lengths=lt, index=idx)

    def order(self, split, batch_size: int, rng: np.random.Generator | None = None,
              bucket: int | None = 32) -> list[np.ndarray]:
        """The batches of one epoch of ``split`` as index arrays, bucketed by source + target
        length (as `Dataset.order`; rng None keeps the stable order)."""
        idx = self.indices(split)
        if idx.size == 0:
            raise DataError(f"{self.source}: the {SPLITS[split_code(split)]} split is empty")
        return bucketed(idx, self.src_lengths + self.tgt_lengths, batch_size, rng, bucket)

    def epoch(self, split, batch_size: int, rng: np.random.Generator | None = None,
              bucket: int | None = 32) -> Iterator[PairBatch]:
        for idx in self.order(split, batch_size, rng, bucket):
            yield self.batch(idx)


def _padded(symbols: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int64 (T, B) symbols with 0 at padded steps, bool (T, B) mask), T = max(lengths)."""
    T = int(lengths.max())
    mask = np.arange(T)[:, None] < lengths[None, :]                     # (T, B)
    rows = np.where(mask, starts[None, :] + np.arange(T)[:, None], 0)   # (T, B)
    return np.where(mask, symbols[rows], 0), mask
