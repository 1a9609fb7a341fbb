"""rnnctl sweep, the command: the dry run, exit codes, JSON, and Ctrl-C (in a subprocess, as a
user's terminal sends it) followed by a resume."""

import json
import os
import signal
import subprocess
import sys
import time

from sweepkit import BASE, REPO, jobs_of, spec  # noqa: F401 (spec: a fixture)
from typer.testing import CliRunner

from rnnctl import sweep as sw
from rnnctl.cli import app
from rnnctl.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from rnnctl.store import FINISHED, has_checkpoint, read_run, read_trace

runner = CliRunner()


def invoke(*args, **kw):
    return runner.invoke(app, ["sweep", *map(str, args)], **kw)


def test_cli_dry_run_prints_the_job_table_and_runs_nothing(spec, tmp_path):
    path = spec("grid: {train.gradient.method: [none, norm]}\nseeds: 2\n")
    r = invoke(path, "--dry-run")
    assert r.exit_code == EXIT_OK, r.output
    ids = [j.run_id for j in jobs_of(path)]
    assert all(i in r.stdout for i in ids) and "method" in r.stdout and "new" in r.stdout
    assert "4 jobs" in r.stderr and not (tmp_path / "runs").exists()
    data = json.loads(invoke(path, "--dry-run", "--json", "model.hidden=6").stdout)
    assert [d["action"] for d in data] == ["new"] * 4 and data[1]["values"] == {
        "train.gradient.method": "none", "seed": 1}


def test_cli_exit_codes_and_json(spec, tmp_path, monkeypatch):
    path = spec("seeds: 2\n")
    r = invoke(path, "--executor", "thread", "-q", "--json")
    assert r.exit_code == EXIT_OK, r.output
    data = json.loads(r.stdout)
    assert data["counts"] == {"completed": 2} and data["exit_code"] == 0 and len(data["runs"]) == 2
    assert "done" in r.stderr  # --quiet: plain log lines
    r = invoke(path, "--executor", "thread", "-q")
    assert r.exit_code == EXIT_OK and "completed (earlier)" in r.stdout

    monkeypatch.setenv(sw.TEST_HOOK_ENV, json.dumps({"match": {"seed": 2}, "at": 3, "action": "raise"}))
    r = invoke(path, "seed=2", "--executor", "thread", "-q")  # a swept key: a spec error
    assert r.exit_code == EXIT_USAGE and "which the sweep varies" in r.stderr
    (tmp_path / "s3.yaml").write_text(path.read_text().replace("seeds: 2", "seeds: 3"))
    r = invoke(tmp_path / "s3.yaml", "--executor", "thread", "-q")
    assert r.exit_code == EXIT_PARTIAL and "failed" in r.stdout and "did not finish" in r.stderr
    assert invoke(path, "--executor", "ray").exit_code == EXIT_USAGE
    assert invoke(path, "--address", "tcp://x:1").exit_code == EXIT_USAGE
    assert invoke(tmp_path / "missing.yaml").exit_code == EXIT_USAGE


def test_dask_without_the_extra_is_a_clear_usage_error(spec, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    r = invoke(spec("seeds: 2\n"), "--executor", "dask")
    assert r.exit_code == EXIT_USAGE and "pip install 'rnnctl[dask]'" in r.stderr
    assert not (tmp_path / "runs").exists()


def test_ctrl_c_interrupts_the_sweep_and_the_next_invocation_resumes(spec, tmp_path):
    path = spec("seeds: 2\n", base=BASE.replace("steps: 30", "steps: 8000").replace("every: 10", "every: 500"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "rnnctl", "sweep", str(path), "-w", "2", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        started = 0
        deadline = time.monotonic() + 60
        while started < 2 and time.monotonic() < deadline:
            line = proc.stderr.readline()
            started += " start " in line
        assert started == 2
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_INTERRUPTED, err
    s = sw.load_sweep(path)
    jobs = sw.expand(s)
    summary = json.loads((s.folder / "summary.json").read_text())
    assert summary["interrupted"] is True
    infos = [read_run(j.run_dir) for j in jobs]
    assert [i["status"] for i in infos] == ["interrupted", "interrupted"]
    assert all(0 < i["updates"] < 8000 and has_checkpoint(j.run_dir) for i, j in zip(infos, jobs))
    assert [p.action for p in sw.plan(jobs)] == ["resume", "resume"]

    r = invoke(path, "--executor", "thread", "-q")
    assert r.exit_code == EXIT_OK, r.output
    for i, j in zip(infos, jobs):
        after = read_run(j.run_dir)
        assert after["status"] in FINISHED and after["resumed"][0]["update"] == i["updates"]
        assert after["updates"] == 8000
        assert len(read_trace(j.run_dir)["update"]) == 8000


def test_ctrl_c_in_a_terminal_while_the_last_jobs_run_exits_130(spec, tmp_path):
    """A terminal's Ctrl-C goes to the whole process group: the driver and its workers at once.
    The workers' runs checkpoint and end 'interrupted', possibly before the driver's loop looks
    again; the sweep exited 4 (some runs failed) when they did, instead of 130."""
    path = spec("seeds: 2\n", base=BASE.replace("steps: 30", "steps: 8000").replace("every: 10", "every: 500"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "rnnctl", "sweep", str(path), "-w", "2", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)  # its own process group, as a shell gives it
    try:
        started = 0
        deadline = time.monotonic() + 60
        while started < 2 and time.monotonic() < deadline:
            started += " start " in proc.stderr.readline()
        assert started == 2
        time.sleep(1.0)  # both training
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == EXIT_INTERRUPTED, err
    s = sw.load_sweep(path)
    assert json.loads((s.folder / "summary.json").read_text())["interrupted"] is True
    assert [p.action for p in sw.plan(sw.expand(s))] == ["resume", "resume"]


def _eta_log(monkeypatch, lengths, times):
    """The quiet log of jobs of these task lengths (same width and updates: cost ∝ length), the
    clock reading ``times`` (start, then one per job end)."""
    from types import SimpleNamespace

    import rnnctl
    from rnnctl.ui import sweep as view
    lines = []
    log = view.LogView(SimpleNamespace(print=lambda text, **kw: lines.append(text)))
    clock = iter(times)
    monkeypatch.setattr(view.time, "monotonic", lambda: next(clock))
    jobs = [SimpleNamespace(index=i, label=lambda names: "x",
                            config=rnnctl.config_from_dict({"task": {"name": "temporal_order", "length": L}}))
            for i, L in enumerate(lengths)]
    log.on_sweep_start(SimpleNamespace(name="s", swept=[], folder="f"),
                       [SimpleNamespace(runs=True, action="run", job=j) for j in jobs], "thread")
    for j in jobs:
        log.on_job_end(j, {"status": "completed", "updates": 5, "wall_time": 1.0})
    return lines


def test_the_quiet_log_gives_an_eta_after_each_job_but_the_last(monkeypatch):
    lines = _eta_log(monkeypatch, [50, 50, 50], [100.0, 110.0, 130.0, 160.0])
    # 1 job in 10 s, 2 left: 20 s; 2 jobs in 30 s, 1 left: 15 s; none left: no eta
    assert lines[-3].endswith(", eta 20.0s") and lines[-2].endswith(", eta 15.0s")
    assert "eta" not in lines[-1]


def test_the_eta_weighs_jobs_by_their_work(monkeypatch):
    # the longest start first: a length-200 job took 40 s; what is left is two length-50 jobs, a
    # quarter of the work each: 20 s, not the 80 s that counting jobs would say
    lines = _eta_log(monkeypatch, [200, 50, 50], [0.0, 40.0, 50.0, 60.0])
    assert lines[-3].endswith(", eta 20.0s") and lines[-2].endswith(", eta 10.0s")
