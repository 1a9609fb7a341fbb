"""Invariants of the gradient transforms, optimizers and schedules."""

import numpy as np
import pytest

from rnnctl.optim import adam, build_optimizer, build_schedule, sgd
from rnnctl.registry import OPTIMIZERS, SCHEDULES, TRANSFORMS
from rnnctl.transforms import Param, adaptive_clip, autoclip, build_gradient_transform, \
    chain, clip_by_value, global_norm, norm_p, record_norm, scale_by_global_norm, scale_per_tensor


class Cfg:
    def __init__(self, **kw):
        defaults = dict(method="norm", threshold=1.0, norm_type=2, percentile=10.0, history=0,
                        agc_eps=1e-3, auto_updates=5, auto_factor=1.0)
        self.__dict__.update({**defaults, **kw})


LAYOUT = [Param("W", slice(0, 12), (4, 3)), Param("b", slice(12, 16), (4,)), Param("V", slice(16, 22), (2, 3))]


def run(transform, g, params=None, state=None):
    g = np.array(g, dtype=float)
    params = np.ones_like(g) if params is None else params
    stats = {}
    state = transform.update(g, transform.init(params) if state is None else state, params, stats)
    return g, stats, state


@pytest.mark.parametrize("scale", [0.1, 0.999, 1.0, 1.001, 10.0, 1e6])
def test_norm_scaling_equals_threshold_when_fired_and_keeps_direction(scale):
    rng = np.random.default_rng(0)
    g0 = rng.normal(size=257)
    g0 *= scale / np.linalg.norm(g0)
    g, stats, _ = run(scale_by_global_norm(1.0), g0)
    if stats["fired"]:
        assert np.linalg.norm(g0) > 1.0
        assert np.linalg.norm(g) == pytest.approx(1.0, rel=1e-12)
        assert np.allclose(g / np.linalg.norm(g), g0 / np.linalg.norm(g0))
    else:
        assert np.linalg.norm(g0) <= 1.0 and np.array_equal(g, g0)


@pytest.mark.parametrize("p", [1, 2, float("inf")])
def test_norm_scaling_with_p_norms(p):
    g0 = np.random.default_rng(1).normal(scale=4.0, size=50)
    g, stats, _ = run(scale_by_global_norm(0.5, p), g0)
    assert stats["fired"] and norm_p(g, p) == pytest.approx(0.5)
    assert np.allclose(g / g0, g[0] / g0[0])   # one common factor


def test_value_clipping_bounds_entries_and_is_idempotent():
    g0 = np.random.default_rng(1).normal(scale=3.0, size=500)
    once, s1, _ = run(clip_by_value(1.5), g0)
    twice, s2, _ = run(clip_by_value(1.5), once)
    assert s1["fired"] and not s2["fired"]
    assert np.max(np.abs(once)) <= 1.5 and np.array_equal(once, twice)
    inside = np.abs(g0) <= 1.5
    assert np.array_equal(once[inside], g0[inside])
    assert np.array_equal(once[~inside], 1.5 * np.sign(g0[~inside]))


def test_per_tensor_norm_caps_each_tensor_and_leaves_small_ones():
    g0 = np.zeros(22)
    g0[0:12] = 3.0          # W: norm 3·sqrt(12) > 1
    g0[12:16] = 0.1         # b: norm 0.2 < 1
    g0[16:22] = -2.0        # V: norm 2·sqrt(6) > 1
    g, stats, _ = run(scale_per_tensor(1.0, LAYOUT), g0)
    assert stats["fired"]
    assert np.linalg.norm(g[0:12]) == pytest.approx(1.0) and np.linalg.norm(g[16:22]) == pytest.approx(1.0)
    assert np.array_equal(g[12:16], g0[12:16])
    for prm in LAYOUT:
        assert np.linalg.norm(g[prm.slice]) <= 1.0 + 1e-12


def test_autoclip_threshold_is_the_percentile_of_the_history():
    rng = np.random.default_rng(3)
    t = autoclip(percentile=25.0, history=0)
    state, history = None, []
    for i in range(40):
        g0 = rng.normal(size=10) * rng.uniform(0.1, 10)
        history.append(np.linalg.norm(g0))
        g, stats, state = run(t, g0, state=state)
        assert stats["threshold"] == pytest.approx(np.percentile(history, 25.0))
        assert stats["fired"] == (history[-1] > stats["threshold"])
        assert np.linalg.norm(g) == pytest.approx(min(history[-1], stats["threshold"]))


def test_autoclip_bounded_history_forgets_the_oldest():
    t = autoclip(percentile=100.0, history=3)
    state = None
    for norm in (100.0, 1.0, 2.0, 3.0):
        g, stats, state = run(t, np.array([norm]), state=state)
    assert stats["threshold"] == 3.0   # 100 has left the window


def test_agc_bounds_every_unit_ratio_and_leaves_the_rest():
    rng = np.random.default_rng(4)
    params = rng.normal(size=22)
    g0 = rng.normal(size=22) * 5
    g0[12:16] = 1e-4 * params[12:16]         # b: far under the cap
    c = 0.1
    g, stats, _ = run(adaptive_clip(c, LAYOUT, eps=1e-3), g0, params)
    assert stats["fired"]
    for prm in LAYOUT:
        gp, wp = g[prm.slice].reshape(prm.shape), params[prm.slice].reshape(prm.shape)
        gn = np.linalg.norm(gp, axis=-1) if gp.ndim == 2 else np.linalg.norm(gp)
        wn = np.linalg.norm(wp, axis=-1) if wp.ndim == 2 else np.linalg.norm(wp)
        assert np.all(gn <= c * np.maximum(wn, 1e-3) * (1 + 1e-12))
    assert np.array_equal(g[12:16], g0[12:16])


def test_agc_eps_protects_zero_weights():
    g, stats, _ = run(adaptive_clip(0.5, [Param("W", slice(0, 4), (2, 2))], eps=1e-2), np.ones(4), np.zeros(4))
    assert np.allclose(np.linalg.norm(g.reshape(2, 2), axis=1), 0.5 * 1e-2)


def test_threshold_auto_bounds_the_warm_up_then_clips_at_the_median():
    t = build_gradient_transform(Cfg(method="norm", threshold="auto", auto_updates=4, auto_factor=0.5))
    state, norms = None, [1.0, 3.0, 5.0, 2.0]
    for i, n in enumerate(norms):          # warm-up: scaled to the first update's norm
        g, stats, state = run(t, np.array([n, 0.0]), state=state)
        assert stats["fired"] == (i > 0 and n > 1.0) and g[0] == pytest.approx(n if i == 0 else min(n, 1.0))
        assert np.isnan(stats["threshold"]) if i == 0 else stats["threshold"] == 1.0
    assert state["threshold"] == pytest.approx(0.5 * 2.0)     # the lower median of 1, 2, 3, 5
    g, stats, state = run(t, np.array([10.0, 0.0]), state=state)
    assert stats["fired"] and np.linalg.norm(g) == pytest.approx(1.0) and stats["threshold"] == 1.0


def _auto_run(norms, updates, seed=3):
    t = build_gradient_transform(Cfg(method="norm", threshold="auto", auto_updates=updates, auto_factor=1.0))
    rng = np.random.default_rng(seed)
    state, after = None, []
    for n in norms:
        d = rng.normal(size=6)
        g, stats, state = run(t, n * d / np.linalg.norm(d), state=state)
        after.append(np.linalg.norm(g))
    return state, np.array(after)


def test_threshold_auto_is_not_poisoned_by_a_warm_up_that_explodes():
    """Updates that already exploded cannot set c: a warm-up whose norms grow a millionfold from
    the 4th update on gives c from the three healthy norms, and none of its exploded gradients
    reaches the optimizer unscaled. The old rule (the mean) would have set c above 1e11."""
    norms = [1.0, 1.2, 0.9] + [10.0 ** (k + 3) for k in range(3, 10)]
    assert np.mean(norms) > 1e11
    state, after = _auto_run(norms, updates=10)
    assert (after <= 1.0 + 1e-12).all()
    assert state["threshold"] == pytest.approx(1.0) and state["kept"] == 3    # lower median of 0.9, 1, 1.2


def test_threshold_auto_is_not_ratcheted_by_norms_that_keep_growing():
    """Norms that grow by 30% at every update (each under the tenfold jump) while the warm-up runs:
    the bound stays at the first norm, and c is the lower median of what was measured, not the
    last norms."""
    norms = [2.0 * 1.3 ** k for k in range(9)]          # all within 10x of the first
    state, after = _auto_run(norms, updates=9)
    assert np.allclose(after[1:], 2.0)
    assert state["threshold"] == pytest.approx(norms[4]) and state["kept"] == 9


def test_threshold_auto_waits_for_a_nonzero_reference():
    t = build_gradient_transform(Cfg(method="norm", threshold="auto", auto_updates=2))
    g, stats, state = run(t, np.zeros(2))
    g, stats, state = run(t, np.zeros(2), state=state)
    assert state["threshold"] is None and state["kept"] == 0 and not stats["fired"]
    for n in (3.0, 4.0):
        g, stats, state = run(t, np.array([n, 0.0]), state=state)
    assert state["threshold"] == pytest.approx(3.0)


def test_threshold_auto_warm_up_is_the_method_with_the_first_statistic():
    """For method=value the statistic is the largest entry and the warm-up clips element-wise."""
    t = build_gradient_transform(Cfg(method="value", threshold="auto", auto_updates=3))
    g, stats, state = run(t, np.array([2.0, -1.0]))
    g, stats, state = run(t, np.array([5.0, -4.0]), state=state)
    assert stats["fired"] and np.array_equal(g, [2.0, -2.0])
    g, stats, state = run(t, np.array([1.0, -3.0]), state=state)
    assert stats["fired"] and np.array_equal(g, [1.0, -2.0]) and state["threshold"] == pytest.approx(3.0)


@pytest.mark.parametrize("method", ["autoclip", "agc"])
def test_threshold_auto_is_refused_where_it_has_no_meaning(method):
    from rnnctl.errors import ConfigError
    with pytest.raises(ConfigError, match="train.gradient.threshold"):
        build_gradient_transform(Cfg(method=method, threshold="auto"), LAYOUT)


@pytest.mark.parametrize("method", TRANSFORMS.names())
def test_every_method_reports_fired_and_never_grows_the_gradient(method):
    rng = np.random.default_rng(2)
    g0 = rng.normal(scale=5.0, size=22)
    g, stats, _ = run(build_gradient_transform(Cfg(method=method, threshold=0.5), LAYOUT), g0,
                      rng.normal(size=22))
    assert isinstance(stats["fired"], bool)
    assert np.linalg.norm(g) <= np.linalg.norm(g0) + 1e-12
    assert stats["fired"] == (not np.array_equal(g, g0))


def test_pre_clip_norm_is_measured_before_the_transform():
    # The classic bug: logging the clipped norm as the gradient norm.
    _, stats, _ = run(chain(record_norm("before"), scale_by_global_norm(1.0), record_norm("after")),
                      np.full(4, 10.0))
    assert stats["before"] == pytest.approx(20.0) and stats["after"] == pytest.approx(1.0)


def test_unknown_method_is_a_config_error():
    from rnnctl.errors import ConfigError
    with pytest.raises(ConfigError, match="train.gradient.method"):
        build_gradient_transform(Cfg(method="clipnorm"))


def test_norms():
    g = np.array([3.0, -4.0, 12.0])
    assert global_norm(g) == 13.0 and norm_p(g, 1) == 19.0 and norm_p(g, float("inf")) == 12.0


# --- optimizers and schedules ------------------------------------------------------------------

class OptCfg:
    def __init__(self, **kw):
        self.__dict__.update(dict(name="sgd", lr=0.1, momentum=0.5, nesterov=False, beta1=0.9,
                                  beta2=0.999, eps=1e-8) | kw)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_descends_a_quadratic(name):
    opt = build_optimizer(OptCfg(name=name))
    theta = np.array([1.0, -2.0])
    state = opt.init(theta)
    for _ in range(500):
        state = opt.update(theta, 2 * theta, state, 0.05)  # gradient of ‖θ‖²
    assert np.linalg.norm(theta) < 1e-3


def test_sgd_plain_momentum_and_nesterov_steps():
    theta = np.array([1.0])
    opt = sgd()
    opt.update(theta, np.array([2.0]), opt.init(theta), 0.1)
    assert theta[0] == pytest.approx(0.8)
    for nesterov, expected in ((False, 1.0 - 0.1 - 0.19), (True, 1.0 - 0.19 - 0.271)):
        theta = np.array([1.0])
        opt = sgd(0.9, nesterov)
        state = opt.init(theta)
        state = opt.update(theta, np.array([1.0]), state, 0.1)   # v = 1
        state = opt.update(theta, np.array([1.0]), state, 0.1)   # v = 1.9
        assert theta[0] == pytest.approx(expected)


def test_adam_matches_the_textbook_update():
    rng = np.random.default_rng(5)
    theta = rng.normal(size=3)
    ref = theta.copy()
    m = v = np.zeros(3)
    opt = adam(0.9, 0.999, 1e-8)
    state = opt.init(theta)
    for t in range(1, 6):
        g = rng.normal(size=3)
        state = opt.update(theta, g, state, 0.01)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        ref -= 0.01 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    assert np.allclose(theta, ref, rtol=1e-12)


class SchedCfg:
    def __init__(self, **kw):
        self.__dict__.update(dict(name="constant", every=10, gamma=0.5, t0=100.0, min_lr=0.001) | kw)


def test_schedules():
    assert build_schedule(SchedCfg(), 0.1, 100)(57) == 0.1
    step = build_schedule(SchedCfg(name="step"), 0.1, 100)
    assert [step(t) for t in (1, 10, 11, 21)] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    inv = build_schedule(SchedCfg(name="inverse_time"), 0.1, 100)
    assert inv(1) == pytest.approx(0.1) and inv(101) == pytest.approx(0.05)
    cos = build_schedule(SchedCfg(name="cosine"), 0.1, 100)
    assert cos(1) == pytest.approx(0.1) and cos(51) == pytest.approx(0.0505) and cos(101) == pytest.approx(0.001)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_every_schedule_starts_at_the_base_rate_and_stays_positive(name):
    f = build_schedule(SchedCfg(name=name), 0.2, 1000)
    assert f(1) == pytest.approx(0.2)
    assert all(0 < f(t) <= 0.2 for t in range(1, 1001, 37))


# --- plain-data state: a copy through (arrays, JSON) carries on exactly -------------------------

def _through_checkpoint(state):
    import json

    from rnnctl.training.state import flatten, unflatten
    arrays = {}
    skeleton = json.loads(json.dumps(flatten(state, "", arrays), allow_nan=False))
    return unflatten(skeleton, arrays)


METHOD_CFGS = [Cfg(method=m, threshold=0.5) for m in TRANSFORMS.names()] + \
    [Cfg(method=m, threshold="auto", auto_updates=3) for m in TRANSFORMS.where(auto=True)] + \
    [Cfg(method="autoclip", history=4, percentile=30.0), Cfg(method="autoclip", history=0, percentile=70.0)]


@pytest.mark.parametrize("cfg", METHOD_CFGS, ids=lambda c: f"{c.method}-{c.threshold}-{c.history}")
def test_every_method_state_is_plain_data_and_determines_what_follows(cfg):
    rng = np.random.default_rng(7)
    t = build_gradient_transform(cfg, LAYOUT)
    params = rng.normal(size=22)
    state = t.init(params)
    for _ in range(70):       # past autoclip's first buffer (64) and auto's measuring
        state = t.update(rng.normal(scale=rng.uniform(0.1, 3), size=22), state, params, {})
    copy = _through_checkpoint(state)
    for _ in range(10):
        g = rng.normal(scale=rng.uniform(0.1, 3), size=22)
        a, b, sa, sb = g.copy(), g.copy(), {}, {}
        state = t.update(a, state, params, sa)
        copy = t.update(b, copy, params, sb)
        assert np.array_equal(a, b) and sa == sb


@pytest.mark.parametrize("history", [0, 3, 50])
def test_autoclip_history_matches_a_sorted_list(history):
    rng = np.random.default_rng(11)
    t = autoclip(percentile=40.0, history=history)
    state, seen = None, []
    for _ in range(130):
        norm = float(rng.choice([1.0, 2.0, rng.uniform(0, 5)]))    # ties on purpose
        seen.append(norm)
        _, stats, state = run(t, np.array([norm]), state=state)
        kept = seen[-history:] if history else seen
        assert list(state["sorted"][:state["n"]]) == sorted(kept)
        assert stats["threshold"] == pytest.approx(np.percentile(kept, 40.0), rel=1e-12)


OPT_CFGS = [OptCfg(name="sgd", momentum=0.0), OptCfg(name="sgd", momentum=0.9),
            OptCfg(name="sgd", momentum=0.9, nesterov=True), OptCfg(name="adam")]


@pytest.mark.parametrize("cfg", OPT_CFGS, ids=lambda c: f"{c.name}-{c.momentum}-{c.nesterov}")
def test_every_optimizer_state_is_plain_data_and_its_update_allocates_nothing_big(cfg):
    import tracemalloc
    rng = np.random.default_rng(3)
    opt = build_optimizer(cfg)
    theta = rng.normal(size=20000)
    state = opt.init(theta)
    for _ in range(3):
        state = opt.update(theta, rng.normal(size=theta.size), state, 0.01)
    copy_theta, copy = theta.copy(), _through_checkpoint(state)
    g = rng.normal(size=theta.size)
    tracemalloc.start()
    state = opt.update(theta, g, state, 0.01)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < theta.nbytes / 4
    copy = opt.update(copy_theta, g, copy, 0.01)
    assert np.array_equal(theta, copy_theta)


def test_registry_entries_build_the_optimizers_and_schedules():
    for name in OPTIMIZERS.names():
        assert callable(OPTIMIZERS.get(name)(OptCfg(name=name)).update)
    for name in SCHEDULES.names():
        assert SCHEDULES.get(name)(SchedCfg(name=name), 0.1, 100)(1) == pytest.approx(0.1)


def test_unknown_optimizer_and_schedule_are_config_errors_naming_their_key():
    from rnnctl.errors import ConfigError
    with pytest.raises(ConfigError, match="train.optimizer.name"):
        build_optimizer(OptCfg(name="adamw"))
    with pytest.raises(ConfigError, match="train.schedule.name"):
        build_schedule(SchedCfg(name="cosin"), 0.1, 10)
