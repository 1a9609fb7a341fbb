"""Translating with a trained encoder-decoder on sentence pairs (``rnnctl sample RUN --prime``,
``rnnctl eval RUN --predictions``): a text read with the run's source vocabulary, level and
source order, decoded greedily (``beam`` 1) or by beam search with GNMT's length penalty
(rnnctl.model.decode), and written back as text with the run's target vocabulary.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError

DEFAULT_ALPHA = 0.6   # GNMT's length penalty exponent (Wu et al. 2016 use 0.6-0.7)


def source_batch(ds, texts) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Texts -> (u (T, B, V_src) one-hot, lengths (B,), the distinct tokens outside the vocabulary,
    read as unknown)."""
    from ..data.common import one_hot
    from ..data.pairs import source_symbols, tokenize
    from ..data.pairset import UNK
    seqs = []
    unknown: set[str] = set()
    for text in texts:
        if not text.strip():
            raise DataError("nothing to translate: the text is empty")
        s = source_symbols(text, ds.src_vocab, ds.level, ds.reverse_source)
        toks = tokenize(text, ds.level)
        unknown |= {t for t, k in zip(toks[::-1] if ds.reverse_source else toks, s[:-1].tolist()) if k == UNK}
        seqs.append(s)
    lengths = np.array([len(s) for s in seqs], np.int64)
    T = int(lengths.max())
    sym = np.zeros((T, len(seqs)), np.int64)
    for b, s in enumerate(seqs):
        sym[:len(s), b] = s
    mask = np.arange(T)[:, None] < lengths[None, :]
    return one_hot(sym, ds.n_in, mask), lengths, sorted(unknown)


def translate(model, ds, texts, *, beam: int = 1, alpha: float = DEFAULT_ALPHA) -> list[dict]:
    """Per text {source, translation, score (log p of the translation and its end marker)}."""
    from ..data.pairset import END
    from ..data.translation import max_decode_steps
    from ..model.decode import beam_search, greedy
    texts = list(texts)
    u, lengths, _ = source_batch(ds, texts)
    steps = max_decode_steps(ds)
    if beam == 1:
        symbols, scores = greedy(model, u, lengths, max_steps=steps, end=END)
    else:
        symbols, scores = beam_search(model, u, lengths, beam=beam, max_steps=steps, end=END, alpha=alpha)
    return [{"source": t, "translation": ds.decode(s + [END]), "score": float(sc)}
            for t, s, sc in zip(texts, symbols, scores)]


def prediction_rows(model, ds, split: str, batch_size: int, *, beam: int = 1, alpha: float = DEFAULT_ALPHA):
    """Rows in file order: index, source, reference, hypothesis (greedy unless ``beam`` > 1), and
    whether the hypothesis equals the reference."""
    from ..data.translation import translate_batches
    for idx, _, hyps in translate_batches(model, ds, split, batch_size, beam=beam, alpha=alpha):
        for i, h in zip(idx.tolist(), hyps):
            ref = ds.target_text(i)
            yield {"index": i, "source": ds.source_text(i), "reference": ref, "hypothesis": h,
                   "correct": h == ref}


def encoder_backprop_profile(model, ds, split: str = "valid") -> np.ndarray:
    """float64 (n_max,): the mean over the pairs of ``split`` of ‖∂E_b/∂h‖ at the encoder's first
    layer's state k steps before its last real step (k = 0: the end marker's step, where the decoder
    starts), E_b one pair's loss (Σ over its target symbols). Pairs are scored in groups of equal
    source length, so no step is padding; NaN past the longest source. How far back into the
    source the training signal reaches: the backprop norms of Pascanu et al. (2013), through the
    decoder into the encoder."""
    total = np.zeros(int(ds.src_lengths.max()))
    count = np.zeros_like(total)
    grad = np.zeros_like(model.theta)
    idx = ds.indices(split)
    for n in np.unique(ds.src_lengths[idx]):
        group = idx[ds.src_lengths[idx] == n]
        b = ds.batch(group)
        model.loss_and_grad_flat(b.u, b.target, grad, lengths=b.lengths, target_lengths=b.target_lengths)
        norms = model.backprop_norms[0, 1:n + 1] * len(group)   # Σ_b ‖∂E_b/∂h_k‖, k = 1..n (E: batch mean)
        total[:n] += norms[::-1]
        count[:n] += len(group)
    with np.errstate(invalid="ignore"):
        return total / count
