"""check_runnable (rnnctl.config.runnable): the config rules that need the task or the model, checked
before anything runs; each is one that training enforces too."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rnnctl.config import check_runnable, config_from_dict, load_config
from rnnctl.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def error_of(fn, *args, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        fn(*args, **kwargs)
    return info.value


def runnable_error(data: dict, source: str | None = None) -> ConfigError:
    return error_of(check_runnable, config_from_dict(data, source=source))


BASE = {"task": {"name": "temporal_order", "length": 12}}
NOT_RUNNABLE = [
    # (changes to BASE, the key named, words of the message)
    ({"model": {"arch": "many_to_many"}}, "model.arch", "cannot be posed as many_to_many"),
    ({"task": {"name": "sequence_reversal", "length": 5}, "model": {"arch": "one_to_many"}},
     "model.arch", "supports encoder_decoder"),
    ({"task": {"name": "temporal_order", "length": 5}}, "task.length", "needs length >= 10"),
    ({"task": {"name": "addition", "min_length": 4, "max_length": 30}}, "task.min_length",
     "needs min_length >= 10"),
    ({"task": {"name": "class_to_sequence", "length": 5}, "train": {"regularizer": {"omega": 1.0}}},
     "train.regularizer.omega", "one_to_many"),
    ({"task": {"name": "sequence_reversal", "length": 5}, "train": {"regularizer": {"omega": 1.0}}},
     "train.regularizer.omega", "encoder_decoder"),
    ({"task": {"name": "class_to_sequence", "length": 5}, "train": {"bptt": {"k1": 2}}},
     "train.bptt.k1", "one_to_many"),
    ({"task": {"name": "sequence_reversal", "length": 5}, "train": {"bptt": {"k1": 2}}},
     "train.bptt.k1", "encoder_decoder"),
    ({"task": {"name": "noiseless_memorization", "length": 5, "n_positions": 2},
      "train": {"bptt": {"k1": 2, "k2": 4}}}, "train.bptt.k2", "set k2 = k1"),
]


@pytest.mark.parametrize("changes, key, words", NOT_RUNNABLE)
def test_check_runnable_rejects_what_would_fail_at_run_time(changes, key, words):
    err = runnable_error({**BASE, **changes})
    assert err.key == key and words in err.message


@pytest.mark.parametrize("changes, key, words", NOT_RUNNABLE)
def test_each_rule_is_one_that_training_enforces(changes, key, words):
    """The same configs, given to train(), fail with the same key: check_runnable only moves the
    failure before anything runs."""
    from rnnctl.training import MemorySink, train
    cfg = config_from_dict({**BASE, **changes, "train": {**changes.get("train", {}), "steps": 1},
                            "eval": {"every": 1, "sequences": 2, "batch_size": 2}})
    with pytest.raises(ConfigError) as info:
        train(cfg, MemorySink())
    assert info.value.key == key


@pytest.mark.parametrize("changes", [
    {},
    {"task": {"name": "class_to_sequence", "length": 5}, "model": {"arch": "many_to_many"}},
    {"train": {"bptt": {"k1": 3, "k2": 6}}},                    # last-step loss: k2 > k1 is fine
    {"task": {"name": "noiseless_memorization", "length": 5}, "train": {"bptt": {"k1": 3}}},
    {"model": {"cell": "gru", "layers": 2}, "train": {"regularizer": {"omega": 0.0}}},
    {"task": {"name": "addition", "length": 50}, "train": {"regularizer": {"omega": 2.0}}},
])
def test_check_runnable_accepts_runnable_configs(changes):
    assert check_runnable(config_from_dict({**BASE, **changes})) is None


def test_every_shipped_config_is_runnable():
    for path in sorted((REPO / "configs").rglob("*.yaml")):
        # sweep specs (the lesson's too) and figure configs are not experiment configs; real-data
        # configs load data: tests/test_real_configs.py
        if not {"sweeps", "real", "figures"} & set(path.parts) and path.name != "lesson.yaml":
            check_runnable(load_config(path))


def test_check_runnable_points_at_the_file_line_or_override(tmp_path):
    path = write(tmp_path, "task:\n  name: temporal_order\n  length: 12\nmodel:\n  arch: many_to_many\n")
    err = error_of(check_runnable, load_config(path))
    assert (err.source, err.line, err.key) == (str(path), 5, "model.arch")
    assert str(err).startswith(f"{path}:5: model.arch: task 'temporal_order' cannot be posed")
    err = error_of(check_runnable, load_config(path, ["model.arch=auto", "task.length=3"]))
    assert (err.source, err.key) == ("override 'task.length=3'", "task.length")
    assert runnable_error({**BASE, "model": {"arch": "many_to_many"}}, source="d.yaml").source == "d.yaml"


@pytest.mark.parametrize("attrs, arch, key, words", [
    ({"loss": "hinge"}, "auto", "task.name", "loss 'hinge'"),
    ({"scored": "all", "compatible_archs": ("many_to_many", "many_to_one")}, "many_to_one",
     "model.arch", "scored at every step"),
    ({"scored": "all", "output_steps": lambda self, steps: steps - 1}, "auto", "model.arch",
     "many_to_many reads out at every input step"),
    ({"scored": "all", "arch": "one_to_many", "output_steps": lambda self, steps: steps - 1}, "auto",
     "model.arch", "fewer than"),
])
def test_check_runnable_checks_a_python_tasks_declarations(attrs, arch, key, words):
    """A task registered from Python may declare more than it can serve; the model would fail on
    its first batch."""
    from rnnctl.registry import TASKS
    from rnnctl.tasks import Task
    cls = type("Odd", (Task,), {"name": "odd_task", "n_in": 2, "n_out": 2, "loss": "softmax_ce",
                                "scored": "last", "min_length": 1, **attrs})
    TASKS.register("odd_task", cls)
    try:
        err = runnable_error({"task": {"name": "odd_task", "length": 4}, "model": {"arch": arch}})
    finally:
        TASKS.unregister("odd_task")
    assert err.key == key and words in err.message


def test_check_runnable_needs_no_kernels():
    """--dry-run calls it: the tasks (NumPy) answer, Numba is not loaded."""
    import os
    import subprocess
    import sys
    code = ("import sys; from rnnctl.config import check_runnable, load_config; "
            "check_runnable(load_config('configs/quickstart.yaml')); print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}).stdout.strip()
    assert out == "False"


def test_the_losses_tasks_may_declare_are_the_models():
    from rnnctl.model import LOSSES
    from rnnctl.tasks.base import LOSSES as declared
    assert set(LOSSES) == set(declared)
