"""Registries: every component a config chooses by name (cells, tasks, gradient methods,
optimizers, schedules, executors) is looked up here, and config validation reads the same
registries, so an entry registered from Python is at once valid in a YAML config.

Built-in entries are declared below by ``"module:attribute"`` and imported on first use: the
config (and so ``rnnctl --help`` and ``--dry-run``) knows every name and its metadata without
loading NumPy or Numba. Standard library only.

    >>> from rnnctl.registry import TASKS
    >>> TASKS.names()                     # what task.name accepts
    >>> TASKS.get("temporal_order")       # the Task class (imported now)
    >>> TASKS.register("my_task", MyTask) # now task.name: my_task validates and trains

What each registry's entries are (the modules that implement them say more):
  CELLS       rnnctl.model.cells.Cell objects (gates, forward, backward, buffers)
  TASKS       rnnctl.tasks.Task subclasses
  TRANSFORMS  rnnctl.transforms.Method objects (train.gradient.method)
  OPTIMIZERS  factories (OptimizerConfig) -> rnnctl.optim.Optimizer
  SCHEDULES   factories (ScheduleConfig, lr, steps) -> lr(t)
  EXECUTORS   rnnctl.executors.Backend subclasses
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError


@dataclass
class Entry:
    name: str
    target: Any                 # the object, or "module:attribute" until first use
    meta: dict = field(default_factory=dict)
    help: str = ""


class Registry:
    """Names -> components of one kind. ``key`` is the config key that chooses among them."""

    def __init__(self, kind: str, key: str):
        self.kind, self.key = kind, key
        self._entries: dict[str, Entry] = {}

    def declare(self, name: str, target: str, help: str = "", **meta) -> None:
        """A built-in entry, imported from ``target`` ("module:attribute") on first use."""
        self._entries[name] = Entry(name, target, meta, help)

    def register(self, name: str, obj: Any = None, *, help: str = "", replace: bool = False, **meta):
        """Add ``obj`` under ``name`` (usable as a decorator when ``obj`` is omitted).

        A name already taken by another object is an error unless ``replace`` is set; registering
        the same object again is a no-op. ``meta`` carries what validation needs to know without
        building the object (e.g. ``threshold=True`` for a gradient method taking c).
        """
        def add(o):
            old = self._entries.get(name)
            if old is not None and not replace and old.target is not o and not self._declared_as(old, o):
                raise ValueError(f"{self.kind} name {name!r} is already registered")
            merged = {**(old.meta if old else {}), **meta}
            self._entries[name] = Entry(name, o, merged, help or (old.help if old else ""))
            return o
        return add if obj is None else add(obj)

    def _declared_as(self, entry: Entry, o: Any) -> bool:
        """Whether ``entry`` is a declaration whose target is ``o``. Compared by name first: a
        module that registers its own classes as it is imported (rnnctl.tasks) must not import
        itself again half-way."""
        if not isinstance(entry.target, str):
            return False
        if entry.target == f"{getattr(o, '__module__', '')}:{getattr(o, '__qualname__', '')}":
            return True
        return self._resolved(entry) is o

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def _resolved(self, entry: Entry) -> Any:
        if isinstance(entry.target, str):
            module, _, attr = entry.target.partition(":")
            entry.target = getattr(importlib.import_module(module), attr)
        return entry.target

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name) -> bool:
        return name in self._entries

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, name: str) -> Any:
        """``get`` (so a registry reads like the dict rnnctl.tasks.TASKS used to be)."""
        return self.get(name)

    def items(self):
        """(name, component) pairs, every target imported."""
        return [(name, self.get(name)) for name in self._entries]

    def check(self, name: Any) -> str:
        """``name`` if registered, else a ConfigError naming the key, the choices and the nearest."""
        if isinstance(name, str) and name in self._entries:
            return name
        close = difflib.get_close_matches(str(name), list(self._entries), n=1)
        given = repr(name) if isinstance(name, str) else f"{name!r} ({type(name).__name__})"
        raise ConfigError(f"unknown {self.kind} {given}; expected one of {', '.join(self._entries)}",
                          key=self.key, suggestion=close[0] if close else None)

    def get(self, name: str) -> Any:
        """The component registered as ``name`` (imported on first use)."""
        return self._resolved(self._entries[self.check(name)])

    def meta(self, name: str) -> dict:
        return self._entries[self.check(name)].meta

    def help(self, name: str) -> str:
        return self._entries[self.check(name)].help

    def where(self, **meta) -> tuple[str, ...]:
        """Names whose metadata has every given value, e.g. ``TRANSFORMS.where(auto=True)``."""
        return tuple(n for n, e in self._entries.items()
                     if all(e.meta.get(k) == v for k, v in meta.items()))

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._entries)})"


CELLS = Registry("cell", "model.cell")
TASKS = Registry("task", "task.name")
TRANSFORMS = Registry("gradient method", "train.gradient.method")
OPTIMIZERS = Registry("optimizer", "train.optimizer.name")
SCHEDULES = Registry("schedule", "train.schedule.name")
EXECUTORS = Registry("executor", "--executor")

REGISTRIES = {"cells": CELLS, "tasks": TASKS, "transforms": TRANSFORMS, "optimizers": OPTIMIZERS,
              "schedules": SCHEDULES, "executors": EXECUTORS}


# -- built-in entries ------------------------------------------------------------------------------
# Declared here (not in the modules that implement them) so that names and metadata are known
# without importing NumPy; the targets are imported on first ``get``.

for _name, _gates, _help in (
        ("rnn", ("",), "vanilla cell, both forms (standard, pascanu) and four activations"),
        ("lstm", ("i", "f", "g", "o"), "LSTM, PyTorch's gate order and equations"),
        ("gru", ("r", "z", "n"), "GRU, PyTorch's gate order and equations")):
    CELLS.declare(_name, f"rnnctl.model.cells:{_name.upper()}", _help, gates=_gates,
                  vanilla=_name == "rnn")

for _name, _cls, _help in (
        ("temporal_order", "synthetic:TemporalOrder", "which of AA, AB, BA, BB was shown (Hochreiter "
                                                      "& Schmidhuber 1997)"),
        ("temporal_order_3bit", "synthetic:TemporalOrder3Bit", "the order of three A/B symbols"),
        ("addition", "synthetic:Addition", "the mean of two marked numbers in a stream (regression)"),
        ("multiplication", "synthetic:Multiplication", "the product of two marked numbers (regression)"),
        ("random_permutation", "synthetic:RandomPermutation", "remember the first symbol for T steps"),
        ("noiseless_memorization", "synthetic:NoiselessMemorization",
         "reproduce a pattern after a blank delay (scored at every step)"),
        ("sequence_reversal", "sequence:SequenceReversal", "write a symbol sequence backwards "
                                                            "(encoder_decoder)"),
        ("class_to_sequence", "sequence:ClassToSequence", "write a class's fixed symbol sequence "
                                                          "(one_to_many)")):
    TASKS.declare(_name, f"rnnctl.tasks.{_cls}", _help)

# Real data (rnnctl.data): each name is a function of the task.* keys it uses, returning a Dataset
# or a StreamDataset; `extra` names the optional install its package comes from.
for _name, _target, _extra, _help in (
        ("file", "files:from_file", None, "your own data: task.path in task.format (text, csv, npz, labelled, "
                                          "pairs)"),
        ("text", "sources.text:text", None, "character-level language modelling (task.source: python_docs, "
                                            "kjv); metric bpc"),
        ("chorales", "sources.music:chorales", "music", "Bach chorales (music21) as piano rolls, next frame; "
                                                      "metric nll per time step"),
        ("sentiment", "sources.sentiment:sentiment", "sentiment", "review sentiment, characters in, "
                                                                  "class out; metric accuracy"),
        ("vowels", "sources.vowels:vowels", "speech", "Japanese vowels: the speaker of an utterance "
                                                     "(12-d, 7-29 steps); metric accuracy"),
        ("series", "sources.series:series", "series", "forecast a real series (task.source: sunspots, co2, "
                                                     "nile, ...); metrics mse, mae"),
        ("translation", "sources.numbers:numbers", "translation", "numbers in words from one language into another "
                                                             "(num2words; task.source: fr-en, digits-de, ...); "
                                                             "metric chrf")):
    TASKS.declare(_name, f"rnnctl.data.{_target}", _help, data=True, extra=_extra)

# threshold: the method reads train.gradient.threshold (c); auto: threshold=auto can set c for it
for _name, _threshold, _auto, _help in (
        ("none", False, False, "leave the gradient alone"),
        ("norm", True, True, "if |g| >= c then g <- c g/|g| over all parameters as one vector "
                             "(Pascanu et al. 2013, Alg. 1)"),
        ("value", True, True, "clamp each entry to [-c, c] (Mikolov 2012)"),
        ("per_tensor_norm", True, True, "norm scaling of each parameter on its own (Keras clipnorm)"),
        ("autoclip", False, False, "norm scaling at a percentile of past norms (Seetharaman et al. 2020)"),
        ("agc", True, False, "unit-wise |g|/|w| capped at c (Brock et al. 2021)")):
    TRANSFORMS.declare(_name, f"rnnctl.transforms:method_{_name}", _help, threshold=_threshold, auto=_auto)

OPTIMIZERS.declare("sgd", "rnnctl.optim:sgd_from_config", "SGD, with optional (Nesterov) momentum")
OPTIMIZERS.declare("adam", "rnnctl.optim:adam_from_config", "Adam (Kingma & Ba 2015)")

for _name, _help in (("constant", "lr throughout"), ("step", "lr times gamma every `every` updates"),
                     ("inverse_time", "lr t0/(t0 + t)"), ("cosine", "from lr to min_lr over train.steps")):
    SCHEDULES.declare(_name, f"rnnctl.optim:{_name}_schedule", _help)

EXECUTORS.declare("local", "rnnctl.executors:LocalBackend", "worker processes on this machine")
EXECUTORS.declare("thread", "rnnctl.executors:ThreadBackend", "threads of this process (tests, debugging)")
EXECUTORS.declare("dask", "rnnctl.executors:DaskBackend", "a Dask cluster (--address) or a LocalCluster")
