"""``check_runnable``: the config rules that need the task or the model, checked before anything runs.

A Config that validates can still describe a run that cannot start: a task that cannot be posed in
the chosen architecture, lengths below what the task can generate, Pascanu's Ω or truncated BPTT
on an architecture they are not defined for. Each of these used to surface only at run time, after
a run folder existed (or half a sweep had run). ``check_runnable`` builds the task (cheap: no
model, no data) and checks them all, so that ``--dry-run``, ``train()`` and a sweep's expansion
reject such a config first. It imports rnnctl.tasks (and so NumPy, but not Numba) when called;
importing rnnctl.config stays free of it.
"""

from __future__ import annotations

import os

from rnnctl.errors import ConfigError

from .schema import Config


def check_runnable(cfg: Config) -> None:
    """Raise ConfigError (key, and file:line when the config came from a file) for the first rule
    the config breaks that only the task or the model can tell; return None when it can run."""
    try:
        _check(cfg)
    except ConfigError as e:
        origins = getattr(cfg, "_origins", None)  # set by load_config / config_from_dict
        if origins is None or e.source is not None:
            raise
        raise origins.error(e.message, e.key, e.suggestion) from None


def _check(cfg: Config) -> None:
    # NumPy, not Numba: the tasks know their archs, lengths and losses without the model's kernels
    from rnnctl.tasks import make_task
    from rnnctl.tasks.base import GENERATING, LOSSES, resolve_arch

    sampler = make_task(cfg)   # the task's own parameter and length rules (task.length >= minimum)
    task = sampler.task
    if cfg.task.data:   # real data: loaded now, so a bad file fails before any run folder exists
        from rnnctl.tasks.real import check_splits, selection_metric
        selection_metric(cfg, task)
        check_splits(cfg, sampler.dataset)
    if task.loss not in LOSSES:
        raise ConfigError(f"task {task.name!r} has loss {task.loss!r}, which the model does not "
                          f"provide (available: {', '.join(LOSSES)})", key="task.name")
    arch = resolve_arch(cfg.model.arch, task)  # task and architecture fit
    _check_task_shape(task, arch, sampler.max_steps)
    _check_memory(cfg, task, sampler.max_steps)
    generates = arch in GENERATING
    if cfg.train.regularizer.omega > 0 and generates:
        raise ConfigError("Pascanu's regularizer is defined for the single-layer vanilla RNN read out "
                          f"from its input alone (many_to_one, many_to_many); this model is {arch}",
                          key="train.regularizer.omega")
    bptt = cfg.train.bptt
    if bptt.k1 is not None:
        if generates:
            raise ConfigError(f"truncated BPTT applies to many_to_one and many_to_many models; this "
                              f"model is {arch}", key="train.bptt.k1")
        if arch != "many_to_one" and bptt.k2 is not None and bptt.k2 != bptt.k1:
            raise ConfigError("with a loss at every step, windows do not overlap: set k2 = k1 (or leave "
                              "it out)", key="train.bptt.k2")


def _check_task_shape(task, arch: str, steps: int) -> None:
    """What the model will ask of every batch, checked on the task's declarations: its scoring
    matches the architecture's, and a many_to_many / one_to_many model gets as many targets as
    steps (a task registered from Python may declare archs it cannot serve)."""
    where = f"task {task.name!r} posed as {arch}"
    if (task.scored == "last") != (arch == "many_to_one"):
        scored, readers = (("the last step", "many_to_one reads") if task.scored == "last"
                           else ("every step", "the other archs read"))
        raise ConfigError(f"{where}: the task is scored at {scored}, which only {readers} out",
                          key="model.arch")
    out = task.output_steps(steps)
    if arch == "many_to_many" and out != steps:
        raise ConfigError(f"{where}: its targets have {out} steps for {steps} input steps; "
                          f"many_to_many reads out at every input step", key="model.arch")
    if arch == "one_to_many" and out < steps:
        raise ConfigError(f"{where}: its targets have {out} steps, fewer than the {steps} input steps",
                          key="model.arch")


def physical_memory() -> int | None:
    """This machine's RAM in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def memory_lower_bound(cfg: Config, n_in: int, n_out: int, steps: int) -> tuple[int, int]:
    """(bytes of parameters and their gradient, bytes of one batch's hidden states and inputs over
    ``steps``): a lower bound of what training needs (the kernels keep more: gate activations,
    optimizer state, the readout's outputs), so that a config refused here could never have run.
    The inputs are float64 (steps, rows, n_in) whatever the model's dtype: a text's one-hot inputs
    over a vocabulary of every Unicode character are 8.9 MB per step and row."""
    from rnnctl.registry import CELLS
    m = cfg.model
    size = 4 if m.dtype == "float32" else 8
    gates = max(1, len(CELLS.meta(m.cell).get("gates") or ()))
    params = sum(gates * m.hidden * ((n_in if layer == 0 else m.hidden) + m.hidden + 1)
                 for layer in range(m.layers)) + n_out * (m.hidden + 1)
    rows = max(cfg.train.batch_size, min(cfg.eval.batch_size, cfg.eval.sequences))
    if cfg.task.data:   # real data is scored in batches capped in memory (streams: one row)
        rows = cfg.train.batch_size
    return 2 * params * size, steps * rows * (m.hidden * m.layers * size + n_in * 8)


def _gib(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB" if n < 2**70 else f"about 2^{n.bit_length()} bytes"


def _check_memory(cfg: Config, task, steps: int) -> None:
    """A model whose parameters and one batch's states alone exceed this machine's memory cannot
    start (model.hidden=100000, task.length=10**7 with a large batch): refused before any folder."""
    ram = physical_memory()
    if ram is None:
        return
    params, states = memory_lower_bound(cfg, task.n_in, task.n_out, steps)
    if params + states <= ram:
        return
    key = ("model.hidden" if params >= states else
           "train.batch_size" if cfg.task.data or cfg.train.batch_size >= min(cfg.eval.batch_size, cfg.eval.sequences)
           else "eval.batch_size")
    raise ConfigError(f"this run needs at least {_gib(params + states)} of memory (parameters and "
                      f"gradient {_gib(params)}; inputs and hidden states of a batch over {steps} steps "
                      f"{_gib(states)}), more than this machine's {_gib(ram)}: reduce model.hidden, "
                      "the batch sizes or the length", key=key)
