"""Training state as plain data: checkpoints that are arrays + JSON, and resumed runs that give
bit-identical numbers to runs never interrupted, for every gradient method, optimizer and
truncated BPTT."""

import json
import signal

import numpy as np
import pytest

from rnnctl.config import load_config
from rnnctl.errors import RunError
from rnnctl.registry import OPTIMIZERS, TRANSFORMS
from rnnctl.store import RunFolder, has_checkpoint, load_checkpoint, read_metrics, read_params, read_run, read_trace
from rnnctl.training import MemorySink, train
from rnnctl.training.state import flatten, unflatten

MEM = ["task.name=noiseless_memorization", "task.length=6", "task.n_values=3", "task.n_positions=3"]


@pytest.fixture
def tiny(tiny_path):
    return lambda *overrides: load_config(tiny_path, list(overrides))


class InterruptAt:
    """Observer that simulates Ctrl-C at a given update: either a hard KeyboardInterrupt (the run
    resumes from the last evaluation's checkpoint), or a real SIGINT that the loop's handler
    turns into a checkpoint and a stop at the end of that update."""

    def __init__(self, update, graceful=False):
        self.update, self.graceful = update, graceful

    def on_start(self, total):
        pass

    def on_eval(self, record):
        pass

    def on_update(self, update, loss, stats):
        if update == self.update:
            if self.graceful:
                signal.raise_signal(signal.SIGINT)
            else:
                raise KeyboardInterrupt


def assert_same_run(a, b):
    """Same trace (every update once, same numbers), metrics (but wall time), final parameters."""
    ta, tb = read_trace(a), read_trace(b)
    assert list(ta) == list(tb)
    for column in ta:
        assert np.array_equal(ta[column], tb[column], equal_nan=True), column
    strip = lambda ms: [{k: v for k, v in m.items() if k != "time"} for m in ms]  # noqa: E731
    assert strip(read_metrics(a)) == strip(read_metrics(b))
    pa, pb = read_params(a), read_params(b)
    assert set(pa) == set(pb) and all(np.array_equal(pa[k], pb[k]) for k in pa)
    ia, ib = read_run(a), read_run(b)
    for key in ("status", "updates", "final_loss", "final_error", "clip_rate", "norm_max", "norm_median",
                "threshold", "skipped_updates", "success_update"):
        assert ia.get(key) == ib.get(key), key


def whole_and_resumed(cfg, tmp_path, interrupt: InterruptAt, expect_resume_at: int):
    whole = RunFolder.create(tmp_path / "a", "x", "whole")
    train(cfg, whole)
    cut = RunFolder.create(tmp_path / "b", "x", "cut")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, cut, interrupt)
    assert read_run(cut.path)["status"] == "interrupted" and has_checkpoint(cut.path)
    again = RunFolder(cut.path)
    checkpoint = again.resume()
    assert checkpoint.update == expect_resume_at
    result = train(cfg, again, resume=checkpoint)
    assert result.status == "completed"
    assert_same_run(whole.path, cut.path)
    info = read_run(cut.path)
    assert info["resumed"][0]["update"] == expect_resume_at
    # a completed run keeps its final checkpoint, so that it can be extended with train.steps=N
    assert has_checkpoint(cut.path) and load_checkpoint(cut.path).update == info["updates"]
    return whole, cut


METHOD_CASES = {name: [f"train.gradient.method={name}", "train.gradient.threshold=0.3"]
                for name in TRANSFORMS.names() if TRANSFORMS.meta(name).get("threshold")}
METHOD_CASES.update({name: [f"train.gradient.method={name}"]
                     for name in TRANSFORMS.names() if not TRANSFORMS.meta(name).get("threshold")})
# threshold=auto, with the checkpoint at update 10 while still measuring (auto_updates 15)
METHOD_CASES.update({f"{name}-auto": [f"train.gradient.method={name}", "train.gradient.threshold=auto",
                                      "train.gradient.auto_updates=15"]
                     for name in TRANSFORMS.where(auto=True)})
METHOD_CASES["autoclip-history"] = ["train.gradient.method=autoclip", "train.gradient.history=4",
                                    "train.gradient.percentile=50"]
METHOD_CASES["autoclip-long"] = ["train.gradient.method=autoclip", "train.steps=150", "eval.every=70"]
METHOD_CASES["omega"] = ["train.regularizer.omega=2.0", "train.regularizer.decay=inverse_time"]
METHOD_CASES["skip-policy"] = ["train.gradient.nonfinite=skip"]
OPTIMIZER_CASES = {name: [f"train.optimizer.name={name}", "train.optimizer.momentum=0.9"] if name == "sgd"
                   else [f"train.optimizer.name={name}"] for name in OPTIMIZERS.names()}
OPTIMIZER_CASES["sgd-nesterov-cosine"] = ["train.optimizer.momentum=0.9", "train.optimizer.nesterov=true",
                                          "train.schedule.name=cosine"]
OPTIMIZER_CASES["sgd-plain"] = ["train.optimizer.momentum=0"]
OTHER_CASES = {"variable-length": ["task.length=null", "task.min_length=10", "task.max_length=16"],
               "lstm": ["model.cell=lstm"], "gru-2-layers": ["model.cell=gru", "model.layers=2"]}
CASES = {**{f"method:{k}": v for k, v in METHOD_CASES.items()},
         **{f"optimizer:{k}": v for k, v in OPTIMIZER_CASES.items()},
         **{f"other:{k}": v for k, v in OTHER_CASES.items()}}


def test_the_cases_cover_every_registered_method_and_optimizer():
    assert set(TRANSFORMS.names()) <= set(METHOD_CASES) and set(OPTIMIZERS.names()) <= set(OPTIMIZER_CASES)
    assert {f"{n}-auto" for n in TRANSFORMS.where(auto=True)} <= set(METHOD_CASES)


@pytest.mark.parametrize("overrides", list(CASES.values()), ids=list(CASES))
def test_a_run_interrupted_and_resumed_gives_identical_numbers(tiny, tmp_path, overrides):
    cfg = tiny(*overrides)
    every = cfg.eval.every
    at = every + every // 2 + 2            # mid-way between two evaluations
    whole_and_resumed(cfg, tmp_path, InterruptAt(at), every * (at // every))


@pytest.mark.parametrize("graceful, expect_resume_at", [(True, 17), (False, 10)])
def test_interrupted_run_resumes_to_identical_numbers(tiny, tmp_path, graceful, expect_resume_at):
    cfg = tiny("train.optimizer.momentum=0.9")   # optimizer state must be restored too
    whole_and_resumed(cfg, tmp_path, InterruptAt(17, graceful), expect_resume_at)


@pytest.mark.parametrize("overrides, interrupt, at", [
    (["train.bptt.k1=5", "train.steps=20", "eval.every=4"], 10, 8),     # every-step loss, mid-batch
    (["train.bptt.k1=5", "train.steps=20", "eval.every=4", "train.optimizer.name=adam"], 14, 12),
])
def test_truncated_run_resumes_mid_batch_to_identical_numbers(tiny, tmp_path, overrides, interrupt, at):
    whole_and_resumed(tiny(*MEM, *overrides), tmp_path, InterruptAt(interrupt), at)


def test_truncated_last_step_loss_resumes_to_identical_numbers(tiny, tmp_path):
    cfg = tiny("train.bptt.k1=4", "train.bptt.k2=6", "train.steps=20", "eval.every=6")
    whole_and_resumed(cfg, tmp_path, InterruptAt(9), 6)


def test_a_mid_batch_checkpoint_holds_the_pending_window(tiny):
    sink = MemorySink()
    with pytest.raises(KeyboardInterrupt):
        train(tiny(*MEM, "train.bptt.k1=5", "train.steps=20", "eval.every=4"), sink, InterruptAt(10))
    ck = sink.last_checkpoint
    assert ck.update == 8 and {"pending.u", "pending.target", "pending.state.0"} <= set(ck.arrays)
    assert ck.meta["state"]["pending"]["i"] == 2      # T = 12: windows 5, 5, 2; 8 = 2 batches + 2


def test_resume_from_a_memory_sink(tiny):
    cfg = tiny("train.gradient.method=autoclip", "train.optimizer.name=adam")
    whole = MemorySink()
    train(cfg, whole)
    cut = MemorySink()
    with pytest.raises(KeyboardInterrupt):
        train(cfg, cut, InterruptAt(25))
    assert cut.status == "interrupted" and cut.last_checkpoint.update == 20
    rest = MemorySink()
    result = train(cfg, rest, resume=cut.last_checkpoint)
    assert result.status == "completed"
    strip = lambda ms: [{k: v for k, v in m.items() if k != "time"} for m in ms]  # noqa: E731
    assert rest.rows == whole.rows[20:]
    assert strip(rest.records) == strip(r for r in whole.records if r["update"] > 20)
    for k, v in whole.saved_params["final"].items():
        assert np.array_equal(v, rest.saved_params["final"][k])
    # the checkpoint object was not edited by the resumed run: it resumes again, the same
    again = MemorySink()
    train(cfg, again, resume=cut.last_checkpoint)
    assert again.rows == rest.rows


def test_a_checkpoint_is_arrays_and_json(tiny):
    sink = MemorySink()
    cfg = tiny(*MEM, "train.bptt.k1=5", "train.gradient.method=per_tensor_norm", "train.gradient.threshold=auto",
               "train.gradient.auto_updates=5", "train.optimizer.name=adam", "train.gradient.nonfinite=skip")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, sink, InterruptAt(12))
    ck = sink.last_checkpoint
    json.dumps(ck.meta, allow_nan=False)        # JSON as it is: no NaN, no objects
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in ck.arrays.values())
    assert {"theta", "opt.m", "opt.v", "norms"} <= set(ck.arrays)
    assert ck.meta["update"] == 10 and ck.meta["state"]["opt"]["t"] == 10
    assert isinstance(ck.meta["state"]["rng"]["data"]["state"]["state"], int)


def test_the_failing_command_of_the_issue_completes_and_resumes(tmp_path):
    """Issue 11: `rnnctl train configs/quickstart.yaml train.steps=300 eval.every=100
    eval.stop_on_success=false train.gradient.threshold=auto` died with "Can't pickle local
    object" at its first checkpoint. It completes; interrupted, it resumes to the same numbers."""
    from pathlib import Path

    from typer.testing import CliRunner

    from rnnctl.cli import app
    repo = Path(__file__).resolve().parents[1]
    args = ["configs/quickstart.yaml", "train.steps=300", "eval.every=100", "eval.stop_on_success=false",
            "train.gradient.threshold=auto", "eval.sequences=500"]
    r = CliRunner().invoke(app, ["train", str(repo / args[0]), *args[1:], f"runs_dir={tmp_path / 'a'}",
                                 "-q", "--json"])
    assert r.exit_code == 0, r.output
    whole = json.loads(r.stdout)
    assert whole["status"] == "completed" and whole["updates"] == 300 and whole["threshold"] > 0

    cfg = load_config(repo / args[0], [*args[1:], f"runs_dir={tmp_path / 'b'}"])
    cut = RunFolder.create(cfg.runs_dir, cfg.name, "cut")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, cut, InterruptAt(150))
    r = CliRunner().invoke(app, ["resume", str(cut.path), "-q", "--json"])
    assert r.exit_code == 0, r.output
    assert "resuming at update 100" in r.stderr
    assert_same_run(whole["run_dir"], cut.path)


def test_a_checkpoint_of_another_config_is_refused(tiny):
    sink = MemorySink()
    with pytest.raises(KeyboardInterrupt):
        train(tiny(), sink, InterruptAt(12))
    with pytest.raises(RunError, match="different config"):
        train(tiny("train.gradient.threshold=0.5"), MemorySink(), resume=sink.last_checkpoint)
    # the keys a resume may change are not part of the identity
    result = train(tiny("train.steps=40", "eval.stop_on_success=true"), MemorySink(), resume=sink.last_checkpoint)
    assert result.summary["updates"] in (20, 30, 40)


def test_resume_refuses_a_finished_run(tiny, tmp_path):
    folder = RunFolder.create(tmp_path, "x", "done")
    train(tiny(), folder)
    with pytest.raises(RunError, match="nothing to resume"):
        RunFolder(folder.path).resume()


# -- plain data --------------------------------------------------------------------------------

def test_flatten_round_trip_keeps_types_and_non_finite_floats():
    state = {"t": 3, "lr": 0.1, "none": None, "flag": True, "name": "x", "nan": float("nan"),
             "inf": float("-inf"), "np": np.float64(2.5), "i64": np.int64(7),
             "nested": [{"a": np.arange(3.0)}, (np.ones((2, 2), np.float32), 4)]}
    arrays = {}
    skeleton = flatten(state, "", arrays)
    text = json.dumps(skeleton, allow_nan=False)
    back = unflatten(json.loads(text), {k: v.copy() for k, v in arrays.items()})
    assert set(arrays) == {"nested.0.a", "nested.1.0"}
    assert back["t"] == 3 and type(back["t"]) is int and back["lr"] == 0.1 and back["none"] is None
    assert back["flag"] is True and back["name"] == "x" and np.isnan(back["nan"]) and back["inf"] == -np.inf
    assert type(back["np"]) is float and type(back["i64"]) is int
    assert np.array_equal(back["nested"][0]["a"], np.arange(3.0))
    assert back["nested"][1][0].dtype == np.float32 and back["nested"][1][1] == 4


def test_flatten_refuses_objects():
    with pytest.raises(TypeError, match="cannot go into a checkpoint"):
        flatten({"inner": lambda g: g}, "", {})
