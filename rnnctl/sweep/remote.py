"""Sweeps on workers that do not share the client's ``runs_dir`` (docs/cluster.md).

The Dask backend submits ``run_remote`` in place of ``rnnctl.sweep.worker.run_job``, through a
``ShippingExecutor``. Each job first finds out whether its worker sees the client's sweep folder
(``store.ship.sees_client``: a marker file with the sweep's token, written by the client):

- it does (a shared file system): ``run_job`` as always, in the client's run folder;
- it does not: the run is trained in a local copy on the worker's own disk
  (``worker_runs_dir()/<run id>``), started from the folder the client sent when the client had a
  checkpoint to resume, and the whole folder comes back as bytes with the outcome; the client
  writes it in place of its own copy (``store.unpack_run``) before the driver sees the job end.

A finished or failed run's local copy is deleted once packed. An interrupted one is kept, with
the token of the submission that made it, so that a retry of the same task after its worker died
(Dask resubmits the same arguments) goes on from there when it lands on the same machine; on
another machine it starts from what the client sent.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import threading
import uuid
from pathlib import Path

from .. import store
from ..store import ship
from .worker import run_job

#: Where a worker keeps its local run folders; by default beside Dask's worker directories
#: (``<local_directory>/../rnnctl-runs``), on the worker's machine.
WORKER_RUNS_ENV = "RNNCTL_WORKER_RUNS_DIR"


def worker_runs_dir() -> Path:
    """This worker's folder of local run copies (made if absent)."""
    root = os.environ.get(WORKER_RUNS_ENV)
    if not root:
        try:
            from distributed import get_worker
            root = str(Path(get_worker().local_directory).parent / "rnnctl-runs")
        except (ImportError, ValueError):  # not in a Dask worker (tests calling run_remote)
            import tempfile
            root = str(Path(tempfile.gettempdir()) / "rnnctl-runs")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _local_copy(local: Path, blob: bytes | None, token: str) -> None:
    """Prepare the local run folder: keep one left by an earlier attempt of this same submission,
    or one further on than what the client sent; otherwise start from the client's folder (or
    from nothing: run_job then starts the run)."""
    mine = store.read_run_or_none(local)
    if mine is not None:
        if ship.read_attempt(local) == token:
            return
        sent = ship.blob_info(blob)
        if sent is not None and (mine.get("updates") or 0) > (sent.get("updates") or 0) \
                and mine.get("status") in ("interrupted", "running"):
            return
    ship.remove_run_copy(local)
    if blob:
        ship.unpack_run(blob, local)


def run_remote(task: dict, channel=None, stop=None, shipping: dict | None = None) -> dict:
    """Run one job on a worker; the folder comes back packed when the worker does not share it.

    ``shipping``: token (the sweep's), attempt (this submission's), blob (the client's run folder
    packed, or None). Returns ``{"outcome": ..., "blob": bytes | None, "shipped": bool}``.
    """
    shipping = shipping or {}
    client_dir = Path(task["run_dir"])
    if ship.sees_client(client_dir.parent, shipping.get("token", "")):
        return {"outcome": run_job(task, channel, stop), "blob": None, "shipped": False}
    local = worker_runs_dir() / client_dir.name
    _local_copy(local, shipping.get("blob"), shipping.get("attempt", ""))
    ship.write_attempt(local, shipping.get("attempt", ""))
    out = run_job({**task, "run_dir": str(local)}, channel, stop)
    blob = ship.pack_run(local)
    status = (store.read_run_or_none(local) or {}).get("status")
    if status not in ("interrupted", "running"):
        ship.remove_run_copy(local)
    return {"outcome": out, "blob": blob, "shipped": True}


class ShippingExecutor(cf.Executor):
    """Client side: submits ``run_remote`` for ``run_job`` on a Dask client, and writes the folder
    a job sends back into the client's run folder before its future is done.

    Futures are ``concurrent.futures.Future``s (what the driver waits on); cancelling one cancels
    the Dask task. The folder is written in a thread of its own, not in Dask's event loop.
    """

    def __init__(self, client, **kwargs):
        self._inner = client.get_executor(**kwargs)
        self.token = uuid.uuid4().hex
        self._sweep_folders: set[Path] = set()
        self._writer = cf.ThreadPoolExecutor(1, thread_name_prefix="rnnctl-unpack")
        self._lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs):
        if fn is not run_job:
            return self._inner.submit(fn, *args, **kwargs)
        task, *rest = args
        run_dir = Path(task["run_dir"])
        with self._lock:
            if run_dir.parent not in self._sweep_folders:
                ship.write_client_marker(run_dir.parent, self.token)
                self._sweep_folders.add(run_dir.parent)
        info = store.read_run_or_none(run_dir)
        blob = None
        if info is not None and info.get("status") in ("interrupted", "running") and store.has_checkpoint(run_dir):
            blob = store.pack_run(run_dir)  # the worker resumes from it
        shipping = {"token": self.token, "attempt": uuid.uuid4().hex, "blob": blob}
        inner = self._inner.submit(run_remote, task, *rest, shipping, **kwargs)
        outer: cf.Future = cf.Future()
        outer.add_done_callback(lambda f: f.cancelled() and inner.cancel())
        inner.add_done_callback(lambda f: self._writer.submit(self._land, f, outer, task))
        return outer

    @staticmethod
    def _land(inner: cf.Future, outer: cf.Future, task: dict) -> None:
        """The job's end, on the client: write the folder it sent, then end ``outer``."""
        if inner.cancelled():
            if outer.cancel():
                outer.set_running_or_notify_cancel()  # wakes cf.wait
            return
        try:
            result = inner.result()
            if result.get("blob"):
                store.unpack_run(result["blob"], task["run_dir"])
            out = result["outcome"]
        except BaseException as e:  # noqa: BLE001 - the job's error (e.g. KilledWorker) is the driver's
            _record_lost(task, e)
            _settle(outer, exc=e)
            return
        _settle(outer, out)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._inner.shutdown(wait=wait)
        self._writer.shutdown(wait=wait)
        for folder in self._sweep_folders:
            ship.remove_client_marker(folder, self.token)


def _settle(future: cf.Future, result=None, exc: BaseException | None = None) -> None:
    """End ``future`` unless the driver cancelled it meanwhile (its folder is written anyway)."""
    try:
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)
    except cf.InvalidStateError:
        pass


def _record_lost(task: dict, exc: BaseException) -> None:
    """A job whose workers died before sending anything back: the client has no run folder for it,
    so the driver's 'failed' mark would land nowhere. Write one that says so (as run_job does for a
    run that failed before its folder was started)."""
    run_dir = Path(task["run_dir"])
    if store.read_run_or_none(run_dir) is None and type(exc).__name__ == "KilledWorker":
        store.mark_failed_start(run_dir, task["config"].get("name"), task["run_id"],
                                f"job failed: {type(exc).__name__}: {exc}")
