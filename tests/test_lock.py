"""One lock per run folder (rnnctl/store/lock.py), with real concurrent processes: two sweeps over
one folder never train a job twice, a killed run (even a zombie) is resumed by a rerun, a locked
run is refused with exit 6 ("running elsewhere"), the kernel frees the lock of a SIGKILLed
holder; and failures at start are recorded (run.json failed + error type) or leave no folder."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sweepkit import BASE, REPO, spec  # noqa: F401 (spec: a fixture)
from typer.testing import CliRunner

from rnnctl import sweep as sw
from rnnctl.cli import app
from rnnctl.config import load_config
from rnnctl.errors import EXIT_OK, EXIT_RUNNING_ELSEWHERE, RunningElsewhere
from rnnctl.store import FINISHED, RunFolder, RunLock, is_locked, read_metrics, read_run, read_trace
from rnnctl.store import layout as L
from rnnctl.training import train

runner = CliRunner()
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
TRIALS = 20
ELSEWHERE = "running elsewhere"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_each_update_once(run_dir, steps=30, every=10):
    info = read_run(run_dir)
    assert info["status"] in FINISHED and info["updates"] == steps, (run_dir, info)
    assert list(read_trace(run_dir)["update"]) == list(range(1, steps + 1)), run_dir
    assert [m["update"] for m in read_metrics(run_dir)] == list(range(every, steps + 1, every)), run_dir


def hold_lock(path):
    """A subprocess holding the run folder's lock until killed."""
    code = f"from rnnctl.store import RunLock; l = RunLock({str(path)!r}); l.acquire(); print('locked', flush=True); " \
           "import time; time.sleep(120)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout.readline().strip() == "locked"
    proc.stdout.close()
    return proc


# -- two sweeps over one folder ------------------------------------------------------------------

# Each side runs TRIALS sweeps in one process (start-up paid once: 20 trials of two fresh
# processes took ~10 s each here), meeting the other side at a barrier before every trial.
SIDE = textwrap.dedent("""\
    import sys, time
    from pathlib import Path
    from rnnctl.cli import app
    side, root, n, spec = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    other = "b" if side == "a" else "a"
    for i in range(n):
        (root / f"ready-{i}-{side}").touch()
        deadline = time.monotonic() + 120
        while not (root / f"ready-{i}-{other}").exists() and time.monotonic() < deadline:
            time.sleep(0.001)
        sys.stderr.write(f"=== trial {i}\\n"); sys.stderr.flush()
        code = app(["sweep", spec, "-w", "1", "-e", "thread", "-q", f"runs_dir={root}/t{i}"],
                   standalone_mode=False)
        sys.stderr.flush()
        print("CODE", i, code, flush=True)
""")


def test_two_sweeps_over_one_folder_never_run_a_job_twice(spec, tmp_path):
    path = spec("name: cc\nseeds: 8\n")
    (tmp_path / "side.py").write_text(SIDE)
    t0 = time.monotonic()
    # each side writes into files, not pipes: a side whose pipe filled while the test read the
    # other's would block in a write, and the other would wait for it at the barrier
    files = {s: (open(tmp_path / f"{s}.out", "w+"), open(tmp_path / f"{s}.err", "w+")) for s in "ab"}
    procs = {s: subprocess.Popen([sys.executable, str(tmp_path / "side.py"), s, str(tmp_path), str(TRIALS), str(path)],
                                 stdout=files[s][0], stderr=files[s][1], text=True, env=ENV)
             for s in ("a", "b")}
    for p in procs.values():
        p.wait(timeout=300)
    outs = {}
    for s, (out, err) in files.items():
        out.seek(0), err.seek(0)
        outs[s] = (out.read(), err.read())
        out.close(), err.close()
    assert all(p.returncode == 0 for p in procs.values()), outs
    codes = {s: dict(map(int, line.split()[1:]) for line in out.split("\n") if line.startswith("CODE "))
             for s, (out, _) in outs.items()}
    logs = {s: err.split("=== trial ")[1:] for s, (_, err) in outs.items()}
    contended = 0
    for i in range(TRIALS):
        pair = (codes["a"][i], codes["b"][i])
        assert pair in ((EXIT_OK, EXIT_OK), (EXIT_OK, EXIT_RUNNING_ELSEWHERE), (EXIT_RUNNING_ELSEWHERE, EXIT_OK)), (i, pair)
        for s, c in zip("ab", pair):
            assert "FAILED" not in logs[s][i] and "Traceback" not in logs[s][i], logs[s][i]
            if c == EXIT_RUNNING_ELSEWHERE:
                assert ELSEWHERE in logs[s][i]
        contended += any(ELSEWHERE in logs[s][i] for s in "ab")
        jobs = sw.expand(sw.load_sweep(path, [f"runs_dir={tmp_path}/t{i}"]))
        assert len(jobs) == 8
        for j in jobs:
            assert_each_update_once(j.run_dir)
    took = time.monotonic() - t0
    print(f"{TRIALS} trials, {contended} with a job found locked by the other sweep, {took:.1f} s")
    assert contended, "the two sweeps never met: the test did not test the lock"


def test_two_rnnctl_sweep_processes_with_worker_processes(spec, tmp_path):
    """The issue's command line as it was: two `rnnctl sweep -w 1` (local worker processes)."""
    path = spec("name: cc\nseeds: 8\n")
    cmd = [sys.executable, "-m", "rnnctl", "sweep", str(path), "-w", "1", "-q", f"runs_dir={tmp_path}/cc"]
    files = [(open(tmp_path / f"{k}.out", "w+"), open(tmp_path / f"{k}.err", "w+")) for k in range(2)]   # not pipes: see above
    procs = [subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=ENV) for out, err in files]
    for p in procs:
        p.wait(timeout=120)
    outs = []
    for out, err in files:
        out.seek(0), err.seek(0)
        outs.append((out.read(), err.read()))
        out.close(), err.close()
    codes = sorted(p.returncode for p in procs)
    assert codes in ([0, 0], [0, EXIT_RUNNING_ELSEWHERE]), outs
    for p, (_, err) in zip(procs, outs):
        assert "FAILED" not in err
        if p.returncode == EXIT_RUNNING_ELSEWHERE:
            assert ELSEWHERE in err
    for j in sw.expand(sw.load_sweep(path, [f"runs_dir={tmp_path}/cc"])):
        assert_each_update_once(j.run_dir)


def test_a_sweep_leaves_a_locked_job_alone_and_exits_6(spec, tmp_path):
    path = spec("seeds: 2\n")
    jobs = sw.expand(sw.load_sweep(path))
    jobs[1].run_dir.mkdir(parents=True)
    holder = hold_lock(jobs[1].run_dir)
    try:
        assert [p.action for p in sw.plan(jobs)] == ["new", "busy"]
        r = runner.invoke(app, ["sweep", str(path), "-e", "thread", "-q"])
        assert r.exit_code == EXIT_RUNNING_ELSEWHERE, r.output
        assert ELSEWHERE in r.stderr and "FAILED" not in r.stderr and ELSEWHERE in r.stdout   # lines, table
        summary = json.loads((jobs[0].run_dir.parent / L.SWEEP_SUMMARY).read_text())
        assert summary["counts"] == {"completed": 1, ELSEWHERE: 1}
        assert [r["status"] for r in summary["runs"]] == ["completed", ELSEWHERE]
        assert f"pid {holder.pid}" in summary["runs"][1]["message"]
        assert sorted(p.name for p in jobs[1].run_dir.iterdir()) == [L.LOCK]   # not touched
    finally:
        holder.kill()
        holder.wait()
    r = runner.invoke(app, ["sweep", str(path), "-e", "thread", "-q"])   # its holder is gone: run now
    assert r.exit_code == EXIT_OK, r.output
    assert_each_update_once(jobs[1].run_dir)


# -- the zombie: a killed run whose process is not reaped yet -------------------------------------

def test_a_killed_run_left_running_is_resumed_even_while_its_process_is_a_zombie(spec, tmp_path):
    path = spec("seeds: 1\n")
    (job,) = sw.expand(sw.load_sweep(path))
    hook = json.dumps({"at": 25, "action": "exit"})   # os._exit(70) at update 25, as a SIGKILL would
    proc = subprocess.Popen([sys.executable, "-m", "rnnctl", "sweep", str(path), "-e", "thread", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**ENV, sw.TEST_HOOK_ENV: hook})
    try:
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)   # ended, not reaped: a zombie
        os.kill(proc.pid, 0)   # the old liveness guess called this process alive
        info = read_run(job.run_dir)
        assert info["status"] == "running" and info["pid"] == proc.pid and "updates" not in info
        assert not is_locked(job.run_dir)
        assert [p.action for p in sw.plan([job])] == ["resume"]
        r = runner.invoke(app, ["sweep", str(path), "-e", "thread", "-q"])
        assert r.exit_code == EXIT_OK, r.output
        info = read_run(job.run_dir)
        assert info["resumed"][0]["update"] == 20
        assert_each_update_once(job.run_dir)
    finally:
        proc.wait()


# -- training a locked run, and the kernel's release ------------------------------------------------

@pytest.fixture
def interrupted_run(tiny_path, tmp_path):
    class StopAt:
        stop_requested = False
        def on_start(self, total): ...
        def on_eval(self, record): ...
        def on_update(self, update, loss, stats):
            self.stop_requested = update >= 15
    folder = RunFolder.create(tmp_path / "runs", "tiny", "r")
    with pytest.raises(KeyboardInterrupt):
        train(load_config(tiny_path), folder, StopAt())
    return folder.path


def test_resume_or_train_into_a_locked_run_is_refused_with_exit_6(interrupted_run, tiny_path):
    before = {p.name: p.read_bytes() for p in interrupted_run.iterdir() if p.is_file() and p.name != L.LOCK}
    holder = hold_lock(interrupted_run)
    try:
        r = invoke("resume", interrupted_run, "-q")
        assert r.exit_code == EXIT_RUNNING_ELSEWHERE and ELSEWHERE in r.stderr and f"pid {holder.pid}" in r.stderr
        with pytest.raises(RunningElsewhere):
            train(load_config(tiny_path), RunFolder(interrupted_run))
        with pytest.raises(RunningElsewhere):
            RunFolder(interrupted_run).resume()
        after = {p.name: p.read_bytes() for p in interrupted_run.iterdir() if p.is_file() and p.name != L.LOCK}
        assert after == before
    finally:
        holder.kill()
        holder.wait()
    r = invoke("resume", interrupted_run, "-q")
    assert r.exit_code == EXIT_OK, r.output
    assert_each_update_once(interrupted_run)


def test_the_kernel_frees_the_lock_of_a_sigkilled_holder(tmp_path):
    holder = hold_lock(tmp_path)
    assert is_locked(tmp_path)
    with pytest.raises(RunningElsewhere, match=f"pid {holder.pid}"):
        RunLock(tmp_path).acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert not is_locked(tmp_path)
    lock = RunLock(tmp_path)
    lock.acquire()
    lock.acquire()   # once per object: a no-op
    assert is_locked(tmp_path)   # another open file (even of this process) is refused
    lock.release()
    assert not is_locked(tmp_path)


def test_the_lock_is_held_from_start_to_finish_and_clear_keeps_it(tiny_path, tmp_path):
    seen = []

    class Watch:
        def on_start(self, total): ...
        def on_eval(self, record): ...
        def on_update(self, update, loss, stats):
            seen.append(is_locked(folder.path))
    folder = RunFolder.create(tmp_path, "tiny", "r")
    train(load_config(tiny_path), folder, Watch())
    assert seen and all(seen) and not is_locked(folder.path)
    from rnnctl.store import clear
    clear(folder.path)
    assert [p.name for p in folder.path.iterdir()] == [L.LOCK]


# -- item 4: failures at start are recorded; no empty folder -----------------------------------------

def test_a_run_that_cannot_start_leaves_no_folder(tiny_path, tmp_path):
    huge = f"model.hidden={10 ** 40}"
    r = invoke("train", tiny_path, huge, "--dry-run")
    assert r.exit_code in (EXIT_OK, 2)   # passes today's validation (or is caught by it: both fine)
    r = invoke("train", tiny_path, huge, "-q")
    assert r.exit_code != EXIT_OK
    runs = tmp_path / "runs"
    assert not runs.exists() or not [p for p in runs.rglob("*") if p.is_dir() and not any(p.iterdir())]
    assert not runs.exists() or not list(runs.glob("*/*"))


def test_a_failure_after_the_folder_exists_is_recorded_with_its_type(tiny_path, tmp_path, monkeypatch):
    real = RunFolder.params

    def params(self, kind, arrays):
        if kind == "init":   # after start() wrote run.json, before the training loop's try
            raise MemoryError("cannot allocate the initial parameters")
        return real(self, kind, arrays)
    monkeypatch.setattr(RunFolder, "params", params)
    r = invoke("train", tiny_path, "-q")
    assert r.exit_code == 1 and "MemoryError" in r.stderr
    (run,) = (tmp_path / "runs" / "tiny").iterdir()
    info = read_run(run)
    assert info["status"] == "failed" and info["error_type"] == "MemoryError"
    assert "cannot allocate the initial parameters" in info["message"]
    assert not is_locked(run)


def test_a_failure_inside_the_loop_records_its_type(tiny_path, tmp_path):
    class Boom:
        def on_start(self, total): ...
        def on_eval(self, record): ...
        def on_update(self, update, loss, stats):
            if update == 12:
                raise OverflowError("boom")
    folder = RunFolder.create(tmp_path, "tiny", "r")
    with pytest.raises(OverflowError):
        train(load_config(tiny_path), folder, Boom())
    info = read_run(folder.path)
    assert info["status"] == "failed" and info["error_type"] == "OverflowError" and "boom" in info["message"]
    assert not is_locked(folder.path)


def test_a_sweep_job_that_cannot_start_records_failed_and_its_type(spec, tmp_path):
    path = spec("seeds: 1\n")
    r = runner.invoke(app, ["sweep", str(path), "-e", "thread", "-q", f"model.hidden={10 ** 40}"])
    if r.exit_code == 2:   # caught by validation (the `inputs` checks): nothing to record
        return
    assert r.exit_code == 4, r.output
    (job,) = sw.expand(sw.load_sweep(path, [f"model.hidden={10 ** 40}"]))
    info = read_run(job.run_dir)
    assert info["status"] == "failed" and info["error_type"] in ("ValueError", "MemoryError", "OverflowError")
    summary = json.loads((job.run_dir.parent / L.SWEEP_SUMMARY).read_text())
    assert summary["runs"][0]["error_type"] == info["error_type"]
