"""The worker side of a sweep: one job is one training run, started, resumed or started again in
its run folder (``<runs_dir>/<sweep>/<run id>``, reused from attempt to attempt because the id is
the config's hash). Every file of that folder is read and written through ``rnnctl.store``.

``run_job`` is what the driver submits to an executor: a module-level function of plain data
(picklable for worker processes and Dask), which never raises for a failed run: the failure is
recorded in run.json and returned as status 'failed', so the other jobs go on.

A job first takes its run folder's lock (``store.lock``) and holds it to the end: a job whose
folder another live process holds (a second sweep over the same folder) is not touched and is
returned as ``ELSEWHERE``; one whose lock is free but whose run.json says 'running' was killed
and resumes from its checkpoint.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from .. import store
from ..errors import RnnctlError, RunningElsewhere

POLL_SECONDS = 0.25      # how often a running job checks the stop flag
PROGRESS_SECONDS = 0.5   # how often a running job sends its latest loss
ELSEWHERE = "running elsewhere"   # a job's status when another live process holds its run folder's lock

_SUMMARY_KEYS = ("status", "updates", "final_loss", "final_error", "success", "success_update", "wall_time",
                 "message", "error_type", "metric", "valid", "test",   # metric, valid, test: real data only
                 "diagnosis")                                            # the run's own (issue 21)


def summary_of(info: dict | None) -> dict:
    """The fields of run.json that a sweep reports; status 'pending' when there is none."""
    out = {k: (info or {}).get(k) for k in _SUMMARY_KEYS}
    out["status"] = out["status"] or "pending"
    return out


def outcome(run_dir, **extra) -> dict:
    """A job's outcome as run.json records it now (plus ``extra``)."""
    return {**summary_of(store.read_run_or_none(run_dir)), **extra}


class JobObserver:
    """The training loop's observer in a worker: sends progress events to the driver, polls the
    stop flag (a stop request ends the run as 'interrupted' after a checkpoint, as a Ctrl-C
    does), and applies the sweep's early stopping."""

    stop_requested = False

    def __init__(self, run_id: str, channel, stop, early_stop: dict | None, hook=None):
        self.run_id, self.channel, self.stop, self.early_stop, self.hook = run_id, channel, stop, early_stop, hook
        self._polled = self._sent = 0.0
        self._poll = getattr(stop, "poll_seconds", POLL_SECONDS)

    def send(self, kind: str, data: dict) -> None:
        if self.channel is not None:
            try:
                self.channel.put((self.run_id, kind, data))
            except Exception:  # noqa: BLE001 - progress is best effort; the driver may be gone
                self.channel = None

    def stop_is_set(self) -> bool:
        try:
            return self.stop is not None and bool(self.stop.is_set())
        except Exception:  # noqa: BLE001 - the driver is gone: finish the run
            self.stop = None
            return False

    def on_start(self, total_updates):
        self.send("start", {"pid": os.getpid(), "host": platform.node(), "total": total_updates})

    def on_update(self, update, loss, stats):
        if self.hook is not None:
            self.hook(update)
        now = time.monotonic()
        if now - self._polled >= self._poll:
            self._polled = now
            if self.stop_is_set():
                self.stop_requested = True  # train checkpoints and ends as 'interrupted'
        if now - self._sent >= PROGRESS_SECONDS and loss == loss:
            self._sent = now
            self.send("update", {"update": update, "loss": float(loss)})

    def on_eval(self, record):
        self._sent = time.monotonic()
        error = record["error"]   # None on real data (a validation split, no error rule)
        self.send("eval", {"update": record["update"], "loss": float(record["loss"]),
                           "error": None if error is None else float(error)})
        es = self.early_stop
        if es is not None and error is not None and record["update"] >= es["after"] and error > es["error_above"]:
            from ..training import StopRun
            raise StopRun(f"early stop: eval error {record['error']:.4g} > {es['error_above']} "
                          f"after {record['update']} updates")


def _resume_point(folder, info: dict | None):
    """The checkpoint to go on from: an interrupted run, or one left 'running' by a process that
    is gone (killed: the caller holds the lock, so nobody else runs it). None means start again:
    no checkpoint, a failed run, or an unreadable one."""
    if info is None or info.get("status") not in ("interrupted", "running") or not folder.has_checkpoint():
        return None
    try:
        return folder.resume()
    except RnnctlError:
        return None


def run_job(task: dict, channel=None, stop=None) -> dict:
    """Run (or resume) one job in a worker. Module-level so that every executor can pickle it.

    ``task``: run_id, values, run_dir (absolute), config (a plain mapping), early_stop, hook.
    Returns a small dict (status, updates, final_error, ...) read back from run.json.
    """
    run_dir = Path(task["run_dir"])
    info = store.read_run_or_none(run_dir)
    if info is not None and info.get("status") in store.FINISHED:
        return outcome(run_dir, skipped=True)  # e.g. a Dask retry of a job that did finish
    hook = None
    if task.get("hook"):
        from .testhook import TestHook
        hook = TestHook(task["hook"], task["values"])
    obs = JobObserver(task["run_id"], channel, stop, task.get("early_stop"), hook)
    if obs.stop_is_set():  # the sweep was stopped before this job began
        return {"status": (info or {}).get("status") or "pending", "skipped": True}
    resumed_from = None
    folder = None
    try:
        folder = store.RunFolder.at(run_dir)
        try:
            folder.lock()   # held until train() finishes the run (or this job ends)
        except RunningElsewhere:
            return {**outcome(run_dir), "status": ELSEWHERE, "message": store.lock_holder(run_dir), "skipped": True}
        info = store.read_run_or_none(run_dir)   # again, under the lock: it may have moved on
        if info is not None and info.get("status") in store.FINISHED:
            return outcome(run_dir, skipped=True)   # finished by another process meanwhile
        from .. import training
        from ..config import config_from_dict
        cfg = config_from_dict(task["config"])
        checkpoint = _resume_point(folder, info)
        if checkpoint is None:
            folder.clear()
        else:
            resumed_from = checkpoint.update
        training.train(cfg, folder, obs, resume=checkpoint)
    except KeyboardInterrupt:  # Ctrl-C, or the stop flag: train saved a checkpoint
        pass
    except Exception as e:  # noqa: BLE001 - recorded (status failed, message, error type); the other jobs go on
        if folder is None:   # the folder could not even be made: nothing to record it in
            return {"status": "failed", "message": f"{type(e).__name__}: {e}", "error_type": type(e).__name__}
        folder.record_failure(e, task["config"].get("name"), task["run_id"])
    finally:
        if folder is not None:
            folder.release()
    return outcome(run_dir, resumed_from=resumed_from)
