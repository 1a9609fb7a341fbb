"""The size of the run folder a config implies at its full ``train.steps`` (``store.sizes`` knows
how each file grows; this module reads the numbers it needs from the config and its task: the
trace columns, T_max, the parameter count, the optimizer's state). No model is built and no kernel
loaded, so ``rnnctl train --dry-run`` stays quick whatever the model's size."""

from __future__ import annotations

import numpy as np

from .store.layout import TRACE_COLUMNS
from .store.sizes import WARN_BYTES, FolderSize, projected_size, size_warning


def projected_folder_size(config) -> FolderSize:
    """File by file, the bytes a run of ``config`` leaves after ``train.steps`` updates."""
    from .config.runnable import memory_lower_bound
    from .optim import build_optimizer
    from .registry import CELLS
    from .tasks import make_task
    from .tasks.base import resolve_arch
    from .transforms import method_columns
    m, t, log = config.model, config.train, config.log
    sampler = make_task(config)
    task, steps = sampler.task, sampler.max_steps
    if resolve_arch(m.arch, task) == "encoder_decoder":
        steps += task.output_steps(steps)          # as Session: the decoder's steps follow the encoder's
    itemsize = 4 if m.dtype == "float32" else 8
    params = memory_lower_bound(config, task.n_in, task.n_out, steps)[0] // (2 * itemsize)
    gates = len(CELLS.meta(m.cell).get("gates") or ())
    # norm.<group>: each parameter (W_in, W_rec, b per layer; W_out, b_out), and each gate block of
    # the first three for gated cells (Model.grad_groups)
    groups = m.layers * 3 * (1 + (gates if gates > 1 else 0)) + 2
    columns = (*TRACE_COLUMNS, "length", *method_columns(t.gradient),
               *(("omega", "omega_steps") if t.regularizer.omega > 0 else ()),
               *(("skipped",) if t.gradient.nonfinite == "skip" else ()), *(["norm.g"] * groups))
    theta = np.zeros(params, np.float32 if m.dtype == "float32" else np.float64)   # calloc: untouched pages
    opt_bytes = sum(a.nbytes for a in _arrays(build_optimizer(t.optimizer).init(theta)))
    reservoir = log.backprop_peaks * m.layers * (steps + 1) * 4 if log.backprop_every == "auto" else 0
    lo, hi = getattr(sampler, "min_length", None), getattr(sampler, "max_length", None)
    buckets = min(config.eval.length_buckets, hi - lo) if lo is not None and hi is not None and hi > lo else 0
    return projected_size(
        t.steps, trace_columns=columns, max_steps=steps, layers=m.layers, params=params,
        itemsize=itemsize, backprop_every=log.backprop_every, backprop_dense=log.backprop_dense,
        backprop_peaks=log.backprop_peaks, params_every=log.params_every, eval_every=config.eval.every,
        length_buckets=buckets, probe_every=log.probe_every,
        checkpoint_bytes=theta.nbytes + opt_bytes + reservoir)


def _arrays(obj):
    """The arrays inside a state of dicts and lists (an optimizer's)."""
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _arrays(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _arrays(v)


def folder_size_warning(config, threshold: int = WARN_BYTES) -> str | None:
    """The line ``rnnctl train`` prints on stderr before a run whose folder would exceed
    ``threshold`` bytes at its full length; None when it stays under."""
    return size_warning(projected_folder_size(config), config.train.steps, threshold)
