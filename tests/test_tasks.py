"""Tests for rnnctl.tasks: the six generators of Pascanu et al. (2013), the error rules, the
registry and the length sampler. Position ranges follow the authors' code
(pascanur/trainingRNNs)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rnnctl.errors import ConfigError, DataError
from rnnctl.tasks import TASKS, Batch, Task, TaskSampler, make_task
from rnnctl.tasks.synthetic import _tenths

# the generators (real-data entries of the registry are datasets, tested in test_real_training.py)
GENERATORS = sorted(n for n in TASKS if not TASKS.meta(n).get("data"))

EXPECTED = {  # name -> (n_in, n_out, loss, scored, min_length) for default construction
    "temporal_order": (6, 4, "softmax_ce", "last", 10),
    "temporal_order_3bit": (6, 8, "softmax_ce", "last", 10),
    "addition": (2, 1, "mse", "last", 10),
    "multiplication": (2, 1, "mse", "last", 10),
    "random_permutation": (100, 100, "softmax_ce", "last", 1),
    "noiseless_memorization": (7, 6, "softmax_ce", "all", 1),
}


def rng(seed=0):
    return np.random.default_rng(seed)


def task_config(name, length=None, min_length=None, max_length=None, n_values=None,
                n_positions=None):
    return SimpleNamespace(task=SimpleNamespace(name=name, length=length, min_length=min_length,
                                                max_length=max_length, n_values=n_values,
                                                n_positions=n_positions))


def assert_one_hot(u):
    assert set(np.unique(u)) <= {0.0, 1.0}
    np.testing.assert_array_equal(u.sum(axis=-1), 1.0)


def perfect_and_wrong_outputs(task: Task, batch: Batch):
    """Hand-built model outputs: one the rule must accept everywhere, one it must reject."""
    if task.loss == "mse":
        return batch.target.copy(), batch.target + 1.0
    good = np.eye(task.n_out)[batch.target] * 5.0                  # logits, argmax = target
    bad = np.eye(task.n_out)[(batch.target + 1) % task.n_out] * 5.0
    return good, bad


# ---------------------------------------------------------------------------------------------
# Registry walk: every task, present and future
# ---------------------------------------------------------------------------------------------
def test_registry_holds_exactly_the_paper_tasks():
    assert set(EXPECTED) <= set(TASKS)
    for name in GENERATORS:
        assert TASKS[name].name == name


@pytest.mark.parametrize("name", GENERATORS)
def test_registered_task_contract(name):
    task = TASKS[name]()
    assert task.loss in ("softmax_ce", "mse", "sigmoid_ce")
    assert task.scored in ("last", "all")
    assert isinstance(task.n_in, int) and task.n_in >= 1
    assert isinstance(task.n_out, int) and task.n_out >= 1
    assert isinstance(task.min_length, int) and task.min_length >= 1
    if name in EXPECTED:
        assert (task.n_in, task.n_out, task.loss, task.scored, task.min_length) == EXPECTED[name]

    B = 7
    for L in (task.min_length, task.min_length + 13, 3 * task.min_length + 40):
        batch = task.sample(rng(L), B, L)
        assert isinstance(batch, Batch)
        assert batch.length == L and type(batch.length) is int
        T = batch.u.shape[0]
        assert L <= T <= task.max_steps(L)
        assert batch.u.shape == (T, B, task.n_in) and batch.u.dtype == np.float64
        assert np.isfinite(batch.u).all()
        if task.loss == "mse":
            assert batch.target.shape == (B, task.n_out) and batch.target.dtype == np.float64
        elif task.scored == "last":
            assert batch.target.shape == (B,) and batch.target.dtype == np.int64
        else:  # output_steps(T) == T except for encoder-decoder tasks
            assert batch.target.shape == (task.output_steps(T), B)
            assert batch.target.dtype == np.int64 and task.output_steps(T) >= 1
        if task.loss == "softmax_ce":
            assert batch.target.min() >= 0 and batch.target.max() < task.n_out

        good, bad = perfect_and_wrong_outputs(task, batch)
        err = task.errors(good, batch.target)
        assert err.shape == (B,) and err.dtype == np.bool_
        assert not err.any()
        assert task.errors(bad, batch.target).all()

    # determinism under a seed; different seeds give different data
    a, b, c = (task.sample(rng(s), B, task.min_length + 20) for s in (5, 5, 6))
    np.testing.assert_array_equal(a.u, b.u)
    np.testing.assert_array_equal(a.target, b.target)
    assert a.u.shape != c.u.shape or not np.array_equal(a.u, c.u)

    with pytest.raises(DataError):
        task.sample(rng(), B, task.min_length - 1)
    with pytest.raises(DataError):
        task.sample(rng(), 0, task.min_length)


@pytest.mark.parametrize("name", GENERATORS)
def test_no_global_random_state(name):
    task = TASKS[name]()
    np.random.seed(1)
    a = task.sample(rng(3), 4, task.min_length + 5)
    np.random.seed(2)
    b = task.sample(rng(3), 4, task.min_length + 5)
    np.testing.assert_array_equal(a.u, b.u)
    np.testing.assert_array_equal(a.target, b.target)


@pytest.mark.parametrize("name", GENERATORS)
def test_errors_rejects_bad_shapes(name):
    task = TASKS[name]()
    batch = task.sample(rng(), 3, task.min_length)
    good, _ = perfect_and_wrong_outputs(task, batch)
    with pytest.raises(DataError):
        task.errors(good[..., :-1] if task.n_out > 1 else good[..., None], batch.target)
    with pytest.raises(DataError):
        task.errors(good, batch.target[:-1])


def test_integer_floors_match_the_codes_float_expression():
    # The code writes int(l * .1), int(l * .3) ...; we use (k*l)//10. Same value for every l.
    for k, c in ((1, .1), (3, .3), (4, .4), (5, .5), (6, .6)):
        for length in range(0, 200_001):
            if _tenths(length, k) != int(length * c):
                pytest.fail(f"k={k} l={length}: {_tenths(length, k)} != {int(length * c)}")


# ---------------------------------------------------------------------------------------------
# Temporal order (2 and 3 symbols)
# ---------------------------------------------------------------------------------------------
TEMPORAL = {  # name -> window starts in tenths of L; each window is floor(.1L) wide
    "temporal_order": (1, 5),
    "temporal_order_3bit": (1, 3, 6),
}


@pytest.mark.parametrize("name", sorted(TEMPORAL))
@pytest.mark.parametrize("length", [10, 57, 200])
def test_temporal_order_positions_symbols_and_target(name, length):
    task = TASKS[name]()
    B = 6000
    batch = task.sample(rng(length), B, length)
    assert batch.u.shape == (length, B, 6)
    assert_one_hot(batch.u)
    symbols = batch.u.argmax(axis=2)                        # (L, B)
    relevant = symbols < 2
    k = len(TEMPORAL[name])
    np.testing.assert_array_equal(relevant.sum(axis=0), k)  # exactly k A/B symbols per sequence
    # distractors: only 2..5, all of them used
    assert set(np.unique(symbols[~relevant])) == {2, 3, 4, 5}

    t_idx, b_idx = np.nonzero(relevant.T)                   # sorted by sequence, then time
    pos = b_idx.reshape(B, k)                               # (B, k) positions in time order
    vals = symbols[pos.T, np.arange(B)].T                   # (B, k)
    w = length // 10
    for i, s in enumerate(TEMPORAL[name]):
        lo = (s * length) // 10
        assert set(np.unique(pos[:, i])) == set(range(lo, lo + w)), f"window {i}"
    expected = sum(vals[:, i].astype(np.int64) << i for i in range(k))
    np.testing.assert_array_equal(batch.target, expected)
    assert set(np.unique(batch.target)) == set(range(2 ** k))


def test_temporal_order_p0_follows_the_code_not_the_docstring():
    # docstring: p0 in [1, L/10]; code: [L/10, 2L/10). L=100 -> p0 in [10, 20).
    batch = TASKS["temporal_order"]().sample(rng(), 3000, 100)
    p0 = (batch.u[:, :, :2].sum(axis=2) > 0).argmax(axis=0)   # first A/B in each sequence
    assert p0.min() == 10 and p0.max() == 19


def test_temporal_order_error_rule():
    task = TASKS["temporal_order"]()
    target = np.array([0, 1, 2, 3])
    y = np.zeros((4, 4))
    y[np.arange(4), target] = 0.3
    y[:, 0] += 0.1 * np.array([0, -5, -5, -5])    # keep argmax == target for all rows
    np.testing.assert_array_equal(task.errors(y, target), [False] * 4)
    y[2] = [0.9, 0.0, 0.5, 0.0]                   # sequence 2 now predicts class 0
    np.testing.assert_array_equal(task.errors(y, target), [False, False, True, False])


# ---------------------------------------------------------------------------------------------
# Addition / multiplication
# ---------------------------------------------------------------------------------------------
REGRESSION = {"addition": lambda a, b: (a + b) / 2, "multiplication": lambda a, b: a * b}


@pytest.mark.parametrize("name", sorted(REGRESSION))
def test_two_marker_actual_length_range(name):
    task = TASKS[name]()
    L = 30                                               # l in [30, 33)
    seen = {task.sample(rng(s), 2, L).u.shape[0] for s in range(300)}
    assert seen == {30, 31, 32}
    assert task.max_steps(L) == 32
    # floor(.1L) == 1 for L in [10, 20): randint(1) == 0, so l == L exactly
    for L in (10, 19):
        assert {task.sample(rng(s), 2, L).u.shape[0] for s in range(50)} == {L}


@pytest.mark.parametrize("name", sorted(REGRESSION))
@pytest.mark.parametrize("length", [10, 100, 173])
def test_two_marker_positions_values_and_target(name, length):
    task = TASKS[name]()
    B = 5000
    for seed in range(3):
        batch = task.sample(rng(seed), B, length)
        l = batch.u.shape[0]
        assert batch.length == length
        marks = batch.u[:, :, 0]
        assert set(np.unique(marks)) == {0.0, 1.0}
        np.testing.assert_array_equal(marks.sum(axis=0), 2.0)
        x = batch.u[:, :, 1]
        assert x.min() >= 0.0 and x.max() < 1.0 and x.std() > 0.25   # U[0,1): std ~ .289
        t_idx, b_idx = np.nonzero(marks.T)
        pos = b_idx.reshape(B, 2)                        # (B, 2): p0 < p1
        f, g = l // 10, (4 * l) // 10
        assert set(np.unique(pos[:, 0])) == set(range(0, f))
        assert set(np.unique(pos[:, 1])) == set(range(f, f + g))
        cols = np.arange(B)
        expected = REGRESSION[name](x[pos[:, 0], cols], x[pos[:, 1], cols])
        np.testing.assert_allclose(batch.target[:, 0], expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("name", sorted(REGRESSION))
def test_regression_error_boundary(name):
    task = TASKS[name]()
    target = np.zeros((6, 1))               # zero target so y - target is exactly the diff
    below = np.nextafter(0.2, 0.0)          # below**2 = 0.039999999999999994 <= .04
    diffs = np.array([0.0, 0.19, below, -below, 0.2, -0.21])
    # 0.2**2 evaluates to 0.04000000000000001 in float64, so it is strictly above .04
    y = target + diffs[:, None]
    np.testing.assert_array_equal(task.errors(y, target),
                                  [False, False, False, False, True, True])
    assert below ** 2 <= 0.04 < 0.2 ** 2    # the premise of the boundary cases above


def test_regression_error_rule_is_strictly_greater():
    # No float64 d has d*d == .04 exactly, so check strictness where the square is exact.
    class Strict(type(TASKS["addition"]())):
        error_threshold = 0.25               # 0.5**2 == 0.25 exactly
    task = Strict()
    target = np.array([[0.25], [0.25], [0.25]])
    y = np.array([[0.75], [-0.25], [0.7500001]])
    np.testing.assert_array_equal(task.errors(y, target), [False, False, True])


# ---------------------------------------------------------------------------------------------
# Random permutation
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("length", [1, 2, 60])
def test_permutation(length):
    task = TASKS["random_permutation"]()
    B = 4000
    batch = task.sample(rng(length), B, length)
    assert batch.u.shape == (length, B, 100)
    assert_one_hot(batch.u)
    symbols = batch.u.argmax(axis=2)
    np.testing.assert_array_equal(symbols[0], batch.target)
    assert set(np.unique(batch.target)) == {0, 1}
    if length > 1:
        rest = symbols[1:]
        assert rest.min() >= 2
        if length == 60:
            assert set(np.unique(rest)) == set(range(2, 100))


# ---------------------------------------------------------------------------------------------
# Noiseless memorization
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_values,n_positions,length", [(5, 10, 1), (5, 10, 50), (2, 5, 20),
                                                         (3, 4, 7)])
def test_memorization_layout(n_values, n_positions, length):
    task = TASKS["noiseless_memorization"](n_values=n_values, n_positions=n_positions)
    V, P, L = n_values, n_positions, length
    assert (task.n_in, task.n_out) == (V + 2, V + 1)
    B = 500
    batch = task.sample(rng(), B, L)
    T = L + 2 * P
    assert batch.u.shape == (T, B, V + 2) and batch.target.shape == (T, B)
    assert task.max_steps(L) == T
    assert_one_hot(batch.u)
    symbols = batch.u.argmax(axis=2)                   # (T, B)
    pattern = symbols[:P]
    assert pattern.max() < V and set(np.unique(pattern)) == set(range(V))
    blank, go = V, V + 1
    expected_after = np.full((T - P, B), blank)
    expected_after[L] = go                             # step L + P overall
    np.testing.assert_array_equal(symbols[P:], expected_after)
    np.testing.assert_array_equal(batch.target[:T - P], blank)
    np.testing.assert_array_equal(batch.target[T - P:], pattern)


def test_memorization_any_step_error_rule():
    task = TASKS["noiseless_memorization"](n_values=3, n_positions=4)
    batch = task.sample(rng(), 5, 6)
    y = np.eye(task.n_out)[batch.target] * 2.0          # (T, B, n_out), all correct
    np.testing.assert_array_equal(task.errors(y, batch.target), [False] * 5)
    y_recall = y.copy()
    t_last = y.shape[0] - 1                              # a recall step in sequence 1
    y_recall[t_last, 1] = np.roll(y_recall[t_last, 1], 1)
    np.testing.assert_array_equal(task.errors(y_recall, batch.target),
                                  [False, True, False, False, False])
    y_blank = y.copy()
    y_blank[0, 3] = np.roll(y_blank[0, 3], 1)           # a blank-target step in sequence 3
    np.testing.assert_array_equal(task.errors(y_blank, batch.target),
                                  [False, False, False, True, False])


@pytest.mark.parametrize("kwargs,key", [({"n_values": 0}, "task.n_values"),
                                        ({"n_positions": 0}, "task.n_positions"),
                                        ({"n_values": 2.5}, "task.n_values"),
                                        ({"n_positions": True}, "task.n_positions")])
def test_memorization_rejects_bad_arguments(kwargs, key):
    with pytest.raises(ConfigError) as info:
        TASKS["noiseless_memorization"](**kwargs)
    assert info.value.key == key


# ---------------------------------------------------------------------------------------------
# TaskSampler / make_task
# ---------------------------------------------------------------------------------------------
def test_sampler_fixed_length():
    s = make_task(task_config("temporal_order", length=37))
    assert isinstance(s, TaskSampler)
    r = rng()
    assert {s.draw_length(r) for _ in range(50)} == {37}
    batch = s.sample(r, 4)
    assert batch.length == 37 and batch.u.shape == (37, 4, 6)


def test_sampler_range_is_min_inclusive_max_exclusive():
    s = make_task(task_config("temporal_order", min_length=10, max_length=15))
    r = rng()
    draws = [s.draw_length(r) for _ in range(2000)]
    assert set(draws) == {10, 11, 12, 13, 14}
    assert all(type(d) is int for d in draws)
    lengths = {s.sample(r, 2).length for _ in range(200)}
    assert lengths == {10, 11, 12, 13, 14}
    assert s.max_steps == 14


def test_sampler_min_equal_max_is_fixed():
    s = make_task(task_config("addition", min_length=50, max_length=50))
    r = rng()
    assert {s.draw_length(r) for _ in range(20)} == {50}
    assert s.max_steps == 54


def test_sampler_one_length_per_batch_and_deterministic():
    s = make_task(task_config("addition", min_length=20, max_length=200))
    a = s.sample(rng(9), 3)
    b = s.sample(rng(9), 3)
    assert a.length == b.length and 20 <= a.length < 200
    np.testing.assert_array_equal(a.u, b.u)
    np.testing.assert_array_equal(a.target, b.target)


@pytest.mark.parametrize("name", GENERATORS)
def test_sampler_enforces_task_min_length(name):
    m = TASKS[name]().min_length
    with pytest.raises(ConfigError) as info:
        make_task(task_config(name, length=m - 1))
    assert info.value.key == "task.length"
    with pytest.raises(ConfigError) as info:
        make_task(task_config(name, min_length=m - 1, max_length=m + 10))
    assert info.value.key == "task.min_length"
    make_task(task_config(name, length=m))                     # the minimum itself is accepted
    make_task(task_config(name, min_length=m, max_length=m + 10))


@pytest.mark.parametrize("cfg,key", [
    (task_config("addition", min_length=50, max_length=40), "task.max_length"),
    (task_config("addition"), "task.min_length"),
    (task_config("addition", min_length=50), "task.max_length"),
    (task_config("addition", length=50.0), "task.length"),
    (task_config("addition", min_length=True, max_length=60), "task.min_length"),
])
def test_sampler_config_errors(cfg, key):
    with pytest.raises(ConfigError) as info:
        make_task(cfg)
    assert info.value.key == key


def test_unknown_task_name_suggests_closest():
    with pytest.raises(ConfigError) as info:
        make_task(task_config("temporal_ordr", length=50))
    assert info.value.key == "task.name"
    assert info.value.suggestion == "temporal_order"


def test_memorization_params_come_from_config_and_only_go_to_it():
    s = make_task(task_config("noiseless_memorization", length=20, n_values=3, n_positions=4))
    assert (s.task.n_values, s.task.n_positions, s.task.n_in, s.task.n_out) == (3, 4, 5, 4)
    assert s.sample(rng(), 2).u.shape == (28, 2, 5)
    d = make_task(task_config("noiseless_memorization", length=20))      # None -> defaults
    assert (d.task.n_values, d.task.n_positions) == (5, 10)
    # other tasks ignore n_values / n_positions (their constructors take no arguments)
    t = make_task(task_config("temporal_order", length=20, n_values=3, n_positions=4))
    assert (t.task.n_in, t.task.n_out) == (6, 4)


# ---------------------------------------------------------------------------------------------
# A task registered from Python: valid in YAML, trains end to end
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def first_symbol():
    """A Task subclass registered with rnnctl.tasks.register for one test, then removed."""
    from rnnctl.registry import TASKS as registry
    from rnnctl.tasks import register
    from rnnctl.tasks.base import one_hot

    @register
    class FirstSymbol(Task):
        """Recall the first of L symbols (a test task)."""

        name = "first_symbol_test"
        loss, scored, min_length = "softmax_ce", "last", 2
        params = ("n_values",)   # a config key (task.n_values) the task takes

        def __init__(self, *, n_values: int = 5):
            self.n_values = self.n_in = self.n_out = n_values

        def _generate(self, rng, batch_size, length):
            symbols = rng.integers(0, self.n_values, size=(length, batch_size))
            return Batch(u=one_hot(symbols, self.n_values), target=symbols[0].astype(np.int64),
                         length=length)

    yield FirstSymbol
    registry.unregister("first_symbol_test")


def test_a_task_registered_from_python_trains_from_a_yaml_file(first_symbol, tmp_path):
    """Registered with the decorator, named in a YAML file, loaded, built and trained (through
    rnnctl.training.train and a MemorySink)."""
    from rnnctl.config import check_runnable, load_config
    from rnnctl.registry import TASKS as registry
    from rnnctl.training import MemorySink, train
    assert TASKS is registry and TASKS["first_symbol_test"] is first_symbol
    assert registry.help("first_symbol_test") == "Recall the first of L symbols (a test task)."
    path = tmp_path / "mine.yaml"
    path.write_text("task: {name: first_symbol_test, length: 6, n_values: 3}\n"
                    "model: {hidden: 8}\n"
                    "train: {steps: 8, batch_size: 4, optimizer: {lr: 0.1}}\n"
                    "eval: {every: 4, sequences: 16, batch_size: 8, stop_on_success: false}\n")
    cfg = load_config(path)
    check_runnable(cfg)
    sampler = make_task(cfg)
    assert isinstance(sampler.task, first_symbol) and sampler.task.n_in == 3
    sink = MemorySink()
    result = train(cfg, sink)
    assert result.status == "completed" and result.summary["updates"] == 8
    assert len(sink.rows) == 8 and len(sink.records) == 2
    assert sink.saved_params["init"]["W_in"].shape == (8, 3)


def test_register_refuses_a_taken_name_and_non_tasks(first_symbol):
    from rnnctl.tasks import register
    clash = type("Clash", (Task,), {"name": "addition"})
    with pytest.raises(ValueError, match="'addition' is already registered by Addition"):
        register(clash)
    with pytest.raises(TypeError):
        register(object)
    assert register(first_symbol) is first_symbol   # the same class again is a no-op
