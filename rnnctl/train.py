"""The training loop: batch -> forward -> BPTT -> gradient transform -> update -> record.

It writes through a sink (``RunFolder`` on disk, ``MemorySink`` in tests) and reports progress to an
observer; it never touches files or the terminal itself.
"""

from __future__ import annotations

import copy
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .config import config_hash, dump_config
from .errors import Diverged
from .model import Model
from .optim import build_optimizer
from .tasks import make_task
from .transforms import build_gradient_transform

# Evaluation chunks keep the stored states (T+1, B, H) under this many bytes.
EVAL_MEMORY_BYTES = 64 * 2**20


class Sink(Protocol):
    def start(self, info: dict, config_text: str) -> None: ...
    def params(self, kind: str, arrays: dict[str, np.ndarray]) -> None: ...
    def trace(self, update: int, loss: float, norm_before: float, norm_after: float, fired: bool) -> None: ...
    def metrics(self, record: dict) -> None: ...
    def flush(self) -> None: ...
    def checkpoint(self, state: "TrainState") -> None: ...
    def finish(self, status: str, summary: dict) -> None: ...


@dataclass
class MemorySink:
    """Keeps everything in memory: for tests and notebooks."""

    info: dict = field(default_factory=dict)
    config_text: str = ""
    saved_params: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)
    records: list = field(default_factory=list)
    status: str | None = None
    summary: dict = field(default_factory=dict)
    last_checkpoint: Any = None

    def start(self, info, config_text):
        self.info, self.config_text = dict(info), config_text

    def params(self, kind, arrays):
        self.saved_params[kind] = {k: np.array(v) for k, v in arrays.items()}

    def trace(self, update, loss, norm_before, norm_after, fired):
        self.rows.append((update, loss, norm_before, norm_after, fired))

    def metrics(self, record):
        self.records.append(dict(record))

    def flush(self):
        pass

    def checkpoint(self, state):
        self.last_checkpoint = copy.deepcopy(state)

    def finish(self, status, summary):
        self.status, self.summary = status, dict(summary)


class StopRun(Exception):
    """Raised by an observer to end a run early on purpose (e.g. a sweep's early-stopping rule).
    The run is recorded with status 'stopped' and the reason as its message."""


class Observer:
    """Progress callbacks; the CLI's progress bar implements these. Defaults do nothing.
    ``on_eval`` may raise StopRun to end the run as 'stopped'."""

    def on_start(self, total_updates: int) -> None: ...
    def on_update(self, update: int, loss: float, stats: dict) -> None: ...
    def on_eval(self, record: dict) -> None: ...


@dataclass
class RunResult:
    status: str            # succeeded | completed | diverged | stopped (interrupted and failed runs raise)
    summary: dict


def build_model(config, rng: np.random.Generator | None = None) -> Model:
    """The model a config describes, initialized from ``rng`` (default: a generator seeded with config.seed)."""
    task = make_task(config).task
    m = config.model
    model = Model(task.n_in, task.n_out, m.hidden, cell=m.cell, form=m.form, activation=m.activation,
                  loss=task.loss, scored=task.scored, dtype=m.dtype)
    model.init_params(rng if rng is not None else np.random.default_rng(config.seed), m.init, m.spectral_radius)
    return model


def evaluate(model: Model, sampler, rng: np.random.Generator, sequences: int, batch_size: int) -> dict:
    """Loss (per sequence) and error rate on ``sequences`` fresh sequences, in chunks that each draw a length."""
    errors, loss_sum, done = 0, 0.0, 0
    while done < sequences:
        length = sampler.draw_length(rng)
        # the stored states grow with T: shrink the chunk for long sequences to bound memory
        cap = max(1, EVAL_MEMORY_BYTES // (8 * (length + 1) * model.hidden))
        n = min(batch_size, sequences - done, cap)
        batch = sampler.task.sample(rng, n, length)
        y = model.outputs(batch.u)
        errors += int(np.count_nonzero(sampler.task.errors(y, batch.target)))
        loss_sum += model.loss(batch.u, batch.target) * n
        done += n
    return {"loss": loss_sum / sequences, "error": errors / sequences}


def _snapshot(model: Model) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.params.items()}


@dataclass
class TrainState:
    """Everything that changes during training: enough to resume a run exactly where it stopped."""

    update: int
    theta: np.ndarray
    opt_state: Any
    transform_state: Any
    rng_data: dict                 # bit-generator states
    rng_eval: dict
    fired_total: int = 0
    train_seconds: float = 0.0
    window: dict = field(default_factory=lambda: dict(loss=0.0, n=0, fired=0, max_norm=0.0))
    summary: dict = field(default_factory=lambda: {
        "updates": 0, "final_loss": None, "final_error": None, "success": False,
        "success_update": None, "clip_rate": None, "train_loss": None, "diverged_at": None,
        "ms_per_update": None, "message": ""})


class _GracefulInterrupt:
    """First Ctrl-C asks the loop to stop after the current update (so the state it saves is
    consistent); a second one interrupts at once. Only in the main thread, where signals arrive."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self._old = None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def train(config, sink: Sink, observer: Observer | None = None, resume: TrainState | None = None) -> RunResult:
    """Run one training run as ``config`` describes. Divergence is an outcome, not an exception.

    With ``resume`` (a checkpoint the sink saved earlier), training continues from that state and
    produces the same numbers as a run that was never interrupted.
    """
    obs = observer or Observer()
    t, ev = config.train, config.eval
    sampler = make_task(config)
    # Independent streams for init, training data and evaluation data: changing eval settings
    # never changes the training trajectory.
    init_seq, data_seq, eval_seq = np.random.SeedSequence(config.seed).spawn(3)
    model = build_model(config, np.random.default_rng(init_seq))
    rng_data, rng_eval = np.random.default_rng(data_seq), np.random.default_rng(eval_seq)
    theta = model.theta
    grad = np.zeros_like(theta)
    transform = build_gradient_transform(t.gradient)
    opt = build_optimizer(t.optimizer)
    if resume is None:
        sink.start({"name": config.name, "seed": config.seed, "config_hash": config_hash(config)},
                   dump_config(config))
        sink.params("init", _snapshot(model))
        state = TrainState(0, theta, opt.init(theta), transform.init(theta),
                           rng_data.bit_generator.state, rng_eval.bit_generator.state)
    else:
        state = resume
        theta[...] = state.theta
        rng_data.bit_generator.state, rng_eval.bit_generator.state = state.rng_data, state.rng_eval
    state.theta = theta  # the model's own vector from here on: updates edit it in place
    summary, window = state.summary, state.window
    obs.on_start(t.steps)
    if state.update:
        obs.on_update(state.update, float("nan"), {})

    def checkpoint():
        state.rng_data, state.rng_eval = rng_data.bit_generator.state, rng_eval.bit_generator.state
        sink.checkpoint(state)

    try:
        with _GracefulInterrupt() as interrupt:
            for update in range(state.update + 1, t.steps + 1):
                t0 = time.perf_counter()
                batch = sampler.sample(rng_data, t.batch_size)
                E = model.loss_and_grad_flat(batch.u, batch.target, grad)
                stats: dict = {}
                state.transform_state = transform.update(grad, state.transform_state, theta, stats)
                if not np.isfinite(E):
                    raise Diverged(update, "loss")
                if not (np.isfinite(stats["norm_before"]) and np.isfinite(stats["norm_after"])):
                    raise Diverged(update, "gradient")
                state.opt_state = opt.update(theta, grad, state.opt_state, update)
                state.train_seconds += time.perf_counter() - t0

                fired = stats["fired"]
                sink.trace(update, E, stats["norm_before"], stats["norm_after"], fired)
                state.update = summary["updates"] = update
                state.fired_total += fired
                window["loss"] += E
                window["n"] += 1
                window["fired"] += fired
                window["max_norm"] = max(window["max_norm"], stats["norm_before"])
                obs.on_update(update, E, stats)

                if update % ev.every == 0 or update == t.steps:
                    result = evaluate(model, sampler, rng_eval, ev.sequences, ev.batch_size)
                    record = {"update": update, "loss": result["loss"], "error": result["error"],
                              "train_loss": window["loss"] / window["n"],
                              "clip_rate": window["fired"] / window["n"],
                              "max_norm": window["max_norm"], "time": round(state.train_seconds, 4)}
                    window.update(loss=0.0, n=0, fired=0, max_norm=0.0)
                    if not np.isfinite(record["loss"]):
                        raise Diverged(update, "evaluation loss")
                    sink.metrics(record)
                    obs.on_eval(record)
                    summary.update(final_loss=record["loss"], final_error=record["error"],
                                   train_loss=record["train_loss"])
                    if record["error"] < ev.success_error and not summary["success"]:
                        summary.update(success=True, success_update=update)
                    if summary["success"] and ev.stop_on_success:
                        break
                    checkpoint()
                if interrupt.requested:  # at an update boundary: the state is consistent
                    checkpoint()
                    raise KeyboardInterrupt
        status = "succeeded" if summary["success"] else "completed"
    except Diverged as e:
        status = "diverged"
        summary.update(diverged_at=e.update, message=str(e))
    except StopRun as e:
        status = "stopped"
        summary["message"] = str(e)
    except KeyboardInterrupt:  # a resume starts from the last checkpoint
        _close(sink, model, "interrupted", state)
        raise
    except Exception as e:
        summary["message"] = f"{type(e).__name__}: {e}"
        _close(sink, model, "failed", state)
        raise
    _close(sink, model, status, state)
    return RunResult(status, summary)


def _close(sink, model, status, state: TrainState):
    summary, n = state.summary, state.summary["updates"]
    if n:
        summary["clip_rate"] = state.fired_total / n
        summary["ms_per_update"] = round(1000.0 * state.train_seconds / n, 4)
    # Parameters are only ever updated with a finite gradient, so these are the last finite ones.
    sink.params("final", _snapshot(model))
    sink.finish(status, summary)
