"""What every task is: the `Batch` it produces, the `Task` interface, and the registry of names.

A task turns an explicit ``numpy.random.Generator``, a batch size and a nominal length into a
time-major `Batch`, and says which model outputs count as errors under the paper's rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from rnnctl.errors import DataError
from rnnctl.registry import TASKS

LOSSES = ("softmax_ce", "mse", "sigmoid_ce")
SCORED = ("last", "all")
# How inputs map to outputs (rnnctl.model): read out at the last step, at every step, from an input
# at the first step with the outputs fed back, or by an encoder and a decoder of their own lengths.
ARCHS = ("many_to_one", "many_to_many", "one_to_many", "encoder_decoder")


def register(cls: type["Task"]) -> type["Task"]:
    """Class decorator: add ``cls`` to rnnctl.registry.TASKS under ``cls.name``; from then on
    ``task.name: <cls.name>`` is valid in a config. Names must be unique. The first line of the
    class docstring is the name's help in ``rnnctl keys`` unless the name was declared with one
    (the built-in tasks are declared in rnnctl/registry.py, so the config knows them without NumPy)."""
    if not (isinstance(cls, type) and issubclass(cls, Task)) or not isinstance(getattr(cls, "name", None), str):
        raise TypeError(f"register takes a Task subclass with a name, got {cls!r}")
    summary = "" if cls.name in TASKS else (cls.__doc__ or "").strip().split("\n")[0]
    try:
        TASKS.register(cls.name, cls, help=summary)
    except ValueError:
        raise ValueError(f"task name {cls.name!r} is already registered by "
                         f"{TASKS.get(cls.name).__qualname__}") from None
    return cls


@dataclass(frozen=True, eq=False)  # eq=False: `==` on ndarray fields would be ambiguous
class Batch:
    u: np.ndarray        # (T, B, n_in) float64 inputs, time-major
    target: np.ndarray   # scored "last", classification: int64 (B,); scored "all": int64 (T', B)
                         # with T' = task.output_steps(T) (= T except encoder-decoder tasks);
                         # "last" regression: float64 (B, n_out)
    length: int          # the nominal length L drawn for this batch (u.shape[0] may exceed it:
                         # addition/multiplication add up to 10%, memorization adds 2*n_positions)


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


class Task:
    """One synthetic (or real) problem. Subclasses set the class attributes and `_generate`."""

    name: ClassVar[str]
    n_in: int
    n_out: int
    loss: str              # "softmax_ce" | "mse" | "sigmoid_ce"
    scored: str            # "last": output read at the last step only; "all": every step
    min_length: int        # smallest nominal length the generator supports
    # Config fields (rnnctl config `task.<field>`) this task takes as constructor keywords.
    params: ClassVar[tuple[str, ...]] = ()
    # The paper's regression error rule: squared error summed over outputs strictly above this.
    error_threshold: ClassVar[float] = 0.04
    # The architecture the task is posed for (model.arch=auto picks it) and every arch it can be
    # posed in. None: many_to_one when scored "last", many_to_many when "all", and only that one.
    arch: ClassVar[str | None] = None
    compatible_archs: ClassVar[tuple[str, ...] | None] = None

    @property
    def natural_arch(self) -> str:
        return self.arch or ("many_to_one" if self.scored == "last" else "many_to_many")

    @property
    def archs(self) -> tuple[str, ...]:
        return self.compatible_archs or (self.natural_arch,)

    # ---- generation -------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, batch_size: int, length: int) -> Batch:
        """Draw ``batch_size`` sequences of nominal length ``length`` using only ``rng``."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        if not _is_int(batch_size) or batch_size < 1:
            raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not _is_int(length) or length < self.min_length:
            raise DataError(f"task {self.name!r} needs an integer length >= {self.min_length}, "
                            f"got {length!r}")
        return self._generate(rng, int(batch_size), int(length))

    def _generate(self, rng: np.random.Generator, batch_size: int, length: int) -> Batch:
        raise NotImplementedError

    def max_steps(self, length: int) -> int:
        """Largest ``u.shape[0]`` a batch of nominal length ``length`` can have."""
        return int(length)

    def output_steps(self, input_steps: int) -> int:
        """Scored steps (``target.shape[0]``) of a ``scored == "all"`` batch whose u has
        ``input_steps`` steps: the same number, except for encoder-decoder tasks."""
        return int(input_steps)

    # ---- scoring ----------------------------------------------------------------------------
    def errors(self, y: np.ndarray, target: np.ndarray) -> np.ndarray:
        """bool (B,): True where that sequence counts as an error under the paper's rule.

        y: pre-softmax logits (classification) or linear outputs (mse); (B, n_out) when
        ``scored == "last"``, (T, B, n_out) when ``scored == "all"``. target as in `Batch`.
        Classification: argmax mismatch (ties go to the lowest index, like numpy/Theano argmax);
        with ``scored == "all"`` a sequence is wrong if ANY step is wrong. Regression: the squared
        error summed over outputs is strictly greater than ``error_threshold`` (.04), as in the
        authors' code (``((t - y)**2).sum(axis=1) > .04``).
        """
        y = np.asarray(y)
        target = np.asarray(target)
        want_ndim = 2 if self.scored == "last" else 3
        if y.ndim != want_ndim or y.shape[-1] != self.n_out:
            lead = "(B, n_out)" if want_ndim == 2 else "(T, B, n_out)"
            raise DataError(f"task {self.name!r}: y must have shape {lead} with "
                            f"n_out={self.n_out}, got {y.shape}")
        if self.loss == "mse":
            if target.shape != y.shape:
                raise DataError(f"task {self.name!r}: target shape {target.shape} does not match "
                                f"y shape {y.shape}")
            diff = y.astype(np.float64) - target.astype(np.float64)
            sq = diff * diff
            if self.scored == "last":
                return sq.sum(axis=1) > self.error_threshold
            return (sq.sum(axis=2) > self.error_threshold).any(axis=0)
        if self.loss != "softmax_ce":
            raise NotImplementedError(f"task {self.name!r}: no default error rule for loss "
                                      f"{self.loss!r}; the task must override errors()")
        # softmax_ce
        if target.shape != y.shape[:-1]:
            raise DataError(f"task {self.name!r}: target shape {target.shape} must be y.shape[:-1] "
                            f"= {y.shape[:-1]}")
        wrong = y.argmax(axis=-1) != target
        return wrong if self.scored == "last" else wrong.any(axis=0)

    def __repr__(self) -> str:
        extra = "".join(f", {p}={getattr(self, p)!r}" for p in self.params)
        return f"{type(self).__name__}(name={self.name!r}{extra})"


def one_hot(symbols: np.ndarray, n: int) -> np.ndarray:
    """int array (...) -> float64 (..., n) with a single 1 per row."""
    flat = np.zeros(symbols.size * n, dtype=np.float64)
    # flat-index assignment: several times faster than np.put_along_axis on large batches
    flat[np.arange(symbols.size) * n + symbols.ravel()] = 1.0
    return flat.reshape(symbols.shape + (n,))
