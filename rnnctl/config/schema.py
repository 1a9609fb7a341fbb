"""The schema: frozen dataclasses, one per section, each field with its default, its help and
optionally a range check (``opt``/``required``) or the registry its names come from (``choices``).

One definition feeds the walker (rnnctl.config.walker), ``rnnctl keys``, ``schema_reference`` and
the README. Names chosen from a registry (model.cell, task.name, train.gradient.method,
train.optimizer.name, train.schedule.name) are validated against rnnctl.registry at the moment of
validation, so an entry registered from Python is at once valid here. Cross-field rules live in each
section's ``validate()``; rules that need the task or the model are in rnnctl.config.runnable.

The field machinery (``opt``, ``Check``, ``_Section``) is in rnnctl.config.fields. Standard library
only (the registries declare their names without importing NumPy).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Literal

from rnnctl.errors import ConfigError
from rnnctl.registry import CELLS, OPTIMIZERS, SCHEDULES, TASKS, TRANSFORMS

from .fields import (MIN_THRESHOLD, NON_NEGATIVE, NON_NEGATIVE_OR_AUTO, POSITIVE, UNIT_CLOSED, UNIT_LEFT_OPEN,
                     UNIT_RIGHT_OPEN, Check, _Section, opt, required, section)
from .names import name_problem, runs_dir_problem

# name, runs_dir and log.tensorboard say where results go, not what they are: they do not enter
# config_hash (a run watched live has the id, and a sweep's job the folder, it has unwatched).
_NOT_HASHED = ("name", "runs_dir", "log.tensorboard")


# ---------------------------------------------------------------------------------------------
# Schema. Field order is the order of dump_config and of the reference table.

@dataclass(frozen=True, kw_only=True)
class TaskConfig(_Section):
    """What to learn, and how long the sequences are."""

    limits = {"length": 10**7, "min_length": 10**7, "max_length": 10**7, "n_values": 10**6,
              "n_positions": 10**6, "n_classes": 10**6, "horizon": 10**6, "vocab_size": 10**7,
              "max_pair_length": 10**6}

    # Ways of giving the same thing: an override of one replaces the file's other (see loading).
    alternatives: typing.ClassVar = (("length",), ("min_length", "max_length"))

    name: str = required("task to learn (the pathological tasks of Hochreiter & Schmidhuber 1997, "
                         "as in Pascanu et al. 2013, and any task registered from Python)",
                         choices=TASKS)
    length: int | None = opt(None, "fixed sequence length T in steps; give this, or "
                                   "min_length and max_length", POSITIVE)
    min_length: int | None = opt(None, "shortest T when T is drawn per batch from "
                                       "[min_length, max_length)", POSITIVE)
    max_length: int | None = opt(None, "exclusive upper bound of the per-batch T range", POSITIVE)
    n_values: int = opt(5, "noiseless_memorization, sequence_reversal, class_to_sequence: "
                           "distinct symbols (per pattern position)", POSITIVE)
    n_positions: int = opt(10, "noiseless_memorization only: length of the pattern to recall",
                           POSITIVE)
    n_classes: int = opt(4, "class_to_sequence only: classes, each with its own fixed sequence",
                         POSITIVE)
    # Real data (task.name: file or a built-in source; docs/data.md)
    path: str | None = opt(None, "file: the data file, relative to the config file or absolute")
    format: Literal["text", "csv", "npz", "labelled", "pairs"] | None = opt(
        None, "file: text (characters), csv (numeric series or columns), npz (sequences), "
              "labelled (CSV/JSONL text with a label), pairs (tab-separated or CSV sentence pairs)")
    source: str | None = opt(None, "built-in source: which data (text: python_docs, kjv; series: "
                                   "sunspots, co2, nile, ...; translation: fr-en, digits-de, ...); null "
                                   "takes the source's default")
    valid_fraction: float = opt(0.1, "real data: fraction in the valid split (unless the data "
                                     "names its splits)", UNIT_RIGHT_OPEN)
    test_fraction: float = opt(0.1, "real data: fraction in the test split", UNIT_RIGHT_OPEN)
    split_seed: int = opt(0, "real data: seed of the split of a set of sequences (streams are "
                             "split in order)", NON_NEGATIVE)
    limit: int | None = opt(None, "real data: keep only the first N sequences (streams: "
                                  "positions), e.g. for a quick test", POSITIVE)
    horizon: int = opt(1, "series: how many next values each step predicts", POSITIVE)
    text_column: str = opt("text", "labelled: the column (CSV) or key (JSONL) holding the text")
    label_column: str = opt("label", "labelled: the column or key holding the label")
    source_column: str = opt("source", "pairs (CSV): the column holding the sentence to translate")
    target_column: str = opt("target", "pairs (CSV): the column holding its translation")
    level: Literal["char", "word"] = opt("char", "pairs: tokens are characters, or words (split at "
                                                 "white space)")
    vocab_size: int | None = opt(None, "pairs: keep the most frequent tokens of each side's training "
                                       "split, this many entries with the unknown and end markers; "
                                       "the rest read as unknown (null: all)", POSITIVE)
    max_pair_length: int = opt(250, "pairs: the most tokens a side of a pair may have; a longer "
                                    "pair is an error naming its line", POSITIVE)
    reverse_source: bool = opt(False, "pairs: feed the source tokens in reverse order (Sutskever "
                                      "et al. 2014); the end marker stays last")

    @property
    def data(self) -> bool:
        """Whether task.name is real data (a Dataset or a stream) rather than a generator."""
        return self.name in TASKS and bool(TASKS.meta(self.name).get("data"))

    def validate(self) -> None:
        if self.valid_fraction + self.test_fraction >= 1:
            raise ConfigError(f"valid_fraction + test_fraction must leave some data to train on, got "
                              f"{self.valid_fraction} + {self.test_fraction}", key="test_fraction")
        if self.data:
            return self._validate_data()
        for key in ("path", "format", "source", "limit"):
            if getattr(self, key) is not None:
                raise ConfigError(f"task.{key} applies to real data (task.name: file or a built-in "
                                  f"source), not to the generated task {self.name!r}", key=key)
        given = (self.min_length is not None, self.max_length is not None)
        if self.length is not None:
            if any(given):
                raise ConfigError("give either length or min_length/max_length, not both",
                                  key="length")
        elif given == (False, False):
            raise ConfigError("required key missing: give length, or min_length and max_length",
                              key="length")
        elif given == (True, False):
            raise ConfigError("required key missing: min_length is given", key="max_length")
        elif given == (False, True):
            raise ConfigError("required key missing: max_length is given", key="min_length")
        elif self.max_length <= self.min_length:
            raise ConfigError(f"expected a value > min_length ({self.min_length}), max_length "
                              f"being exclusive; got {self.max_length}", key="max_length")

    def _validate_data(self) -> None:
        if self.name == "file":
            if self.path is None or self.format is None:
                raise ConfigError("required key missing: task.name file needs task.path and task.format",
                                  key="path" if self.path is None else "format")
        else:
            for key in ("path", "format"):
                if getattr(self, key) is not None:
                    raise ConfigError(f"task.{key} applies to task.name: file; {self.name!r} is a "
                                      "built-in source (choose its data with task.source)", key=key)
        for key in ("min_length", "max_length"):
            if getattr(self, key) is not None:
                raise ConfigError(f"real data has its own lengths; task.{key} applies to generated "
                                  "tasks (for a stream, task.length is the training window)", key=key)


def _vanilla(cell: str) -> bool:
    return bool(CELLS.meta(cell).get("vanilla"))


@dataclass(frozen=True, kw_only=True)
class ModelConfig(_Section):
    """The recurrent network."""

    limits = {"hidden": 10**5, "layers": 1000}

    cell: str = opt("rnn", "recurrent cell: rnn (vanilla, see form and activation), lstm or gru "
                           "(PyTorch's gate order and equations; sigmoid gates, tanh)", choices=CELLS)
    layers: int = opt(1, "stacked recurrent layers; each reads the hidden states of the one below",
                      POSITIVE)
    arch: Literal["auto", "many_to_one", "many_to_many", "one_to_many", "encoder_decoder"] = opt(
        "auto", "how inputs map to outputs: auto takes the task's own; many_to_one reads out at "
                "the last step, many_to_many at every step, one_to_many feeds its outputs back "
                "(teacher forcing in training), encoder_decoder starts a decoder from an encoder's "
                "final state")
    form: Literal["standard", "pascanu"] = opt(
        "standard", "rnn only: standard: x_t = s(W_rec x_{t-1} + W_in u_t + b); "
                    "pascanu: x_t = W_rec s(x_{t-1}) + W_in u_t + b")
    activation: Literal["tanh", "sigmoid", "relu", "linear"] = opt(
        "tanh", "rnn only: element-wise nonlinearity s (gamma = 1 for tanh, 1/4 for sigmoid "
                "in the vanishing bound)")
    hidden: int = opt(50, "number of hidden units (50 in Pascanu et al. 2013)", POSITIVE)
    dtype: Literal["float64", "float32"] = opt(
        "float64", "precision of parameters and activations; float64 keeps gradient checks exact")
    init: Literal["sigmoid", "basic_tanh", "smart_tanh", "orthogonal", "identity", "glorot"] = opt(
        "smart_tanh", "weight initialization; sigmoid, basic_tanh, smart_tanh as in Pascanu et "
                      "al. 2013, sec. 4")
    spectral_radius: float | None = opt(
        None, "if set, rescale W_rec after init to this spectral radius (above 1 invites "
              "exploding, below 1 vanishing); lstm/gru: each gate block of W_rec", POSITIVE)
    forget_bias: float = opt(1.0, "lstm, gru: initial bias of the gate that keeps the state (lstm "
                                  "forget gate f, gru update gate z); larger values remember longer "
                                  "at first (Jozefowicz et al. 2015; Tallec & Ollivier 2018)")

    def validate(self) -> None:
        # A key that does not apply to the chosen cell must keep its default (an ignored value
        # would make runs that differ in name only). Which cells are vanilla: registry metadata.
        if not _vanilla(self.cell) and self.form != "standard":
            raise ConfigError(f"form applies to the rnn cell only; {self.cell} has its own "
                              f"equations (leave form at standard)", key="form")
        if not _vanilla(self.cell) and self.activation != "tanh":
            raise ConfigError(f"activation applies to the rnn cell only; {self.cell} uses sigmoid "
                              f"gates and tanh (leave activation at tanh)", key="activation")
        if _vanilla(self.cell) and self.forget_bias != 1.0:
            raise ConfigError(f"forget_bias applies to the gated cells; the {self.cell} cell has no "
                              "gate (leave it at 1.0)", key="forget_bias")


@dataclass(frozen=True, kw_only=True)
class OptimizerConfig(_Section):
    name: str = opt("sgd", "optimizer: sgd (the paper's, with optional momentum) or adam",
                    choices=OPTIMIZERS)
    lr: float = opt(0.01, "learning rate (step size); the schedule scales it", POSITIVE)
    momentum: float = opt(0.0, "sgd: classical momentum coefficient; 0 is plain SGD", UNIT_RIGHT_OPEN)
    nesterov: bool = opt(False, "sgd: Nesterov momentum instead of classical (needs momentum > 0)")
    beta1: float = opt(0.9, "adam: decay rate of the first-moment estimate", UNIT_RIGHT_OPEN)
    beta2: float = opt(0.999, "adam: decay rate of the second-moment estimate", UNIT_RIGHT_OPEN)
    eps: float = opt(1e-8, "adam: added to the root of the second moment", POSITIVE)

    def validate(self) -> None:
        if self.nesterov and self.momentum == 0:
            raise ConfigError("nesterov needs momentum > 0", key="nesterov")


@dataclass(frozen=True, kw_only=True)
class ScheduleConfig(_Section):
    name: str = opt("constant", "learning-rate schedule: constant; step (times gamma every `every` "
                                "updates); inverse_time (lr t0/(t0 + t)); cosine (from lr to min_lr "
                                "over train.steps)", choices=SCHEDULES)
    every: int = opt(1000, "step: updates between decays", POSITIVE)
    gamma: float = opt(0.5, "step: factor applied at each decay", UNIT_LEFT_OPEN)
    t0: float = opt(1000.0, "inverse_time: updates after which the rate has halved", POSITIVE)
    min_lr: float = opt(0.0, "cosine: final learning rate", NON_NEGATIVE)


@dataclass(frozen=True, kw_only=True)
class GradientConfig(_Section):
    method: str = opt(
        "none", "norm: if |g| >= c then g <- c g/|g| over all parameters as one vector (Pascanu "
                "Alg. 1); value: clamp each entry to [-c, c]; per_tensor_norm: norm scaling of "
                "each parameter on its own (Keras clipnorm); autoclip: norm scaling at the "
                "percentile of past norms (Seetharaman et al. 2020); agc: unit-wise |g|/|w| "
                "capped at c (Brock et al. 2021)", choices=TRANSFORMS)
    threshold: float | Literal["auto"] = opt(
        1.0, "c; 'auto' measures the gradient norm over a warm-up of auto_updates updates, each "
             "scaled to the first one's norm, and uses auto_factor times the median of the norms "
             "that did not jump tenfold (the paper's heuristic, made robust); for agc the ratio cap")
    norm_type: Literal[2, 1, "inf"] = opt(2, "p of the p-norm used by norm, per_tensor_norm and "
                                             "autoclip (the recorded norms stay Euclidean)")
    percentile: float = opt(10.0, "autoclip: percentile p of the norm history used as c",
                            Check("in (0, 100]", lambda v: 0 < v <= 100))
    history: int = opt(0, "autoclip: norms remembered; 0 keeps all", NON_NEGATIVE)
    agc_eps: float = opt(1e-3, "agc: floor on a unit's parameter norm", POSITIVE)
    auto_updates: int = opt(100, "threshold auto: warm-up updates measured (scaled to the first "
                                 "one's norm) before c is set", POSITIVE)
    auto_factor: float = opt(1.0, "threshold auto: c = auto_factor x median warm-up norm (the paper "
                                  "found 0.5 to 10 times the average workable)", POSITIVE)
    nonfinite: Literal["stop", "skip", "error"] = opt(
        "stop", "on NaN/Inf in loss or gradient: stop (end as diverged), skip (drop the update; "
                "diverged after max_consecutive in a row), error (end as failed)")
    max_consecutive: int = opt(10, "skip: consecutive non-finite updates tolerated", POSITIVE)

    def validate(self) -> None:
        if isinstance(self.threshold, float) and self.threshold <= 0:
            raise ConfigError(f"expected a value > 0 (or auto), got {self.threshold!r}", key="threshold")
        if isinstance(self.threshold, float) and self.threshold < MIN_THRESHOLD:
            raise ConfigError(f"expected a value >= {MIN_THRESHOLD:g} (or auto), got {self.threshold!r}: "
                              "c/|g| would underflow and every clipped update vanish", key="threshold")
        auto = TRANSFORMS.where(auto=True)  # registry metadata: the methods threshold=auto can set
        if self.threshold == "auto" and self.method not in auto:
            listed = ", ".join(auto[:-1]) + f" and {auto[-1]}" if len(auto) > 1 else "".join(auto)
            raise ConfigError(f"auto applies to the methods {listed}, not {self.method}",
                              key="threshold")


@dataclass(frozen=True, kw_only=True)
class RegularizerConfig(_Section):
    omega: float = opt(0.0, "weight alpha of Pascanu's vanishing-gradient regularizer (eq. 9-10); "
                            "0 is off. With norm scaling this is the paper's SGD-CR", NON_NEGATIVE)
    decay: Literal["none", "inverse_time"] = opt(
        "none", "inverse_time: alpha t0/(t0 + t), the 1/t schedule the paper used on music")
    t0: float = opt(1000.0, "inverse_time: updates after which alpha has halved", POSITIVE)
    bound: float = opt(1e-20, "steps whose squared error-signal norm is below this are masked "
                              "(the authors' code)", POSITIVE)
    squared: bool = opt(True, "ratio of squared norms (eq. 10, the authors' code); false: of "
                              "norms (eq. 9)")


@dataclass(frozen=True, kw_only=True)
class BpttConfig(_Section):
    limits = {"k1": 10**7, "k2": 10**7}
    k1: int | None = opt(None, "truncated BPTT: update every k1 steps, carrying the state "
                               "across chunks; null is full BPTT", POSITIVE)
    k2: int | None = opt(None, "truncated BPTT: backpropagate through the last k2 steps "
                               "(>= k1; default k1)", POSITIVE)

    def validate(self) -> None:
        if self.k2 is not None and self.k1 is None:
            raise ConfigError("k2 needs k1", key="k1")
        if self.k1 is not None and self.k2 is not None and self.k2 < self.k1:
            raise ConfigError(f"expected a value >= k1 ({self.k1}), got {self.k2}", key="k2")


@dataclass(frozen=True, kw_only=True)
class TrainConfig(_Section):
    limits = {"steps": 10**10, "batch_size": 10**7}
    steps: int = opt(10000, "number of parameter updates", POSITIVE)
    batch_size: int = opt(20, "sequences per update", POSITIVE)
    optimizer: OptimizerConfig = section(OptimizerConfig)
    schedule: ScheduleConfig = section(ScheduleConfig)
    gradient: GradientConfig = section(GradientConfig)
    regularizer: RegularizerConfig = section(RegularizerConfig)
    bptt: BpttConfig = section(BpttConfig)


@dataclass(frozen=True, kw_only=True)
class LogConfig(_Section):
    backprop_every: int | Literal["auto"] = opt(
        "auto", "record the per-step backprop norms |dE/dx_k| in backprop_norms.npy: auto (a "
                "bounded record: every update up to 2 x backprop_dense, then backprop_dense per "
                "doubling of the update count, plus the backprop_peaks largest rows, non-finite "
                "rows and the last update; grows like log(train.steps)); N every N-th update and "
                "nothing else (1: every update, T_max + 1 floats each); 0 never", NON_NEGATIVE_OR_AUTO)
    backprop_dense: int = opt(256, "backprop_every auto: rows kept per doubling of the update count "
                                   "(every update up to twice this)", POSITIVE)
    backprop_peaks: int = opt(32, "backprop_every auto: also keep the rows of this many updates with "
                                  "the largest |dE/dx_k| (a spike shows even between the scheduled "
                                  "rows), and up to this many rows holding NaN/Inf", NON_NEGATIVE)
    probe_every: int = opt(0, "compute temporal contributions |dE_t/dx_k| and |dx_t/dx_k| "
                              "every this many updates (and at the first); 0 never",
                           NON_NEGATIVE)
    probe_sequences: int = opt(4, "sequences of the batch used by a probe", POSITIVE)
    long_lag: int = opt(20, "a probe reports the fraction of the W_rec gradient coming from "
                            "lags t - k above this", POSITIVE)
    params_every: int = opt(0, "keep the flat parameter vector every this many updates (and at "
                               "update 0 and the last) in params_snapshots.npy, for the landscape's "
                               "trajectory; the file grows by P floats (the parameter count) per "
                               "snapshot; 0 never", NON_NEGATIVE)
    tensorboard: str | None = opt(None, "also write the run's trace and evaluations as TensorBoard "
                                        "event files under this folder while it trains (one "
                                        "folder per run id; needs rnnctl[tracking]); does not "
                                        "change the run id; null: none")


@dataclass(frozen=True, kw_only=True)
class EvalConfig(_Section):
    limits = {"every": 10**10, "sequences": 10**10, "batch_size": 10**7, "length_buckets": 10**7}
    every: int = opt(100, "evaluate every this many updates", POSITIVE)
    sequences: int = opt(10000, "fresh test sequences per evaluation (10000 in the paper); real "
                                "data scores the whole valid split instead",
                         POSITIVE)
    batch_size: int = opt(1000, "evaluate in chunks of this many sequences, to bound memory "
                                "(real data too)",
                          POSITIVE)
    success_error: float = opt(0.01, "test error rate under which a run counts as solved (1% in "
                                     "the paper; an error equal to it is not a success); 0: no "
                                     "error at all (the authors' code trains until then)", UNIT_CLOSED)
    stop_on_success: bool = opt(True, "stop training at the first evaluation that is solved")
    length_buckets: int = opt(10, "a length range: evaluate this many evenly spaced buckets of "
                                  "lengths over [min_length, max_length - 1] (every length when the "
                                  "range is shorter), the sequences split evenly, each scored apart",
                              POSITIVE)
    success: Literal["auto", "mean", "all_lengths"] = opt(
        "auto", "success rule: mean (the overall error under success_error, the paper's text) or "
                "all_lengths (every length bucket's error under it); auto: all_lengths for a "
                "length range, mean for a fixed length")
    patience: int = opt(0, "real data: stop after this many evaluations without a better "
                           "validation metric; 0 never stops early", NON_NEGATIVE)
    metric: str | None = opt(None, "real data: the validation metric that picks the best "
                                   "parameters (bpc, nll, accuracy, mse, ...); null: the task's own")


@dataclass(frozen=True, kw_only=True)
class Config(_Section):
    """A whole experiment: the resolved form of one YAML file plus its overrides."""

    name: str = opt("", "run name; empty means the config file's stem; one folder name under "
                        "runs_dir (no / or \\, not . or .., at most 200 bytes)")
    seed: int = opt(0, "seed of the numpy Generator for weights and data", NON_NEGATIVE)
    runs_dir: str = opt("runs", "folder for run outputs, relative to the current directory")
    task: TaskConfig = field()  # required: task.name has no default
    model: ModelConfig = section(ModelConfig)
    train: TrainConfig = section(TrainConfig)
    eval: EvalConfig = section(EvalConfig)
    log: LogConfig = section(LogConfig)

    def validate(self) -> None:
        # Where the run goes: a name that stays under runs_dir (rnnctl.config.names)
        for key, problem in (("name", name_problem(self.name)), ("runs_dir", runs_dir_problem(self.runs_dir))):
            if problem:
                raise ConfigError(problem, key=key)
        # Checked here, not at run time, so that a sweep rejects such a job before starting
        # (rules that need the task, e.g. its architecture, are in check_runnable).
        if self.train.regularizer.omega > 0 and (not _vanilla(self.model.cell) or self.model.layers != 1):
            raise ConfigError("Pascanu's regularizer is defined for the single-layer vanilla RNN "
                              f"(model.cell is {self.model.cell}, model.layers {self.model.layers})",
                              key="train.regularizer.omega")
