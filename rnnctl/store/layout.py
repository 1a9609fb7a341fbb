"""What a run folder and a sweep folder hold: every file name, status and fixed trace column.

This module is the only place in rnnctl that spells a run-folder file name; everything else asks
``rnnctl.store`` for a path or a reader. Standard library only: the CLI and the sweep driver use
it without loading NumPy.

A run folder ``<runs_dir>/<name>/<run-id>/``:
  config.yaml         the resolved config
  run.json            status, seed, times, versions and provenance, final summary
  metrics.jsonl       one JSON object per evaluation
  trace.csv           one row per update: update, loss, norm_before, norm_after, fired, length,
                      then the method's and regularizer's figures and norm.<group> per parameter
  backprop_norms.npy  (n, layers, T_max + 1) float32: Σ_b ‖∂E/∂x_k‖ per recorded update, NaN past
                      each batch's length; backprop_updates.npy (n,) holds the update numbers, in
                      increasing order (log.backprop_every: N every N-th update; auto the bounded
                      schedule of store/sizes.py)
  backprop_peaks.npz  log.backprop_every auto: ``updates`` (K,) and ``norms`` (K, layers, T_max + 1),
                      the off-schedule updates with the largest norms (-1: an empty slot); the
                      readers merge them into the rows of backprop_norms.npy
  params_snapshots.npy  (n, P) in the model's dtype: the flat parameter vector at update 0, every
                      log.params_every updates and at the last update; params_updates.npy (n,) holds
                      the update numbers (only with log.params_every > 0)
  probes/             update_<n>.npz per probe (temporal contributions), listed in probes.jsonl
  postmortem.npz      for a diverged run: the batch that broke it and the parameters before it
  params_init.npz     named parameter arrays at the start
  params_final.npz    named parameter arrays at the end (last finite ones for a diverged run)
  checkpoint.json     the training state's scalars and RNG states at the last evaluation; it names
                      checkpoint-<update>.npz, which holds the state's arrays. Kept while a run is
                      unfinished (interrupted, failed or killed) so that ``rnnctl resume`` can go on,
                      and after a run completed or succeeded, so that it can be extended.
  run.lock            locked (fcntl.flock) by the process training the run, freed when it ends;
                      never deleted (store/lock.py)
  eval/               <timestamp>.json per ``rnnctl eval --save``: a later evaluation of the model

A sweep folder ``<runs_dir>/<sweep name>/`` holds the run folders of its jobs and:
  sweep.yaml          the spec, re-runnable; jobs.jsonl one line per job; summary.json the outcome
"""

from __future__ import annotations

from pathlib import Path

CONFIG = "config.yaml"
RUN_INFO = "run.json"
METRICS = "metrics.jsonl"
TRACE = "trace.csv"
BACKPROP_NORMS = "backprop_norms.npy"
BACKPROP_UPDATES = "backprop_updates.npy"
BACKPROP_PEAKS = "backprop_peaks.npz"
PARAMS_SNAPSHOTS = "params_snapshots.npy"
PARAMS_SNAPSHOT_UPDATES = "params_updates.npy"
PROBES_DIR = "probes"
PROBES_INDEX = "probes.jsonl"
POSTMORTEM = "postmortem.npz"
CHECKPOINT = "checkpoint.json"
CHECKPOINT_ARRAYS = "checkpoint-{update:07d}.npz"
CHECKPOINT_ARRAYS_GLOB = "checkpoint-*.npz"
LEGACY_CHECKPOINT = "checkpoint.pkl"     # rnnctl 0.1 pickled the training state: refused, never loaded
PARAMS = "params_{kind}.npz"             # kind: init | final
EVALS_DIR = "eval"                       # rnnctl eval --save: eval/<timestamp>.json
LOCK = "run.lock"                        # flock'ed by the process training the run (store/lock.py)

SWEEP_SPEC = "sweep.yaml"
SWEEP_JOBS = "jobs.jsonl"
SWEEP_SUMMARY = "summary.json"

# Files whose presence makes a folder a run folder (any one of them: a damaged run still counts).
RUN_MARKERS = (RUN_INFO, CONFIG, TRACE)

TRACE_COLUMNS = ("update", "loss", "norm_before", "norm_after", "fired")  # always first
STATUSES = ("running", "completed", "succeeded", "diverged", "stopped", "failed", "interrupted")
FINISHED = ("completed", "succeeded", "diverged", "stopped")
UNFINISHED = ("running", "failed", "interrupted")
# Finished runs that keep their final checkpoint, so that ``rnnctl resume RUN train.steps=N`` can
# extend them; a diverged or stopped run has nothing worth continuing and drops its checkpoint.
EXTENDABLE = ("completed", "succeeded")


def run_path(runs_dir, name: str, run_id: str) -> Path:
    """Where the run ``run_id`` of experiment ``name`` lives."""
    return Path(runs_dir) / name / run_id


def params_file(run_dir, kind: str) -> Path:
    return Path(run_dir) / PARAMS.format(kind=kind)


def probe_name(update: int) -> str:
    return f"{PROBES_DIR}/update_{update:07d}.npz"


def is_run_folder(path) -> bool:
    path = Path(path)
    return any((path / f).exists() for f in RUN_MARKERS)


def is_sweep_folder(path) -> bool:
    return (Path(path) / SWEEP_JOBS).exists()
