"""rnnctl sweep, running: the sweep folder, resume (skip finished, rerun failed, resume interrupted
or killed runs), failure isolation, early stopping, every executor but Dask (test_sweep_dask.py),
and interruption. Tiny configs (sweepkit.BASE) keep every run well under a second."""

import json
import os
import subprocess
import sys

import pytest
import yaml
from sweepkit import BASE, REPO, jobs_of, run, spec, statuses  # noqa: F401 (spec: a fixture)

from rnnctl import sweep as sw
from rnnctl.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, ConfigError
from rnnctl.executors import ThreadBackend, make_backend
from rnnctl.registry import EXECUTORS
from rnnctl.store import RunFolder, has_checkpoint, read_run, read_sweep_summary, read_trace, write_run
from rnnctl.training import Observer, train


# ---------------------------------------------------------------------------------------------
# Running, identity on disk, resume

def test_a_sweep_writes_its_folder_and_a_second_run_runs_nothing(spec, tmp_path):
    path = spec("grid: {train.gradient.method: [none, norm]}\nseeds: 2\n")
    s, result = run(path)
    assert result.exit_code == EXIT_OK and result.counts == {"completed": 4} and result.ran == 4
    folder = tmp_path / "runs" / "s"
    lines = [json.loads(line) for line in (folder / "jobs.jsonl").read_text().splitlines()]
    assert [(d["job"], d["run_id"]) for d in lines] == [(j.index, j.run_id) for j in sw.expand(s)]
    assert lines[3]["values"] == {"train.gradient.method": "norm", "seed": 1}
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["counts"] == {"completed": 4} and summary["wall_time"] > 0 and summary["ended"]
    for d in lines:
        info = read_run(folder / d["run_id"])
        assert info["status"] == "completed" and info["config_hash"] == d["run_id"]
    ended = read_run(folder / lines[0]["run_id"])["ended"]

    s, again = run(path)
    assert again.ran == 0 and again.counts == {"completed": 4} and again.exit_code == EXIT_OK
    assert read_run(folder / lines[0]["run_id"])["ended"] == ended
    # sweep.yaml is the spec with its base inlined: running it names the same runs
    assert [j.run_id for j in jobs_of(folder / "sweep.yaml")] == [d["run_id"] for d in lines]
    assert sw.load_sweep(folder / "sweep.yaml").name == "s"


class _StopAt(Observer):
    def __init__(self, update, fail=False):
        self.at, self.fail = update, fail

    def on_update(self, update, loss, stats):
        if update == self.at:
            if self.fail:
                raise RuntimeError("boom")
            self.stop_requested = True


def test_resume_skips_finished_reruns_failed_and_resumes_interrupted_or_killed_runs(spec):
    path = spec("seeds: 4\n")
    s = sw.load_sweep(path)
    jobs = sw.expand(s)

    def folder(j):
        return RunFolder.at(j.run_dir)

    train(jobs[0].config, folder(jobs[0]))                             # finished
    with pytest.raises(RuntimeError):
        train(jobs[1].config, folder(jobs[1]), _StopAt(15, fail=True))   # failed at 15
    for j in jobs[2:]:
        with pytest.raises(KeyboardInterrupt):
            train(j.config, folder(j), _StopAt(15))                     # interrupted at 15
    # job 3 as if its worker had been killed: 'running', by a process that is gone
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    info = read_run(jobs[3].run_dir)
    write_run(jobs[3].run_dir, {**info, "status": "running", "pid": dead.pid})
    finished_at = read_run(jobs[0].run_dir)["ended"]

    assert [p.action for p in sw.plan(jobs)] == ["skip", "rerun", "resume", "resume"]
    result = sw.run_sweep(s, executor="thread", workers=2, jobs=jobs)
    assert statuses(result) == ["completed"] * 4 and result.ran == 3
    assert read_run(jobs[0].run_dir)["ended"] == finished_at            # not touched
    assert "resumed" not in read_run(jobs[1].run_dir)                    # started again
    for j in jobs[2:]:
        info = read_run(j.run_dir)
        assert [r["update"] for r in info["resumed"]] == [15]
        assert len(read_trace(j.run_dir)["update"]) == 30
        assert has_checkpoint(j.run_dir)     # completed: the final checkpoint is kept (see rnnctl resume)
    # a resumed run gives the numbers of a run never interrupted
    assert read_run(jobs[2].run_dir)["final_loss"] == pytest.approx(
        train(jobs[2].config, RunFolder.create(s.runs_dir, "fresh", "x")).summary["final_loss"], rel=1e-12)


def test_a_failing_job_does_not_stop_the_others_and_is_rerun_next_time(spec):
    path = spec("seeds: 3\n")
    hook = [{"match": {"seed": 1}, "at": 5, "action": "raise"}]
    s, result = run(path, _test_hook=hook)
    assert statuses(result) == ["completed", "failed", "completed"]
    assert "test hook" in result.runs[1]["message"] and result.exit_code == EXIT_PARTIAL
    assert read_run(sw.expand(s)[1].run_dir)["status"] == "failed"
    s, again = run(path)
    assert statuses(again) == ["completed"] * 3 and again.ran == 1 and again.exit_code == EXIT_OK


def test_a_job_that_fails_before_its_run_starts_is_recorded_failed(spec, monkeypatch):
    import rnnctl.training

    def broken(config, sink, observer=None, resume=None):
        raise ValueError("cannot even start")

    monkeypatch.setattr(rnnctl.training, "train", broken)
    s, result = run(spec("seeds: 2\n"))
    assert statuses(result) == ["failed", "failed"] and result.exit_code == EXIT_PARTIAL
    assert all(r["message"] == "ValueError: cannot even start" for r in result.runs)
    assert [p.action for p in sw.plan(sw.expand(s))] == ["rerun", "rerun"]


def test_a_crashing_worker_process_fails_only_its_job(spec):
    path = spec("seeds: 4\n")
    hook = [{"match": {"seed": 1}, "at": 5, "action": "exit"}]
    s, result = run(path, executor="local", _test_hook=hook)
    assert statuses(result) == ["completed", "failed", "completed", "completed"]
    assert "worker process died" in result.runs[1]["message"]
    info = read_run(sw.expand(s)[1].run_dir)
    assert info["status"] == "failed" and "worker process died" in info["message"]
    assert result.exit_code == EXIT_PARTIAL


def test_early_stopping_records_stopped_runs(spec):
    path = spec("seeds: 2\nearly_stop: {after: 20, error_above: 0.0}\n")
    s, result = run(path)
    assert statuses(result) == ["stopped", "stopped"] and result.exit_code == EXIT_OK
    assert all(r["updates"] == 20 and "early stop" in r["message"] for r in result.runs)


def test_diverged_runs_are_finished_runs_of_a_study(spec):
    path = spec("grid: {train.optimizer.lr: [1.0e+6]}\noverrides: [model.activation=linear, "
                "model.spectral_radius=3, model.init=basic_tanh]\n")
    s, result = run(path)
    assert statuses(result) == ["diverged"] and result.exit_code == EXIT_OK


@pytest.mark.parametrize("name", sorted(set(EXECUTORS) - {"dask"}))  # dask: test_sweep_dask.py
def test_every_executor_runs_a_sweep_and_reports_progress(spec, name):
    class Record(sw.SweepObserver):
        def __init__(self):
            self.started, self.evals, self.ended = [], [], []

        def on_job_start(self, job, info):
            self.started.append((job.index, info["pid"]))

        def on_job_progress(self, job, update, loss, error):
            if error is not None:
                self.evals.append((job.index, update))

        def on_job_end(self, job, outcome):
            self.ended.append((job.index, outcome["status"]))

    rec = Record()
    s, result = run(spec("seeds: 2\n"), executor=name, observer=rec)
    assert statuses(result) == ["completed"] * 2
    assert sorted(i for i, _ in rec.started) == [0, 1] and sorted(rec.ended) == [(0, "completed"), (1, "completed")]
    assert sorted(rec.evals) == [(0, 10), (0, 20), (0, 30), (1, 10), (1, 20), (1, 30)]
    pids = {pid for _, pid in rec.started}
    assert (os.getpid() in pids) == (name == "thread")
    assert set(EXECUTORS) == {"local", "thread", "dask"}


def test_executors_are_chosen_by_name_from_the_registry(spec):
    with pytest.raises(ConfigError) as e:
        make_backend("lcoal")
    assert e.value.key == "--executor" and e.value.suggestion == "local" and "local, thread, dask" in str(e.value)

    class Inline(ThreadBackend):  # a backend registered from Python is usable by name
        name = "inline"

    EXECUTORS.register("inline", Inline, help="threads, registered by this test")
    try:
        s, result = run(spec("seeds: 2\n"), executor="inline", workers=1)
    finally:
        EXECUTORS.unregister("inline")
    assert statuses(result) == ["completed"] * 2


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "sweeps").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_spec_expands_and_its_jobs_run(path, tmp_path):
    s = sw.load_sweep(path, [f"runs_dir={tmp_path}", "train.steps=3", "eval.every=3", "eval.sequences=20"])
    jobs = sw.expand(s)
    assert len(jobs) == s.combinations == {"clipping_vs_length": 27, "pascanu_fig7": 225, "pascanu_fig7_small": 180, "pascanu_fig7_long": 40,
                                                      "pascanu_tasks_small": 50, "pascanu_one_model": 5}[path.stem]
    result = sw.run_sweep(s, executor="thread", workers=2, jobs=[jobs[0], jobs[-1]])
    assert [r["updates"] for r in result.runs] == [3, 3] and result.exit_code == EXIT_OK


def test_a_sweep_from_a_mapping_for_notebooks(tmp_path):
    spec = yaml.safe_load(BASE)
    spec.update(name="nb", runs_dir=str(tmp_path / "runs"), grid={"model.hidden": [4, 6]})
    s = sw.sweep_from_dict(spec)
    result = sw.run_sweep(s, executor="thread", workers=1)
    assert statuses(result) == ["completed"] * 2
    assert json.loads(json.dumps(result.to_dict()))["counts"] == {"completed": 2}


def test_a_ctrl_c_that_reaches_the_last_running_job_interrupts_the_sweep(spec):
    """A terminal's Ctrl-C reaches the worker processes too: the last running job checkpoints and
    ends 'interrupted' before the driver's loop looks again. That is an interrupted sweep (exit
    130, resumable), not a partly failed one (it used to exit 4)."""
    path = spec("seeds: 1\n", base=BASE.replace("steps: 30", "steps: 200"))
    hook = [{"match": {"seed": 0}, "at": 15, "action": "sigint"}]  # SIGINT to the worker process
    s, result = run(path, executor="local", workers=1, _test_hook=hook)
    assert statuses(result) == ["interrupted"] and result.interrupted
    assert result.exit_code == EXIT_INTERRUPTED
    assert read_sweep_summary(s.folder)["interrupted"] is True
    job, = sw.expand(s)
    stopped_at = read_run(job.run_dir)["updates"]
    assert 15 <= stopped_at < 200 and [p.action for p in sw.plan([job])] == ["resume"]

    s, again = run(path)
    assert statuses(again) == ["completed"] and again.exit_code == EXIT_OK
    assert read_run(job.run_dir)["resumed"][0]["update"] == stopped_at
