"""Sweeps: a spec (a base config plus grid, zip, random and seeds) expanded into validated jobs,
each one training run whose id is the hash of its resolved config, run on an executor
(``rnnctl.executors``) and resumable: running a sweep again runs only what is missing.

    sweep = load_sweep("configs/sweeps/clipping_vs_length.yaml", ["train.steps=500"])
    jobs = expand(sweep)                      # every job validated; a bad one raises ConfigError
    result = run_sweep(sweep, executor="local", workers=2)
    result.counts, result.exit_code, result.runs

The parts, in the order a sweep goes through them:
  spec      read and validate a spec (errors name the file, line and key)      -> Sweep
  factors   its grid, zip, random and seeds                                    -> [Factor]
  jobs      expand(): grid/zip/random/seeds -> Jobs, ids = config hashes       -> [Job]
  driver    plan from the run folders, schedule on an executor, record the
            sweep folder (sweep.yaml, jobs.jsonl, summary.json); SweepObserver -> SweepResult
  worker    run_job: one job in a worker, through rnnctl.store
  testhook  test-only fault injection (RNNCTL_SWEEP_TEST_HOOK)
Terminal views of a sweep live in ``rnnctl.ui.sweep``.

Importing these modules, reading a spec and planning load no NumPy; ``expand`` does, when it
checks each job with ``rnnctl.config.check_runnable`` (which builds the task), and workers train.
"""

from __future__ import annotations

from ..labels import short_names  # lives in rnnctl.labels (the report uses it too); kept here for callers
from .driver import STOP_GRACE_SECONDS, JobPlan, SweepObserver, SweepResult, plan, run_sweep, write_sweep_files
from .jobs import Job, expand, yaml_scalar
from .factors import DISTRIBUTIONS, RANDOM_KEYS, Factor
from .spec import EARLY_STOP_KEYS, SPEC_KEYS, EarlyStop, Sweep, load_sweep, sweep_from_dict
from .testhook import TEST_HOOK_ENV
from .worker import POLL_SECONDS, PROGRESS_SECONDS, run_job

__all__ = ["Sweep", "EarlyStop", "Factor", "load_sweep", "sweep_from_dict", "SPEC_KEYS", "RANDOM_KEYS",
           "DISTRIBUTIONS", "EARLY_STOP_KEYS", "Job", "expand", "yaml_scalar", "JobPlan", "plan", "run_sweep",
           "SweepResult", "SweepObserver", "write_sweep_files", "STOP_GRACE_SECONDS", "run_job",
           "POLL_SECONDS", "PROGRESS_SECONDS", "TEST_HOOK_ENV", "short_names"]
