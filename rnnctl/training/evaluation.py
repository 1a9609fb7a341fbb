"""Evaluation on fresh sequences (generated tasks) or on the valid split (real data), and the
record an evaluation adds to metrics.jsonl."""

from __future__ import annotations

import numpy as np

from ..diagnostics import spectral
from ..errors import Diverged

# Evaluation chunks keep the stored states (T+1, B, H) under this many bytes.
EVAL_MEMORY_BYTES = 64 * 2**20


def evaluate(model, sampler, rng: np.random.Generator, sequences: int, batch_size: int) -> dict:
    """Loss (per sequence) and error rate on ``sequences`` fresh sequences, in chunks that each draw a length."""
    errors, loss_sum, done = 0, 0.0, 0
    while done < sequences:
        length = sampler.draw_length(rng)
        # the stored states grow with T: shrink the chunk for long sequences to bound memory
        cap = max(1, EVAL_MEMORY_BYTES // (8 * (length + 1) * model.floats_per_step))
        n = min(batch_size, sequences - done, cap)
        batch = sampler.task.sample(rng, n, length)
        # one_to_many / encoder_decoder run free for as many steps as the target has
        y = model.outputs(batch.u, steps=batch.target.shape[0] if model.generates else None)
        errors += int(np.count_nonzero(sampler.task.errors(y, batch.target)))
        loss_sum += model.loss(batch.u, batch.target) * n
        done += n
    return {"loss": loss_sum / sequences, "error": errors / sequences}


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


def evaluation_record(model, sampler, rng, config, state, update: int, lr: float,
                      bound: float | None) -> dict:
    """Evaluate and return the metrics record of ``update``: eval loss and error, the training
    window since the last evaluation (mean loss, clip rate, max pre-transform norm), the
    learning rate, the training time so far and λ₁/ρ of W_rec (with 1/γ as ``bound`` for the
    vanilla cell). Resets the window; updates the summary (final figures, first success).
    A non-finite evaluation loss ends the run as diverged."""
    ev, summary = config.eval, state.summary
    result = evaluate(model, sampler, rng, ev.sequences, ev.batch_size)
    record = {"update": update, "loss": result["loss"], "error": result["error"],
              **_window(model, config, state, update, lr, bound)}
    if not np.isfinite(record["loss"]):
        raise Diverged(update, "evaluation loss")
    summary.update(final_loss=record["loss"], final_error=record["error"], train_loss=record["train_loss"])
    if record["error"] < ev.success_error and not summary["success"]:
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
