"""eval.success_error = 0 ("no error at all") and changing it on resume (issue 22): a run solved
under the per-length rule at 1% is extended with `rnnctl resume RUN train.steps=N
eval.success_error=0` and trains on until an evaluation makes no error."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnctl.cli import app
from rnnctl.config import load_config
from rnnctl.errors import ConfigError
from rnnctl.store import RunFolder, load_checkpoint, read_metrics, read_params, read_run, read_trace, save_checkpoint
from rnnctl.training import resume_run, train
from rnnctl.training.evaluation import solved
from rnnctl.training.extend import EXTENDABLE, identity

runner = CliRunner()

# learns within a few hundred updates: first under 60% error at update 120, no error at 210
EASY = """
    name: easy
    seed: 1
    task: {name: temporal_order, length: 12}
    model: {hidden: 8}
    train:
      steps: 300
      batch_size: 4
      optimizer: {lr: 0.05}
      gradient: {method: norm, threshold: 1.0}
    eval: {every: 10, sequences: 20, batch_size: 20, success_error: 0.6}
"""


def test_zero_means_no_error_and_positive_stays_strictly_under():
    rows = lambda *e: {"error": sum(e) / len(e), "per_length": [{"error": x} for x in e]}  # noqa: E731
    assert solved(rows(0.0, 0.0), "all_lengths", 0) and solved(rows(0.0), "mean", 0.0)
    assert not solved(rows(0.0, 1e-4), "all_lengths", 0) and not solved({"error": 1e-4}, "mean", 0)
    assert solved(rows(0.0, 0.009), "all_lengths", 0.01) and not solved(rows(0.0, 0.01), "all_lengths", 0.01)
    assert not solved({"error": 0.01}, "mean", 0.01)


def test_success_error_accepts_zero_and_rejects_outside_the_unit_interval(write_config):
    path = write_config(EASY)
    assert load_config(path, ["eval.success_error=0"]).eval.success_error == 0
    for bad in ("-0.01", "1.5"):
        with pytest.raises(ConfigError, match="success_error"):
            load_config(path, [f"eval.success_error={bad}"])


def test_a_solved_run_extended_with_zero_trains_on_until_no_error(write_config, tmp_path):
    path = write_config(EASY)
    folder = RunFolder.create(tmp_path / "runs", "easy", "a")
    first = train(load_config(path), folder)
    assert first.status == "succeeded"
    at = first.summary["success_update"]
    assert 0 < read_metrics(folder.path)[-1]["error"] < 0.6 and first.summary["success_error"] == 0.6

    r = runner.invoke(app, ["resume", str(folder.path), "train.steps=2000", "eval.success_error=0", "-q", "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["resumed"][-1]["changes"] == {"train.steps": 2000, "eval.success_error": 0.0}
    assert info["resumed"][-1]["update"] == at
    metrics = read_metrics(folder.path)
    after = [m for m in metrics if m["update"] > at]
    # it went on past its first success, every evaluation but the last made errors, the last none
    assert len(after) >= 2 and all(m["error"] > 0 for m in after[:-1]) and after[-1]["error"] == 0
    assert info["status"] == read_run(folder.path)["status"] == "succeeded"
    assert info["success_update"] == info["updates"] == after[-1]["update"] < 2000 and info["success_error"] == 0

    # the numbers of a run that had eval.success_error=0 from the start
    whole = RunFolder.create(tmp_path / "whole", "easy", "w")
    train(load_config(path, ["train.steps=2000", "eval.success_error=0"]), whole)
    a, b = read_trace(whole.path), read_trace(folder.path)
    assert list(a) == list(b) and all(np.array_equal(a[c], b[c]) for c in a)
    strip = lambda ms: [{k: v for k, v in m.items() if k != "time"} for m in ms]  # noqa: E731
    assert strip(read_metrics(whole.path)) == strip(metrics)
    pa, pb = read_params(whole.path, "final"), read_params(folder.path, "final")
    assert all(np.array_equal(pa[k], pb[k]) for k in pa)


def test_a_checkpoint_from_before_the_key_was_changeable_is_judged_again(write_config, tmp_path):
    """A run written when only train.steps and eval.stop_on_success could change (its checkpoint's
    identity defaults those two alone; its summary does not record the threshold) still resumes,
    and its success under the old threshold is judged again under the new one."""
    path = write_config(EASY)
    folder = RunFolder.create(tmp_path / "runs", "easy", "old")
    at = train(load_config(path), folder).summary["success_update"]
    ck = load_checkpoint(folder.path)
    ck.meta["identity"] = identity(load_config(path), EXTENDABLE[:2])
    del ck.meta["state"]["summary"]["success_error"]
    save_checkpoint(folder.path, ck.arrays, ck.meta)
    config, run, checkpoint = resume_run(folder.path, ["train.steps=2000", "eval.success_error=0"])
    result = train(config, run, resume=checkpoint)
    assert result.status == "succeeded" and result.summary["success_update"] > at
    assert read_metrics(folder.path)[-1]["error"] == 0


def test_resuming_with_the_same_threshold_keeps_the_success(write_config, tmp_path):
    path = write_config(EASY)
    folder = RunFolder.create(tmp_path / "runs", "easy", "b")
    at = train(load_config(path, ["eval.stop_on_success=false", "train.steps=130"]), folder).summary["success_update"]
    config, run, checkpoint = resume_run(folder.path, ["train.steps=150"])
    assert train(config, run, resume=checkpoint).summary["success_update"] == at
