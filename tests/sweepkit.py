"""Shared by the sweep tests (test_sweep*.py): a tiny base config (8 units, length 12, 30 updates:
every run well under a second), a fixture writing specs around it, and small helpers."""

import textwrap
from pathlib import Path

import pytest

from rnnctl import sweep as sw

REPO = Path(__file__).resolve().parents[1]

BASE = textwrap.dedent("""\
    base:
      task: {name: temporal_order, length: 12}
      model: {hidden: 8}
      train:
        steps: 30
        batch_size: 4
        optimizer: {lr: 0.05}
      eval: {every: 10, sequences: 50, batch_size: 25, stop_on_success: false}
""")


@pytest.fixture
def spec(write_config):
    """Write a sweep spec (the tiny base inline, runs under tmp_path/runs); return its path."""
    def write(body: str, name: str = "s.yaml", base: str = BASE) -> Path:
        return write_config(base + textwrap.dedent(body), name)
    return write


def jobs_of(path, overrides=()):
    return sw.expand(sw.load_sweep(path, list(overrides)))


def run(path, executor="thread", workers=2, overrides=(), **kw):
    s = sw.load_sweep(path, list(overrides))
    return s, sw.run_sweep(s, executor=executor, workers=workers, **kw)


def statuses(result):
    return [r["status"] for r in result.runs]
