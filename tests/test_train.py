"""The training loop through an in-memory sink: records, reproducibility, success and divergence."""

import numpy as np
import pytest

from rnnctl.config import load_config
from rnnctl.training import MemorySink, build_model, evaluate, train
from rnnctl.tasks import make_task


@pytest.fixture
def tiny(tiny_path):
    return lambda *overrides: load_config(tiny_path, list(overrides))


def test_trace_has_one_row_per_update_with_pre_and_post_norms(tiny):
    sink = MemorySink()
    result = train(tiny("train.gradient.threshold=0.01"), sink)
    assert result.status == "completed"
    assert sink.columns[:6] == ("update", "loss", "norm_before", "norm_after", "fired", "length")
    assert len(sink.rows) == 30 and all(len(r) == len(sink.columns) for r in sink.rows)
    assert np.array_equal(sink.column("update"), np.arange(1, 31))
    assert (sink.column("length") == 12).all()
    before, after, fired = sink.column("norm_before"), sink.column("norm_after"), sink.column("fired").astype(bool)
    # A threshold this small fires on every update: after == threshold < before.
    assert fired.all()
    assert np.allclose(after, 0.01)
    assert (before > after).all()
    assert sink.summary["clip_rate"] == 1.0


def test_no_clipping_leaves_norms_equal(tiny):
    sink = MemorySink()
    train(tiny("train.gradient.method=none"), sink)
    assert np.allclose(sink.column("norm_before"), sink.column("norm_after"))
    assert not sink.column("fired").any()
    assert sink.summary["clip_rate"] == 0.0


def test_evaluations_at_every_and_at_the_end(tiny):
    sink = MemorySink()
    train(tiny("train.steps=25"), sink)
    assert [r["update"] for r in sink.records] == [10, 20, 25]
    for r in sink.records:
        assert 0.0 <= r["error"] <= 1.0 and r["loss"] > 0
        assert {"train_loss", "clip_rate", "max_norm"} <= set(r)
    assert sink.summary["final_error"] == sink.records[-1]["error"]
    assert set(sink.saved_params) == {"init", "final"}
    assert set(sink.saved_params["final"]) == {"W_in", "W_rec", "b", "W_out", "b_out"}


def test_same_config_and_seed_give_identical_numbers(tiny):
    a, b, c = MemorySink(), MemorySink(), MemorySink()
    train(tiny(), a)
    train(tiny(), b)
    train(tiny("seed=2"), c)
    assert a.rows == b.rows and a.records[-1]["loss"] == b.records[-1]["loss"]
    for k in a.saved_params["final"]:
        assert np.array_equal(a.saved_params["final"][k], b.saved_params["final"][k])
    assert a.rows != c.rows


def test_eval_settings_do_not_change_the_training_trajectory(tiny):
    a, b = MemorySink(), MemorySink()
    train(tiny(), a)
    train(tiny("eval.every=7", "eval.sequences=20"), b)
    assert a.rows == b.rows


def test_huge_learning_rate_without_clipping_ends_as_diverged(tiny):
    sink = MemorySink()
    cfg = tiny("model.activation=linear", "model.init=basic_tanh", "model.spectral_radius=3.0",
               "train.optimizer.lr=1e6", "train.gradient.method=none", "train.steps=200")
    result = train(cfg, sink)
    assert result.status == "diverged" == sink.status
    n = sink.summary["diverged_at"]
    assert 1 <= n <= 200 and "non-finite" in sink.summary["message"]
    # the recorded final parameters are the last finite ones
    for v in sink.saved_params["final"].values():
        assert np.isfinite(v).all()
    assert len(sink.rows) == n - 1


def test_stop_on_success(tiny):
    sink = MemorySink()
    # success_error=1 is met by any error rate < 1, so the first evaluation succeeds
    result = train(tiny("eval.success_error=1.0", "eval.stop_on_success=true"), sink)
    assert result.status == "succeeded"
    assert sink.summary["success_update"] == 10 and sink.summary["updates"] == 10


def test_quick_learning_on_an_easy_task(tiny):
    """A short temporal-order problem is learned: error falls well below chance (75%)."""
    sink = MemorySink()
    cfg = tiny("task.length=10", "model.hidden=20", "train.steps=600", "train.batch_size=20",
               "train.optimizer.momentum=0.9", "eval.every=600", "eval.sequences=500")
    untrained = evaluate(build_model(cfg, np.random.default_rng(0)), make_task(cfg),
                         np.random.default_rng(0), 500, 500)
    train(cfg, sink)
    assert untrained["error"] > 0.5          # chance is 75%
    assert sink.records[-1]["error"] < 0.05


def test_build_model_and_evaluate_api(tiny):
    cfg = tiny()
    model = build_model(cfg, np.random.default_rng(0))
    assert model.params["W_rec"].shape == (8, 8) and model.params["W_in"].shape == (8, 6)
    sampler = make_task(cfg)
    batch = sampler.sample(np.random.default_rng(1), 5)
    E, grads = model.loss_and_grad(batch.u, batch.target)
    assert np.isfinite(E) and set(grads) == set(model.params)
    result = evaluate(model, sampler, np.random.default_rng(2), 100, 30)
    assert 0 <= result["error"] <= 1 and result["loss"] > 0


def test_an_observer_can_stop_a_run_early(tiny):
    from rnnctl.training import Observer, StopRun

    class Rule(Observer):
        def on_eval(self, record):
            if record["update"] >= 20 and record["error"] > 0.0:
                raise StopRun(f"error {record['error']:.2f} above 0 after {record['update']} updates")

    sink = MemorySink()
    result = train(tiny(), sink, Rule())
    assert result.status == "stopped" == sink.status
    assert sink.summary["updates"] == 20 and "above 0" in sink.summary["message"]


# --- issue 4: gradient controls, optimizers, traces and post-mortems through the loop ----------

def test_skip_policy_drops_non_finite_updates_and_leaves_parameters_untouched(tiny, monkeypatch):
    from rnnctl.model import Model
    real = Model.loss_and_grad_flat
    calls = {"n": 0}

    def flaky(self, u, target, grad, *a, **k):   # updates 5 and 6 produce a NaN gradient
        E = real(self, u, target, grad, *a, **k)
        calls["n"] += 1
        if calls["n"] in (5, 6):
            grad[0] = np.nan
        return E
    monkeypatch.setattr(Model, "loss_and_grad_flat", flaky)
    sink = MemorySink()
    result = train(tiny("train.gradient.nonfinite=skip", "train.gradient.max_consecutive=3",
                        "eval.every=100"), sink)
    assert result.status == "completed" and sink.summary["skipped_updates"] == 2
    skipped = sink.column("skipped")
    assert list(np.flatnonzero(skipped) + 1) == [5, 6]
    assert np.isnan(sink.column("norm_after")[4])


def test_skip_policy_gives_up_after_max_consecutive(tiny, monkeypatch):
    from rnnctl.model import Model
    real = Model.loss_and_grad_flat

    def broken(self, u, target, grad, *a, **k):
        E = real(self, u, target, grad, *a, **k)
        grad[:] = np.inf
        return E
    monkeypatch.setattr(Model, "loss_and_grad_flat", broken)
    sink = MemorySink()
    result = train(tiny("train.gradient.nonfinite=skip", "train.gradient.max_consecutive=4"), sink)
    assert result.status == "diverged" and sink.summary["diverged_at"] == 4
    for k, v in sink.saved_params["final"].items():   # never updated: still the initial values
        assert np.array_equal(v, sink.saved_params["init"][k])


@pytest.mark.parametrize("max_consecutive", [1, 5])
def test_skip_count_and_message_agree_when_the_policy_gives_up(tiny, monkeypatch, max_consecutive):
    """Issue 11: max_consecutive=5 reported skipped_updates 4 while its message said 5. Every
    non-finite update is dropped and counted (README), the max_consecutive-th in a row too, which
    also ends the run: count, message and diverged_at all say max_consecutive."""
    from rnnctl.model import Model
    real = Model.loss_and_grad_flat
    calls = {"n": 0}

    def broken_after_3(self, u, target, grad, *a, **k):
        E = real(self, u, target, grad, *a, **k)
        calls["n"] += 1
        if calls["n"] > 3:
            grad[:] = np.nan
        return E
    monkeypatch.setattr(Model, "loss_and_grad_flat", broken_after_3)
    sink = MemorySink()
    n = max_consecutive
    result = train(tiny("train.gradient.nonfinite=skip", f"train.gradient.max_consecutive={n}",
                        "eval.every=100"), sink)
    assert result.status == "diverged"
    assert sink.summary["skipped_updates"] == n
    assert f"{n} consecutive updates skipped" in sink.summary["message"]
    assert sink.summary["diverged_at"] == 3 + n
    # the updates before the last were dropped and traced as skipped; the last ended the run
    assert list(sink.column("skipped")) == [0, 0, 0] + [1] * (n - 1)


def test_skipped_updates_are_zero_for_a_clean_run_under_skip(tiny):
    sink = MemorySink()
    train(tiny("train.gradient.nonfinite=skip"), sink)
    assert sink.summary["skipped_updates"] == 0 and sink.status == "completed"


def test_error_policy_fails_the_run(tiny, monkeypatch):
    from rnnctl.errors import RunError
    from rnnctl.model import Model
    real = Model.loss_and_grad_flat

    def broken(self, u, target, grad, *a, **k):
        real(self, u, target, grad, *a, **k)
        return float("nan")
    monkeypatch.setattr(Model, "loss_and_grad_flat", broken)
    sink = MemorySink()
    with pytest.raises(RunError, match="nonfinite=error"):
        train(tiny("train.gradient.nonfinite=error"), sink)
    assert sink.status == "failed"


def test_diverged_run_keeps_a_postmortem_that_replays_the_failure(tiny, tmp_path):
    from rnnctl.store import RunFolder, read_postmortem
    from rnnctl.training import postmortem
    from rnnctl.training.postmortem import replay_postmortem
    folder = RunFolder.create(tmp_path, "x", "boom")
    cfg = tiny("model.activation=linear", "model.init=basic_tanh", "model.spectral_radius=3.0",
               "train.optimizer.lr=1e6", "train.gradient.method=none", "train.steps=200")
    result = train(cfg, folder)
    assert result.status == "diverged"
    z = read_postmortem(folder.path)
    assert int(z["update"]) == result.summary["diverged_at"]
    assert z["u"].shape[1] == 4 and "param.W_rec" in z
    replay = replay_postmortem(folder.path)
    assert replay["update"] == result.summary["diverged_at"]
    assert not (np.isfinite(replay["loss"]) and np.isfinite(replay["norm"]))
    # the replay is a pure function of the config and the arrays: no folder needed
    again = postmortem.replay(cfg, z)
    assert again["update"] == replay["update"] and set(again["norms"]) == set(replay["norms"])


def test_replay_postmortem_of_a_run_that_did_not_diverge_says_so(tiny, tmp_path):
    from rnnctl.errors import RunError
    from rnnctl.store import RunFolder
    from rnnctl.training.postmortem import replay_postmortem
    folder = RunFolder.create(tmp_path, "x", "fine")
    train(tiny(), folder)
    with pytest.raises(RunError, match="only diverged runs"):
        replay_postmortem(folder.path)


@pytest.mark.parametrize("overrides", [
    ["train.optimizer.name=adam", "train.optimizer.lr=0.01"],
    ["train.optimizer.momentum=0.9", "train.optimizer.nesterov=true", "train.schedule.name=cosine"],
    ["train.schedule.name=step", "train.schedule.every=10"],
    ["train.gradient.method=per_tensor_norm", "train.gradient.norm_type=inf"],
    ["train.gradient.method=autoclip", "train.gradient.percentile=50"],
    ["train.gradient.method=agc", "train.gradient.threshold=0.05"],
    ["train.gradient.method=value", "train.gradient.threshold=auto", "train.gradient.auto_updates=10"],
])
def test_every_control_trains_and_records_its_figures(tiny, overrides):
    sink = MemorySink()
    result = train(tiny(*overrides), sink)
    assert result.status == "completed"
    assert np.isfinite(sink.column("norm_before")).all() and np.isfinite(sink.column("norm_after")).all()
    assert (sink.column("norm_after") <= sink.column("norm_before") + 1e-9).all()
    assert [r["lr"] for r in sink.records][0] > 0
    if "threshold" in sink.columns:
        assert sink.summary["threshold"] > 0


def test_step_schedule_is_visible_in_the_metrics(tiny):
    sink = MemorySink()
    train(tiny("train.schedule.name=step", "train.schedule.every=10", "train.schedule.gamma=0.5"), sink)
    assert [r["lr"] for r in sink.records] == pytest.approx([0.05, 0.025, 0.0125])


def test_auto_threshold_is_recorded(tiny):
    sink = MemorySink()
    train(tiny("train.gradient.threshold=auto", "train.gradient.auto_updates=10",
               "train.gradient.auto_factor=2"), sink)
    before = sink.column("norm_before")
    thr = sink.column("threshold")
    assert np.isnan(thr[0]) and not sink.column("fired")[0]
    # the warm-up: each update bounded by the first one's norm; then c = 2 x the lower median
    assert (thr[1:10] == before[0]).all() and (before[:10] <= 10 * before[0]).all()
    assert thr[10] == pytest.approx(2 * np.sort(before[:10])[4]) and (thr[10:] == thr[10]).all()
    assert sink.summary["threshold"] == pytest.approx(thr[10])


def test_spectral_figures_at_every_evaluation(tiny):
    sink = MemorySink()
    train(tiny(), sink)
    for r in sink.records:
        assert set(r["spectral"]) == {"W_rec"} and r["bound"] == 1.0
        assert r["spectral"]["W_rec"]["sv_max"] >= r["spectral"]["W_rec"]["radius"] > 0
    final = sink.saved_params["final"]["W_rec"]
    assert sink.records[-1]["spectral"]["W_rec"]["sv_max"] == pytest.approx(np.linalg.norm(final, 2))


def test_backprop_norms_and_probes_through_the_loop(tiny):
    sink = MemorySink()
    train(tiny("log.backprop_every=5", "log.probe_every=10", "log.probe_sequences=2"), sink)
    assert [u for u, _ in sink.backprop_rows] == [5, 10, 15, 20, 25, 30]
    assert sink.backprop_rows[0][1].shape == (1, 13)
    assert [u for u, _, _ in sink.probes] == [1, 10, 20, 30]
    update, arrays, summary = sink.probes[1]
    assert arrays["contributions"].shape == (12, 13) and arrays["jacobian_norms"].shape == (13, 13)
    assert 0 <= summary["long_lag_fraction"] <= 1 and summary["sequences"] == 2


def test_regularizer_runs_and_records_omega(tiny):
    sink = MemorySink()
    result = train(tiny("train.regularizer.omega=2.0", "train.regularizer.decay=inverse_time"), sink)
    assert result.status == "completed"
    om = sink.column("omega")
    assert np.isfinite(om).all() and (om >= 0).all() and om.max() > 0
    steps = sink.column("omega_steps")
    assert ((steps > 0) & (steps <= 1)).all()


def test_regularizer_changes_only_the_recurrent_gradient(tiny):
    # Ω's gradient goes to W_rec alone: with clipping off, the other per-parameter norms of the
    # first update are the same with and without it.
    plain, reg = MemorySink(), MemorySink()
    train(tiny("train.gradient.method=none", "train.steps=1", "eval.every=1"), plain)
    train(tiny("train.gradient.method=none", "train.steps=1", "eval.every=1", "train.regularizer.omega=4"), reg)
    for name in ("W_in", "b", "W_out", "b_out"):
        assert plain.column(f"norm.{name}")[0] == pytest.approx(reg.column(f"norm.{name}")[0], rel=1e-12)
    assert plain.column("norm.W_rec")[0] != pytest.approx(reg.column("norm.W_rec")[0], rel=1e-6)


def test_summary_has_the_pre_transform_norm_statistics(tiny):
    sink = MemorySink()
    train(tiny("train.gradient.threshold=0.01"), sink)
    before = sink.column("norm_before")
    assert sink.summary["norm_max"] == pytest.approx(before.max(), rel=1e-6)
    assert sink.summary["norm_median"] == pytest.approx(np.median(before), rel=1e-6)
    assert sink.summary["norm_max"] > 0.01   # pre-clip, not the clipped 0.01


# --- truncated BPTT ------------------------------------------------------------------------------

MEM = ["task.name=noiseless_memorization", "task.length=6", "task.n_values=3", "task.n_positions=3"]


def test_truncation_with_a_window_covering_the_sequence_is_full_bptt(tiny):
    full, trunc = MemorySink(), MemorySink()
    train(tiny(*MEM), full)
    train(tiny(*MEM, "train.bptt.k1=12"), trunc)        # T = 6 + 2·3 = 12
    assert full.rows == trunc.rows


def test_truncation_splits_every_step_losses_into_windows_with_carried_state(tiny):
    sink = MemorySink()
    result = train(tiny(*MEM, "train.bptt.k1=5", "train.steps=9", "eval.every=9"), sink)
    assert result.status == "completed"
    # T = 12 in windows of 5, 5, 2: three updates per batch
    assert list(sink.column("length")) == [5, 5, 2] * 3
    assert sink.backprop_rows[1][1].shape == (1, 6)


def test_truncation_of_a_last_step_loss_backpropagates_k2_steps(tiny):
    full, trunc = MemorySink(), MemorySink()
    train(tiny("train.steps=5", "eval.every=5"), full)
    train(tiny("train.steps=5", "eval.every=5", "train.bptt.k1=4", "train.bptt.k2=4"), trunc)
    assert (trunc.column("length") == 4).all()                    # one update per batch, 4 steps
    assert trunc.column("loss")[0] == pytest.approx(full.column("loss")[0], rel=1e-12)  # same forward
    assert trunc.column("norm_before")[0] != pytest.approx(full.column("norm_before")[0], rel=1e-6)
    norms = trunc.backprop_rows[0][1][0]
    assert norms.shape == (5,) and (norms > 0).all()


def test_truncation_rejects_overlapping_windows_for_every_step_losses(tiny):
    from rnnctl.errors import ConfigError
    with pytest.raises(ConfigError, match="train.bptt.k2"):
        train(tiny(*MEM, "train.bptt.k1=3", "train.bptt.k2=6"), MemorySink())


# --- the public API ------------------------------------------------------------------------------

def test_readme_example_rnnctl_train_is_the_function_even_after_the_training_modules_load(tiny_path):
    """Issue 11: rnnctl.train(cfg, sink) failed with "'module' object is not callable" once the
    submodule rnnctl.train had been imported. The loop lives in rnnctl.training now, and the
    package has no submodule named train. Checked in a fresh interpreter, as a user runs it."""
    import subprocess
    import sys
    from pathlib import Path

    import rnnctl
    package = Path(rnnctl.__file__).parent
    assert not (package / "train.py").exists() and not (package / "train").exists()
    code = f"""
import rnnctl.training, rnnctl.training.loop, rnnctl.training.session, rnnctl.training.postmortem
import rnnctl
cfg = rnnctl.load_config({str(tiny_path)!r}, ["train.steps=3", "eval.every=3"])
result = rnnctl.train(cfg, rnnctl.MemorySink())
assert rnnctl.train is rnnctl.training.train and result.status == "completed"
for name in ("evaluate", "build_model", "MemorySink", "Observer", "StopRun", "RunFolder", "make_task",
             "Model", "load_config", "config_from_dict", "TRANSFORMS", "REGISTRIES"):
    getattr(rnnctl, name)
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_importing_rnnctl_loads_no_numpy():
    import subprocess
    import sys
    code = "import sys, rnnctl; rnnctl.load_config; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_task_is_built_once_per_run(tiny, monkeypatch):
    import rnnctl.tasks
    import rnnctl.training.session as session
    calls = []
    real = rnnctl.tasks.make_task
    monkeypatch.setattr(session, "make_task", lambda cfg: calls.append(1) or real(cfg))
    train(tiny("train.steps=2", "eval.every=2"), MemorySink())
    assert len(calls) == 1


def test_train_fits_in_one_screen():
    import inspect

    from rnnctl.training import loop
    assert len(inspect.getsource(loop.train).splitlines()) <= 65
