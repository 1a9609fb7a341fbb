"""Where the jobs of a sweep run: backends behind the ``concurrent.futures`` interface.

The driver in ``rnnctl.sweep`` is the same for every backend. A backend gives it:

- ``executor``: a ``concurrent.futures.Executor``; ``submit(fn, *args)`` runs one job somewhere;
- ``channel``: a picklable object with ``put(event)`` that workers use to send progress events,
  which arrive in the driver's ``events`` queue;
- ``stop``: a picklable object with ``is_set()`` that running jobs poll; ``request_stop()`` sets it
  (a job then checkpoints and ends as 'interrupted', ready to be resumed);
- ``capacity``: how many jobs to keep in flight (None: submit everything, the backend queues);
- ``crash_message(exc)``: the text for a job whose worker died, or None for any other exception.

Backends, chosen by name from ``rnnctl.registry.EXECUTORS`` (``make_backend``); a Backend
subclass registered there from Python is usable with ``rnnctl sweep --executor NAME``:

- ``local`` (default): worker processes started with ``spawn``. Each worker is its own one-process
  ``ProcessPoolExecutor``, so a worker that dies (segfault, ``os._exit``, OOM kill) breaks only that
  slot: only its job fails, the slot is rebuilt for the next job, and no other job is disturbed.
- ``thread``: threads of the calling process; no isolation, for debugging (pdb) and notebooks.
- ``dask``: a Dask ``distributed`` cluster, an existing one (``address``) or a ``LocalCluster``;
  needs the optional extra ``rnnctl[dask]``. Workers that do not share the client's runs_dir
  train on their own disk and send each run folder back (``rnnctl.sweep.remote``, docs/cluster.md).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
import uuid
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.managers import SyncManager

from .errors import ConfigError, RunError
from .registry import EXECUTORS

#: Task retries after a worker died running it (Dask's ``distributed.scheduler.allowed-failures``,
#: default 3): one retry resumes the run from its checkpoint, a second death fails the job.
DASK_ALLOWED_FAILURES = 1


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


class Backend:
    """Base of the backends; see the module docstring."""

    name = ""
    takes_address = False  # True: connects to a cluster at --address
    executor: cf.Executor
    channel = None
    stop = None
    capacity: int | None = None

    def __init__(self, workers: int | None = None, address: str | None = None):
        self.workers = workers or default_workers()
        self.address = address

    def start(self, events: queue.Queue) -> None:
        raise NotImplementedError

    def request_stop(self) -> None:
        self.stop.set()

    def poll(self) -> None:
        """Move the progress events that have arrived into the driver's queue (if not pushed)."""

    def kill(self) -> None:
        """End the running jobs now (after a grace period, or a second Ctrl-C)."""

    def close(self) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name

    def crash_message(self, exc: BaseException) -> str | None:
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------------------------
# local processes

#: One BLAS thread per worker (as Dask's nanny sets too): the sweep already runs one job per core,
#: and OpenBLAS threads competing for busy cores made training ~10x slower here.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _ignore_stop_signals() -> None:
    """Ctrl-C in a terminal reaches every process of the foreground group, and so may a SIGTERM or
    SIGHUP (a scheduler's, systemd's or a closed terminal's): the driver handles them and stops
    the jobs through the stop flag. An idle worker and the manager process (which carries the
    flag) ignore them; a running job sees them through train's own handler (checkpoint, then
    'interrupted'), which restores this when the job ends."""
    from .interrupt import STOP_SIGNALS
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)


#: How often a worker or the manager process checks that the driver that started it still lives.
PARENT_CHECK_SECONDS = 0.5


def _end_with_parent() -> None:
    """End this process when the driver that spawned it is gone.

    A driver killed with SIGKILL cannot stop its workers, and they ignore the stop signals (above):
    without this they would train on, unobserved, for as long as their jobs last (and the manager
    and the resource tracker with them). The parent's death reparents this process, which changes
    ``os.getppid()``; a daemon thread looks every PARENT_CHECK_SECONDS and then exits at once
    (``os._exit``: the run's lock is freed by the kernel, its last checkpoint is whole, and the
    next ``rnnctl sweep`` resumes it). Polling, not Linux's PR_SET_PDEATHSIG: that fires when the
    *thread* that spawned the process ends, and it is Linux only."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="rnnctl-parent-watch", daemon=True).start()


def _init_manager() -> None:
    _ignore_stop_signals()
    _end_with_parent()


def _init_worker() -> None:
    # Before numpy is imported in this fresh (spawned) process, so that BLAS reads these.
    for key, value in WORKER_ENV.items():
        os.environ.setdefault(key, value)
    _ignore_stop_signals()
    _end_with_parent()


class ProcessSlots(cf.Executor):
    """``n`` one-process ``ProcessPoolExecutor``s behind one ``submit``.

    A plain ``ProcessPoolExecutor`` is broken as a whole when one worker dies: every pending
    future fails and the survivors are terminated. Here a death breaks one slot, and only its
    job's future fails (``BrokenProcessPool``); the slot gets a fresh process at its next job.
    Workers are reused from job to job (start-up and the Numba cache load are paid once).
    """

    def __init__(self, n: int, mp_context=None, initializer=None):
        self._n = n
        self._ctx = mp_context or mp.get_context("spawn")
        self._init = initializer
        self._slots: list[cf.ProcessPoolExecutor | None] = [None] * n
        self._load = [0] * n
        self._retired: list[cf.ProcessPoolExecutor] = []
        self._lock = threading.Lock()
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs):
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            i = min(range(self._n), key=self._load.__getitem__)
            for attempt in range(2):
                ex = self._slots[i]
                if ex is None:
                    ex = self._slots[i] = cf.ProcessPoolExecutor(1, mp_context=self._ctx,
                                                                 initializer=self._init)
                try:
                    fut = ex.submit(fn, *args, **kwargs)
                    break
                except BrokenProcessPool:  # died before its future told us
                    self._retire(i, ex)
                    if attempt:
                        raise
            self._load[i] += 1
        fut.add_done_callback(lambda f, i=i, ex=ex: self._done(i, ex, f))
        return fut

    def _retire(self, i, ex) -> None:
        if self._slots[i] is ex:
            self._slots[i] = None
            self._retired.append(ex)

    def _done(self, i, ex, fut) -> None:
        with self._lock:
            self._load[i] -= 1
            if not fut.cancelled() and isinstance(fut.exception(), BrokenProcessPool):
                self._retire(i, ex)

    def _executors(self) -> list[cf.ProcessPoolExecutor]:
        with self._lock:
            return [ex for ex in self._slots if ex is not None] + self._retired

    def kill(self) -> None:
        """Kill the worker processes at once (their runs stay resumable from the last checkpoint).
        Uses the pool's private process table: the Executor API has no way to end running calls."""
        for ex in self._executors():
            for p in list((getattr(ex, "_processes", None) or {}).values()):
                try:
                    p.kill()
                except (OSError, ValueError):
                    pass

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
        for ex in self._executors():
            ex.shutdown(wait=wait, cancel_futures=cancel_futures)


class LocalBackend(Backend):
    """Worker processes on this machine (``spawn``); progress through a ``multiprocessing.Manager``
    queue, which survives a worker dying mid-message (a plain ``multiprocessing.Queue`` may not)."""

    name = "local"

    def start(self, events):
        ctx = mp.get_context("spawn")
        self._manager = SyncManager(ctx=ctx)
        self._manager.start(_init_manager)  # a SIGTERM to the group must not end the stop flag
        self.channel = self._manager.Queue()
        self.stop = self._manager.Event()
        self.capacity = self.workers
        self.executor = ProcessSlots(self.workers, ctx, _init_worker)
        self._events = events

    def request_stop(self):
        try:
            self.stop.set()
        except (EOFError, OSError, ConnectionError):  # the manager is gone (killed): workers' jobs
            pass                                      # then stop on their own signal or are killed

    def poll(self):
        # Called by the driver before it looks at finished jobs: a job puts its events before it
        # returns, so they are all here by then, in order.
        while self._manager is not None:
            try:
                self._events.put(self.channel.get_nowait())
            except queue.Empty:
                return
            except (EOFError, OSError, ConnectionError):  # the manager is gone
                return

    def kill(self):
        self.executor.kill()

    def close(self):
        executor = getattr(self, "executor", None)
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if getattr(self, "_manager", None) is not None:
            self.poll()
            self._manager.shutdown()
            self._manager = None

    def describe(self):
        return f"local, {self.workers} worker process{'es' if self.workers != 1 else ''}"

    def crash_message(self, exc):
        if isinstance(exc, BrokenProcessPool):
            return ("its worker process died (a crash, os._exit, or killed by a signal such as "
                    "the out-of-memory killer)")
        return None


# ---------------------------------------------------------------------------------------------
# threads

class _QueueChannel:
    def __init__(self, events: queue.Queue):
        self.events = events

    def put(self, event) -> None:
        self.events.put(event)


class ThreadBackend(Backend):
    """Threads of this process: no isolation (a crash takes the sweep down), no start-up cost."""

    name = "thread"

    def start(self, events):
        self.channel = _QueueChannel(events)
        self.stop = threading.Event()
        self.capacity = self.workers
        self.executor = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="rnnctl-job")

    def close(self):
        if getattr(self, "executor", None) is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)

    def describe(self):
        return f"thread, {self.workers} thread{'s' if self.workers != 1 else ''}"


# ---------------------------------------------------------------------------------------------
# Dask

def _import_distributed():
    try:
        import dask
        import distributed
    except ImportError:
        raise ConfigError("the dask executor needs Dask's distributed scheduler: "
                          "pip install 'rnnctl[dask]'", key="--executor") from None
    return dask, distributed


class DaskChannel:
    """Worker side of the progress channel: a Dask event on the sweep's topic."""

    def __init__(self, topic: str):
        self.topic = topic

    def put(self, event) -> None:
        from distributed import get_worker
        get_worker().log_event(self.topic, list(event))


class DaskStop:
    """Worker side of the stop flag: a ``distributed.Event`` looked up by name."""

    poll_seconds = 1.0  # each check is a round trip to the scheduler

    def __init__(self, name: str):
        self.name = name
        self._event = None

    def __getstate__(self):
        return {"name": self.name, "_event": None}

    def is_set(self) -> bool:
        if self._event is None:
            from distributed import Event
            self._event = Event(self.name)
        return self._event.is_set()


class DaskBackend(Backend):
    """A Dask cluster: ``address`` of a running ``dask scheduler``, or a ``LocalCluster`` of
    ``workers`` one-thread worker processes. Lowers the scheduler's ``allowed-failures`` to
    ``DASK_ALLOWED_FAILURES`` (on an existing scheduler set it there, see the README)."""

    name = "dask"
    takes_address = True

    def __init__(self, workers=None, address=None):
        super().__init__(workers, address)
        _import_distributed()  # a missing extra is a usage error, reported before anything runs

    def start(self, events):
        dask, distributed = _import_distributed()
        import logging
        self.cluster = None
        # A LocalCluster's scheduler runs in this process and reads these; an existing scheduler
        # is configured where it runs (see the README). Saturation 1.0: a worker holds only the
        # job it runs, so a dying worker takes no queued job down with it.
        with dask.config.set({"distributed.scheduler.allowed-failures": DASK_ALLOWED_FAILURES,
                              "distributed.scheduler.worker-saturation": 1.0}):
            try:
                if self.address:
                    self.client = distributed.Client(self.address, timeout="20s")
                else:
                    self.cluster = distributed.LocalCluster(
                        n_workers=self.workers, threads_per_worker=1, processes=True,
                        silence_logs=logging.ERROR,
                        # no dashboard; its HTTP server on a free port, not 8787
                        dashboard_address=":0", scheduler_kwargs={"dashboard": False})
                    self.client = distributed.Client(self.cluster)
            except (OSError, TimeoutError) as e:
                where = self.address or "a local cluster"
                raise RunError(f"cannot connect to the Dask scheduler at {where}: {e}") from e
        token = uuid.uuid4().hex[:12]
        self.topic = f"rnnctl-sweep-{token}"
        self.client.subscribe_topic(self.topic, lambda ev: events.put(tuple(ev[1])))
        self._event = distributed.Event(f"rnnctl-stop-{token}", client=self.client)
        self.channel = DaskChannel(self.topic)
        self.stop = DaskStop(self._event.name)
        self.capacity = None  # the scheduler queues; workers may join or leave during a sweep
        self.executor = self._job_executor()

    def _job_executor(self) -> cf.Executor:
        """Jobs through ``rnnctl.sweep.remote``: a worker that does not see the client's runs_dir
        trains on its own disk and sends the run folder back (docs/cluster.md)."""
        from .sweep.remote import ShippingExecutor
        return ShippingExecutor(self.client, pure=False)

    def _close_job_executor(self) -> None:
        executor = getattr(self, "executor", None)
        if executor is not None:
            executor.shutdown(wait=False)  # removes the client's marker files

    def request_stop(self):
        self._event.set()

    def kill(self):
        # Tasks cannot be killed remotely; they see the stop event within a second and end.
        if self.cluster is not None:
            self.cluster.close()

    def close(self):
        client = getattr(self, "client", None)
        self._close_job_executor()
        if client is not None:
            try:
                client.unsubscribe_topic(self.topic)
            except Exception:  # noqa: BLE001 - closing anyway
                pass
            client.close()
        if getattr(self, "cluster", None) is not None:
            self.cluster.close()

    def describe(self):
        if self.address:
            info = self.client.scheduler_info() if getattr(self, "client", None) else {}
            n = len(info.get("workers", {}))
            return f"dask at {self.address}, {n} workers"
        return f"dask LocalCluster, {self.workers} worker process{'es' if self.workers != 1 else ''}"

    def crash_message(self, exc):
        if type(exc).__name__ == "KilledWorker":
            return (f"its worker died {DASK_ALLOWED_FAILURES + 1} times running it "
                    "(distributed KilledWorker)")
        return None


def make_backend(name: str, workers: int | None = None, address: str | None = None) -> Backend:
    """The backend registered as ``name`` in ``rnnctl.registry.EXECUTORS`` (not started yet).

    ConfigError for an unknown name (with the closest one), --address without dask, or --workers < 1.
    """
    backend = EXECUTORS.get(name)
    if address and not backend.takes_address:
        raise ConfigError("--address is for the dask executor (add --executor dask)", key="--address")
    if workers is not None and workers < 1:
        raise ConfigError(f"expected a value >= 1, got {workers}", key="--workers")
    return backend(workers, address)
