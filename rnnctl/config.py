"""Experiment config: YAML -> frozen, typed dataclasses.

One generic walker (``_build``) turns a nested dict into the dataclasses below using their type
hints, so a new option is only a new field: a default, one line of help, and optionally a range
check. Cross-field rules live in each section's ``validate()``. Every mistake is a ConfigError
naming the dotted key, where it came from (file and line, or the ``key=value`` override), what
was expected and what was given.

Imports only the standard library and PyYAML: the CLI imports this module at start-up.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import hashlib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, NamedTuple, Union

import yaml

from rnnctl.errors import ConfigError

TaskName = Literal["temporal_order", "temporal_order_3bit", "addition", "multiplication",
                   "random_permutation", "noiseless_memorization", "sequence_reversal",
                   "class_to_sequence"]
# Kept in sync by hand with rnnctl/tasks (not imported: the config must load without numpy).
TASK_NAMES: tuple[str, ...] = typing.get_args(TaskName)

# name and runs_dir say where results go, not what they are: they do not enter config_hash.
_NOT_HASHED = ("name", "runs_dir")


class Check(NamedTuple):
    """A range rule for one field; ``text`` completes "expected a value ..."."""

    text: str
    ok: Callable[[Any], bool]


POSITIVE = Check("> 0", lambda v: v > 0)
NON_NEGATIVE = Check(">= 0", lambda v: v >= 0)
UNIT_LEFT_OPEN = Check("in (0, 1]", lambda v: 0 < v <= 1)
UNIT_RIGHT_OPEN = Check("in [0, 1)", lambda v: 0 <= v < 1)


def opt(default: Any, help: str, check: Check | None = None) -> Any:
    """A field with a default, one line of help for the reference, and an optional range check."""
    return field(default=default, metadata={"help": help, "check": check})


def required(help: str, check: Check | None = None) -> Any:
    return field(metadata={"help": help, "check": check})


def section(cls: type) -> Any:
    return field(default_factory=cls)


class _Section:
    """Base of every section: per-field range checks, then the section's cross-field rules.

    Runs on every construction (the walker, dataclasses.replace, direct use in Python). Errors
    carry the key relative to the section; the walker prefixes the dotted path and the origin.
    """

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check, value = f.metadata.get("check"), getattr(self, f.name)
            if check is not None and value is not None and not check.ok(value):
                raise ConfigError(f"expected a value {check.text}, got {value!r}", key=f.name)
        self.validate()

    def validate(self) -> None:
        """Cross-field rules; raise ConfigError with ``key`` relative to this section."""


# ---------------------------------------------------------------------------------------------
# Schema. Field order is the order of dump_config and of the reference table.

@dataclass(frozen=True, kw_only=True)
class TaskConfig(_Section):
    """What to learn, and how long the sequences are."""

    # Ways of giving the same thing: an override of one replaces the file's other (see _apply).
    alternatives: typing.ClassVar = (("length",), ("min_length", "max_length"))

    name: TaskName = required("task to learn (the pathological tasks of Hochreiter & "
                              "Schmidhuber 1997, as in Pascanu et al. 2013)")
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

    def validate(self) -> None:
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


@dataclass(frozen=True, kw_only=True)
class ModelConfig(_Section):
    """The recurrent network."""

    cell: Literal["rnn", "lstm", "gru"] = opt(
        "rnn", "recurrent cell: rnn (vanilla, see form and activation), lstm or gru (PyTorch's "
               "gate order and equations; sigmoid gates, tanh)")
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
        # would make runs that differ in name only).
        if self.cell != "rnn" and self.form != "standard":
            raise ConfigError(f"form applies to the rnn cell only; {self.cell} has its own "
                              f"equations (leave form at standard)", key="form")
        if self.cell != "rnn" and self.activation != "tanh":
            raise ConfigError(f"activation applies to the rnn cell only; {self.cell} uses sigmoid "
                              f"gates and tanh (leave activation at tanh)", key="activation")
        if self.cell == "rnn" and self.forget_bias != 1.0:
            raise ConfigError("forget_bias applies to the lstm and gru cells; the rnn cell has no "
                              "gate (leave it at 1.0)", key="forget_bias")


@dataclass(frozen=True, kw_only=True)
class OptimizerConfig(_Section):
    name: Literal["sgd", "adam"] = opt("sgd", "sgd (the paper's, with optional momentum) or adam")
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
    name: Literal["constant", "step", "inverse_time", "cosine"] = opt(
        "constant", "learning-rate schedule: constant; step (times gamma every `every` updates); "
                    "inverse_time (lr t0/(t0 + t)); cosine (from lr to min_lr over train.steps)")
    every: int = opt(1000, "step: updates between decays", POSITIVE)
    gamma: float = opt(0.5, "step: factor applied at each decay", UNIT_LEFT_OPEN)
    t0: float = opt(1000.0, "inverse_time: updates after which the rate has halved", POSITIVE)
    min_lr: float = opt(0.0, "cosine: final learning rate", NON_NEGATIVE)


@dataclass(frozen=True, kw_only=True)
class GradientConfig(_Section):
    method: Literal["none", "norm", "value", "per_tensor_norm", "autoclip", "agc"] = opt(
        "none", "norm: if |g| >= c then g <- c g/|g| over all parameters as one vector (Pascanu "
                "Alg. 1); value: clamp each entry to [-c, c]; per_tensor_norm: norm scaling of "
                "each parameter on its own (Keras clipnorm); autoclip: norm scaling at the "
                "percentile of past norms (Seetharaman et al. 2020); agc: unit-wise |g|/|w| "
                "capped at c (Brock et al. 2021)")
    threshold: float | Literal["auto"] = opt(
        1.0, "c; 'auto' measures the mean gradient norm over the first auto_updates updates "
             "and uses auto_factor times it (the paper's heuristic); for agc the ratio cap")
    norm_type: Literal[2, 1, "inf"] = opt(2, "p of the p-norm used by norm, per_tensor_norm and "
                                             "autoclip (the recorded norms stay Euclidean)")
    percentile: float = opt(10.0, "autoclip: percentile p of the norm history used as c",
                            Check("in (0, 100]", lambda v: 0 < v <= 100))
    history: int = opt(0, "autoclip: norms remembered; 0 keeps all", NON_NEGATIVE)
    agc_eps: float = opt(1e-3, "agc: floor on a unit's parameter norm", POSITIVE)
    auto_updates: int = opt(100, "threshold auto: updates measured (unclipped) before c is set",
                            POSITIVE)
    auto_factor: float = opt(1.0, "threshold auto: c = auto_factor x mean norm (the paper found "
                                  "0.5 to 10 workable)", POSITIVE)
    nonfinite: Literal["stop", "skip", "error"] = opt(
        "stop", "on NaN/Inf in loss or gradient: stop (end as diverged), skip (drop the update; "
                "diverged after max_consecutive in a row), error (end as failed)")
    max_consecutive: int = opt(10, "skip: consecutive non-finite updates tolerated", POSITIVE)

    def validate(self) -> None:
        if isinstance(self.threshold, float) and self.threshold <= 0:
            raise ConfigError(f"expected a value > 0 (or auto), got {self.threshold!r}", key="threshold")
        if self.threshold == "auto" and self.method not in ("norm", "value", "per_tensor_norm"):
            raise ConfigError(f"auto applies to the methods norm, value and per_tensor_norm, not "
                              f"{self.method}", key="threshold")


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
    steps: int = opt(10000, "number of parameter updates", POSITIVE)
    batch_size: int = opt(20, "sequences per update", POSITIVE)
    optimizer: OptimizerConfig = section(OptimizerConfig)
    schedule: ScheduleConfig = section(ScheduleConfig)
    gradient: GradientConfig = section(GradientConfig)
    regularizer: RegularizerConfig = section(RegularizerConfig)
    bptt: BpttConfig = section(BpttConfig)


@dataclass(frozen=True, kw_only=True)
class LogConfig(_Section):
    backprop_every: int = opt(1, "record the per-step backprop norms |dE/dx_k| every this many "
                                 "updates; 0 never", NON_NEGATIVE)
    probe_every: int = opt(0, "compute temporal contributions |dE_t/dx_k| and |dx_t/dx_k| "
                              "every this many updates (and at the first); 0 never",
                           NON_NEGATIVE)
    probe_sequences: int = opt(4, "sequences of the batch used by a probe", POSITIVE)
    long_lag: int = opt(20, "a probe reports the fraction of the W_rec gradient coming from "
                            "lags t - k above this", POSITIVE)


@dataclass(frozen=True, kw_only=True)
class EvalConfig(_Section):
    every: int = opt(100, "evaluate every this many updates", POSITIVE)
    sequences: int = opt(10000, "fresh test sequences per evaluation (10000 in the paper)",
                         POSITIVE)
    batch_size: int = opt(1000, "evaluate in chunks of this many sequences, to bound memory",
                          POSITIVE)
    success_error: float = opt(0.01, "test error rate at which a run counts as solved (1% in "
                                     "the paper)", UNIT_LEFT_OPEN)
    stop_on_success: bool = opt(True, "stop training at the first evaluation that is solved")


@dataclass(frozen=True, kw_only=True)
class Config(_Section):
    """A whole experiment: the resolved form of one YAML file plus its overrides."""

    name: str = opt("", "run name; empty means the config file's stem")
    seed: int = opt(0, "seed of the numpy Generator for weights and data", NON_NEGATIVE)
    runs_dir: str = opt("runs", "folder for run outputs, relative to the current directory")
    task: TaskConfig = field()  # required: task.name has no default
    model: ModelConfig = section(ModelConfig)
    train: TrainConfig = section(TrainConfig)
    eval: EvalConfig = section(EvalConfig)
    log: LogConfig = section(LogConfig)

    def validate(self) -> None:
        # Checked here, not at run time, so that a sweep rejects such a job before starting.
        if self.train.regularizer.omega > 0 and (self.model.cell != "rnn" or self.model.layers != 1):
            raise ConfigError("Pascanu's regularizer is defined for the single-layer vanilla RNN "
                              f"(model.cell is {self.model.cell}, model.layers {self.model.layers})",
                              key="train.regularizer.omega")


# ---------------------------------------------------------------------------------------------
# Where each key came from, so an error can point at it.

@dataclass
class _Origins:
    source: str | None = None
    lines: dict[str, int] = field(default_factory=dict)         # dotted key -> 1-based line
    overrides: list[tuple[str, str]] = field(default_factory=list)  # (dotted key, override text)

    def error(self, message: str, key: str | None, suggestion: str | None = None) -> ConfigError:
        # An override is to blame when it set this key, a key inside it, or a section around it.
        for okey, text in reversed(self.overrides):
            if key and (key == okey or key.startswith(okey + ".") or okey.startswith(key + ".")):
                return ConfigError(message, key=key, source=f"override '{text}'",
                                   suggestion=suggestion)
        line, k = None, key or ""
        while k and line is None:  # a missing key points at its nearest enclosing section
            line, k = self.lines.get(k), k.rpartition(".")[0]
        return ConfigError(message, key=key, source=self.source, line=line, suggestion=suggestion)


def _join(path: str, name: str | None) -> str:
    return f"{path}.{name}" if path and name else (path or name or "")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _dotted_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every key of the schema, sections included, in schema order."""
    keys = []
    for f in dataclasses.fields(cls):
        key, hint = _join(prefix, f.name), _hints(cls)[f.name]
        keys.append(key)
        if dataclasses.is_dataclass(hint):
            keys += _dotted_keys(hint, key)
    return keys


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"{value!r} ({type(value).__name__})"


# ---------------------------------------------------------------------------------------------
# The walker.

_BAD = object()


def _to_float(v: Any) -> Any:
    # Strings too: PyYAML (YAML 1.1) reads 1e-3 as the string '1e-3'.
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return _BAD
    try:
        x = float(v)
    except (ValueError, OverflowError):
        return _BAD
    return x if math.isfinite(x) else _BAD


# type -> (convert or return _BAD, what the error says was expected)
_SCALARS: dict[type, tuple[Callable[[Any], Any], str]] = {
    int: (lambda v: v if isinstance(v, int) and not isinstance(v, bool) else _BAD, "an integer"),
    float: (_to_float, "a finite number"),
    str: (lambda v: v if isinstance(v, str) else _BAD, "a string"),
    bool: (lambda v: v if isinstance(v, bool) else _BAD, "true or false"),
}


def _expected(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(hint)))
    return _SCALARS[hint][1] if hint in _SCALARS else str(hint)


def _convert(hint: Any, value: Any, key: str, origins: _Origins) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key, origins)
    or_null = ""
    if typing.get_origin(hint) in (Union, types.UnionType):
        arms = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(arms) < len(typing.get_args(hint))
        if value is None and nullable:
            return None
        or_null = " or null" if nullable else ""
        if len(arms) > 1:  # e.g. `float | Literal["auto"]`: the first arm that takes the value
            for arm in arms:
                try:
                    return _convert(arm, value, key, origins)
                except ConfigError:
                    continue
            given = repr(value) if isinstance(value, str) else _show(value)
            raise origins.error(f"expected {' or '.join(map(_expected, arms))}{or_null}; got {given}", key)
        (hint,) = arms
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        # exact type too: YAML's true must not pass for the choice 1
        if any(value == c and type(value) is type(c) for c in choices):
            return value
        close = difflib.get_close_matches(str(value), list(map(str, choices)), n=1)
        given = repr(value) if isinstance(value, str) else _show(value)
        raise origins.error(f"expected {_expected(hint)}{or_null}; got {given}", key,
                            close[0] if close else None)
    if hint not in _SCALARS:
        raise TypeError(f"config field {key}: unsupported type {hint!r}")
    convert, expected = _SCALARS[hint]
    result = convert(value)
    if result is _BAD:
        raise origins.error(f"expected {expected}{or_null}, got {_show(value)}", key)
    return result


def _unknown_key(name: str, valid: list[str], path: str, origins: _Origins) -> ConfigError:
    key, everywhere = _join(path, name), _dotted_keys()
    leaves = {}
    for k in everywhere:
        leaves.setdefault(k.rpartition(".")[2], k)  # first in schema order wins
    # Nearest first: a typo within the section, then the same name elsewhere (`eval.lr`), then
    # a typo anywhere (`hidden` at top level -> `model.hidden`).
    here = difflib.get_close_matches(name, valid, n=1)
    others = [k for k in everywhere if not key.startswith(k + ".")]  # never the enclosing section
    anywhere = difflib.get_close_matches(key, others, n=1)
    leaf = difflib.get_close_matches(name, list(leaves), n=1)
    if here:
        guess = _join(path, here[0])
    elif name in leaves:
        guess = leaves[name]
    elif anywhere or leaf:
        guess = anywhere[0] if anywhere else leaves[leaf[0]]
    else:
        guess = None
    hint = "" if guess else f"; valid keys here: {', '.join(valid)}"
    return origins.error("unknown key" + hint, key, guess)


def _build(cls: type, data: Any, path: str, origins: _Origins) -> Any:
    if data is None and path:  # `model:` with every key commented out
        data = {}
    if not isinstance(data, dict):
        raise origins.error(f"expected a section (a mapping of keys), got {_show(data)}",
                            path or None)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in data:  # unknown keys first: a typo in a key explains most later errors
        if name not in fields:
            raise _unknown_key(str(name), list(fields), path, origins)
    kwargs = {}
    for name, f in fields.items():
        key, hint = _join(path, name), _hints(cls)[name]
        if name in data:
            kwargs[name] = _convert(hint, data[name], key, origins)
        elif dataclasses.is_dataclass(hint):  # build from {} so a missing required key is named
            kwargs[name] = _build(hint, {}, key, origins)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise origins.error("required key missing", key)
    try:
        return cls(**kwargs)
    except ConfigError as e:  # from validate(): key is relative to this section
        raise origins.error(e.message, _join(path, e.key), e.suggestion) from None


# ---------------------------------------------------------------------------------------------
# YAML and overrides.

def _key_lines(node: yaml.Node | None, source: str, prefix: str = "",
               out: dict[str, int] | None = None) -> dict[str, int]:
    """Map each dotted key to the 1-based line of the key; reject duplicate keys."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                continue
            key, line = _join(prefix, knode.value), knode.start_mark.line + 1
            if key in out:  # safe_load silently keeps the last one
                raise ConfigError(f"duplicate key (first on line {out[key]})", key=key,
                                  source=source, line=line)
            out[key] = line
            _key_lines(vnode, source, key, out)
    return out


def _yaml_error(e: yaml.YAMLError, source: str) -> ConfigError:
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    context = getattr(e, "context", None)
    return ConfigError(f"invalid YAML: {problem}" + (f" ({context})" if context else ""),
                       source=source, line=mark.line + 1 if mark is not None else None)


def _parse_override(text: str) -> tuple[str, Any]:
    src = f"override '{text}'"
    key, eq, raw = text.partition("=")
    key = key.strip()
    if not eq:
        raise ConfigError("expected key=value, e.g. model.hidden=100", source=src)
    if not key or "" in key.split("."):
        raise ConfigError("expected a dotted key before '=', e.g. model.hidden=100", source=src)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML value: {getattr(e, 'problem', None) or e}", key=key,
                          source=src) from None
    if isinstance(value, dict):  # replacing a whole section would silently drop the file's keys
        raise ConfigError("expected a scalar or a list; set nested keys one by one, e.g. "
                          "model.hidden=100", key=key, source=src)
    return key, value


def _section_class(parents: list[str]) -> type | None:
    cls = Config
    for part in parents:
        cls = _hints(cls).get(part) if dataclasses.is_dataclass(cls) else None
    return cls if dataclasses.is_dataclass(cls) else None


def _apply(data: dict, parsed: list[tuple[str, Any, str]]) -> dict:
    data = copy.deepcopy(data)  # the caller's dict stays as loaded
    set_by_override = {key for key, _, _ in parsed}
    for key, value, text in parsed:
        *parents, leaf = key.split(".")
        node, path = data, ""
        for part in parents:
            path = _join(path, part)
            if node.get(part) is None:  # absent, or an empty `section:` in the file
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ConfigError(f"cannot set {key}: {path} is not a section, it is {_show(node)}",
                                  key=path, source=f"override '{text}'")
        node[leaf] = value
        # `task.length=100` on a file with min_length/max_length means "use length 100 instead"
        for group in getattr(_section_class(parents), "alternatives", ()):
            if leaf not in group:
                for other in group:
                    if _join(".".join(parents), other) not in set_by_override:
                        node.pop(other, None)
    return data


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Return a copy of ``data`` with each ``dotted.key=value`` set (value parsed as YAML)."""
    return _apply(data, [(*_parse_override(o), o) for o in overrides])


# ---------------------------------------------------------------------------------------------
# Public API.

def config_from_dict(data: dict, source: str | None = None,
                     lines: dict[str, int] | None = None) -> Config:
    """Validate a nested dict into a Config; ``source``/``lines`` locate errors (key -> line)."""
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {_show(data)}", source=source)
    return _build(Config, data, "", _Origins(source, dict(lines or {})))


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML config, apply ``key=value`` overrides, validate; name defaults to the stem."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", source=source) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file: {e}", source=source) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)  # positions only
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise _yaml_error(e, source) from None
    if data is None:
        raise ConfigError("config file is empty; expected a mapping with at least task.name",
                          source=source)
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {_show(data)}",
                          source=source, line=1)
    parsed = [(*_parse_override(o), o) for o in overrides]
    origins = _Origins(source, _key_lines(node, source), [(k, t) for k, _, t in parsed])
    cfg = _build(Config, _apply(data, parsed), "", origins)
    return cfg if cfg.name else dataclasses.replace(cfg, name=path.stem)


def config_to_dict(cfg: Any) -> dict:
    """The resolved config (or a section) as plain nested dicts, lists and scalars."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            value = config_to_dict(value)
        elif isinstance(value, tuple):  # YAML/JSON friendly; the walker turns it back
            value = list(value)
        out[f.name] = value
    return out


def dump_config(cfg: Config) -> str:
    """YAML text of the resolved config, keys in schema order."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=False,
                          allow_unicode=True)


def _non_default(cfg: Any) -> dict:
    """The values that differ from the schema's defaults, as nested dicts."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            sub = _non_default(value)
            if sub:
                out[f.name] = sub
            continue
        if f.default is not dataclasses.MISSING and value == f.default:
            continue
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def config_hash(cfg: Config) -> str:
    """16 hex chars identifying what a run computes (everything but name and runs_dir).

    Only values that differ from the defaults enter the hash, so a later version that adds an
    option (whose default keeps the old behaviour) leaves the ids of earlier runs unchanged, and
    a sweep started before an upgrade still finds its finished runs.
    """
    data = {k: v for k, v in _non_default(cfg).items() if k not in _NOT_HASHED}
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _type_text(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return " | ".join("null" if a is type(None) else _type_text(a) for a in args)
    if origin is Literal:
        return " | ".join(map(str, args))
    return hint.__name__


def _default_text(f: dataclasses.Field) -> str:
    if f.default is dataclasses.MISSING:
        return "required"
    value = f.default
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return '""' if value == "" else str(value)


def schema_reference(cls: type = Config, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Rows (dotted key, type, default, help) for every leaf field, in schema order."""
    rows = []
    for f in dataclasses.fields(cls):
        key, hint = _join(prefix, f.name), _hints(cls)[f.name]
        if dataclasses.is_dataclass(hint):
            rows += schema_reference(hint, key)
            continue
        check = f.metadata.get("check")
        type_text = _type_text(hint) + (f", {check.text}" if check else "")
        rows.append((key, type_text, _default_text(f), f.metadata["help"]))
    return rows
