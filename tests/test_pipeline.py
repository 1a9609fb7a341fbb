"""The gradient pipeline: one chain, one state; each figure measured where it claims; Ω added
before anything measures or clips; the non-finite policy; methods registered from Python."""

import dataclasses
import tracemalloc
from types import SimpleNamespace

import numpy as np
import pytest

from rnnctl.config import load_config
from rnnctl.errors import ConfigError, Diverged, RunError
from rnnctl.pipeline import build_pipeline, nonfinite_guard
from rnnctl.registry import TRANSFORMS
from rnnctl.training import MemorySink, build_model, train
from rnnctl.transforms import GradientTransform, Method, chain, record_norm, scale_by_global_norm


@pytest.fixture
def tiny(tiny_path):
    return lambda *overrides: load_config(tiny_path, list(overrides))


def setup(cfg, seed=0):
    model = build_model(cfg, np.random.default_rng(seed))
    pipeline = build_pipeline(cfg, model)
    return model, pipeline, pipeline.init(model.theta)


def batch_grad(model, cfg, seed=1):
    from rnnctl.tasks import make_task
    batch = make_task(cfg).sample(np.random.default_rng(seed), cfg.train.batch_size)
    grad = np.zeros_like(model.theta)
    E = model.loss_and_grad_flat(batch.u, batch.target, grad)
    return E, grad


def test_norm_before_is_taken_before_the_method_and_norm_after_after_it(tiny):
    cfg = tiny("train.gradient.threshold=1e-3")
    model, pipeline, state = setup(cfg)
    E, grad = batch_grad(model, cfg)
    raw = float(np.linalg.norm(grad))
    stats, skip = pipeline.update(grad, state, model.theta, E, 1)
    assert not skip and stats["fired"]
    assert stats["norm_before"] == pytest.approx(raw, rel=1e-12)
    assert stats["norm_after"] == pytest.approx(1e-3, rel=1e-12) == np.linalg.norm(grad)
    # the group norms are of the gradient the method received, and partition it
    assert sum(v ** 2 for k, v in stats["groups"].items() if "." not in k) == pytest.approx(raw ** 2)


def test_omega_is_added_before_the_gradient_is_measured_or_clipped(tiny):
    cfg = tiny("train.regularizer.omega=3.0", "train.gradient.threshold=1e-3")
    plain = tiny("train.gradient.threshold=1e-3")
    model, pipeline, state = setup(cfg)
    E, grad = batch_grad(model, cfg)
    ref_model, ref_pipeline, ref_state = setup(plain)
    _, ref_grad = batch_grad(ref_model, plain)
    ref_stats, _ = ref_pipeline.update(ref_grad, ref_state, ref_model.theta, E, 1)

    from rnnctl.diagnostics import omega, omega_terms
    h, dz, dh_out = model.bptt_buffers()
    W = model.params["W_rec"]
    a, err, mult = omega_terms(W, h, dz, dh_out, form=model.form, activation=model.activation)
    value, g_omega, _ = omega(W, a, err, mult, bound=1e-20, squared=True)
    expected = grad.copy()
    expected[model.layout.slices()["W_rec"]] += 3.0 * g_omega.ravel()

    stats, _ = pipeline.update(grad, state, model.theta, E, 1)
    assert stats["omega"] == pytest.approx(value)
    assert stats["norm_before"] == pytest.approx(np.linalg.norm(expected), rel=1e-12)
    assert stats["norm_before"] != pytest.approx(ref_stats["norm_before"], rel=1e-9)
    assert stats["groups"]["W_in"] == pytest.approx(ref_stats["groups"]["W_in"], rel=1e-12)
    assert stats["norm_after"] == pytest.approx(1e-3)   # clipped after Ω: the paper's SGD-CR
    assert "omega" in pipeline.columns and "omega_steps" in pipeline.columns


def test_omega_decays_as_the_update_number_says(tiny):
    cfg = tiny("train.regularizer.omega=2.0", "train.regularizer.decay=inverse_time", "train.regularizer.t0=10",
               "train.gradient.method=none")
    model, pipeline, state = setup(cfg)
    E, g0 = batch_grad(model, cfg)
    plain = g0.copy()
    sl = model.layout.slices()["W_rec"]
    added = {}
    for update in (1, 11):
        g = plain.copy()
        pipeline.update(g, state, model.theta, E, update)
        added[update] = g[sl] - plain[sl]
    assert np.allclose(added[11], 0.5 * added[1], rtol=1e-12)   # α t0/(t0 + t − 1): halved at t = 11


def test_one_state_for_the_whole_chain_is_plain_data(tiny):
    cfg = tiny("train.gradient.threshold=auto", "train.gradient.auto_updates=2", "train.regularizer.omega=1.0",
               "train.gradient.nonfinite=skip")
    model, pipeline, state = setup(cfg)
    from rnnctl.training.state import flatten
    for update in (1, 2, 3):
        E, grad = batch_grad(model, cfg, seed=update)
        pipeline.update(grad, state, model.theta, E, update)
    arrays = {}
    skeleton = flatten(state, "pipeline", arrays)     # raises for anything but arrays and numbers
    guard = skeleton[-1]
    assert guard["skipped"] == 0 and guard["inner"][0]["threshold"] > 0 and guard["inner"][0]["count"] == 2


def test_columns_follow_the_config(tiny):
    _, p, _ = setup(tiny("train.gradient.method=autoclip", "train.gradient.nonfinite=skip"))
    assert p.columns[:2] == ("threshold", "skipped") and p.columns[2:] == tuple(
        f"norm.{n}" for n in ("W_in", "W_rec", "b", "W_out", "b_out"))
    _, p, _ = setup(tiny("train.gradient.threshold=auto"))
    assert p.columns[0] == "threshold"
    _, p, _ = setup(tiny())
    assert p.columns[0] == "norm.W_in"


def _guarded(policy, max_consecutive=3):
    g = nonfinite_guard(chain(scale_by_global_norm(1.0), record_norm("norm_after")), policy, max_consecutive)
    return g, g.init(np.zeros(2))


@pytest.mark.parametrize("loss, grad, what", [(float("nan"), [1.0, 1.0], "loss"),
                                              (1.0, [np.inf, 1.0], "gradient")])
def test_the_non_finite_policies(loss, grad, what):
    for policy, error in (("stop", Diverged), ("error", RunError)):
        g, state = _guarded(policy)
        with pytest.raises(error, match=f"non-finite {what} at update 7"):
            g.update(np.array(grad), state, None, {"update": 7, "loss": loss, "norm_before": np.linalg.norm(grad)})
    g, state = _guarded("skip")
    stats = {"update": 7, "loss": loss, "norm_before": float(np.linalg.norm(grad))}
    vector = np.array(grad)
    g.update(vector, state, None, stats)
    assert stats["skipped"] == 1 and np.isnan(stats["norm_after"]) and stats["fired"] is False
    assert np.array_equal(vector, grad) and state["skipped"] == state["consecutive"] == 1


def test_skip_counts_reset_on_a_finite_update_and_the_last_one_counts():
    g, state = _guarded("skip", max_consecutive=2)
    bad = {"loss": float("nan"), "norm_before": 1.0}
    g.update(np.ones(2), state, None, {"update": 1, **bad})
    g.update(np.ones(2), state, None, {"update": 2, "loss": 1.0, "norm_before": np.sqrt(2)})
    assert state["consecutive"] == 0 and state["skipped"] == 1
    g.update(np.ones(2), state, None, {"update": 3, **bad})
    with pytest.raises(Diverged, match="2 consecutive updates skipped"):
        g.update(np.ones(2), state, None, {"update": 4, **bad})
    assert state["skipped"] == 3


def test_a_method_that_overflows_ends_the_run():
    blow = GradientTransform(lambda p: {}, lambda g, s, p, stats: (g.__imul__(np.inf), stats.update(fired=True), s)[2])
    guard = nonfinite_guard(chain(blow, record_norm("norm_after")), "skip", 3)
    with pytest.raises(Diverged, match="gradient after the transform at update 5"):
        guard.update(np.ones(2), guard.init(None), None, {"update": 5, "loss": 1.0, "norm_before": 1.0})


@pytest.mark.parametrize("method", ["none", "norm", "value", "per_tensor_norm", "autoclip"])
def test_the_pipeline_allocates_no_gradient_sized_arrays_per_update(tiny, method):
    """The hot path reuses its buffers: an update (measurements, group norms, guard, method)
    allocates far less than one copy of the gradient."""
    cfg = tiny("model.hidden=200", "train.gradient.threshold=1e-3", f"train.gradient.method={method}")
    model, pipeline, state = setup(cfg)
    E, grad = batch_grad(model, cfg)
    pipeline.update(grad.copy(), state, model.theta, E, 1)    # warm up
    g = grad.copy()
    tracemalloc.start()
    pipeline.update(g, state, model.theta, E, 2)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < grad.nbytes / 4, (peak, grad.nbytes)


# -- registries -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", TRANSFORMS.names())
def test_every_registered_method_is_a_method_whose_metadata_fits(name):
    method, meta = TRANSFORMS.get(name), TRANSFORMS.meta(name)
    assert isinstance(method, Method)
    assert isinstance(meta["threshold"], bool) and isinstance(meta["auto"], bool)
    if meta["auto"]:
        assert meta["threshold"] and method.statistic is not None


def _halve():
    """A method registered from Python: halve every gradient (fired always)."""
    def make(cfg, c, layout):
        def update(g, state, params, stats):
            g *= 0.5
            stats["fired"] = True
            state["n"] += 1
            return state
        return GradientTransform(lambda params: {"n": 0}, update)
    return Method(make, lambda cfg, layout: lambda g: float(np.linalg.norm(g)))


def with_method(cfg, name):
    """The parts of ``cfg`` the pipeline reads, with train.gradient.method = name (which the config
    schema may not know yet: until the config branch lands it validates against a fixed list)."""
    gradient = SimpleNamespace(**{f.name: getattr(cfg.train.gradient, f.name)
                                  for f in dataclasses.fields(cfg.train.gradient)})
    gradient.method = name
    return SimpleNamespace(train=SimpleNamespace(gradient=gradient, regularizer=cfg.train.regularizer))


@pytest.fixture
def halve():
    TRANSFORMS.register("halve", _halve(), threshold=True, auto=True, help="halve the gradient")
    yield "halve"
    TRANSFORMS.unregister("halve")


def test_a_method_registered_from_python_builds_through_the_pipeline(tiny, halve):
    cfg = tiny()
    model = build_model(cfg, np.random.default_rng(0))
    pipeline = build_pipeline(with_method(cfg, "halve"), model)
    state = pipeline.init(model.theta)
    E, grad = batch_grad(model, cfg)
    stats, _ = pipeline.update(grad, state, model.theta, E, 1)
    assert stats["norm_after"] == pytest.approx(stats["norm_before"] / 2)
    assert state[-1]["inner"][0]["n"] == 1


def test_a_method_registered_from_python_trains_from_a_config(halve):
    from rnnctl.config import config_from_dict
    cfg = config_from_dict({
        "task": {"name": "temporal_order", "length": 12}, "model": {"hidden": 8},
        "train": {"steps": 6, "batch_size": 4, "gradient": {"method": "halve", "threshold": "auto",
                                                             "auto_updates": 2}},
        "eval": {"every": 3, "sequences": 20, "batch_size": 10, "stop_on_success": False}})
    sink = MemorySink()
    result = train(cfg, sink)
    assert result.status == "completed" and sink.column("fired")[1:].all()
    after, before = sink.column("norm_after"), sink.column("norm_before")
    # the warm-up runs the method too (bounded by the median of the earlier norms) from update 2 on
    assert np.allclose(after[1:], before[1:] / 2) and after[0] == before[0]
    assert "threshold" in sink.columns


def test_unknown_method_names_the_key_and_the_choices(tiny):
    cfg = tiny()
    with pytest.raises(ConfigError) as info:
        build_pipeline(with_method(cfg, "nrom"), build_model(cfg, np.random.default_rng(0)))
    assert info.value.key == "train.gradient.method" and info.value.suggestion == "norm"
