import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def write_config(tmp_path):
    """Write a YAML config into tmp_path; runs_dir points into tmp_path too."""
    def write(text: str, name: str = "exp.yaml") -> Path:
        path = tmp_path / name
        body = textwrap.dedent(text)
        if "runs_dir" not in body:
            body = f"runs_dir: {tmp_path / 'runs'}\n" + body
        path.write_text(body)
        return path
    return write


TINY_YAML = """
    name: tiny
    seed: 1
    task: {name: temporal_order, length: 12}
    model: {hidden: 8}
    train:
      steps: 30
      batch_size: 4
      optimizer: {lr: 0.05}
      gradient: {method: norm, threshold: 1.0}
    eval: {every: 10, sequences: 50, batch_size: 25, stop_on_success: false}
"""


@pytest.fixture
def tiny_path(write_config):
    """A tiny temporal-order config that trains in well under a second."""
    return write_config(TINY_YAML)


@pytest.fixture
def sweep_dir(tmp_path):
    """A synthetic sweep folder (tests/report_helpers.py) for the report and plot tests."""
    from report_helpers import make_sweep_dir
    return make_sweep_dir(tmp_path)


@pytest.fixture
def rich_run(tmp_path):
    """A synthetic run folder with every file a figure reads (tests/report_helpers.py)."""
    from report_helpers import make_rich_run
    return make_rich_run(tmp_path)
