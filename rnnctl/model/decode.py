"""Decoding an encoder-decoder's output sequence symbol by symbol: greedy and beam search.

Both run on the model's one-step outputs with the decoder's state carried, as generation does
(``generate``): the encoder reads u (with per-sequence ``lengths``), its final state starts the
decoder, whose first input is the zero vector and each later input the one-hot symbol chosen
before. A hypothesis ends with the end symbol ``end`` or after ``max_steps`` symbols.

The score of a hypothesis y_1..y_n is its log-probability under the model,
log p(y | u) = Σ_t log softmax(z_t)[y_t], the end symbol included when it was produced: exactly
−``Model.loss`` of the teacher-forced pair on one sequence. Beam search (e.g. Sutskever et al.
2014, §3.2; Graves 2012) keeps the K best partial hypotheses by score at each step; a hypothesis
that ends (``end`` among the K best continuations) leaves the beam and is kept among the finished
ones. The search of a source stops when its best continuation is ``end``: every live hypothesis
then scores less, and can only lose more (log-probabilities are <= 0), so with alpha = 0 none
could beat the finished ones; at ``max_steps`` the unfinished beams are finished as they are.
The finished hypotheses are ranked by score / lp(|Y|) with GNMT's length penalty (Wu et al.
2016, "Google's neural machine translation system", eq. 14):

    lp(Y) = ((5 + |Y|) / 6) ** alpha,     |Y| the symbols including the end symbol,

which for alpha = 0 is 1 (the raw log-probability, which favours short outputs) and grows with
|Y| for alpha > 0 (Wu et al. use 0.6 to 0.7 for K = 8...12); with alpha > 0 the stopping rule
is a heuristic (a longer live hypothesis might have ranked higher). With K = 1 the beam is the
greedy path, whatever alpha.
"""

from __future__ import annotations

import numpy as np

from rnnctl.errors import DataError

from .inputs import check_u


def length_penalty(n: int, alpha: float) -> float:
    """GNMT's lp(Y) = ((5 + |Y|) / 6) ** alpha for a hypothesis of ``n`` symbols."""
    return ((5.0 + n) / 6.0) ** alpha


def _check(model, u, lengths, max_steps):
    if model.arch != "encoder_decoder":
        raise DataError(f"decoding is for encoder_decoder models (this one is {model.arch})")
    if model.loss_name != "softmax_ce":
        raise DataError("decoding chooses symbols: the model's loss must be softmax_ce")
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise DataError(f"max_steps must be a positive integer, got {max_steps!r}")
    u = check_u(model, u)
    from .inputs import check_model_lengths
    lengths = check_model_lengths(model, lengths, None, u.shape[0], None, u.shape[1])[0]
    return u, lengths


def encode(model, u, lengths=None) -> tuple[np.ndarray, ...]:
    """The encoder's state at each source's last real step: per state of the cell (L, B, H)."""
    enc = model.stacks[0]
    enc.forward(u, None, lengths)
    return enc.final_state()


def decoder_step(model, prev, state, B: int) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """One decoder step: input ``prev`` (B,) int symbols chosen before, or None at the first step
    (the zero vector); ``state`` per state (L, B, H). -> (log-probabilities (B, O), new state)."""
    st = model.stacks[1]
    x = np.zeros((1, B, model.n_out), model.dtype)
    if prev is not None:
        x[0, np.arange(B), prev] = 1.0
    top = st.forward(x, state)
    z = top[1] @ model.params["W_out"].T + model.params["b_out"]          # (B, O) logits
    z = z.astype(np.float64)
    m = z.max(axis=1, keepdims=True)
    logp = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    return logp, st.final_state()


def greedy(model, u, lengths=None, *, max_steps: int, end: int = 1) -> tuple[list[list[int]], np.ndarray]:
    """The argmax symbol at every step. -> (per source the symbols before ``end``, float64 (B,)
    their scores: log p of the symbols and of ``end`` when produced)."""
    u, lengths = _check(model, u, lengths, max_steps)
    B = u.shape[1]
    state = encode(model, u, lengths)
    out, score = np.zeros((max_steps, B), np.int64), np.zeros(B)
    done, steps = np.zeros(B, bool), np.full(B, max_steps)
    prev = None
    for t in range(max_steps):
        logp, state = decoder_step(model, prev, state, B)
        k = logp.argmax(axis=1)
        score += np.where(done, 0.0, logp[np.arange(B), k])
        out[t] = k
        ended = ~done & (k == end)
        steps[ended] = t          # the symbols before end
        done |= ended
        prev = k
        if done.all():
            break
    return [out[:steps[b], b].tolist() for b in range(B)], score


def beam_search(model, u, lengths=None, *, beam: int, max_steps: int, end: int = 1,
                alpha: float = 0.0) -> tuple[list[list[int]], np.ndarray]:
    """The best hypothesis by score / lp(|Y|) found with ``beam`` partial hypotheses per source
    (module docstring). -> (per source the symbols before ``end``, float64 (B,) their scores,
    the raw log-probabilities, not length-normalised)."""
    if isinstance(beam, bool) or not isinstance(beam, (int, np.integer)) or beam < 1:
        raise DataError(f"the beam width must be a positive integer, got {beam!r}")
    if not np.isfinite(alpha) or alpha < 0:
        raise DataError(f"the length penalty's alpha must be a number >= 0, got {alpha!r}")
    u, lengths = _check(model, u, lengths, max_steps)
    B, K = u.shape[1], int(beam)
    state = tuple(np.repeat(s, K, axis=1) for s in encode(model, u, lengths))   # (L, B·K, H): K copies each
    scores = np.full((B, K), -np.inf)
    scores[:, 0] = 0.0                       # one live hypothesis at first (the copies are the same)
    seqs = [[[] for _ in range(K)] for _ in range(B)]
    finished: list[list[tuple[float, float, list[int]]]] = [[] for _ in range(B)]   # (rank key, score, symbols)
    active = np.ones(B, bool)
    prev = None
    for t in range(max_steps):
        logp, state = decoder_step(model, prev, state, B * K)
        O = logp.shape[1]
        cand = (scores[:, :, None] + logp.reshape(B, K, O)).reshape(B, K * O)     # (B, K·O)
        pick = np.zeros((B, K), np.int64)     # which beam row each new beam continues
        sym = np.full((B, K), end, np.int64)
        new_scores = np.full((B, K), -np.inf)
        for b in range(B):
            if not active[b]:
                continue
            order = np.argsort(-cand[b], kind="stable")[:2 * K]   # K live ones survive among 2K
            kept = 0
            for rank, c in enumerate(order):
                s = cand[b, c]
                if not np.isfinite(s):
                    break
                k, o = divmod(int(c), O)
                if o == end:
                    if rank < K:   # an ending among the K best: a finished hypothesis
                        n = len(seqs[b][k]) + 1
                        finished[b].append((s / length_penalty(n, alpha), s, list(seqs[b][k])))
                    if rank == 0:  # the best hypothesis ended: every live one scores less, and only loses
                        active[b] = False
                    continue
                if kept < K:
                    pick[b, kept], sym[b, kept], new_scores[b, kept] = k, o, s
                    kept += 1
        for b in range(B):
            seqs[b] = [seqs[b][k] + [int(o)] for k, o in zip(pick[b], sym[b])]
        scores = new_scores
        rows = (np.arange(B)[:, None] * K + pick).reshape(-1)           # (B·K,) rows to carry on
        state = tuple(s[:, rows] for s in state)
        prev = sym.reshape(-1)
        if not active.any():
            break
    best, best_scores = [], np.zeros(B)
    for b in range(B):
        pool = list(finished[b])
        if active[b] or not pool:   # out of steps: the live beams end as they are
            pool += [(scores[b, k] / length_penalty(len(seqs[b][k]), alpha), scores[b, k], seqs[b][k])
                     for k in range(K) if np.isfinite(scores[b, k])]
        key, s, symbols = max(pool, key=lambda h: h[0])
        best.append(symbols)
        best_scores[b] = s
    return best, best_scores
