"""The driver: plan the jobs from their run folders, schedule them on an executor
(``rnnctl.executors``), collect their outcomes, and record the sweep folder's files.

Running a sweep again runs only what is missing: finished runs are skipped, interrupted and
killed ones resume from their checkpoint, failed ones start again; a job whose run folder is
locked by another live process (another sweep over the same folder, an ``rnnctl resume``) is
left to it and reported as running elsewhere (``worker.ELSEWHERE``, exit code 6 when nothing
failed): a sweep never waits for it. The sweep folder holds
``sweep.yaml`` (the spec as given, base inlined, overrides included: ``rnnctl sweep
runs_dir/name/sweep.yaml`` runs it again), ``jobs.jsonl`` (one line per job: job, run_id,
values) and ``summary.json`` (counts per status, wall time, one row per run; rewritten as jobs
end), all written through ``rnnctl.store``. Progress goes to a ``SweepObserver``.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import dataclasses
import queue
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import store
from ..config import config_to_dict
from ..errors import EXIT_OK, EXIT_PARTIAL, EXIT_RUNNING_ELSEWHERE, CannotWrite
from ..interrupt import GracefulInterrupt, exit_code, signal_name
from . import testhook
from .jobs import Job, expand
from .spec import Sweep
from .worker import ELSEWHERE, outcome, run_job, summary_of

STOP_GRACE_SECONDS = 30  # after a Ctrl-C, how long running jobs get to checkpoint before a kill
WAIT_SECONDS = 0.2       # the driver's loop: look for ended jobs and progress this often


@dataclass
class JobPlan:
    job: Job
    action: str          # new | skip | resume | restart | rerun | busy
    info: dict | None    # run.json, when there is one

    @property
    def state(self) -> str:
        """Text for the dry-run table."""
        i = self.info or {}
        return {"new": "new", "skip": f"finished ({i.get('status')})",
                "resume": f"resume ({i.get('status')} at update {i.get('updates')})",
                "restart": f"restart ({i.get('status')}, no checkpoint)",
                "rerun": "rerun (failed)",
                "busy": f"{ELSEWHERE} (pid {i.get('pid')})"}[self.action]

    @property
    def runs(self) -> bool:
        return self.action not in ("skip", "busy")


def plan(jobs: list[Job]) -> list[JobPlan]:
    """What running the sweep now would do with each job, from its run folder."""
    plans = []
    for job in jobs:
        info = store.read_run_or_none(job.run_dir)
        status = (info or {}).get("status")
        if status in store.FINISHED:
            action = "skip"
        elif store.is_locked(job.run_dir):
            action = "busy"     # another live process trains it (its lock is held)
        elif info is None:
            action = "new"
        elif status == "failed":
            action = "rerun"
        elif store.has_checkpoint(job.run_dir):
            action = "resume"   # interrupted, or 'running' whose process is gone (killed)
        else:
            action = "restart"
        plans.append(JobPlan(job, action, info))
    return plans


class SweepObserver:
    """What the driver reports while a sweep runs; rnnctl.ui.sweep's live view and log implement
    these (called from the driver's thread)."""

    def on_sweep_start(self, sweep: Sweep, plans: list[JobPlan], executor: str) -> None: ...
    def on_job_start(self, job: Job, info: dict) -> None: ...
    def on_job_progress(self, job: Job, update: int, loss: float | None, error: float | None) -> None: ...
    def on_job_end(self, job: Job, outcome: dict) -> None: ...
    def on_stop(self, message: str) -> None: ...
    def on_sweep_end(self, result: "SweepResult") -> None: ...
    def close(self) -> None:
        """The sweep ended with an error: release the display (also called after on_sweep_end)."""


@dataclass
class SweepResult:
    name: str
    folder: Path
    runs: list[dict]        # one per job: job, run_id, values, status, updates, final_error, ...
    counts: dict            # status -> number of jobs
    wall_time: float        # seconds of this invocation
    ran: int                # jobs that ran (or resumed) in this invocation
    interrupted: bool = False
    executor: str = ""
    signum: int | None = None   # the signal that stopped the sweep (None: Ctrl-C, or none)

    @property
    def unfinished(self) -> list[dict]:
        """Runs that did not finish: failed, interrupted, pending, or running elsewhere."""
        return [r for r in self.runs if r["status"] not in store.FINISHED]

    @property
    def elsewhere(self) -> list[dict]:
        """Runs another live process was training (their folder's lock was held): not touched."""
        return [r for r in self.runs if r["status"] == ELSEWHERE]

    @property
    def exit_code(self) -> int:
        """0 every run finished (succeeded, completed, diverged or stopped: all outcomes of a
        study); 130 interrupted (Ctrl-C), 143 by SIGTERM, 129 by SIGHUP; 4 some runs failed (or
        did not finish); 6 the only unfinished runs are running elsewhere (another process holds
        their lock)."""
        if self.interrupted:
            return exit_code(self.signum)
        if len(self.unfinished) > len(self.elsewhere):
            return EXIT_PARTIAL
        return EXIT_RUNNING_ELSEWHERE if self.elsewhere else EXIT_OK

    def to_dict(self) -> dict:
        return {"name": self.name, "folder": str(self.folder), "executor": self.executor,
                "jobs": len(self.runs), "ran": self.ran, "counts": self.counts,
                "wall_time": round(self.wall_time, 3), "interrupted": self.interrupted,
                "exit_code": self.exit_code, **self.stopped_by(), "runs": self.runs}

    def stopped_by(self) -> dict:
        return {"stopped_by": signal_name(self.signum)} if self.interrupted else {}


def write_sweep_files(sweep: Sweep, jobs: list[Job]) -> None:
    """sweep.yaml (re-runnable) and jobs.jsonl in the sweep folder."""
    sweep.folder.mkdir(parents=True, exist_ok=True)
    spec = dict(sweep.spec)
    spec["name"] = sweep.name
    spec["runs_dir"] = str(sweep.runs_dir)
    spec["base"] = copy.deepcopy(sweep.base_data)
    if sweep.base_overrides:
        spec["overrides"] = list(sweep.base_overrides)
    head = [f"# rnnctl sweep {sweep.spec_path or '(a mapping)'}"
            + (f" {' '.join(sweep.overrides)}" if sweep.overrides else "")]
    if sweep.base_source and isinstance(sweep.spec.get("base"), str):
        head.append(f"# base: {sweep.base_source} (inlined below)")
    head.append(f"# run it again with: rnnctl sweep {store.sweep_spec_path(sweep.folder)}")
    store.write_sweep_spec(sweep.folder, "\n".join(head) + "\n"
                           + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    store.write_jobs(sweep.folder, [{"job": j.index, "run_id": j.run_id, "values": j.values} for j in jobs])


def job_cost(job: Job) -> float:
    """Rough work of a job, to start the longest first (shorter wall time on few workers) and to
    weigh the log's ETA."""
    c = job.config
    if c.task.length or c.task.min_length is None:   # real data: a set of sequences has no length key
        t = c.task.length or 100
    else:
        t = (c.task.min_length + c.task.max_length) / 2
    h = c.model.hidden
    train_cost = c.train.steps * c.train.batch_size * 3
    eval_cost = (c.train.steps // c.eval.every + 1) * c.eval.sequences
    return t * h * h * (train_cost + eval_cost)


def run_sweep(sweep: Sweep, executor: str = "local", workers: int | None = None, address: str | None = None,
              observer: SweepObserver | None = None, jobs: list[Job] | None = None,
              stop_grace: float = STOP_GRACE_SECONDS, _test_hook: list | None = None) -> SweepResult:
    """Run every job that has not finished: new, interrupted (resumed from its checkpoint),
    killed (idem) and failed (started again) ones; finished ones are skipped.

    ``executor``: a name in ``rnnctl.registry.EXECUTORS``: "local" (worker processes, default),
    "thread", or "dask" (``address`` of a scheduler, or a LocalCluster of ``workers`` processes).
    Ctrl-C, SIGTERM or SIGHUP stops the sweep: running jobs checkpoint and are recorded
    'interrupted'; the result then has ``interrupted=True`` and ``signum`` (None for Ctrl-C).
    ``_test_hook``: see ``rnnctl.sweep.testhook`` (tests only).
    """
    from ..executors import make_backend

    jobs = expand(sweep) if jobs is None else jobs
    plans = plan(jobs)
    backend = make_backend(executor, workers, address)
    return _Driver(sweep, plans, backend, observer or SweepObserver(), testhook.rules(_test_hook),
                   stop_grace).run()


class _Driver:
    """One invocation of run_sweep: its jobs in flight, their outcomes, and the summary."""

    def __init__(self, sweep: Sweep, plans: list[JobPlan], backend, obs: SweepObserver, hook, stop_grace: float):
        self.sweep, self.plans, self.backend, self.obs = sweep, plans, backend, obs
        self.hook, self.stop_grace = hook, stop_grace
        self.by_id = {p.job.run_id: p for p in plans}
        self.outcomes: dict[int, dict] = {}     # job index -> outcome of this invocation
        self.ran: set[int] = set()              # job indexes that ran (or resumed) now
        self.started_jobs: set[str] = set()     # run ids whose 'start' event arrived
        self.ended: set[str] = set()            # no progress shown after a job's end (Dask events lag)
        self.running: dict[cf.Future, JobPlan] = {}
        self.events: queue.Queue = queue.Queue()
        self.interrupted = False
        self.stop_at: float | None = None
        self.desc = backend.name
        self.sig = GracefulInterrupt()

    def run(self) -> SweepResult:
        try:
            return self._run()
        except OSError as e:   # the sweep folder cannot be written: a full or read-only disk
            full = CannotWrite.of(e, f"run the same sweep again (rnnctl sweep "
                                     f"{store.sweep_spec_path(self.sweep.folder)}): its runs resume")
            if full is None:
                raise
            raise full from None

    def _run(self) -> SweepResult:
        write_sweep_files(self.sweep, [p.job for p in self.plans])
        self.started, self.t0 = store.now_iso(), time.monotonic()
        todo = sorted((p for p in self.plans if p.runs), key=lambda p: job_cost(p.job), reverse=True)
        self.record()
        if not todo:
            self.obs.on_sweep_start(self.sweep, self.plans, "nothing to run")
            return self.finish()
        with self.sig:
            try:
                self.backend.start(self.events)
                self.desc = self.backend.describe()
                self.obs.on_sweep_start(self.sweep, self.plans, self.desc)
                self.loop(deque(todo))
            except KeyboardInterrupt:  # second Ctrl-C, or the grace period is over
                self.interrupted = True
                self.obs.on_stop("stopping now: killing the running jobs (they resume from their last checkpoint)")
                for f in self.running:
                    f.cancel()
                self.backend.kill()
            except BaseException as e:
                self.obs.close()  # e.g. give the terminal back before the error is shown
                if CannotWrite.of(e, "") is not None:
                    self.backend.kill()   # their outcomes cannot be recorded: stop the jobs now
                raise
            finally:
                try:
                    self.backend.close()
                except KeyboardInterrupt:
                    self.backend.kill()
        # A Ctrl-C is an interruption even when the loop had no job left to stop: one that came
        # while the last jobs were ending, or one that reached only the workers (their runs end
        # 'interrupted'). Deciding this inside the loop alone made such sweeps exit 4, not 130.
        self.interrupted = self.interrupted or bool(self.sig.requested)
        if self.interrupted:
            self.mark_killed(todo)
        return self.finish()

    def loop(self, pending: deque) -> None:
        b = self.backend
        while pending or self.running:
            if self.sig.requested and self.stop_at is None:
                self.stop(pending)
            while pending and (b.capacity is None or len(self.running) < b.capacity):
                p = pending.popleft()
                self.running[b.executor.submit(run_job, self.payload(p), b.channel, b.stop)] = p
            done, _ = cf.wait(list(self.running), timeout=WAIT_SECONDS, return_when=cf.FIRST_COMPLETED)
            b.poll()
            self.drain()
            for f in done:
                self.collect(f)
            if self.stop_at is not None and self.running and time.monotonic() - self.stop_at > self.stop_grace:
                raise KeyboardInterrupt

    def stop(self, pending: deque) -> None:
        """First Ctrl-C, SIGTERM or SIGHUP: running jobs checkpoint and end; jobs not started are
        not started."""
        self.interrupted, self.stop_at = True, time.monotonic()
        again = "Ctrl-C again" if self.sig.name == "SIGINT" else f"{self.sig.name}; a second signal"
        self.obs.on_stop(f"stopping: running jobs save a checkpoint ({again} to stop at once)")
        self.backend.request_stop()
        for f, p in self.running.items():
            if p.job.run_id not in self.started_jobs:
                f.cancel()
        pending.clear()

    def payload(self, p: JobPlan) -> dict:
        """What a worker needs for one job, as plain data; absolute paths (workers may run elsewhere)."""
        j = p.job
        cfg = dataclasses.replace(j.config, runs_dir=str(self.sweep.runs_dir.resolve()))
        es = self.sweep.early_stop
        return {"index": j.index, "run_id": j.run_id, "values": j.values, "run_dir": str(j.run_dir.resolve()),
                "config": config_to_dict(cfg), "early_stop": dataclasses.asdict(es) if es else None,
                "hook": self.hook}

    def drain(self) -> None:
        """Progress events that have arrived -> the observer."""
        while True:
            try:
                run_id, kind, data = self.events.get_nowait()
            except queue.Empty:
                return
            except (TypeError, ValueError):
                continue
            p = self.by_id.get(run_id)
            if p is None:
                continue
            if kind == "start":
                self.started_jobs.add(run_id)
                self.ran.add(p.job.index)
            if run_id in self.ended:
                continue
            if kind == "start":
                self.obs.on_job_start(p.job, data)
            elif kind in ("update", "eval"):
                self.obs.on_job_progress(p.job, data["update"], data.get("loss"), data.get("error"))

    def collect(self, f: cf.Future) -> None:
        p = self.running.pop(f)
        self.ended.add(p.job.run_id)
        out = self.outcome_of(f, p)
        if out is None:
            return
        if not out.get("skipped"):
            self.ran.add(p.job.index)
        self.outcomes[p.job.index] = out
        if out["status"] == "interrupted" and not self.sig.requested:
            self.sig.requested = True  # a Ctrl-C reached a worker (terminal): stop the sweep
        self.obs.on_job_end(p.job, out)
        self.record()

    def outcome_of(self, f: cf.Future, p: JobPlan) -> dict | None:
        if f.cancelled():
            return None
        exc = f.exception()
        if exc is None:
            return f.result()
        crash = self.backend.crash_message(exc)
        if crash and self.stop_at is not None:  # a worker that the Ctrl-C itself ended: not the job's fault
            return {**outcome(p.job.run_dir), "skipped": True}
        message = f"job failed: {crash}" if crash else f"{type(exc).__name__}: {exc}"
        store.mark(p.job.run_dir, "failed", message)
        return {**outcome(p.job.run_dir), "status": "failed", "message": message, "crash": message}

    def mark_killed(self, todo: list[JobPlan]) -> None:
        """Runs left 'running' by a killed worker (their lock is free): resumable from the last checkpoint."""
        for p in todo:
            info = store.read_run_or_none(p.job.run_dir)
            if info is not None and info.get("status") == "running" and not store.is_locked(p.job.run_dir):
                store.mark(p.job.run_dir, "interrupted", "the sweep was interrupted")

    def result(self, final: bool) -> SweepResult:
        runs = []
        for p in self.plans:
            j = p.job
            info = store.read_run_or_none(j.run_dir) if final or j.index in self.outcomes else p.info
            row = {"job": j.index, "run_id": j.run_id, "values": j.values, **summary_of(info),
                   "ran": j.index in self.ran}
            out = self.outcomes.get(j.index, {})
            if out.get("crash"):
                row["message"] = out["crash"]
            if final and row["status"] not in store.FINISHED and store.is_locked(j.run_dir):
                row["status"] = ELSEWHERE   # another live process trains it now
            elif final and row["status"] == "running":
                row["status"] = "interrupted" if self.interrupted else "failed"
            elif not final and (out.get("status") == ELSEWHERE or p.action == "busy") \
                    and row["status"] not in store.FINISHED:
                row["status"] = ELSEWHERE
            elif not final and j.run_id in self.started_jobs and j.index not in self.outcomes:
                row["status"] = "running"
            if row["status"] == ELSEWHERE:
                row["message"] = out.get("message") or store.lock_holder(j.run_dir)
            runs.append(row)
        counts: dict[str, int] = {}
        for r in runs:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        return SweepResult(self.sweep.name, self.sweep.folder, runs, counts, time.monotonic() - self.t0,
                           len(self.ran), self.interrupted, self.desc, self.sig.signum)

    def record(self, final: bool = False) -> SweepResult:
        """summary.json as of now (rewritten atomically as jobs end)."""
        res = self.result(final)
        sweep = self.sweep
        store.write_sweep_summary(sweep.folder, {
            "name": sweep.name, "spec": str(sweep.spec_path) if sweep.spec_path else None,
            "overrides": sweep.overrides, "executor": res.executor, "started": self.started,
            "ended": store.now_iso() if final else None, "wall_time": round(res.wall_time, 3),
            "run_time": round(sum(r["wall_time"] or 0.0 for r in res.runs), 3),  # all invocations
            "jobs": len(res.runs), "ran": res.ran, "counts": res.counts, "interrupted": self.interrupted,
            **res.stopped_by(), "runs": res.runs})
        return res

    def finish(self) -> SweepResult:
        res = self.record(final=True)
        self.obs.on_sweep_end(res)
        return res
