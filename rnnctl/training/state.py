"""TrainState: everything that changes during training, and its conversion to and from plain data.

A checkpoint is ``(arrays, meta)``: every ndarray of the state goes to ``arrays`` under a dotted
name (``theta``, ``opt.m``, ``pipeline.3.inner.0.sorted``, ``pending.u`` ...), and the rest (the
update, counters, the summary, RNG bit-generator states, the state's nesting) to ``meta``, which
is JSON. The sink stores both (``RunFolder`` as .npz + .json); nothing is pickled, so reading a
checkpoint never runs code, and ``from_checkpoint`` rebuilds exactly the state that was saved:
a resumed run gives bit-identical numbers to one never interrupted.

Floats that JSON cannot hold (NaN, ±Inf) are written as {"$float": "nan"}; arrays are referred to
as {"$array": name}. Anything else in a state (an object, a closure) is an error at once.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import RunError

FORMAT = "rnnctl.trainstate/1"


def _new_summary() -> dict:
    return {"updates": 0, "final_loss": None, "final_error": None, "success": False,
            "success_update": None, "clip_rate": None, "train_loss": None, "diverged_at": None,
            "ms_per_update": None, "message": ""}


def _new_window() -> dict:
    return {"loss": 0.0, "n": 0, "fired": 0, "max_norm": 0.0}


@dataclass
class TrainState:
    """Everything that changes during training: enough to resume a run exactly where it stopped."""

    update: int                    # the last update done
    theta: np.ndarray              # (P,) the model's own flat parameter vector, edited in place
    opt: dict                      # optimizer state (rnnctl.optim)
    pipeline: list                 # gradient pipeline state (rnnctl.pipeline)
    rng_data: np.random.Generator  # training batches
    rng_eval: np.random.Generator  # evaluation sequences
    fired_total: int = 0
    train_seconds: float = 0.0
    window: dict = field(default_factory=_new_window)   # since the last evaluation
    norms: np.ndarray = field(default_factory=lambda: np.zeros(1024))  # (capacity,) norm_before per update
    n_norms: int = 0
    pending: dict | None = None    # truncated BPTT: the batch being worked through (truncation.py);
                                   # a stream: the state carried into the next window (feed.py)
    selection: dict | None = None  # real data: the best parameters so far and counters (selection.py)
    backprop: dict | None = None   # log.backprop_every auto: the reservoir of the largest rows (backprop.py)
    summary: dict = field(default_factory=_new_summary)

    def tally(self, update: int, loss: float, stats: dict, skipped: bool) -> None:
        """Count an update done: in the summary, and (unless it was skipped) in the figures since
        the last evaluation, the clip count and the history of pre-transform norms."""
        self.update = self.summary["updates"] = update
        if skipped:
            return
        fired, norm = stats["fired"], stats["norm_before"]
        self.keep_norm(norm)
        self.fired_total += fired
        w = self.window
        w["loss"] += loss
        w["n"] += 1
        w["fired"] += fired
        w["max_norm"] = max(w["max_norm"], norm)
        if "threshold" in stats:
            self.summary["threshold"] = stats["threshold"]

    def keep_norm(self, norm: float) -> None:
        """Append a pre-transform norm (the summary's norm_max and norm_median read them)."""
        if self.n_norms == len(self.norms):   # grow by doubling: amortized, not per update
            self.norms = np.concatenate([self.norms, np.zeros_like(self.norms)])
        self.norms[self.n_norms] = norm
        self.n_norms += 1


_PLAIN = ("opt", "pipeline", "fired_total", "train_seconds", "window", "pending", "summary", "selection",
          "backprop")
_ADDED = {"selection": None, "backprop": None}   # keys later versions added: a checkpoint written before has none


def to_checkpoint(state: TrainState, identity: str) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, meta) for ``Sink.checkpoint``. The arrays are the live buffers, not copies: the
    sink stores or copies them before training goes on. ``identity`` (``extend.identity``) ties
    the checkpoint to the config that wrote it."""
    arrays: dict[str, np.ndarray] = {}
    data = {"theta": state.theta, "norms": state.norms[:state.n_norms],
            "rng": {"data": state.rng_data.bit_generator.state, "eval": state.rng_eval.bit_generator.state},
            **{k: getattr(state, k) for k in _PLAIN}}
    # "state_format", not "format": the store's checkpoint file has a "format" of its own
    return arrays, {"update": state.update, "state_format": FORMAT, "identity": identity,
                    "state": flatten(data, "", arrays)}


def default_summary_value(checkpoint, key: str, value) -> None:
    """Set ``key`` in the summary a checkpoint holds unless it is there (a summary written before
    the key existed): plain data in the checkpoint's JSON, before ``from_checkpoint`` reads it."""
    summary = checkpoint.meta.get("state", {}).get("summary")
    if isinstance(summary, dict):
        summary.setdefault(key, value)


def from_checkpoint(checkpoint, identity: str | tuple[str, ...], theta: np.ndarray, rng_data: np.random.Generator,
                    rng_eval: np.random.Generator) -> TrainState:
    """The TrainState a checkpoint (``store.Checkpoint``: arrays, meta) holds, with its parameters
    copied into ``theta`` and its RNG states set on ``rng_data``/``rng_eval``. Arrays are copied,
    so the checkpoint object itself is never edited by the run."""
    meta = checkpoint.meta
    if meta.get("state_format") != FORMAT:
        raise RunError(f"the checkpoint holds no {FORMAT} training state (it has "
                       f"{meta.get('state_format')!r})")
    if meta.get("identity") not in ((identity,) if isinstance(identity, str) else identity):
        raise RunError("the checkpoint was written under a different config (only train.steps, "
                       "eval.stop_on_success and eval.success_error may change when a run is resumed)")
    try:
        data = unflatten(meta["state"], checkpoint.arrays)
        theta[...] = data["theta"]
        rng_data.bit_generator.state = data["rng"]["data"]
        rng_eval.bit_generator.state = data["rng"]["eval"]
        norms = data["norms"]
    except (KeyError, TypeError, ValueError) as e:
        raise RunError(f"the checkpoint's training state is incomplete or damaged: {e!r}") from e
    capacity = max(1024, 1 << max(len(norms), 1).bit_length())
    state = TrainState(int(meta["update"]), theta, rng_data=rng_data, rng_eval=rng_eval,
                       norms=np.zeros(capacity), n_norms=len(norms),
                       **{k: data[k] if k in data or k not in _ADDED else _ADDED[k] for k in _PLAIN})
    state.norms[:len(norms)] = norms
    return state


# -- plain data -----------------------------------------------------------------------------------

def flatten(obj: Any, name: str, arrays: dict[str, np.ndarray]) -> Any:
    """The JSON skeleton of ``obj`` (dicts with string keys, lists, tuples, ndarrays, numbers,
    bools, strings, None), its arrays moved to ``arrays`` under dotted names."""
    if isinstance(obj, np.ndarray):
        if name in arrays:
            raise ValueError(f"two arrays of the training state are both named {name!r}")
        arrays[name] = obj
        return {"$array": name}
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            raise TypeError(f"{name or 'state'}: keys must be strings to checkpoint, got {list(obj)}")
        return {k: flatten(v, f"{name}.{k}" if name else k, arrays) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [flatten(v, f"{name}.{i}" if name else str(i), arrays) for i, v in enumerate(obj)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else {"$float": repr(value)}   # 'nan', 'inf', '-inf'
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"{name or 'state'}: a {type(obj).__name__} cannot go into a checkpoint "
                    "(training state must be arrays and numbers)")


def unflatten(skeleton: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Inverse of ``flatten``: arrays are copied out of ``arrays``."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {"$array"}:
            return np.array(arrays[skeleton["$array"]])
        if set(skeleton) == {"$float"}:
            return float(skeleton["$float"])
        return {k: unflatten(v, arrays) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [unflatten(v, arrays) for v in skeleton]
    return skeleton


def copy_checkpoint(arrays: dict[str, np.ndarray], meta: dict) -> tuple[dict, dict]:
    """Independent copies of a checkpoint's parts (for sinks that keep it in memory)."""
    return {k: np.array(v) for k, v in arrays.items()}, copy.deepcopy(meta)

