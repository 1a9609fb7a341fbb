"""Scoring a translation model (an encoder-decoder on a `PairDataset`) on a split.

Reported, per split:
- ``loss`` (the training loss: Σ over a pair's target symbols of −log p, averaged over pairs),
  ``nll`` (nats per target symbol, END included) and ``accuracy`` (the argmax symbol right, per
  target symbol), all teacher-forced: each step conditioned on the reference's previous symbols;
- on the greedy decodes (free-running: each step conditioned on the model's own choices, up to
  ``max_decode_steps``): ``exact_match`` (the fraction of hypotheses equal to their reference),
  and ``chrf`` and ``bleu``, corpus-level, computed by sacrebleu (Post 2018, "A call for clarity
  in reporting BLEU scores"), the field's reference implementation: chrF (Popović 2015,
  character n-grams up to 6, β = 2) and BLEU (Papineni et al. 2002, 4-grams, sacrebleu's 13a
  tokenizer), both on a 0-100 scale;
- two trivial baselines beside them, with the same three measures: ``copy_*`` (every hypothesis
  is its source text: how much of the output a model could get by copying) and ``frequent_*``
  (every hypothesis is the most frequent target text of the train split; ties: the first in file
  order).

References are the target texts as read (a token outside the vocabulary included as written); a
hypothesis prints an unknown symbol as ``<unk>``.
"""

from __future__ import annotations

import importlib.util
from collections import Counter


from . import metrics as M
from .pairset import END, PairDataset

EXTRA = "translation"


def require_sacrebleu() -> None:
    """MissingExtra unless sacrebleu is installed (found without importing it)."""
    if importlib.util.find_spec("sacrebleu") is None:
        from .sources import missing_extra
        raise missing_extra(EXTRA, "sacrebleu", "scoring translations (chrF, BLEU)")


def chrf(hypotheses, references) -> float:
    """Corpus chrF (0-100) of ``hypotheses`` against one reference each, by sacrebleu."""
    require_sacrebleu()
    from sacrebleu.metrics import CHRF
    return float(CHRF().corpus_score(list(hypotheses), [list(references)]).score)


def bleu(hypotheses, references) -> float:
    """Corpus BLEU (0-100) of ``hypotheses`` against one reference each, by sacrebleu."""
    require_sacrebleu()
    from sacrebleu.metrics import BLEU
    return float(BLEU().corpus_score(list(hypotheses), [list(references)]).score)


def exact_match(hypotheses, references) -> float:
    """Fraction of hypotheses identical to their reference."""
    pairs = list(zip(hypotheses, references, strict=True))
    return sum(h == r for h, r in pairs) / len(pairs) if pairs else float("nan")


def text_scores(hypotheses, references, prefix: str = "") -> dict:
    """{prefix+chrf, prefix+exact_match, prefix+bleu} of the hypotheses."""
    return {f"{prefix}chrf": chrf(hypotheses, references),
            f"{prefix}exact_match": exact_match(hypotheses, references),
            f"{prefix}bleu": bleu(hypotheses, references)}


def max_decode_steps(ds: PairDataset) -> int:
    """How many symbols a greedy or beam decode may write: twice the longest target of the data."""
    return 2 * int(ds.tgt_lengths.max())


def most_frequent_target(ds: PairDataset) -> str:
    """The most frequent target text of the train split (ties: the first in file order), or
    ``ds.frequent`` when set."""
    if ds.frequent is not None:
        return ds.frequent
    train = ds.indices("train")
    if train.size == 0:
        return ""
    counts = Counter(ds.target_text(i) for i in train)
    best = max(counts.values())
    return next(ds.target_text(i) for i in train if counts[ds.target_text(i)] == best)


def translate_batches(model, ds: PairDataset, split: str, batch_size: int, *, beam: int = 1,
                      alpha: float = 0.0):
    """Yield (pair indices (B,), the batch, hypotheses as texts) for ``split`` in stable order:
    greedy decodes (beam 1) or beam search."""
    from ..model.decode import beam_search, greedy
    steps = max_decode_steps(ds)
    for idx in ds.order(split, batch_size, None):
        b = ds.batch(idx)
        if beam == 1:
            symbols, _ = greedy(model, b.u, b.lengths, max_steps=steps, end=END)
        else:
            symbols, _ = beam_search(model, b.u, b.lengths, beam=beam, max_steps=steps, end=END, alpha=alpha)
        yield idx, b, [ds.decode(s + [END]) for s in symbols]


def score_pairs(model, ds: PairDataset, split: str, batch_size: int = 256) -> dict:
    """The module docstring's metrics of ``model`` on ``split`` of ``ds``."""
    require_sacrebleu()
    loss = nll = 0.0
    steps = right = pairs = 0
    hyps, refs, sources = [], [], []
    for idx, b, texts in translate_batches(model, ds, split, batch_size):
        y = model.outputs_teacher_forced(b.u, b.target, lengths=b.lengths, target_lengths=b.target_lengths)
        mask = b.mask
        s = M.softmax_nll_sum(y, b.target, mask)
        loss, nll = loss + s, nll + s
        right += int(((y.argmax(axis=-1) == b.target) & mask).sum())
        steps += int(mask.sum())
        pairs += len(idx)
        hyps += texts
        refs += [ds.target_text(i) for i in idx]
        sources += [ds.source_text(i) for i in idx]
    out = {"loss": loss / pairs, "nll": nll / steps, "accuracy": right / steps, **text_scores(hyps, refs)}
    out.update(text_scores(sources, refs, "copy_"))
    out.update(text_scores([most_frequent_target(ds)] * len(refs), refs, "frequent_"))
    return out
