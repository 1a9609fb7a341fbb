"""Invariants of the gradient transforms and optimizers."""

import numpy as np
import pytest

from rnnctl.optim import OPTIMIZERS, build_optimizer, sgd
from rnnctl.transforms import METHODS, build_gradient_transform, chain, clip_by_value, global_norm, \
    record_norm, scale_by_global_norm


class Cfg:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def run(transform, g):
    g = np.array(g, dtype=float)
    stats = {}
    transform.update(g, transform.init(g), np.zeros_like(g), stats)
    return g, stats


@pytest.mark.parametrize("scale", [0.1, 0.999, 1.0, 1.001, 10.0, 1e6])
def test_norm_scaling_equals_threshold_when_fired_and_leaves_direction(scale):
    rng = np.random.default_rng(0)
    g0 = rng.normal(size=257)
    g0 *= scale / np.linalg.norm(g0)
    c = 1.0
    g, stats = run(scale_by_global_norm(c), g0)
    if stats["fired"]:
        assert np.linalg.norm(g0) > c
        assert np.linalg.norm(g) == pytest.approx(c, rel=1e-12)
        # same direction: a positive multiple of the original
        assert np.allclose(g / np.linalg.norm(g), g0 / np.linalg.norm(g0))
    else:
        assert np.linalg.norm(g0) <= c
        assert np.array_equal(g, g0)


def test_value_clipping_bounds_entries_and_is_idempotent():
    rng = np.random.default_rng(1)
    g0 = rng.normal(scale=3.0, size=500)
    once, s1 = run(clip_by_value(1.5), g0)
    twice, s2 = run(clip_by_value(1.5), once)
    assert s1["fired"] and not s2["fired"]
    assert np.max(np.abs(once)) <= 1.5
    assert np.array_equal(once, twice)
    inside = np.abs(g0) <= 1.5
    assert np.array_equal(once[inside], g0[inside])
    assert np.array_equal(once[~inside], 1.5 * np.sign(g0[~inside]))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_records_norm_before_and_after(method):
    rng = np.random.default_rng(2)
    g0 = rng.normal(scale=5.0, size=100)
    g, stats = run(build_gradient_transform(Cfg(method=method, threshold=2.0)), g0)
    assert stats["norm_before"] == pytest.approx(np.linalg.norm(g0))
    assert stats["norm_after"] == pytest.approx(np.linalg.norm(g))
    assert isinstance(stats["fired"], bool)
    if method == "none":
        assert np.array_equal(g, g0) and not stats["fired"]
    else:
        assert stats["fired"] and stats["norm_after"] < stats["norm_before"]


def test_pre_clip_norm_is_measured_before_the_transform():
    # The classic bug: logging the clipped norm as the gradient norm.
    g0 = np.full(4, 10.0)
    _, stats = run(chain(record_norm("before"), scale_by_global_norm(1.0), record_norm("after")), g0)
    assert stats["before"] == pytest.approx(20.0)
    assert stats["after"] == pytest.approx(1.0)


def test_unknown_method_is_a_config_error():
    from rnnctl.errors import ConfigError
    with pytest.raises(ConfigError, match="train.gradient.method"):
        build_gradient_transform(Cfg(method="clipnorm", threshold=1.0))


def test_global_norm_is_euclidean_over_the_whole_vector():
    g = np.array([3.0, 4.0, 12.0])
    assert global_norm(g) == 13.0


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_descends_a_quadratic(name):
    opt = build_optimizer(Cfg(name=name, lr=0.1, momentum=0.5))
    theta = np.array([1.0, -2.0])
    state = opt.init(theta)
    for step in range(1, 200):
        state = opt.update(theta, 2 * theta, state, step)  # gradient of ‖θ‖²
    assert np.linalg.norm(theta) < 1e-6


def test_sgd_plain_and_momentum_steps():
    theta = np.array([1.0])
    opt = sgd(0.1)
    opt.update(theta, np.array([2.0]), opt.init(theta), 1)
    assert theta[0] == pytest.approx(0.8)
    theta = np.array([1.0])
    opt = sgd(0.1, momentum=0.9)
    state = opt.init(theta)
    state = opt.update(theta, np.array([1.0]), state, 1)   # v = -0.1
    state = opt.update(theta, np.array([1.0]), state, 2)   # v = -0.09 - 0.1
    assert theta[0] == pytest.approx(1.0 - 0.1 - 0.19)
