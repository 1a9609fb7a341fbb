"""log.params_every: the flat parameter vector kept at update 0, every N updates and at the last,
in one growing file; a resumed run keeps exactly the snapshots of a run never interrupted."""

import numpy as np
import pytest

from rnnctl.config import config_hash, load_config
from rnnctl.store import RunFolder, has_params_snapshots, read_params, read_params_snapshots, read_run
from rnnctl.training import MemorySink, build_model, train
from test_training_state import InterruptAt, assert_same_run


@pytest.fixture
def tiny(tiny_path):
    return lambda *overrides: load_config(tiny_path, list(overrides))


def flat(model, params):
    return np.concatenate([np.asarray(params[n]).ravel() for n in model.layout.names])


def test_snapshots_schedule_and_values(tiny, tmp_path):
    cfg = tiny("log.params_every=7")
    folder = RunFolder.create(tmp_path, "x", "r")
    train(cfg, folder)
    updates, thetas = read_params_snapshots(folder.path)
    assert updates.tolist() == [0, 7, 14, 21, 28, 30]   # 30 steps: the last one off the schedule
    model = build_model(cfg)
    assert thetas.shape == (6, model.theta.size) and thetas.dtype == model.theta.dtype
    assert np.array_equal(thetas[0], flat(model, read_params(folder.path, "init")))
    assert np.array_equal(thetas[-1], flat(model, read_params(folder.path, "final")))
    sink = MemorySink()   # the memory sink sees the same snapshots
    train(cfg, sink)
    assert [u for u, _ in sink.snapshots] == updates.tolist()
    assert all(np.array_equal(t, thetas[i]) for i, (_, t) in enumerate(sink.snapshots))


def test_off_by_default(tiny, tmp_path):
    cfg = tiny()
    assert cfg.log.params_every == 0
    assert config_hash(cfg) == config_hash(tiny("log.params_every=0"))   # run ids unchanged
    folder = RunFolder.create(tmp_path, "x", "r")
    train(cfg, folder)
    assert not has_params_snapshots(folder.path) and read_params_snapshots(folder.path) is None


@pytest.mark.parametrize("graceful", [False, True])
def test_resumed_run_keeps_the_same_snapshots(tiny, tmp_path, graceful):
    cfg = tiny("log.params_every=3")
    whole = RunFolder.create(tmp_path / "a", "x", "whole")
    train(cfg, whole)
    cut = RunFolder.create(tmp_path / "b", "x", "cut")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, cut, InterruptAt(17, graceful))   # hard: rows 12..17 past the checkpoint at 10
    u_cut, _ = read_params_snapshots(cut.path)
    assert u_cut[-1] >= 15
    again = RunFolder(cut.path)
    checkpoint = again.resume()
    assert read_params_snapshots(cut.path)[0][-1] <= checkpoint.update   # dropped past it
    train(cfg, again, resume=checkpoint)
    assert_same_run(whole.path, cut.path)
    (ua, ta), (ub, tb) = read_params_snapshots(whole.path), read_params_snapshots(cut.path)
    assert ua.tolist() == ub.tolist() == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30]
    assert np.array_equal(ta, tb)


def test_extended_run_goes_on_from_the_last_snapshot(tiny, tmp_path):
    cfg = tiny("log.params_every=4")
    folder = RunFolder.create(tmp_path, "x", "r")
    train(cfg, folder)
    assert read_params_snapshots(folder.path)[0].tolist() == [0, 4, 8, 12, 16, 20, 24, 28, 30]
    again = RunFolder(folder.path)
    checkpoint = again.resume({"train.steps": 40})
    train(tiny("log.params_every=4", "train.steps=40"), again, resume=checkpoint)
    assert read_run(folder.path)["status"] == "completed"
    updates, _ = read_params_snapshots(folder.path)
    assert updates.tolist() == [0, 4, 8, 12, 16, 20, 24, 28, 30, 32, 36, 40]   # 30: the old end
