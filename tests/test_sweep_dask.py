"""rnnctl sweep on a real Dask LocalCluster (2 worker processes, one thread each), as a user
with `--executor dask --address` would run it: progress events, a worker killed mid-job."""

import json
import logging
import os
import textwrap

import pytest

distributed = pytest.importorskip("distributed")

import dask  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from rnnctl import sweep as sw  # noqa: E402
from rnnctl.cli import app  # noqa: E402
from rnnctl.errors import EXIT_OK, EXIT_PARTIAL  # noqa: E402
from rnnctl.executors import DASK_ALLOWED_FAILURES  # noqa: E402
from rnnctl.store import read_run, read_trace  # noqa: E402

SPEC = textwrap.dedent("""\
    base:
      task: {{name: temporal_order, length: 12}}
      model: {{hidden: 8}}
      train:
        steps: {steps}
        batch_size: 4
        optimizer: {{lr: 0.05}}
      eval: {{every: 10, sequences: 50, batch_size: 25, stop_on_success: false}}
    seeds: {seeds}
""")


@pytest.fixture(scope="module")
def cluster():
    # configured as the README tells for a `dask scheduler`: one retry, no queued jobs on workers
    with dask.config.set({"distributed.scheduler.allowed-failures": DASK_ALLOWED_FAILURES,
                          "distributed.scheduler.worker-saturation": 1.0}):
        c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=":0", scheduler_kwargs={"dashboard": False},
                                     silence_logs=logging.ERROR)
    yield c
    c.close()


@pytest.fixture
def spec(tmp_path):
    def write(steps=30, seeds=4):
        path = tmp_path / "d.yaml"
        path.write_text(f"runs_dir: {tmp_path / 'runs'}\n" + SPEC.format(steps=steps, seeds=seeds))
        return path
    return write


class Record(sw.SweepObserver):
    def __init__(self):
        self.started, self.progress, self.ended = [], [], []

    def on_job_start(self, job, info):
        self.started.append((job.index, info["host"], info["pid"]))

    def on_job_progress(self, job, update, loss, error):
        self.progress.append((job.index, update))

    def on_job_end(self, job, outcome):
        self.ended.append((job.index, outcome["status"]))


def test_dask_runs_a_sweep_on_the_cluster_and_streams_progress(cluster, spec):
    path = spec(steps=300, seeds=4)
    s = sw.load_sweep(path)
    rec = Record()
    result = sw.run_sweep(s, executor="dask", address=cluster.scheduler_address, observer=rec)
    assert all(r["status"] in ("completed", "succeeded") for r in result.runs) and result.exit_code == EXIT_OK
    assert "dask at" in result.executor
    assert sorted(i for i, _ in rec.ended) == [0, 1, 2, 3]
    assert rec.started and os.getpid() not in {pid for _, _, pid in rec.started}  # in the workers
    assert rec.progress  # worker events reach the driver through the scheduler
    again = sw.run_sweep(s, executor="dask", address=cluster.scheduler_address)
    assert again.ran == 0


def test_a_worker_killed_mid_job_is_recovered_or_reported_and_the_others_finish(cluster, spec, tmp_path):
    path = spec(steps=60, seeds=4)
    s = sw.load_sweep(path)
    jobs = sw.expand(s)
    hook = [
        # seed 1: its worker dies once at update 25; the retry resumes from the checkpoint at 20
        {"match": {"seed": 1}, "at": 25, "action": "exit", "once": str(tmp_path / "died-once")},
        # seed 2: its worker dies every time: after DASK_ALLOWED_FAILURES retries the job fails
        {"match": {"seed": 2}, "at": 5, "action": "exit"},
    ]
    result = sw.run_sweep(s, executor="dask", address=cluster.scheduler_address, _test_hook=hook)
    assert [r["status"] for r in result.runs] == ["completed", "completed", "failed", "completed"]
    assert result.exit_code == EXIT_PARTIAL
    recovered = read_run(jobs[1].run_dir)
    assert [r["update"] for r in recovered["resumed"]] == [20] and len(read_trace(jobs[1].run_dir)["update"]) == 60
    assert "KilledWorker" in result.runs[2]["message"]
    assert read_run(jobs[2].run_dir)["status"] == "failed"
    # the cluster is still usable, and the failed job is rerun next time
    again = sw.run_sweep(s, executor="dask", address=cluster.scheduler_address)
    assert [r["status"] for r in again.runs] == ["completed"] * 4 and again.ran == 1


def test_cli_with_a_dask_address(cluster, spec):
    r = CliRunner().invoke(app, ["sweep", str(spec(seeds=2)), "--executor", "dask", "--address",
                                 cluster.scheduler_address, "-q", "--json"])
    assert r.exit_code == EXIT_OK, r.output
    assert json.loads(r.stdout)["counts"] == {"completed": 2}


def test_a_local_cluster_when_no_address_is_given(spec):
    s = sw.load_sweep(spec(seeds=2))
    result = sw.run_sweep(s, executor="dask", workers=1)
    assert [r["status"] for r in result.runs] == ["completed"] * 2
    assert "LocalCluster" in result.executor
