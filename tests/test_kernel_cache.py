"""The guard that drops Numba cache entries compiled from other versions of the kernel sources."""

import os

import numba

import rnnctl.kernels as kernels
from rnnctl.kernels import cache


def _touch(folder, *names):
    for n in names:
        (folder / n).write_text("x")


def test_stale_entries_of_our_modules_go_and_the_marker_is_written(tmp_path):
    _touch(tmp_path, "lstm.lstm_forward-28.py311.nbi", "lstm.lstm_forward-28.py311.1.nbc",
           "activations._tanh32-110.py311.nbi", "other.f-3.py311.nbi", "lstm.cpython-311.pyc")
    removed = cache.drop_stale([str(tmp_path)], "abc", {"lstm", "activations"})
    assert sorted(removed) == ["activations._tanh32-110.py311.nbi", "lstm.lstm_forward-28.py311.1.nbc",
                               "lstm.lstm_forward-28.py311.nbi"]
    assert sorted(os.listdir(tmp_path)) == sorted([cache.MARKER, "lstm.cpython-311.pyc", "other.f-3.py311.nbi"])
    assert (tmp_path / cache.MARKER).read_text().strip() == "abc"
    # same digest: entries compiled since are kept
    _touch(tmp_path, "lstm.lstm_forward-28.py311.nbi")
    assert cache.drop_stale([str(tmp_path)], "abc", {"lstm"}) == []
    assert (tmp_path / "lstm.lstm_forward-28.py311.nbi").exists()
    # sources changed: dropped again
    assert cache.drop_stale([str(tmp_path)], "def", {"lstm"}) == ["lstm.lstm_forward-28.py311.nbi"]


def test_missing_directory_is_left_alone(tmp_path):
    assert cache.drop_stale([str(tmp_path / "nope")], "abc", {"lstm"}) == []


def test_digest_covers_every_kernel_source_and_numba(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    d1 = cache.source_digest(tmp_path)
    (tmp_path / "a.py").write_text("x = 2\n")
    assert cache.source_digest(tmp_path) != d1
    assert numba.__version__  # part of the digest: a Numba upgrade recompiles too


def test_the_package_marker_matches_its_sources():
    """Importing rnnctl.kernels ran the guard: the live cache directory carries the current digest."""
    dispatchers = [v for m in (kernels.lstm, kernels.rnn, kernels.gru) for v in vars(m).values()
                   if isinstance(v, numba.core.dispatcher.Dispatcher)]
    dirs = cache.cache_dirs(dispatchers)
    assert dirs
    for d in dirs:
        with open(os.path.join(d, cache.MARKER)) as f:
            assert f.read().strip() == cache.source_digest()
