"""rnnctl resume RUN_DIR [train.steps=N] [eval.stop_on_success=...]: extending an unfinished run,
and refusing every key that would change what the run computes."""

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from rnnctl.cli import app
from rnnctl.config import load_config
from rnnctl.errors import EXIT_USAGE, ConfigError
from rnnctl.store import RunFolder, config_path, has_checkpoint, read_metrics, read_params, read_run, read_trace
from rnnctl.training import Observer, resume_run, train

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


class StopAt(Observer):
    def __init__(self, update):
        self.update = update

    def on_update(self, update, loss, stats):
        if update == self.update:
            raise KeyboardInterrupt


@pytest.fixture
def interrupted(tiny_path, tmp_path):
    """A tiny run (30 updates, evaluations every 10) interrupted at 15: its checkpoint is at 10."""
    def make(*overrides):
        folder = RunFolder.create(tmp_path / "runs", "tiny", "r")
        with pytest.raises(KeyboardInterrupt):
            train(load_config(tiny_path, list(overrides)), folder, StopAt(15))
        return folder.path
    return make


def test_train_steps_extends_the_run_and_records_the_change(interrupted, tiny_path, tmp_path):
    path = interrupted()
    r = invoke("resume", path, "train.steps=50", "-q", "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["status"] == "completed" and info["updates"] == 50
    assert info["resumed"][-1]["changes"] == {"train.steps": 50} and info["resumed"][-1]["update"] == 10
    assert yaml.safe_load(config_path(path).read_text())["train"]["steps"] == 50
    assert len(read_trace(path)["update"]) == 50
    assert [m["update"] for m in read_metrics(path)] == [10, 20, 30, 40, 50]
    # the same numbers as a run configured for 50 updates from the start
    whole = RunFolder.create(tmp_path / "whole", "tiny", "w")
    train(load_config(tiny_path, ["train.steps=50"]), whole)
    a, b = read_trace(whole.path), read_trace(path)
    assert all(np.array_equal(a[c], b[c]) for c in a)


def test_stop_on_success_may_change_on_resume(interrupted):
    path = interrupted("eval.success_error=1.0")     # any error rate < 1 succeeds...
    # ...yet this run went on: stop_on_success is false in the tiny config
    r = invoke("resume", path, "eval.stop_on_success=true", "-q", "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["status"] == "succeeded" and info["updates"] == 20   # the next evaluation stops it
    assert info["resumed"][-1]["changes"] == {"eval.stop_on_success": True}


@pytest.mark.parametrize("override", ["train.optimizer.lr=0.1", "seed=3", "model.hidden=9", "eval.every=5",
                                      "train.gradient.threshold=auto"])
def test_every_other_key_is_refused_before_anything_changes(interrupted, override):
    path = interrupted()
    before = (config_path(path).read_text(), read_run(path))
    r = invoke("resume", path, override)
    assert r.exit_code == EXIT_USAGE
    key = override.partition("=")[0]
    assert key in r.stderr and "train.steps" in r.stderr and "eval.stop_on_success" in r.stderr
    assert (config_path(path).read_text(), read_run(path)) == before and has_checkpoint(path)


def test_train_steps_must_exceed_the_updates_done(interrupted):
    path = interrupted()
    with pytest.raises(ConfigError, match="more than the 10 updates") as info:
        resume_run(path, ["train.steps=10"])
    assert info.value.key == "train.steps"
    assert read_run(path)["status"] == "interrupted"


def test_a_schedule_that_spans_train_steps_cannot_be_extended(interrupted):
    path = interrupted("train.schedule.name=cosine")
    with pytest.raises(ConfigError, match="cosine schedule spans train.steps"):
        resume_run(path, ["train.steps=60"])
    config, folder, checkpoint = resume_run(path, [])     # resuming as it was is fine
    assert checkpoint.update == 10 and config.train.steps == 30


def test_a_bad_value_is_a_config_error(interrupted):
    path = interrupted()
    r = invoke("resume", path, "train.steps=-4")
    assert r.exit_code == EXIT_USAGE and "train.steps" in r.stderr


def test_a_completed_run_is_extended_to_the_numbers_of_a_longer_run(tiny_path, tmp_path):
    folder = RunFolder.create(tmp_path / "runs", "tiny", "done")
    train(load_config(tiny_path), folder)
    assert read_run(folder.path)["status"] == "completed" and has_checkpoint(folder.path)
    r = invoke("resume", folder.path, "train.steps=60", "-q", "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["status"] == "completed" and info["updates"] == 60
    assert info["resumed"][-1] == {**info["resumed"][-1], "update": 30, "changes": {"train.steps": 60}}
    whole = RunFolder.create(tmp_path / "whole", "tiny", "w")
    train(load_config(tiny_path, ["train.steps=60"]), whole)
    a, b = read_trace(whole.path), read_trace(folder.path)
    assert list(a) == list(b) and all(np.array_equal(a[c], b[c]) for c in a)
    strip = lambda ms: [{k: v for k, v in m.items() if k != "time"} for m in ms]  # noqa: E731
    assert strip(read_metrics(whole.path)) == strip(read_metrics(folder.path))
    pa, pb = read_params(whole.path, "final"), read_params(folder.path, "final")
    assert list(pa) == list(pb) and all(np.array_equal(pa[k], pb[k]) for k in pa)


def test_a_finished_run_has_nothing_to_resume_without_more_steps(tiny_path, tmp_path):
    folder = RunFolder.create(tmp_path, "tiny", "done")
    train(load_config(tiny_path), folder)
    r = invoke("resume", folder.path)
    assert r.exit_code == 5 and "nothing to resume" in r.stderr and "train.steps=N" in r.stderr
    r = invoke("resume", folder.path, "train.steps=30")       # no change: still nothing to do
    assert r.exit_code == 5 and "nothing to resume" in r.stderr
    r = invoke("resume", folder.path, "train.steps=20")
    assert r.exit_code == EXIT_USAGE and "more than the 30 updates" in r.stderr
    assert yaml.safe_load(config_path(folder.path).read_text())["train"]["steps"] == 30


def test_a_diverged_run_cannot_be_extended(tiny_path, tmp_path):
    folder = RunFolder.create(tmp_path, "tiny", "boom")
    result = train(load_config(tiny_path, ["model.activation=linear", "model.init=basic_tanh",
                                           "model.spectral_radius=3.0", "train.optimizer.lr=1e6",
                                           "train.gradient.method=none", "train.steps=200"]), folder)
    assert result.status == "diverged" and not has_checkpoint(folder.path)
    r = invoke("resume", folder.path, "train.steps=60")
    assert r.exit_code == 5 and "nothing to resume" in r.stderr


def test_a_run_interrupted_in_threshold_autos_warm_up_resumes_bit_identical(interrupted, tiny_path, tmp_path):
    """The warm-up's norms are checkpoint state: a run stopped while it measures (checkpoint at
    10 of 20 warm-up updates) picks the same c and the same numbers as one never interrupted."""
    auto = ["train.gradient.threshold=auto", "train.gradient.auto_updates=20"]
    path = interrupted(*auto)
    r = invoke("resume", path, "-q", "--json")
    assert r.exit_code == 0, r.output
    whole = RunFolder.create(tmp_path / "whole", "tiny", "w")
    train(load_config(tiny_path, auto), whole)
    a, b = read_trace(whole.path), read_trace(path)
    assert "threshold" in a and all(np.array_equal(a[c], b[c], equal_nan=True) for c in a)
    assert json.loads(r.stdout)["threshold"] == read_run(whole.path)["threshold"]
