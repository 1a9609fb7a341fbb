"""A run folder's trained model, loaded for use, after the checks every use makes.

``load_trained(run_dir, params="best")`` returns a ``Trained`` (config, run.json, the model with
the chosen parameters) or raises ``UnusableRun`` (exit code 5) when the folder cannot be used:

- not a run folder (no run.json or config), or its config no longer validates;
- incomplete: still running, interrupted or failed (finish it with ``rnnctl resume``), or without
  the parameter file asked for;
- written by an incompatible rnnctl: another major version, or a newer one than this;
- parameters that are not finite, or do not fit the model its config describes.

``params``: ``best`` (the best validation parameters of a run on real data; a run on a generated
task has none and falls back to ``final``), ``final`` or ``init``. Nothing in the folder is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__, store
from ..errors import ConfigError, DataError, RunError, UnusableRun

PARAMS = ("best", "final", "init")
USABLE = ("succeeded", "completed", "stopped", "diverged")   # diverged: the last finite parameters


@dataclass
class Trained:
    run_dir: Path
    config: object        # rnnctl.config.Config, as the run resolved it
    info: dict            # run.json
    model: object         # rnnctl.model.Model with the chosen parameters
    params: str           # which parameters: best, final or init

    @property
    def sampler(self):
        """The run's task (a generator's length sampler, or the dataset of real data)."""
        from ..tasks import make_task
        if not hasattr(self, "_sampler"):
            self._sampler = make_task(self.config)
        return self._sampler


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in str(text).split("+")[0].split(".")[:3])
    except ValueError:
        return ()


def check_version(info: dict, run_dir) -> None:
    """Same major version, and not newer than this rnnctl (it may hold what this one cannot read)."""
    theirs = (info.get("versions") or {}).get("rnnctl")
    have, got = _version(__version__), _version(theirs)
    if not got:
        raise UnusableRun(f"{run_dir}: run.json names no rnnctl version; it was not written by rnnctl "
                          "train, or it is damaged")
    if got[0] != have[0] or got > have:
        raise UnusableRun(f"{run_dir}: written by rnnctl {theirs}, which this rnnctl {__version__} cannot "
                          f"use ({'a newer version' if got > have else 'another major version'}); run "
                          f"it with rnnctl {theirs}")


def load_trained(run_dir, params: str = "best") -> Trained:
    from ..config import load_config
    from ..training import build_model
    run_dir = Path(run_dir)
    if params not in PARAMS:
        raise ConfigError(f"expected one of {', '.join(PARAMS)}, got {params!r}", key="--params")
    if not run_dir.exists():
        raise UnusableRun(f"{run_dir}: no such folder")
    try:
        info = store.read_run(run_dir)
    except RunError as e:   # missing, or damaged (bounded: rnnctl.safeio)
        info = None
        if store.is_run_folder(run_dir) and not isinstance(e.__cause__, FileNotFoundError):
            raise UnusableRun(f"{run_dir}: damaged: {e}") from None
    if info is None or not store.config_path(run_dir).exists():
        raise UnusableRun(f"{run_dir}: not a run folder (no run.json and config.yaml)")
    status = info.get("status")
    if status not in USABLE:
        hint = ("; finish it with: rnnctl resume " + str(run_dir)) if status in ("interrupted", "failed", "running") else ""
        raise UnusableRun(f"{run_dir}: the run is incomplete (status {status}){hint}")
    check_version(info, run_dir)
    try:
        config = load_config(store.config_path(run_dir))
    except ConfigError as e:
        raise UnusableRun(f"{run_dir}: its config no longer validates: {e}") from None
    kind = params
    if kind == "best" and not store.has_params(run_dir, "best"):
        kind = "final"   # a generated task has no validation split, so no best parameters
    if not store.has_params(run_dir, kind):
        raise UnusableRun(f"{run_dir}: no {kind} parameters in the run folder")
    try:
        values = store.read_params(run_dir, kind)
    except RunError as e:
        raise UnusableRun(str(e)) from None
    bad = [k for k, v in values.items() if not np.all(np.isfinite(v))]
    if bad:
        raise UnusableRun(f"{run_dir}: the {kind} parameters are not finite ({', '.join(bad)}); "
                          "the run diverged before saving them")
    model = build_model(config, np.random.default_rng(0))
    try:
        model.set_params(values)
    except (KeyError, ValueError, DataError) as e:   # set_params raises DataError
        raise UnusableRun(f"{run_dir}: the {kind} parameters do not fit the model its config describes: {e}") from None
    return Trained(run_dir, config, info, model, kind)
