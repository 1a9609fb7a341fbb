"""rnnctl sweep on a Dask cluster whose workers do not see the client's runs_dir (docs/cluster.md).

A real LocalCluster (2 worker processes) with an audit hook in every worker that refuses any
file operation under the client's folder: a worker can neither read nor write it, as on a machine
without the client's disk. Run folders must still end up complete on the client, with the numbers
of a run on one machine; an interrupted job comes back with its checkpoint and resumes.
"""

import logging
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import cloudpickle  # noqa: E402  (a dependency of distributed)
import dask  # noqa: E402

from rnnctl import store  # noqa: E402
from rnnctl import sweep as sw  # noqa: E402
from rnnctl.errors import EXIT_INTERRUPTED, EXIT_OK  # noqa: E402
from rnnctl.executors import DASK_ALLOWED_FAILURES  # noqa: E402
from rnnctl.store import ship  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this file

BLOCKED_EVENTS = {"open", "os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.listdir", "os.scandir",
                  "shutil.rmtree", "os.chmod", "os.truncate", "os.utime", "os.symlink", "os.link"}


class Blind(distributed.WorkerPlugin):
    """Makes the client's folder invisible to a worker: every file operation under it fails."""

    def __init__(self, root: str):
        self.root = root

    def setup(self, worker):
        root = self.root

        def hook(event, args):
            if event in BLOCKED_EVENTS and args:
                paths = args[:2] if event == "os.rename" else args[:1]
                for p in paths:
                    if isinstance(p, (str, os.PathLike)) and os.path.abspath(os.fspath(p)).startswith(root):
                        raise PermissionError(f"{p}: the client's disk is not visible on this worker")
        sys.addaudithook(hook)


@pytest.fixture(scope="module")
def client_root(tmp_path_factory):
    return tmp_path_factory.mktemp("client")


@pytest.fixture(scope="module")
def worker_root(tmp_path_factory):
    return tmp_path_factory.mktemp("workers")


@pytest.fixture(scope="module")
def cluster(client_root, worker_root):
    with dask.config.set({"distributed.scheduler.allowed-failures": DASK_ALLOWED_FAILURES,
                          "distributed.scheduler.worker-saturation": 1.0}):
        c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     local_directory=str(worker_root), dashboard_address=":0",
                                     scheduler_kwargs={"dashboard": False}, silence_logs=logging.ERROR)
    with distributed.Client(c) as client:
        client.register_plugin(Blind(str(client_root)))
    yield c
    c.close()


def spec(runs_dir, name, steps, seeds):
    return sw.sweep_from_dict({
        "runs_dir": str(runs_dir), "name": name, "seeds": seeds,
        "base": {"task": {"name": "temporal_order", "length": 12}, "model": {"hidden": 8},
                 "train": {"steps": steps, "batch_size": 4, "optimizer": {"lr": 0.05}},
                 "eval": {"every": 10, "sequences": 50, "batch_size": 25, "stop_on_success": False}}})


def same_numbers(a, b):
    pa, pb = store.read_params(a), store.read_params(b)
    assert sorted(pa) == sorted(pb)
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k])
    ta, tb = store.read_trace(a), store.read_trace(b)
    for k in ("update", "loss", "norm_before"):
        np.testing.assert_array_equal(ta[k], tb[k])


def _try_to_touch(path):
    try:
        Path(path, "probe").write_text("x")
    except PermissionError:
        return "refused"
    return "written"


def test_the_workers_cannot_see_the_clients_folder(cluster, client_root):
    with distributed.Client(cluster) as client:
        assert client.submit(_try_to_touch, str(client_root), pure=False).result() == "refused"
        token = "t" * 8
        ship.write_client_marker(client_root, token)
        assert ship.sees_client(client_root, token)  # here, yes
        assert not client.submit(ship.sees_client, str(client_root), token, pure=False).result()


def test_pack_and_unpack_round_trip(tmp_path):
    run = tmp_path / "a"
    (run / "probes").mkdir(parents=True)
    store.write_run(run, {"status": "interrupted", "updates": 20})
    (run / "probes" / "x.bin").write_bytes(b"\0\1")
    (run / ".run.json.tmp").write_text("half")  # a write in progress: not shipped
    blob = store.pack_run(run)
    assert store.blob_info(blob)["updates"] == 20
    dest = tmp_path / "b"
    dest.mkdir()
    (dest / "stale.txt").write_text("old")
    store.unpack_run(blob, dest)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == ["probes", "probes/x.bin", "run.json"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folders left
    assert store.pack_run(tmp_path / "nothing") is None


def test_a_sweep_ships_every_run_folder_back_with_the_numbers_of_one_machine(cluster, client_root, worker_root,
                                                                              tmp_path):
    s = spec(client_root, "four", steps=40, seeds=4)
    result = sw.run_sweep(s, executor="dask", address=cluster.scheduler_address)
    assert result.exit_code == EXIT_OK and result.counts == {"completed": 4}
    ref = sw.run_sweep(spec(tmp_path, "four", steps=40, seeds=4), executor="thread", workers=2)
    for job, ref_job in zip(sw.expand(s), sw.expand(spec(tmp_path, "four", 40, 4))):
        info = store.read_run(job.run_dir)
        assert info["status"] == "completed" and info["updates"] == 40
        assert info["pid"] != os.getpid()
        assert len(store.read_trace(job.run_dir)["update"]) == 40
        same_numbers(job.run_dir, ref_job.run_dir)
    assert ref.counts == {"completed": 4}
    # the workers trained on their own disk and kept nothing of finished runs; no marker is left
    local = list(worker_root.rglob("rnnctl-runs"))
    assert local and all(not any(d.iterdir()) for d in local)
    assert not [p for p in s.folder.iterdir() if p.name.startswith(".")]
    assert sw.run_sweep(s, executor="dask", address=cluster.scheduler_address).ran == 0


class CtrlC(sw.SweepObserver):
    """Presses Ctrl-C in the client once every job has trained a little."""

    def __init__(self, jobs):
        self.seen, self.jobs, self.sent = set(), jobs, False

    def on_job_progress(self, job, update, loss, error):
        if update >= 10:
            self.seen.add(job.index)
        if len(self.seen) == self.jobs and not self.sent:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)


def test_an_interrupted_job_comes_back_with_its_checkpoint_and_resumes_to_the_same_numbers(
        cluster, client_root, tmp_path):
    steps = 3000
    s = spec(client_root, "stopped", steps=steps, seeds=2)
    first = sw.run_sweep(s, executor="dask", address=cluster.scheduler_address, observer=CtrlC(2))
    assert first.exit_code == EXIT_INTERRUPTED
    jobs = sw.expand(s)
    for job in jobs:
        info = store.read_run(job.run_dir)
        assert info["status"] == "interrupted" and 0 < info["updates"] < steps
        assert store.has_checkpoint(job.run_dir)
    assert [p.action for p in sw.plan(jobs)] == ["resume", "resume"]
    again = sw.run_sweep(s, executor="dask", address=cluster.scheduler_address)
    assert again.exit_code == EXIT_OK and again.ran == 2
    ref = spec(tmp_path, "stopped", steps=steps, seeds=2)
    sw.run_sweep(ref, executor="thread", workers=2)
    for job, ref_job in zip(jobs, sw.expand(ref)):
        info = store.read_run(job.run_dir)
        assert info["status"] == store.read_run(ref_job.run_dir)["status"] and info["updates"] == steps
        assert len(info["resumed"]) == 1 and len(store.read_trace(job.run_dir)["update"]) == steps
        same_numbers(job.run_dir, ref_job.run_dir)


def test_a_job_whose_worker_dies_resumes_from_the_local_copy_on_that_machine(cluster, client_root, tmp_path):
    s = spec(client_root, "died", steps=60, seeds=2)
    hook = [{"match": {"seed": 1}, "at": 25, "action": "exit", "once": str(tmp_path / "died-once")}]
    result = sw.run_sweep(s, executor="dask", address=cluster.scheduler_address, _test_hook=hook)
    assert result.counts == {"completed": 2}
    recovered = store.read_run(sw.expand(s)[1].run_dir)
    assert [r["update"] for r in recovered["resumed"]] == [20]
    assert len(store.read_trace(sw.expand(s)[1].run_dir)["update"]) == 60
