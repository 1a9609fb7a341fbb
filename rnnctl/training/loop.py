"""The training loop: sample -> loss and gradient -> gradient pipeline -> optimizer -> record,
evaluating and checkpointing on schedule.

It writes through a sink (``RunFolder`` on disk, ``MemorySink`` in tests) and reports progress
to an observer; it never touches files or the terminal itself. What it is built from lives
beside it: ``session`` (the parts built from the config and the steps of an update),
``rnnctl.pipeline`` (everything between BPTT and the optimizer), ``state`` (what a checkpoint
holds), ``truncation``, ``evaluation``, ``postmortem``.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import CannotWrite, Diverged
from ..interrupt import GracefulInterrupt, Interrupted, StopSignalsIgnored, signal_name
from .observer import Observer, RunResult, StopRun
from .postmortem import postmortem_arrays
from .session import Session, build_model
from .sinks import Sink

__all__ = ["train", "build_model"]


def train(config, sink: Sink, observer: Observer | None = None, resume=None, init_params=None,
          init_from: dict | None = None) -> RunResult:
    """Run one training run as ``config`` describes. Divergence is an outcome, not an exception.

    With ``resume`` (a ``store.Checkpoint`` the sink saved earlier, e.g. from ``RunFolder.resume``),
    training continues from that state and produces the same numbers as a run never interrupted.
    ``init_params`` (name -> array, the names and shapes of ``model.params``) replaces the config's
    initialization (``rnnctl import``); ``init_from`` (plain data: where from) goes to run.json's info.
    """
    obs = observer or Observer()
    run = Session(config, init_params, init_from)          # every ConfigError surfaces here, before the sink is touched
    sink, state = run.open(sink, resume)                   # with log.tensorboard, a live writer in front of the sink
    t, ev, summary = config.train, config.eval, state.summary
    obs.on_start(t.steps)
    if state.update:
        obs.on_update(state.update, float("nan"), {})
    try:
        # NaN/Inf are checked for explicitly and become outcomes: numpy need not warn about them
        with GracefulInterrupt() as interrupt, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for update in range(state.update + 1, t.steps + 1):
                t0 = time.perf_counter()
                E = run.loss_and_grad(state)              # a new batch, or truncated BPTT's next window
                run.record_backprop(sink, state, update)
                stats, skip = run.pipeline.update(run.grad, state.pipeline, run.theta, E, update)
                if not skip:
                    state.opt = run.step(update, state.opt)
                state.train_seconds += time.perf_counter() - t0
                run.record_params(sink, update)
                sink.trace(run.row(update, E, stats))
                state.tally(update, E, stats, skip)
                obs.on_update(update, E, stats)
                if update % ev.every == 0 or update == t.steps:
                    record = run.evaluate(state, update)
                    with interrupt.deferred():             # a second signal waits for the write
                        sink.metrics(record)
                    obs.on_eval(record)
                    if run.done(state):
                        break
                    with interrupt.deferred():
                        sink.checkpoint(*run.checkpoint(state))
                if interrupt.requested or getattr(obs, "stop_requested", False):
                    with interrupt.deferred():   # at an update boundary: the state is whole
                        sink.checkpoint(*run.checkpoint(state))
                    raise interrupt.exception() if interrupt.requested else KeyboardInterrupt()
        status = "succeeded" if summary["success"] else "completed"
    except Diverged as e:
        status = "diverged"
        summary.update(diverged_at=e.update, message=str(e))
        if run.batch is not None:   # enough to replay the failing update (postmortem.replay)
            sink.postmortem(postmortem_arrays(run.batch, run.model, e.update))
    except StopRun as e:
        status = "stopped"
        summary["message"] = str(e)
    except KeyboardInterrupt as e:   # a resume starts from the last checkpoint
        summary["message"] = _stopped_by(e, obs)
        with StopSignalsIgnored():   # a further signal must not cut the last writes short
            run.close(sink, state, "interrupted")
        raise
    except Exception as e:
        summary["message"] = f"{type(e).__name__}: {e}"
        _close_failed(e, run, sink, state)
        raise
    run.close(sink, state, status)
    getattr(obs, "on_end", lambda *a: None)(summary.get("updates") or state.update, status)   # duck-typed observers
    return RunResult(status, summary)


def _close_failed(e: Exception, run, sink, state) -> None:
    """Finish a run that failed with ``e``. A full or read-only disk raises CannotWrite instead,
    writing nothing: the final parameters would take the space run.json needs (the caller records
    'failed' there, RunFolder.record_failure), and resuming needs only the last checkpoint."""
    full = CannotWrite.of(e, f"rnnctl resume {getattr(sink, 'path', 'RUN')}")
    if full is not None:
        raise full from None
    run.close(sink, state, "failed")


def _stopped_by(e: KeyboardInterrupt, obs) -> str:
    """run.json's message for an interrupted run: the signal that stopped it, or a stop request."""
    if getattr(obs, "stop_requested", False) and not isinstance(e, Interrupted):
        return "stopped on request (the sweep was stopped)"
    return f"stopped by {signal_name(getattr(e, 'signum', None))}"
