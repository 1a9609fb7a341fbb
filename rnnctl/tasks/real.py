"""Real data as a task: the dataset a config names, and the task-shaped view of it the model and
the config checks read (inputs, outputs, loss, what is scored, the architecture).

    >>> sampler = make_task(config)        # config.task.name: file, text, chorales, ...
    >>> sampler.dataset                    # rnnctl.data.Dataset or StreamDataset
    >>> sampler.task.n_in, sampler.task.loss, sampler.task.scored

Training batches and evaluation on real data are not drawn from an rng as the generators' are:
they come from the dataset's splits (rnnctl.training.feed, rnnctl.data.scoring).
"""

from __future__ import annotations

import inspect
import os

from rnnctl.errors import ConfigError, DataError
from rnnctl.registry import TASKS

# task.* keys a source function may take (its signature says which), and how they are passed
_OPTIONS = ("source", "path", "format", "split_seed", "limit", "horizon", "text_column", "label_column",
            "source_column", "target_column", "level", "vocab_size", "max_pair_length", "reverse_source")

# metrics a dataset's evaluation reports, by (kind, loss, arch); the first is the default selection metric
_METRICS = {
    ("stream", "softmax_ce"): ("bpc", "nll", "accuracy"),
    ("stream", "mse"): ("mse", "mae", "baseline_mse", "baseline_mae"),
    ("sequences", "softmax_ce"): ("accuracy", "nll"),
    ("sequences", "sigmoid_ce"): ("nll", "frame_accuracy"),
    ("sequences", "mse"): ("mse", "mae"),
    ("pairs", "softmax_ce"): ("chrf", "exact_match", "bleu", "nll", "accuracy"),
}
HIGHER_IS_BETTER = ("accuracy", "frame_accuracy", "chrf", "exact_match", "bleu")


class DataTask:
    """What the model needs to know of a dataset, in the shape of rnnctl.tasks.Task."""

    min_length = 1

    def __init__(self, name: str, dataset):
        self.name, self.dataset = name, dataset
        self.n_in, self.n_out, self.loss = dataset.n_in, dataset.n_out, dataset.loss
        self.arch = dataset.arch
        self.scored = "last" if self.arch == "many_to_one" else "all"

    natural_arch = property(lambda self: self.arch)
    archs = property(lambda self: (self.arch,))

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metric names an evaluation of this dataset reports (besides the loss)."""
        return _METRICS[(self.dataset.kind, self.loss)]

    def output_steps(self, input_steps: int) -> int:
        """Steps of the targets: the input's, or for pairs the longest target (decoder steps)."""
        if self.dataset.kind == "pairs":
            return int(self.dataset.tgt_lengths.max())
        return int(input_steps)

    def __repr__(self) -> str:
        return f"DataTask({self.name!r}, {self.dataset.source!r})"


class DataSampler:
    """A dataset and its task view. ``window``: the training window of a stream (task.length)."""

    def __init__(self, name: str, dataset, window: int | None):
        self.task, self.dataset, self.window = DataTask(name, dataset), dataset, window
        self.fixed = True

    @property
    def stream(self) -> bool:
        return self.dataset.kind == "stream"

    @property
    def max_steps(self) -> int:
        """Largest u.shape[0] of a training batch: the window (streams) or the longest sequence."""
        return int(self.window) if self.stream else int(self.dataset.lengths.max())

    def __repr__(self) -> str:
        return f"DataSampler({self.task!r}, window={self.window})"


def selection_metric(config, task: DataTask) -> tuple[str, str]:
    """(metric, 'min' | 'max'): eval.metric, or the task's first metric; ConfigError if the dataset
    does not report it."""
    metric = config.eval.metric or task.metrics[0]
    allowed = ("loss",) + task.metrics
    if metric not in allowed:
        raise ConfigError(f"the {task.name!r} data reports {', '.join(allowed)}; got {metric!r}",
                          key="eval.metric")
    return metric, "max" if metric in HIGHER_IS_BETTER else "min"


def check_splits(config, dataset) -> None:
    """The splits a run reads, checked as it will read them (for ``--dry-run``: a dataset too small
    for its split fractions loads, then fails the run at its first batch or evaluation): the train
    split feeds the batches, valid every evaluation, test the final scores. DataError naming the
    split and what to change."""
    if dataset.kind == "stream":
        dataset.stream_steps(config.train.batch_size, config.task.length)
        empty = [s for s in ("valid", "test") if dataset.steps(s) < 1]
        what = "steps to score"
    else:
        empty = [s for s in ("train", "valid", "test") if dataset.indices(s).size == 0]
        what = "sequences"
    if empty:
        raise DataError(f"{dataset.source}: the {' and '.join(empty)} split{'s' if len(empty) > 1 else ''} "
                        f"would hold no {what} (sizes {dataset.sizes()}); a run validates on valid and "
                        "scores test at the end: use more data or change task.valid_fraction and "
                        "task.test_fraction")


def make_data_task(config) -> DataSampler:
    """The sampler of a real-data config (task.name with meta data=True)."""
    tc = config.task
    dataset = load_data(tc)
    if dataset.kind == "stream":
        if tc.length is None:
            raise ConfigError("a stream is trained in windows of task.length steps (truncated BPTT "
                              "with the state carried across windows); give task.length, e.g. 100",
                              key="task.length")
        if config.train.bptt.k1 is not None:
            raise ConfigError("a stream is already trained in windows of task.length with the state "
                              "carried: leave train.bptt out", key="train.bptt.k1")
    elif tc.length is not None:
        raise ConfigError(f"{dataset.source} is a set of sequences with their own lengths; task.length "
                          "applies to streams (text, a single series)", key="task.length")
    elif config.train.bptt.k1 is not None:
        raise ConfigError("truncated BPTT is not available on padded sets of sequences",
                          key="train.bptt.k1")
    if dataset.kind == "pairs":
        from rnnctl.data.translation import require_sacrebleu
        require_sacrebleu()   # the metrics of translation: refused before a run folder exists
        empty = [name for name, n in dataset.sizes().items() if n == 0]
        if empty:   # model selection needs valid pairs, the final scores test pairs
            raise DataError(f"{dataset.source}: {len(dataset)} pairs leave the {' and '.join(empty)} split(s) "
                            "empty; give more pairs or raise task.valid_fraction / task.test_fraction")
    return DataSampler(tc.name, dataset, tc.length)


_CACHE: dict = {}


def load_data(tc):
    """The dataset task config ``tc`` names, loaded once per process (config checks and training
    ask for it in turn; a changed file is loaded again)."""
    fn = TASKS.get(tc.name)
    fractions = (1.0 - tc.valid_fraction - tc.test_fraction, tc.valid_fraction, tc.test_fraction)
    takes = inspect.signature(fn).parameters
    kwargs = {k: getattr(tc, k) for k in _OPTIONS if k in takes and getattr(tc, k) is not None}
    if "fractions" in takes:
        kwargs["fractions"] = fractions
    for key in ("source", "limit"):
        if getattr(tc, key) is not None and key not in takes:
            raise ConfigError(f"task {tc.name!r} takes no task.{key}", key=f"task.{key}")
    stamp = None
    if tc.path is not None:
        try:
            st = os.stat(tc.path)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
    key = (tc.name, repr(sorted(kwargs.items())), stamp)
    if key not in _CACHE:
        dataset = fn(**kwargs)
        if dataset.kind == "sequences" and dataset.arch not in ("many_to_one", "many_to_many"):
            raise DataError(f"{dataset.source}: unsupported arch {dataset.arch!r}")
        _CACHE.clear()   # one dataset at a time: a sweep's worker moves from job to job
        _CACHE[key] = dataset
    return _CACHE[key]
