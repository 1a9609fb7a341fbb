"""SIGTERM and SIGHUP stop a run as the first Ctrl-C does (checkpoint at the next update, status
'interrupted', exit 143 / 129), a second signal stops at once with every file whole, and a sweep
forwards the stop to its workers. Real subprocesses, as a scheduler, `timeout` or systemd send them."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sweepkit import BASE, REPO, spec  # noqa: F401 (spec: a fixture)
from typer.testing import CliRunner

from rnnctl import sweep as sw
from rnnctl.cli import app
from rnnctl.config import load_config
from rnnctl.errors import EXIT_HANGUP, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED
from rnnctl.interrupt import GracefulInterrupt, Interrupted, exit_code
from rnnctl.store import (FINISHED, RunFolder, atomic_write, has_checkpoint, load_checkpoint, read_metrics,
                          read_run, read_run_or_none, read_sweep_summary, read_trace)
from rnnctl.training import train
from test_training_state import assert_same_run  # same trace, metrics, parameters and summary

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
# long enough that a signal sent after the first evaluation (update 100) arrives mid-run
LONG = ["train.steps=3000", "eval.every=100"]


def rnnctl(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rnnctl", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV, **kw)


def finish(proc: subprocess.Popen, timeout: float = 60) -> str:
    try:
        return proc.communicate(timeout=timeout)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def training(runs: Path, timeout: float = 60) -> Path:
    """The run folder under ``runs`` once its first evaluation is on disk (inside the loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for d in runs.glob("*/*"):
            try:
                if read_metrics(d):
                    return d
            except Exception:  # noqa: BLE001 - not written yet
                pass
        time.sleep(0.02)
    raise AssertionError(f"no run started training under {runs}")


def no_temp_files(run_dir) -> bool:
    return not [p for p in Path(run_dir).rglob("*") if p.name.endswith(".tmp")]


def test_exit_codes_of_the_stop_signals():
    assert (EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_HANGUP) == (130, 143, 129)
    assert exit_code(None) == exit_code(KeyboardInterrupt()) == exit_code(signal.SIGINT) == 130
    assert exit_code(Interrupted(signal.SIGTERM)) == exit_code(signal.SIGTERM) == 143
    assert exit_code(Interrupted(signal.SIGHUP)) == 129
    assert isinstance(Interrupted(signal.SIGTERM), KeyboardInterrupt)


def test_first_signal_asks_a_second_raises_with_the_first_ones_code():
    before = signal.getsignal(signal.SIGTERM)
    with GracefulInterrupt() as g:
        signal.raise_signal(signal.SIGHUP)
        assert g.requested and g.name == "SIGHUP"
        with pytest.raises(Interrupted) as e:
            signal.raise_signal(signal.SIGTERM)   # any of the three, second: at once
        assert exit_code(e.value) == EXIT_HANGUP
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_checkpoints_exits_143_and_resume_is_bit_identical(write_config, tiny_path, tmp_path):
    whole = rnnctl("train", tiny_path, *LONG, "runs_dir=" + str(tmp_path / "whole"), "-q")
    cut = rnnctl("train", tiny_path, *LONG, "runs_dir=" + str(tmp_path / "cut"), "-q")
    try:
        run_dir = training(tmp_path / "cut")
        cut.send_signal(signal.SIGTERM)
        err = finish(cut)
    finally:
        finish(whole, 120)
    assert cut.returncode == EXIT_TERMINATED, err
    assert "interrupted by SIGTERM" in err and "rnnctl resume" in err
    info = read_run(run_dir)
    assert info["status"] == "interrupted" and info["message"] == "stopped by SIGTERM"
    # stopped at the update boundary after the signal, not at the last evaluation: nothing lost
    assert load_checkpoint(run_dir).update == info["updates"] and 100 <= info["updates"] < 3000
    assert no_temp_files(run_dir)

    r = subprocess.run([sys.executable, "-m", "rnnctl", "resume", str(run_dir), "-q"], capture_output=True,
                       text=True, env=ENV, timeout=120)
    assert r.returncode == EXIT_OK, r.stderr
    after = read_run(run_dir)
    assert after["status"] in FINISHED and after["updates"] == 3000
    assert after["resumed"][0]["update"] == info["updates"]
    assert whole.returncode == EXIT_OK
    (reference,) = (tmp_path / "whole").glob("*/*")
    assert_same_run(reference, run_dir)


def test_sighup_exits_129(tiny_path, tmp_path):
    proc = rnnctl("train", tiny_path, *LONG, "-q")
    try:
        run_dir = training(tmp_path / "runs")
        proc.send_signal(signal.SIGHUP)
    finally:
        err = finish(proc)
    assert proc.returncode == EXIT_HANGUP, err
    info = read_run(run_dir)
    assert info["status"] == "interrupted" and info["message"] == "stopped by SIGHUP"
    assert has_checkpoint(run_dir) and load_checkpoint(run_dir).update == info["updates"]


def test_a_second_sigterm_exits_at_once_with_every_file_whole(tiny_path, tmp_path):
    proc = rnnctl("train", tiny_path, "train.steps=200000", "eval.every=100", "-q")
    try:
        run_dir = training(tmp_path / "runs")
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGTERM)   # may arrive while it saves, or merge with the first
        t0 = time.monotonic()
    finally:
        err = finish(proc)
    assert proc.returncode == EXIT_TERMINATED, err
    assert time.monotonic() - t0 < 20
    info = read_run(run_dir)   # whole JSON (RunError otherwise)
    assert info["status"] == "interrupted" and info["updates"] < 200000
    ck = load_checkpoint(run_dir)
    assert 100 <= ck.update <= info["updates"] and no_temp_files(run_dir)


def test_a_second_signal_during_a_checkpoint_write_raises_once_it_is_whole(tiny_path, tmp_path, monkeypatch):
    """The loop defers a second signal that comes while the sink writes (here half-way through
    the checkpoint of update 20) to the end of that write: the checkpoint is whole, no temp file
    is left, run.json says interrupted, and the resumed run gives the numbers of one never
    interrupted."""
    cfg = load_config(tiny_path)   # 30 updates, a checkpoint at 10 and 20
    import rnnctl.store.checkpoint as ck

    def save(path, arrays):
        def write(f):
            np.savez(f, **arrays)
            if "0000020" in Path(path).name:
                signal.raise_signal(signal.SIGTERM)   # first: stop at the next update
                signal.raise_signal(signal.SIGTERM)   # second: at once, but not mid-write
        atomic_write(path, write)

    monkeypatch.setattr(ck, "atomic_save_npz", save)
    cut = RunFolder.create(tmp_path / "cut", "x", "cut")
    with pytest.raises(Interrupted) as e:
        train(cfg, cut)
    assert exit_code(e.value) == EXIT_TERMINATED
    info = read_run(cut.path)
    assert info["status"] == "interrupted" and info["message"] == "stopped by SIGTERM"
    assert info["updates"] == load_checkpoint(cut.path).update == 20 and no_temp_files(cut.path)
    monkeypatch.undo()

    again = RunFolder(cut.path)
    assert train(cfg, again, resume=again.resume()).status in FINISHED
    whole = RunFolder.create(tmp_path / "whole", "x", "whole")
    train(cfg, whole)
    assert_same_run(whole.path, cut.path)


def test_a_stop_in_the_middle_of_a_file_write_leaves_the_old_file_whole(tmp_path):
    """What no handler defers (a stop raised outside the loop's writes, e.g. while a run starts)
    meets atomic writes: the old file stays, the temp file goes."""
    path = tmp_path / "f.json"
    atomic_write(path, lambda f: f.write(b'{"old": 1}'))

    def torn(f):
        f.write(b'{"new": ')
        raise Interrupted(signal.SIGTERM)
    with pytest.raises(Interrupted):
        atomic_write(path, torn)
    assert json.loads(path.read_text()) == {"old": 1} and no_temp_files(tmp_path)


def test_a_sweep_forwards_sigterm_to_its_workers_and_exits_143(spec, tmp_path):
    path = spec("seeds: 4\n", base=BASE.replace("steps: 30", "steps: 400").replace("every: 10", "every: 50"))
    slow = json.dumps({"action": "sleep", "seconds": 0.02})   # each job >= 8 s: all still running
    proc = subprocess.Popen([sys.executable, "-m", "rnnctl", "sweep", str(path), "-w", "2", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**ENV, sw.TEST_HOOK_ENV: slow})
    try:
        started, deadline = 0, time.monotonic() + 60
        while started < 2 and time.monotonic() < deadline:
            started += " start " in proc.stderr.readline()
        assert started == 2
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)   # the driver only: it tells its workers to stop
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_TERMINATED, err
    s = sw.load_sweep(path)
    jobs = sw.expand(s)
    summary = read_sweep_summary(s.folder)
    assert summary["interrupted"] is True and summary["stopped_by"] == "SIGTERM"
    statuses = sorted(summary["counts"].items())
    assert statuses == [("interrupted", 2), ("pending", 2)], statuses
    ran = [j for j in jobs if read_run_or_none(j.run_dir) is not None]
    assert len(ran) == 2
    for j in ran:
        info = read_run(j.run_dir)
        assert info["status"] == "interrupted" and 0 < info["updates"] < 400
        assert load_checkpoint(j.run_dir).update == info["updates"]   # stopped where it was

    r = CliRunner().invoke(app, ["sweep", str(path), "--executor", "thread", "-q"])
    assert r.exit_code == EXIT_OK, r.output
    for j in jobs:
        assert read_run(j.run_dir)["status"] in FINISHED and len(read_trace(j.run_dir)["update"]) == 400
    assert all(read_run(j.run_dir)["resumed"] for j in ran)
