"""What ``train`` builds from a config, once, and the steps of one update it delegates to.

A ``Session`` holds the task sampler (built once: it serves training, evaluation and the model's
sizes), the model, the three independent random streams, the gradient buffer, the gradient
pipeline, the optimizer and schedule, truncated BPTT, and the trace columns. The loop
(``loop.train``) strings its methods together; each method is one step of the update.
"""

from __future__ import annotations

import time

import numpy as np

from ..config import config_hash, dump_config
from ..diagnosis.record import diagnose_finished
from ..diagnostics import temporal_contributions, vanishing_bound
from ..errors import DataError, Diverged
from ..model import Model, model_from_config
from ..optim import build_optimizer, build_schedule
from ..pipeline import build_pipeline
from ..registry import CELLS
from ..store.layout import EXTENDABLE, TRACE_COLUMNS
from ..tasks import make_task
from .backprop import BackpropRecorder
from .evaluation import data_evaluation_record, evaluation_record, success_rule
from .extend import identities, identity
from .feed import make_feed
from .selection import Selection
from .state import TrainState, from_checkpoint, to_checkpoint
from .truncation import Truncation


def build_model(config, rng: np.random.Generator | None = None) -> Model:
    """The model a config describes, initialized from ``rng`` (default: a generator seeded with config.seed)."""
    return model_from_config(config.model, make_task(config).task,
                             rng if rng is not None else np.random.default_rng(config.seed))


def check_same_data(recorded: str | None, dataset) -> None:
    """A run resumed on real data must read the data it started with: its content hash decides."""
    if recorded is not None and recorded != dataset.hash:
        raise DataError(f"{dataset.source}: the data is not what this run trained on (dataset hash "
                        f"{dataset.hash[:12]}, the run recorded {recorded[:12]}); restore the original "
                        "file, or start a new run")


class Session:
    def __init__(self, config, init_params=None, init_from: dict | None = None):
        self.config, self.init_from = config, init_from
        t, log = config.train, config.log
        self.sampler = make_task(config)
        # Independent streams for init, training data and evaluation data: changing eval settings
        # never changes the training trajectory.
        init_seq, data_seq, eval_seq = np.random.SeedSequence(config.seed).spawn(3)
        self.model = model = model_from_config(config.model, self.sampler.task, np.random.default_rng(init_seq))
        if init_params is not None:   # given parameters (rnnctl import) instead of the init scheme's
            model.set_params(init_params)
        self.rng_data, self.rng_eval = np.random.default_rng(data_seq), np.random.default_rng(eval_seq)
        self.theta = model.theta
        self.grad = np.zeros_like(self.theta)
        self._backup = np.empty_like(self.theta)   # the last finite parameters, should a step overflow
        self.pipeline = build_pipeline(config, model)
        self.optimizer = build_optimizer(t.optimizer)
        self.lr_at = build_schedule(t.schedule, t.optimizer.lr, t.steps)
        self.truncation = Truncation.from_config(config, model)
        self.columns = TRACE_COLUMNS + ("length",) + self.pipeline.columns
        # probes replay the single-stack vanilla RNN on u alone, on full batches
        vanilla = CELLS.meta(config.model.cell)["vanilla"]
        self.probes = (log.probe_every > 0 and vanilla and config.model.layers == 1
                       and not model.generates and self.truncation is None)
        self.gamma_bound = vanishing_bound(config.model.activation) if vanilla else None
        self.identity = identity(config)
        steps = self.sampler.max_steps   # the longest time axis of backprop_norms (minus 1)
        if model.arch == "encoder_decoder":
            steps += self.sampler.task.output_steps(steps)   # the decoder's steps follow the encoder's
        self.backprop = BackpropRecorder(log, (config.model.layers, steps + 1))
        self.batch = None   # the batch (or truncation window) of the current update
        # real data: batches from the train split's epochs, evaluation on the valid split
        self.real = config.task.data
        if self.real:
            self.feed = make_feed(self.sampler, t.batch_size, int(data_seq.generate_state(1)[0]))
            self.selection = Selection(config, self.sampler, model)

    # -- start, resume, checkpoint, close ---------------------------------------------------------
    def open(self, sink, resume=None):
        """(the sink the loop writes to, the state it starts from): a fresh run's (``begin``) or
        the checkpoint's (``resume``); with ``log.tensorboard``, the sink is the live TensorBoard
        writer in front of ``sink`` (rnnctl.tracking.live)."""
        if self.config.log.tensorboard:
            from ..tracking.live import live_sink
            sink = live_sink(sink, self.config, self.columns, resume)
        return sink, (self.begin(sink) if resume is None else self.restore(resume))

    def begin(self, sink) -> TrainState:
        """A fresh run: open the sink and save the initial parameters."""
        cfg, log = self.config, self.config.log
        info = {"name": cfg.name, "seed": cfg.seed, "config_hash": config_hash(cfg)}
        if self.real:
            info["dataset"] = self.sampler.dataset.describe()
        if self.init_from is not None:
            info["init_from"] = self.init_from
        sink.start(info, dump_config(cfg), self.columns,
                   self.backprop.shape if self.backprop.records else None)
        sink.params("init", self.snapshot())
        if log.params_every:
            sink.snapshot(0, self.theta)
        state = TrainState(0, self.theta, self.optimizer.init(self.theta), self.pipeline.init(self.theta),
                           self.rng_data, self.rng_eval, backprop=self.backprop.init())
        if self.real:
            state.selection = self.selection.init(self.theta)
            state.summary.update(self.selection.summary_fields())
        else:   # known from the start: a run that diverges before its first evaluation records it too
            state.summary["success_rule"] = success_rule(cfg, self.sampler)
        return state

    def restore(self, checkpoint) -> TrainState:
        """The state a checkpoint (store.Checkpoint) holds, loaded into this session's model and
        streams. Real data: refused (DataError) if the data is not what the run trained on."""
        if self.real:
            check_same_data(checkpoint.meta.get("dataset_hash"), self.sampler.dataset)
        self.backprop.shared = False   # the restored reservoir's arrays are new: hand them over again
        return from_checkpoint(checkpoint, identities(self.config), self.theta, self.rng_data, self.rng_eval)

    def checkpoint(self, state: TrainState) -> tuple[dict, dict]:
        arrays, meta = to_checkpoint(state, self.identity)
        if self.real:
            meta["dataset_hash"] = self.sampler.dataset.hash
        return arrays, meta

    def snapshot(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.model.params.items()}

    def done(self, state: TrainState) -> bool:
        """Whether the run stops at this evaluation: solved (with eval.stop_on_success), or, on
        real data, eval.patience evaluations without a better validation metric."""
        if self.real:
            stop = self.selection.should_stop(state.selection)
            state.summary["stopped_early"] = stop
            return stop
        return state.summary["success"] and self.config.eval.stop_on_success

    def close(self, sink, state: TrainState, status: str) -> None:
        """Final summary figures and parameters (the last finite ones: parameters are only ever
        updated with a finite gradient), the run's diagnosis (rnnctl.diagnosis: run.json's
        ``diagnosis``) unless it stopped unfinished, then the sink's finish."""
        summary, n = state.summary, state.summary["updates"]
        if n:
            summary["clip_rate"] = state.fired_total / n
            summary["ms_per_update"] = round(1000.0 * state.train_seconds / n, 4)
        if state.n_norms:  # so that reports need not read the trace
            norms = state.norms[:state.n_norms]
            summary["norm_max"] = float(norms.max())
            summary["norm_median"] = float(np.median(norms))
        if self.config.train.gradient.nonfinite == "skip":
            summary["skipped_updates"] = self.pipeline.skipped(state.pipeline)
        self.backprop.close(sink, status)
        sink.params("final", self.snapshot())
        every = self.config.log.params_every
        if every and status not in ("interrupted", "failed") and state.update % every:
            sink.snapshot(state.update, self.theta)   # the last update, off the schedule
        if self.real and state.selection["best"] is not None:
            best = self.model.layout.views(state.selection["best_theta"])
            sink.params("best", {k: np.array(v) for k, v in best.items()})
            if status == "completed":   # the test split, scored once, with the best parameters
                summary.update(self.selection.final_scores(state.selection, self.theta))
        if status in EXTENDABLE:   # a final checkpoint: `rnnctl resume RUN train.steps=N` extends the run
            sink.checkpoint(*self.checkpoint(state))
        if status not in ("interrupted", "failed"):   # the run reads itself (a resumed one at its end)
            summary["diagnosis"] = diagnose_finished(sink, status, summary)
        sink.finish(status, summary)

    # -- the steps of an update -------------------------------------------------------------------
    def loss_and_grad(self, state: TrainState) -> float:
        """Loss E of a fresh batch (or of truncated BPTT's next window) and its gradient, into self.grad."""
        t, model = self.config.train, self.model
        if self.real:
            self.batch, state.pending = self.feed.batch(state.update + 1, state.pending)
            b = self.batch
            E = model.loss_and_grad_flat(b.u, b.target, self.grad, state0=b.state0, lengths=b.lengths,
                                         target_lengths=b.target_lengths)
            state.pending = self.feed.carried(state.pending, model.last_state)
            return E
        if self.truncation is None:
            self.batch = self.sampler.sample(self.rng_data, t.batch_size)
            return model.loss_and_grad_flat(self.batch.u, self.batch.target, self.grad)
        if state.pending is None:
            state.pending = self.truncation.start(self.sampler.sample(self.rng_data, t.batch_size))
        self.batch = self.truncation.window(state.pending)
        E = model.loss_and_grad_flat(self.batch.u, self.batch.target, self.grad, state0=self.batch.state0)
        state.pending = self.truncation.advance(state.pending, model.last_state)
        return E

    def record_backprop(self, sink, state: TrainState, update: int) -> None:
        """The per-step backprop norms and the temporal-contribution probes, on their schedules."""
        log = self.config.log
        if self.backprop.records:
            self.backprop.record(sink, state, update, np.atleast_2d(self.model.backprop_norms))
        if self.probes and (update == 1 or update % log.probe_every == 0):
            self._probe(sink, update)

    def record_params(self, sink, update: int) -> None:
        """The flat parameters after this update, every log.params_every updates (a resumed run
        redoes the same schedule: the folder dropped the snapshots past its checkpoint)."""
        every = self.config.log.params_every
        if every and update % every == 0:
            sink.snapshot(update, self.theta)

    def step(self, update: int, opt_state: dict) -> dict:
        """The optimizer's update of θ at this update's learning rate; Diverged (θ restored to its
        last finite value) if the step itself overflows."""
        np.copyto(self._backup, self.theta)
        opt_state = self.optimizer.update(self.theta, self.grad, opt_state, self.lr_at(update))
        if not np.isfinite(np.dot(self.theta, self.theta)):
            np.copyto(self.theta, self._backup)
            raise Diverged(update, "parameters")
        return opt_state

    def row(self, update: int, E: float, stats: dict) -> tuple:
        """The update's trace.csv row, in ``self.columns`` order."""
        values = {"update": update, "length": self.batch.u.shape[0], "fired": False, "skipped": 0,
                  **stats, "loss": E}
        groups = stats.get("groups", {})
        return tuple(groups[c[5:]] if c.startswith("norm.") and c[5:] in groups else values.get(c, float("nan"))
                     for c in self.columns)

    def evaluate(self, state: TrainState, update: int) -> dict:
        if self.real:
            return data_evaluation_record(self.selection, self.config, state, update, self.lr_at(update),
                                          self.gamma_bound)
        return evaluation_record(self.model, self.sampler, self.rng_eval, self.config, state, update,
                                 self.lr_at(update), self.gamma_bound)

    def _probe(self, sink, update: int) -> None:
        """Temporal contributions on the first ``log.probe_sequences`` sequences of the batch."""
        log, model, batch = self.config.log, self.model, self.batch
        t0 = time.perf_counter()
        S = min(log.probe_sequences, batch.u.shape[1])
        target = batch.target[:S] if model.scored == "last" else batch.target[:, :S]
        lengths = None if getattr(batch, "lengths", None) is None else batch.lengths[:S]   # padded: left out
        out = temporal_contributions(model.params, batch.u[:, :S], target, form=model.form,
                                     activation=model.activation, loss=model.loss_name,
                                     scored=model.scored, long_lag=log.long_lag, lengths=lengths)
        lag_fraction = out.pop("long_lag_fraction")
        sink.probe(update, out, {"length": int(batch.u.shape[0]), "sequences": S,
                                 "long_lag_fraction": lag_fraction,
                                 "seconds": round(time.perf_counter() - t0, 4)})
