"""log.backprop_every auto: a bounded record of the per-step backprop norms (the log-spaced schedule,
the reservoir of the largest rows, non-finite rows, the last update), equal to the same rows of a
full record, kept exactly by a resumed run; store.sizes' schedule count and size model."""

import os
from types import SimpleNamespace

import numpy as np
import pytest

from rnnctl.config import config_hash, load_config
from rnnctl.errors import RunError
from rnnctl.store import RunFolder, backprop_peak_updates, read_backprop, read_run
from rnnctl.store.sizes import backprop_on_schedule, backprop_schedule_rows, human, size_warning
from rnnctl.training import MemorySink, train
from rnnctl.training.backprop import BackpropRecorder
from rnnctl.footprint import folder_size_warning, projected_folder_size
from test_training_state import InterruptAt, assert_same_run

DENSE, PEAKS, STEPS = 8, 4, 123


@pytest.fixture
def tiny(tiny_path):
    base = [f"train.steps={STEPS}", f"log.backprop_dense={DENSE}", f"log.backprop_peaks={PEAKS}",
            "eval.every=25", "task.min_length=10", "task.max_length=18"]   # lengths vary: NaN padding
    return lambda *overrides: load_config(tiny_path, [*base, *overrides])


@pytest.mark.parametrize("dense", [1, 3, 8, 256])
def test_schedule_count_is_the_closed_form(dense):
    for steps in (1, 2, dense, 2 * dense, 2 * dense + 1, 5 * dense + 3, 1000, 4097):
        assert backprop_schedule_rows(steps, dense) == sum(backprop_on_schedule(u, dense) for u in range(1, steps + 1))
    assert all(backprop_on_schedule(u, dense) for u in range(1, 2 * dense + 1))   # dense at first
    # dense per doubling: powers of two times dense give dense * (1 + log2(steps / dense)) exactly
    for j in range(1, 12):
        assert backprop_schedule_rows(dense << j, dense) == dense * (1 + j)


def test_bounded_default_and_keys(tiny, tiny_path):
    cfg = load_config(tiny_path)
    assert cfg.log.backprop_every == "auto"
    assert config_hash(cfg) == config_hash(load_config(tiny_path, ["log.backprop_every=auto"]))
    assert load_config(tiny_path, ["log.backprop_every=1"]).log.backprop_every == 1
    with pytest.raises(Exception, match="auto"):
        load_config(tiny_path, ["log.backprop_every=sometimes"])


def full_record(cfg_full) -> dict[int, np.ndarray]:
    sink = MemorySink()
    train(cfg_full, sink)
    return {u: n for u, n in sink.backprop_rows}


def test_auto_keeps_the_schedule_the_peaks_and_the_last_of_a_full_record(tiny, tmp_path):
    full = full_record(tiny("log.backprop_every=1"))
    assert sorted(full) == list(range(1, STEPS + 1))
    folder = RunFolder.create(tmp_path, "x", "r")
    train(tiny(), folder)
    updates, norms = read_backprop(folder.path)
    scheduled = [u for u in full if backprop_on_schedule(u, DENSE)]
    off = [u for u in full if not backprop_on_schedule(u, DENSE)]
    top = sorted(off, key=lambda u: -np.nanmax(full[u]))[:PEAKS]
    want = sorted({*scheduled, *top, STEPS})
    assert STEPS not in scheduled and updates.tolist() == want
    assert len(want) < STEPS / 2
    width = norms.shape[-1]
    for u, row in zip(updates, norms):                     # the same numbers as the full record
        expect = np.full(width, np.nan, np.float32)
        expect[:full[u].shape[-1]] = full[u][0]
        assert np.array_equal(row[0], expect, equal_nan=True), u
    assert np.isnan(norms).any()                           # batches of different lengths: padded
    assert backprop_peak_updates(folder.path).tolist() == sorted(top)
    assert read_backprop(folder.path, peaks=False)[0].tolist() == sorted({*scheduled, STEPS})
    from rnnctl.plots import fig_backprop
    from rnnctl.report import backprop_rows
    from rnnctl.store import read_run_record
    fig = fig_backprop(read_run_record(folder.path), backprop_rows(folder.path), backprop_peak_updates(folder.path))
    picked = [int(line.get_label().split()[-1]) for line in fig.axes[1].get_lines()]
    assert picked and not set(picked) & set(top)           # the curves show typical updates
    sink = MemorySink()                                    # the memory sink is handed the same rows
    train(tiny(), sink)
    assert sorted({u for u, _ in sink.backprop_rows} | {u for u, _ in sink.peak_rows()}) == want


def test_explicit_every_means_every(tiny, tmp_path):
    folder = RunFolder.create(tmp_path, "x", "r")
    train(tiny("log.backprop_every=7"), folder)
    updates, _ = read_backprop(folder.path)
    assert updates.tolist() == list(range(7, STEPS + 1, 7))   # no peaks, no last update
    assert read_backprop(folder.path, max_rows=5)[0].tolist() == [7, 35, 63, 91, 119]


@pytest.mark.parametrize("graceful", [False, True])
def test_resumed_run_keeps_the_same_rows(tiny, tmp_path, graceful):
    cfg = tiny()
    whole = RunFolder.create(tmp_path / "a", "x", "whole")
    train(cfg, whole)
    cut = RunFolder.create(tmp_path / "b", "x", "cut")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, cut, InterruptAt(93, graceful))   # hard: resumes from the checkpoint at 75
    again = RunFolder(cut.path)
    checkpoint = again.resume()
    assert checkpoint.update == (93 if graceful else 75)
    assert read_backprop(cut.path)[0].max() <= checkpoint.update   # rows and peaks past it dropped
    train(cfg, again, resume=checkpoint)
    assert_same_run(whole.path, cut.path)
    (ua, na), (ub, nb) = read_backprop(whole.path), read_backprop(cut.path)
    assert ua.tolist() == ub.tolist() and np.array_equal(na, nb, equal_nan=True)


def test_extended_run_goes_on(tiny, tmp_path):
    folder = RunFolder.create(tmp_path, "x", "r")
    train(tiny(), folder)
    again = RunFolder(folder.path)
    train(tiny("train.steps=200"), again, resume=again.resume({"train.steps": 200}))
    updates, _ = read_backprop(folder.path)
    assert read_run(folder.path)["status"] == "completed"
    assert updates[-1] == 200 and STEPS in updates.tolist() and np.all(np.diff(updates) > 0)


def test_nonfinite_rows_are_kept_up_to_the_cap():
    log = SimpleNamespace(backprop_every="auto", backprop_dense=2, backprop_peaks=2)
    rec, sink = BackpropRecorder(log, (1, 6)), MemorySink()
    state = SimpleNamespace(backprop=rec.init())
    rows = {u: np.full((1, 4), float(u)) for u in range(1, 41)}
    for u in (11, 13, 15):
        rows[u][0, 2] = np.nan if u != 13 else np.inf
    rows[21][0, 0] = 1e6                                     # a spike off the schedule
    for u, r in rows.items():
        rec.record(sink, state, u, r)
    rec.close(sink, "completed")
    kept = [u for u, _ in sink.backprop_rows]
    assert 11 in kept and 13 in kept and 15 not in kept      # the first two non-finite rows
    assert kept[-1] == 40 and kept == sorted(kept)
    peaks = [u for u, _ in sink.peak_rows()]
    assert 21 in peaks and len(peaks) == 2
    assert sink.peak_rows()[0][1].shape == (1, 6) and np.isnan(sink.peak_rows()[0][1][0, 4:]).all()


def test_reader_spreads_rows_over_updates_not_over_rows(tiny, tmp_path):
    folder = RunFolder.create(tmp_path, "x", "r")
    train(tiny("train.steps=400", "log.backprop_peaks=0"), folder)
    updates, _ = read_backprop(folder.path)
    few, _ = read_backprop(folder.path, max_rows=9)
    assert few[0] == updates[0] and few[-1] == 400
    # log-spaced rows crowd the start; evenly spaced updates (every 50) are what a heatmap needs
    assert np.abs(few - np.linspace(1, 400, 9)).max() <= 16   # the stride there is 32
    assert np.median(updates) < 150


def test_projected_size_matches_a_real_folder(tiny, tmp_path):
    for every in ("auto", "1"):
        cfg = tiny(f"log.backprop_every={every}", "train.steps=400")
        folder = RunFolder.create(tmp_path / every, "x", "r")
        train(cfg, folder)
        size = projected_folder_size(cfg)
        real = {f: os.path.getsize(folder.path / f) for f in os.listdir(folder.path)}
        assert 0.85 < size.parts["trace.csv"] / real["trace.csv"] < 1.25
        bp = sum(v for f, v in real.items() if f.startswith("backprop_"))
        assert 0.9 < size.parts["backprop_norms.npy"] / bp < 1.15
        assert 0.8 < size.total / sum(real.values()) < 1.25


def test_size_warning_names_the_key(tiny_path):
    big = ["train.steps=5000000", "task.length=300", "eval.every=1000"]
    text = folder_size_warning(load_config(tiny_path, [*big, "log.backprop_every=1"]))
    assert "log.backprop_every" in text and "GB" in text and "5,000,000" in text
    assert folder_size_warning(load_config(tiny_path, big)) is None
    assert size_warning(projected_folder_size(load_config(tiny_path)), 30) is None
    assert human(4.2e9) == "4.2 GB" and human(340e6) == "340 MB" and human(12) == "12 B"


def test_train_and_dry_run_print_the_warning_on_stderr(tiny_path):
    from typer.testing import CliRunner

    from rnnctl.cli import app
    big = ["train.steps=5000000", "task.length=300", "eval.every=1000"]
    r = CliRunner().invoke(app, ["train", str(tiny_path), *big, "log.backprop_every=1", "--dry-run"])
    assert r.exit_code == 0 and "backprop_every: 1" in r.stdout
    assert "warning:" in r.stderr and "log.backprop_every" in r.stderr and "warning" not in r.stdout
    r = CliRunner().invoke(app, ["train", str(tiny_path), *big, "--dry-run"])
    assert r.exit_code == 0 and "warning" not in r.stderr


def test_a_run_started_under_the_old_default_resumes(tiny, tmp_path):
    """Before auto, backprop_every 1 was the default: such a run's config.yaml says 1 while its
    checkpoint's identity left the key out. It resumes (and records every update, as it did)."""
    from rnnctl.store import config_path
    from rnnctl.training import resume_run
    cut = RunFolder.create(tmp_path, "x", "cut")
    with pytest.raises(KeyboardInterrupt):
        train(tiny(), cut, InterruptAt(60))
    path = config_path(cut.path)
    text = path.read_text()
    assert "backprop_every: auto" in text
    path.write_text(text.replace("backprop_every: auto", "backprop_every: 1"))
    cfg, folder, checkpoint = resume_run(cut.path)
    assert cfg.log.backprop_every == 1 and checkpoint.update == 50
    train(cfg, folder, resume=checkpoint)
    assert read_run(cut.path)["status"] == "completed"
    assert read_backprop(cut.path)[0][-(STEPS - 50):].tolist() == list(range(51, STEPS + 1))
    other = RunFolder.create(tmp_path, "x", "other")   # any other key edited is still refused
    with pytest.raises(KeyboardInterrupt):
        train(tiny(), other, InterruptAt(60))
    again = RunFolder(other.path)
    with pytest.raises(RunError, match="different config"):
        train(tiny("seed=2"), again, resume=again.resume())
