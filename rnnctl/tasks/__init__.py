"""Tasks (registered in rnnctl.registry.TASKS) and the per-batch length sampler.

    >>> sampler = make_task(config)            # config.task.{name, length, min_length, ...}
    >>> batch = sampler.sample(rng, 20)        # Batch(u (T, B, n_in), target, length)
    >>> wrong = sampler.task.errors(y, batch.target)   # bool (B,)

Lengths, like the authors' RNN.py: one nominal length per batch, either fixed or drawn as
``min_length + randint(max_length - min_length)``, i.e. uniform on [min_length, max_length)
with max_length excluded; min_length == max_length means that fixed length.
"""

from __future__ import annotations

import numpy as np

from rnnctl.errors import ConfigError
from rnnctl.tasks import synthetic as _synthetic  # noqa: F401  (registers the six tasks)
from rnnctl.tasks import sequence as _sequence  # noqa: F401  (one_to_many, encoder_decoder tasks)
from rnnctl.tasks.base import TASKS, Batch, Task, register  # TASKS is rnnctl.registry.TASKS

__all__ = ["TASKS", "Batch", "Task", "TaskSampler", "make_task", "register"]


def _check_int(value, key: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"must be an integer, got {value!r}", key=key)
    return int(value)


class TaskSampler:
    """A task plus its length rule. Holds no random state: every draw uses the rng passed in.

    Give either ``length`` (fixed) or both ``min_length`` and ``max_length`` (uniform on
    [min_length, max_length), max excluded). When ``length`` is set it wins and the range is
    ignored. ``max_length == min_length`` fixes the length at ``min_length`` (as in the code).
    """

    def __init__(self, task: Task, *, length: int | None = None,
                 min_length: int | None = None, max_length: int | None = None):
        self.task = task
        if length is not None:
            length = _check_int(length, "task.length")
            if length < task.min_length:
                raise ConfigError(f"task {task.name!r} needs length >= {task.min_length}, "
                                  f"got {length}", key="task.length")
            self.min_length = self.max_length = length
        else:
            if min_length is None or max_length is None:
                missing = "task.min_length" if min_length is None else "task.max_length"
                raise ConfigError("give task.length, or both task.min_length and "
                                  "task.max_length", key=missing)
            min_length = _check_int(min_length, "task.min_length")
            max_length = _check_int(max_length, "task.max_length")
            if min_length < task.min_length:
                raise ConfigError(f"task {task.name!r} needs min_length >= {task.min_length}, "
                                  f"got {min_length}", key="task.min_length")
            if max_length < min_length:
                raise ConfigError(f"must be >= task.min_length ({min_length}); the range is "
                                  f"[min_length, max_length) with max excluded, got {max_length}",
                                  key="task.max_length")
            self.min_length, self.max_length = min_length, max_length

    @property
    def fixed(self) -> bool:
        return self.max_length <= self.min_length

    def draw_length(self, rng: np.random.Generator) -> int:
        """The nominal length of the next batch; consumes no randomness when it is fixed."""
        if self.fixed:
            return self.min_length
        return int(rng.integers(self.min_length, self.max_length))

    def sample(self, rng: np.random.Generator, batch_size: int) -> Batch:
        """One batch at one freshly drawn length (like the paper's code)."""
        return self.task.sample(rng, batch_size, self.draw_length(rng))

    @property
    def max_steps(self) -> int:
        """Largest number of time steps (``u.shape[0]``) any batch from this sampler can have."""
        longest = self.min_length if self.fixed else self.max_length - 1
        return self.task.max_steps(longest)

    def __repr__(self) -> str:
        span = (f"length={self.min_length}" if self.fixed
                else f"length in [{self.min_length}, {self.max_length})")
        return f"TaskSampler({self.task!r}, {span})"


def make_task(config) -> TaskSampler:
    """Build the sampler from ``config.task`` (attributes name, length, min_length, max_length,
    n_values, n_positions, n_classes). The task is looked up in rnnctl.registry.TASKS (a task
    registered from Python included) and receives only the fields listed in its ``params``
    (memorization: n_values, n_positions); None means "the task's default"."""
    tc = config.task
    cls = TASKS.get(tc.name)  # ConfigError naming task.name, the choices and the closest
    if TASKS.meta(tc.name).get("data"):   # real data: a dataset, not a generator (tasks.real)
        from rnnctl.tasks.real import make_data_task
        return make_data_task(config)
    kwargs = {p: getattr(tc, p) for p in cls.params if getattr(tc, p, None) is not None}
    task = cls(**kwargs)
    return TaskSampler(task, length=tc.length, min_length=tc.min_length,
                       max_length=tc.max_length)
