"""The training loop: batch -> forward -> BPTT -> gradient transform -> update -> record.

It writes through a sink (``RunFolder`` on disk, ``MemorySink`` in tests) and reports progress to an
observer; it never touches files or the terminal itself.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .config import config_hash, dump_config
from .diagnostics import omega, omega_terms, spectral, temporal_contributions, vanishing_bound
from .errors import ConfigError, Diverged, RunError
from .interrupt import GracefulInterrupt
from .model import Model, model_from_config
from .optim import build_optimizer, build_schedule
from .store import TRACE_COLUMNS
from .tasks import make_task
from .transforms import Param, build_gradient_transform, chain, global_norm, record_group_norms, record_norm

# Evaluation chunks keep the stored states (T+1, B, H) under this many bytes.
EVAL_MEMORY_BYTES = 64 * 2**20


class Sink(Protocol):
    def start(self, info: dict, config_text: str, columns: tuple, backprop_shape: tuple | None) -> None: ...
    def params(self, kind: str, arrays: dict[str, np.ndarray]) -> None: ...
    def trace(self, row: tuple) -> None: ...
    def backprop(self, update: int, norms: np.ndarray) -> None: ...
    def probe(self, update: int, arrays: dict, summary: dict) -> None: ...
    def postmortem(self, arrays: dict) -> None: ...
    def metrics(self, record: dict) -> None: ...
    def flush(self) -> None: ...
    def checkpoint(self, state: "TrainState") -> None: ...
    def finish(self, status: str, summary: dict) -> None: ...


@dataclass
class MemorySink:
    """Keeps everything in memory: for tests and notebooks."""

    info: dict = field(default_factory=dict)
    config_text: str = ""
    columns: tuple = ()
    saved_params: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)
    backprop_rows: list = field(default_factory=list)   # (update, norms)
    probes: list = field(default_factory=list)          # (update, arrays, summary)
    postmortem_arrays: dict | None = None
    records: list = field(default_factory=list)
    status: str | None = None
    summary: dict = field(default_factory=dict)
    last_checkpoint: Any = None

    def start(self, info, config_text, columns=(), backprop_shape=None):
        self.info, self.config_text, self.columns = dict(info), config_text, tuple(columns)

    def params(self, kind, arrays):
        self.saved_params[kind] = {k: np.array(v) for k, v in arrays.items()}

    def trace(self, row):
        self.rows.append(tuple(row))

    def backprop(self, update, norms):
        self.backprop_rows.append((update, np.array(norms)))

    def probe(self, update, arrays, summary):
        self.probes.append((update, arrays, summary))

    def postmortem(self, arrays):
        self.postmortem_arrays = dict(arrays)

    def column(self, name):
        """One trace column as an array."""
        i = self.columns.index(name)
        return np.array([r[i] for r in self.rows], dtype=float)

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
    ``on_eval`` may raise StopRun to end the run as 'stopped'. Setting ``stop_requested = True``
    (e.g. from ``on_update``, in any thread) ends the run at the end of the current update with a
    checkpoint, as 'interrupted', exactly like a Ctrl-C: rnnctl sweep uses it to stop workers."""

    stop_requested = False

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
    return model_from_config(config.model, task, rng if rng is not None else np.random.default_rng(config.seed))


def evaluate(model: Model, sampler, rng: np.random.Generator, sequences: int, batch_size: int) -> dict:
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
    norms: np.ndarray = field(default_factory=lambda: np.zeros(1024))  # pre-transform norm, per update
    pending: Any = None            # truncated BPTT: the batch being worked through, window by window
    n_norms: int = 0
    summary: dict = field(default_factory=lambda: {
        "updates": 0, "final_loss": None, "final_error": None, "success": False,
        "success_update": None, "clip_rate": None, "train_loss": None, "diverged_at": None,
        "ms_per_update": None, "message": ""})


class _Policy:
    """train.gradient.nonfinite: what a NaN/Inf loss or gradient does to the run."""

    def __init__(self, cfg):
        self.kind, self.max, self.consecutive, self.skipped = cfg.nonfinite, cfg.max_consecutive, 0, 0

    def check(self, update, what) -> bool:
        """True when the update is to be skipped; raises when the run ends."""
        if self.kind == "error":
            raise RunError(f"non-finite {what} at update {update} (train.gradient.nonfinite=error)")
        if self.kind == "skip":
            self.consecutive += 1
            self.skipped += 1
            if self.consecutive < self.max:
                return True
            raise Diverged(update, f"{what} ({self.consecutive} consecutive updates skipped)")
        raise Diverged(update, what)


def _norm_steps(model, sampler) -> int:
    """Longest time axis of model.backprop_norms (minus 1): encoder_decoder adds the decoder's steps."""
    steps = sampler.max_steps
    return steps + (sampler.task.output_steps(steps) if model.arch == "encoder_decoder" else 0)


def train(config, sink: Sink, observer: Observer | None = None, resume: TrainState | None = None) -> RunResult:
    """Run one training run as ``config`` describes. Divergence is an outcome, not an exception.

    With ``resume`` (a checkpoint the sink saved earlier), training continues from that state and
    produces the same numbers as a run that was never interrupted.
    """
    obs = observer or Observer()
    t, ev, log, reg = config.train, config.eval, config.log, config.train.regularizer
    sampler = make_task(config)
    use_omega = reg.omega > 0  # Config.validate restricts it to the single-layer vanilla RNN
    # Independent streams for init, training data and evaluation data: changing eval settings
    # never changes the training trajectory.
    init_seq, data_seq, eval_seq = np.random.SeedSequence(config.seed).spawn(3)
    model = build_model(config, np.random.default_rng(init_seq))
    if use_omega and model.generates:
        raise ConfigError("Pascanu's regularizer is defined for the single-layer vanilla RNN read out "
                          "from its input alone (many_to_one, many_to_many)", key="train.regularizer.omega")
    rng_data, rng_eval = np.random.default_rng(data_seq), np.random.default_rng(eval_seq)
    theta = model.theta
    grad = np.zeros_like(theta)
    backup = np.empty_like(theta)
    slices = model.layout.slices()
    layout = [Param(n, slices[n], shape) for n, shape in zip(model.layout.names, model.layout.shapes)]
    groups = model.grad_groups() if hasattr(model, "grad_groups") else dict(slices)
    method = build_gradient_transform(t.gradient, layout)
    # measurements are transforms around the method, so each figure is taken where it claims to be
    measure_before = chain(record_norm("norm_before"), record_group_norms(groups, "groups"))
    measure_after = record_norm("norm_after")
    before_state, after_state = measure_before.init(theta), measure_after.init(theta)
    opt = build_optimizer(t.optimizer)
    lr_at = build_schedule(t.schedule, t.optimizer.lr, t.steps)
    policy = _Policy(t.gradient)
    has_threshold = t.gradient.method == "autoclip" or t.gradient.threshold == "auto"
    bptt = _Truncation.from_config(config, model)
    columns = (TRACE_COLUMNS + ("length",) + (("threshold",) if has_threshold else ())
               + (("omega", "omega_steps") if use_omega else ())
               + (("skipped",) if t.gradient.nonfinite == "skip" else ())
               + tuple(f"norm.{g}" for g in groups))
    probes = (log.probe_every > 0 and config.model.cell == "rnn" and getattr(config.model, "layers", 1) == 1
              and not model.generates)   # probes replay the single-stack vanilla RNN on u alone
    gamma_bound = vanishing_bound(config.model.activation) if config.model.cell == "rnn" else None

    if resume is None:
        layers = getattr(config.model, "layers", 1)
        sink.start({"name": config.name, "seed": config.seed, "config_hash": config_hash(config)},
                   dump_config(config), columns,
                   (layers, _norm_steps(model, sampler) + 1) if log.backprop_every else None)
        sink.params("init", _snapshot(model))
        state = TrainState(0, theta, opt.init(theta), method.init(theta),
                           rng_data.bit_generator.state, rng_eval.bit_generator.state)
    else:
        state = resume
        theta[...] = state.theta
        rng_data.bit_generator.state, rng_eval.bit_generator.state = state.rng_data, state.rng_eval
        policy.skipped = state.summary.get("skipped_updates") or 0
    state.theta = theta  # the model's own vector from here on: updates edit it in place
    summary, window = state.summary, state.window
    obs.on_start(t.steps)
    if state.update:
        obs.on_update(state.update, float("nan"), {})

    def checkpoint():
        state.rng_data, state.rng_eval = rng_data.bit_generator.state, rng_eval.bit_generator.state
        sink.checkpoint(state)

    batch = None
    try:
        # NaN/Inf are checked for explicitly and become outcomes: numpy need not warn about them
        with GracefulInterrupt() as interrupt, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for update in range(state.update + 1, t.steps + 1):
                t0 = time.perf_counter()
                if bptt is None:
                    batch = sampler.sample(rng_data, t.batch_size)
                    E = model.loss_and_grad_flat(batch.u, batch.target, grad)
                else:  # truncated BPTT: one window of the current batch per update
                    if state.pending is None:
                        state.pending = bptt.start(sampler.sample(rng_data, t.batch_size))
                    batch = bptt.window(state.pending)
                    E = model.loss_and_grad_flat(batch.u, batch.target, grad, state0=batch.state0)
                    state.pending = bptt.advance(state.pending, model.last_state)
                T = batch.u.shape[0]
                if log.backprop_every and update % log.backprop_every == 0:
                    sink.backprop(update, np.atleast_2d(model.backprop_norms))
                if probes and bptt is None and (update == 1 or update % log.probe_every == 0):
                    _probe(sink, model, batch, update, log)
                stats: dict = {}
                if use_omega:
                    alpha = reg.omega * (reg.t0 / (reg.t0 + update - 1) if reg.decay == "inverse_time" else 1.0)
                    h, dz, dh_out = model.bptt_buffers()
                    a, err, mult = omega_terms(model.params["W_rec"], h, dz, dh_out, form=config.model.form,
                                               activation=config.model.activation)
                    stats["omega"], g_omega, stats["omega_steps"] = omega(
                        model.params["W_rec"], a, err, mult, bound=reg.bound, squared=reg.squared)
                    grad[slices["W_rec"]] += alpha * g_omega.ravel()   # before clipping, as the authors
                measure_before.update(grad, before_state, theta, stats)
                what = "loss" if not np.isfinite(E) else "gradient" if not np.isfinite(stats["norm_before"]) else None
                if what and policy.check(update, what):
                    stats.update(norm_after=float("nan"), fired=False, skipped=1)
                    sink.trace(_row(columns, update, E, T, stats))
                    state.update = summary["updates"] = update
                    summary["skipped_updates"] = policy.skipped
                    continue
                policy.consecutive = 0
                state.transform_state = method.update(grad, state.transform_state, theta, stats)
                measure_after.update(grad, after_state, theta, stats)
                if not np.isfinite(stats["norm_after"]):
                    raise Diverged(update, "gradient after the transform")
                np.copyto(backup, theta)
                state.opt_state = opt.update(theta, grad, state.opt_state, lr_at(update))
                if not np.isfinite(np.dot(theta, theta)):  # overflow in the step itself
                    np.copyto(theta, backup)
                    raise Diverged(update, "parameters")
                state.train_seconds += time.perf_counter() - t0

                fired = stats["fired"]
                _keep_norm(state, stats["norm_before"])
                sink.trace(_row(columns, update, E, T, stats))
                state.update = summary["updates"] = update
                state.fired_total += fired
                window["loss"] += E
                window["n"] += 1
                window["fired"] += fired
                window["max_norm"] = max(window["max_norm"], stats["norm_before"])
                if "threshold" in stats:
                    summary["threshold"] = stats["threshold"]
                obs.on_update(update, E, stats)

                if update % ev.every == 0 or update == t.steps:
                    result = evaluate(model, sampler, rng_eval, ev.sequences, ev.batch_size)
                    n = max(window["n"], 1)
                    record = {"update": update, "loss": result["loss"], "error": result["error"],
                              "train_loss": window["loss"] / n, "clip_rate": window["fired"] / n,
                              "max_norm": window["max_norm"], "lr": lr_at(update),
                              "time": round(state.train_seconds, 4),
                              "spectral": spectral(model.params, config.model.cell)}
                    if gamma_bound is not None:
                        record["bound"] = gamma_bound
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
                if interrupt.requested or getattr(obs, "stop_requested", False):  # at an update boundary: the state is consistent
                    checkpoint()
                    raise KeyboardInterrupt
        status = "succeeded" if summary["success"] else "completed"
    except Diverged as e:
        status = "diverged"
        summary.update(diverged_at=e.update, message=str(e))
        if batch is not None:  # enough to replay the failing update: rnnctl.diagnostics.replay
            state0 = getattr(batch, "state0", None) or ()
            sink.postmortem({"u": batch.u, "target": batch.target, "update": np.array(e.update),
                             **{f"state0.{i}": a for i, a in enumerate(state0)},
                             **{f"param.{k}": v for k, v in model.params.items()}})
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


@dataclass
class _Window:
    u: np.ndarray
    target: np.ndarray
    state0: Any


class _Truncation:
    """Truncated BPTT (train.bptt): a batch is worked through in windows, one update each, with
    the state carried from one window into the next (no gradient flows across).

    Every-step losses: windows of k1 steps, backpropagated through those k1 steps (k2 = k1).
    Last-step losses: the forward pass runs up to T − k2 without gradient, then one update
    backpropagates through the last k2 steps, so the error signal reaches back only k2 steps.
    """

    def __init__(self, model, k1: int, k2: int):
        self.model, self.k1, self.k2, self.last = model, k1, k2, model.scored == "last"

    @classmethod
    def from_config(cls, config, model) -> "_Truncation | None":
        b = config.train.bptt
        if b.k1 is None:
            return None
        k2 = b.k2 or b.k1
        if model.generates:
            raise ConfigError("truncated BPTT applies to many_to_one and many_to_many models",
                              key="train.bptt.k1")
        if model.scored == "all" and k2 != b.k1:
            raise ConfigError("with a loss at every step, windows do not overlap: set k2 = k1 (or leave "
                              "it out)", key="train.bptt.k2")
        return cls(model, b.k1, k2)

    def start(self, batch) -> dict:
        T = batch.u.shape[0]
        if self.last:
            bounds = [(max(0, T - self.k2), T)]
        else:
            bounds = [(s, min(s + self.k1, T)) for s in range(0, T, self.k1)]
        return {"batch": batch, "bounds": bounds, "i": 0, "state": None}

    def window(self, pending) -> _Window:
        batch, (s, e) = pending["batch"], pending["bounds"][pending["i"]]
        state = pending["state"]
        if self.last and s > 0:  # run up to the window without gradient
            self.model.outputs(batch.u[:s])
            state = self.model.last_state
        target = batch.target if self.last else batch.target[s:e]
        return _Window(batch.u[s:e], target, state)

    def advance(self, pending, last_state):
        pending["i"] += 1
        pending["state"] = last_state
        return pending if pending["i"] < len(pending["bounds"]) else None


def _row(columns, update, E, T, stats) -> tuple:
    values = {"update": update, "loss": E, "length": T, "fired": stats.get("fired", False),
              "skipped": stats.get("skipped", 0), **stats}
    groups = stats.get("groups", {})
    return tuple(groups[c[5:]] if c.startswith("norm.") and c[5:] in groups else values.get(c, float("nan"))
                 for c in columns)


def _probe(sink, model, batch, update, log) -> None:
    """Temporal contributions on the first ``log.probe_sequences`` sequences of the batch."""
    t0 = time.perf_counter()
    S = min(log.probe_sequences, batch.u.shape[1])
    target = batch.target[:S] if model.scored == "last" else batch.target[:, :S]
    out = temporal_contributions(model.params, batch.u[:, :S], target, form=model.form,
                                 activation=model.activation, loss=model.loss_name,
                                 scored=model.scored, long_lag=log.long_lag)
    lag_fraction = out.pop("long_lag_fraction")
    sink.probe(update, out, {"length": int(batch.u.shape[0]), "sequences": S,
                             "long_lag_fraction": lag_fraction,
                             "seconds": round(time.perf_counter() - t0, 4)})


def _keep_norm(state: TrainState, norm: float) -> None:
    if state.n_norms == len(state.norms):
        state.norms = np.concatenate([state.norms, np.zeros_like(state.norms)])
    state.norms[state.n_norms] = norm
    state.n_norms += 1


def _close(sink, model, status, state: TrainState):
    summary, n = state.summary, state.summary["updates"]
    if n:
        summary["clip_rate"] = state.fired_total / n
        summary["ms_per_update"] = round(1000.0 * state.train_seconds / n, 4)
    if state.n_norms:  # so that reports need not read the trace
        norms = state.norms[:state.n_norms]
        summary["norm_max"] = float(norms.max())
        summary["norm_median"] = float(np.median(norms))
    # Parameters are only ever updated with a finite gradient, so these are the last finite ones.
    sink.params("final", _snapshot(model))
    sink.finish(status, summary)


def replay_postmortem(run_dir) -> dict:
    """Recompute the update that diverged, from ``postmortem.npz`` and the saved config.

    Returns the loss, the gradient norm (total and per parameter) and the per-step backprop
    norms of that batch at the last finite parameters: the failing update, reproduced.
    """
    from pathlib import Path

    from .config import load_config
    run_dir = Path(run_dir)
    path = run_dir / "postmortem.npz"
    if not path.exists():
        raise RunError(f"{run_dir} has no postmortem.npz (only diverged runs have one)")
    cfg = load_config(run_dir / "config.yaml")
    model = build_model(cfg, np.random.default_rng(0))
    with np.load(path) as z:
        model.set_params({k[len("param."):]: z[k] for k in z.files if k.startswith("param.")})
        u, target, update = z["u"], z["target"], int(z["update"])
        state0 = tuple(z[k] for k in sorted(f for f in z.files if f.startswith("state0."))) or None
    grad = np.zeros_like(model.theta)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        E = model.loss_and_grad_flat(u, target, grad, state0=state0)
        views = model.layout.views(grad)
        return {"update": update, "loss": E, "norm": global_norm(grad),
                "norms": {k: global_norm(v.ravel()) for k, v in views.items()},
                "backprop_norms": np.array(model.backprop_norms)}
