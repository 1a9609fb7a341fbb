"""The size of the run folder a config implies at its full ``train.steps`` (``store.sizes`` knows
how each file grows; this module reads the numbers it needs from what the config builds: the trace
columns, T_max, the parameter count, the checkpoint's arrays)."""

from __future__ import annotations

from ..store.sizes import FolderSize, WARN_BYTES, projected_size, size_warning
from .session import Session
from .state import TrainState, to_checkpoint


def projected_folder_size(config) -> FolderSize:
    """File by file, the bytes a run of ``config`` leaves after ``train.steps`` updates."""
    run = Session(config)
    log = config.log
    state = TrainState(0, run.theta, run.optimizer.init(run.theta), run.pipeline.init(run.theta),
                       run.rng_data, run.rng_eval, backprop=run.backprop.init())
    arrays, _ = to_checkpoint(state, run.identity)
    layers, width = run.backprop.shape
    lo, hi = getattr(run.sampler, "min_length", None), getattr(run.sampler, "max_length", None)
    buckets = min(config.eval.length_buckets, hi - lo) if lo is not None and hi is not None and hi > lo else 0
    return projected_size(
        config.train.steps, trace_columns=run.columns, max_steps=width - 1, layers=layers,
        params=run.theta.size, itemsize=run.theta.itemsize, backprop_every=log.backprop_every,
        backprop_dense=log.backprop_dense, backprop_peaks=log.backprop_peaks,
        params_every=log.params_every, eval_every=config.eval.every,
        length_buckets=buckets, probe_every=log.probe_every if run.probes else 0,
        checkpoint_bytes=sum(a.nbytes for a in arrays.values()))


def folder_size_warning(config, threshold: int = WARN_BYTES) -> str | None:
    """The line ``rnnctl train`` prints on stderr before a run whose folder would exceed
    ``threshold`` bytes at its full length; None when it stays under."""
    return size_warning(projected_folder_size(config), config.train.steps, threshold)
