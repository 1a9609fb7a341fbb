"""Every registry entry, walked: its name is accepted by the config key (or option) that chooses from
its registry, ``rnnctl keys --markdown`` lists it, and its target resolves to the expected kind of
object. Entries are collected from rnnctl.registry when the tests are, so a new built-in entry is
tested with no change here; ``test_an_entry_registered_now_is_walked_too`` shows that an entry
registered from Python passes the same walk."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnctl.cli import app
from rnnctl.config import Config, TaskConfig, apply_overrides, config_from_dict
from rnnctl.errors import ConfigError
from rnnctl.registry import REGISTRIES, Registry

BASE = {"task": {"name": "addition", "length": 20}}
ENTRIES = [(kind, name) for kind, registry in REGISTRIES.items() for name in registry.names()]


def keys_markdown() -> str:
    result = CliRunner().invoke(app, ["keys", "--markdown"])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def markdown() -> str:
    return keys_markdown()


def schema_field(key: str) -> dataclasses.Field | None:
    """The Config field at dotted ``key`` (None for a command-line option such as --executor)."""
    cls, found = Config, None
    for part in key.split("."):
        fields = {f.name: f for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
        if part not in fields:
            return None
        found, cls = fields[part], typing.get_type_hints(cls)[part]
    return found


def check_interface(kind: str, registry: Registry, name: str, target) -> None:
    meta = registry.meta(name)
    if kind == "cells":
        from rnnctl.model import Cell
        assert isinstance(target, Cell) and target.name == name
        assert target.gates == meta["gates"] and target.vanilla == meta["vanilla"]
        assert type(target).forward_unchecked is not Cell.forward_unchecked
        assert type(target).backward_unchecked is not Cell.backward_unchecked
    elif kind == "tasks" and meta.get("data"):
        # a real-data source: a function of task.* keys (and the split fractions) -> a dataset
        params = inspect.signature(target).parameters
        needed = {n for n, p in params.items() if p.default is inspect.Parameter.empty}
        assert needed <= {"path", "format"}   # the config gives everything else a default
        assert set(params) & {"fractions", "source", "limit", "path"}
        assert meta.get("extra") is None or isinstance(meta["extra"], str)
    elif kind == "tasks":
        from rnnctl.model import LOSSES
        from rnnctl.tasks import Batch, Task
        assert inspect.isclass(target) and issubclass(target, Task) and target.name == name
        task = target()
        assert task.loss in LOSSES   # and every parameter it takes is a task.* config key:
        assert set(task.params) <= {f.name for f in dataclasses.fields(TaskConfig)}
        batch = task.sample(np.random.default_rng(0), 2, max(task.min_length, 10))
        assert isinstance(batch, Batch) and batch.u.shape[1:] == (2, task.n_in)
    elif kind == "transforms":
        assert isinstance(meta.get("threshold"), bool) and isinstance(meta.get("auto"), bool)
        assert meta["threshold"] or not meta["auto"]   # auto sets a threshold the method must take
        from rnnctl.transforms import Method
        assert isinstance(target, Method)
        assert (target.statistic is not None) == meta["auto"]   # threshold=auto averages its statistic
    elif kind in ("optimizers", "schedules"):
        assert callable(target)
    elif kind == "executors":
        from rnnctl.executors import Backend
        assert inspect.isclass(target) and issubclass(target, Backend)
    else:
        raise AssertionError(f"registry {kind!r} has no interface check: add one here")


def walk(kind: str, name: str, markdown: str) -> None:
    registry = REGISTRIES[kind]
    assert registry.check(name) == name
    # the config key that chooses from this registry accepts the name (and is declared with it)
    field = schema_field(registry.key)
    if registry.key.startswith("--"):
        assert field is None   # a command-line option (rnnctl sweep --executor), not a config key
    else:
        assert field is not None and field.metadata.get("choices") is registry, registry.key
        extra = ["task.path=x.txt", "task.format=text"] if (kind, name) == ("tasks", "file") else []
        cfg = config_from_dict(apply_overrides(BASE, [f"{registry.key}={name}", *extra]))
        value = cfg
        for part in registry.key.split("."):
            value = getattr(value, part)
        assert value == name
    # rnnctl keys --markdown lists it, with its key
    assert f"| `{registry.key}` | `{name}` |" in markdown
    check_interface(kind, registry, name, registry.get(name))   # the target imports


@pytest.mark.parametrize("kind, name", ENTRIES, ids=[f"{k}:{n}" for k, n in ENTRIES])
def test_every_registry_entry(kind, name, markdown):
    walk(kind, name, markdown)


def test_every_registry_is_walked():
    assert set(REGISTRIES) == {"cells", "tasks", "transforms", "optimizers", "schedules", "executors"}
    assert all(len(r) for r in REGISTRIES.values())


def test_an_entry_registered_now_is_walked_too():
    """A task registered from Python passes the same walk: the config takes it, keys lists it."""
    from rnnctl.tasks import Batch, Task, register
    from rnnctl.tasks.base import one_hot

    @register
    class Echo(Task):
        """Echo the last symbol (a test task)."""
        name, n_in, n_out, loss, scored, min_length = "echo_registry_test", 3, 3, "softmax_ce", "last", 1

        def _generate(self, rng, batch_size, length):
            s = rng.integers(0, 3, size=(length, batch_size))
            return Batch(u=one_hot(s, 3), target=s[-1].astype(np.int64), length=length)

    try:
        assert ("tasks", "echo_registry_test") not in ENTRIES   # collected before it existed
        walk("tasks", "echo_registry_test", keys_markdown())
    finally:
        REGISTRIES["tasks"].unregister("echo_registry_test")
    with pytest.raises(ConfigError):
        config_from_dict(apply_overrides(BASE, ["task.name=echo_registry_test"]))
