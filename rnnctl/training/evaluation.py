"""Evaluation on fresh sequences (generated tasks) or on the valid split (real data), and the
record an evaluation adds to metrics.jsonl."""

from __future__ import annotations

import numpy as np

from ..diagnostics import spectral
from ..errors import Diverged

# Evaluation chunks keep the stored states (T+1, B, H) under this many bytes.
EVAL_MEMORY_BYTES = 64 * 2**20


def evaluate(model, sampler, rng: np.random.Generator, sequences: int, batch_size: int,
             buckets: int | None = None) -> dict:
    """Loss (per sequence) and error rate on ``sequences`` fresh sequences.

    ``buckets`` None, or a fixed-length task: in chunks of ``batch_size`` that each draw a length
    from the sampler (the paper's code; a range is then tested at a few random lengths).
    ``buckets`` given and a length range: stratified over the range (``length_plan``), and the
    result adds ``per_length``, one row per bucket: {lo, hi, sequences, errors, error, loss}."""
    if buckets is None or sampler.fixed:
        errors, loss_sum = _score(model, sampler, rng, sequences, batch_size, lambda: sampler.draw_length(rng))
        return {"loss": loss_sum / sequences, "error": errors / sequences}
    rows, errors, loss_sum = [], 0, 0.0
    for lo, hi, plan in length_plan(sampler.min_length, sampler.max_length, buckets, sequences):
        n, e, s = sum(count for _, count in plan), 0, 0.0
        for length, count in plan:
            de, ds = _score(model, sampler, rng, count, batch_size, lambda: length)
            e, s = e + de, s + ds
        rows.append({"lo": lo, "hi": hi, "sequences": n, "errors": e, "error": e / n, "loss": s / n})
        errors, loss_sum = errors + e, loss_sum + s
    return {"loss": loss_sum / sequences, "error": errors / sequences, "per_length": rows}


def _score(model, sampler, rng, sequences: int, batch_size: int, next_length) -> tuple[int, float]:
    """(wrong sequences, summed loss) over ``sequences`` fresh sequences, in chunks of at most
    ``batch_size``, each at the length ``next_length()`` gives."""
    errors, loss_sum, done = 0, 0.0, 0
    while done < sequences:
        length = next_length()
        # the stored states grow with T: shrink the chunk for long sequences to bound memory
        cap = max(1, EVAL_MEMORY_BYTES // (8 * (length + 1) * model.floats_per_step))
        n = min(batch_size, sequences - done, cap)
        batch = sampler.task.sample(rng, n, length)
        # one forward pass for both (one_to_many / encoder_decoder run free for as many steps as
        # the target has, and teacher-forced for the loss)
        y, loss = model.outputs_and_loss(batch.u, batch.target)
        errors += int(np.count_nonzero(sampler.task.errors(y, batch.target)))
        loss_sum += loss * n
        done += n
    return errors, loss_sum


def length_plan(min_length: int, max_length: int, buckets: int, sequences: int) -> list[tuple]:
    """The stratified evaluation of the range [min_length, max_length) (max excluded, as the
    sampler): [(lo, hi, [(length, count), ...]), ...], one entry per bucket, lo..hi inclusive.

    The N = max_length - min_length lengths are cut into K = min(buckets, N) buckets of
    consecutive lengths, bucket i holding lengths min_length + floor(i N / K) up to the next
    bucket's first minus one (so every length is in one bucket; sizes differ by at most one).
    The sequences are split evenly over the buckets (the first ``sequences mod K`` get one more),
    and each bucket's share evenly over its lengths in the same way; when a bucket has fewer
    sequences than lengths, that many of its lengths, evenly spaced from lo to hi, get one each.
    Lengths with no sequence are left out; a bucket with none (fewer sequences than buckets)
    is left out. No randomness: the sequences are then drawn from the evaluation rng in this
    order, so an evaluation is deterministic per seed."""
    N = max_length - min_length
    K = min(buckets, N)
    edges = [min_length + (i * N) // K for i in range(K + 1)]
    plan = []
    for i, share in enumerate(_split(sequences, K)):
        lo, hi = edges[i], edges[i + 1] - 1
        if share == 0:
            continue
        m = hi - lo + 1
        if share >= m:
            lengths = list(zip(range(lo, hi + 1), _split(share, m)))
        else:   # evenly spaced distinct lengths (share < m, so the rounded points differ)
            picks = np.round(np.linspace(lo, hi, share)).astype(int) if share > 1 else [(lo + hi) // 2]
            lengths = [(int(L), 1) for L in picks]
        plan.append((lo, hi, lengths))
    return plan


def _split(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal integers, the first ``total mod parts`` one larger."""
    q, r = divmod(total, parts)
    return [q + (1 if i < r else 0) for i in range(parts)]


def _window(model, config, state, update: int, lr: float, bound: float | None) -> dict:
    """The training figures since the last evaluation (then reset), the learning rate, the time so
    far and λ₁/ρ of W_rec (with 1/γ as ``bound`` for the vanilla cell)."""
    window = state.window
    n = max(window["n"], 1)
    record = {"train_loss": window["loss"] / n, "clip_rate": window["fired"] / n,
              "max_norm": window["max_norm"], "lr": lr, "time": round(state.train_seconds, 4),
              "spectral": spectral(model.params, config.model.cell)}
    if bound is not None:
        record["bound"] = bound
    window.update(loss=0.0, n=0, fired=0, max_norm=0.0)
    return record


def success_rule(config, sampler) -> str:
    """The success rule a run uses (eval.success resolved): ``mean`` (the overall error under
    eval.success_error, the paper's text) or ``all_lengths`` (every length bucket's error under
    it); ``auto`` is all_lengths for a length range and mean for a fixed length (one bucket)."""
    rule = config.eval.success
    if rule == "auto":
        return "mean" if sampler.fixed else "all_lengths"
    return rule


def solved(record: dict, rule: str, success_error: float) -> bool:
    """Whether an evaluation record counts as solved: its error (``mean``), or the error of every
    one of its length buckets (``all_lengths``; a record without buckets uses its error),
    strictly under ``success_error`` ("under 1%": an error equal to it is not a success), or, with
    ``success_error`` 0, exactly 0: not one sequence wrong (the authors' code stops only there)."""
    def good(error):
        return error == 0 if success_error == 0 else error < success_error
    if rule == "all_lengths" and record.get("per_length"):
        return all(good(row["error"]) for row in record["per_length"])
    return good(record["error"])


def evaluation_record(model, sampler, rng, config, state, update: int, lr: float,
                      bound: float | None) -> dict:
    """Evaluate and return the metrics record of ``update``: eval loss and error (and, for a
    length range, ``per_length``: the error of each of eval.length_buckets buckets), the training
    window since the last evaluation (mean loss, clip rate, max pre-transform norm), the
    learning rate, the training time so far and λ₁/ρ of W_rec (with 1/γ as ``bound`` for the
    vanilla cell). Resets the window; updates the summary (final figures, the last per_length,
    the success rule, first success). A non-finite evaluation loss ends the run as diverged."""
    ev, summary = config.eval, state.summary
    result = evaluate(model, sampler, rng, ev.sequences, ev.batch_size, buckets=ev.length_buckets)
    record = {"update": update, "loss": result["loss"], "error": result["error"],
              **({"per_length": result["per_length"]} if "per_length" in result else {}),
              **_window(model, config, state, update, lr, bound)}
    if not np.isfinite(record["loss"]):
        raise Diverged(update, "evaluation loss")
    rule, threshold = success_rule(config, sampler), ev.success_error
    if summary["success"] and ((summary.get("success_rule") or "mean") != rule
                               or summary.get("success_error", threshold) != threshold):
        # a success judged under another rule (a run recorded before per-length evaluation, judged
        # by the mean, now extended) or another eval.success_error (changed on resume, e.g. to 0)
        # is judged again under this one, from this evaluation on
        summary.update(success=False, success_update=None)
    summary.update(final_loss=record["loss"], final_error=record["error"], train_loss=record["train_loss"],
                   success_rule=rule, success_error=threshold)
    if "per_length" in record:
        summary["per_length"] = record["per_length"]
    if solved(record, rule, ev.success_error) and not summary["success"]:
        summary.update(success=True, success_update=update)
    return record


def data_evaluation_record(selection, config, state, update: int, lr: float, bound: float | None) -> dict:
    """Real data: the validation split's metrics (``valid``; its loss as ``loss``, ``error`` null)
    beside the same training figures as above; the best parameters so far are kept
    (training.selection). A non-finite validation loss ends the run as diverged."""
    valid = selection.score("valid")
    record = {"update": update, "loss": valid["loss"], "error": None, "valid": valid,
              **_window(selection.model, config, state, update, lr, bound)}
    if not np.isfinite(record["loss"]):
        raise Diverged(update, "validation loss")
    state.summary.update(final_loss=record["loss"], train_loss=record["train_loss"])
    selection.consider(state.selection, valid, state.theta, update, state.summary)
    return record
