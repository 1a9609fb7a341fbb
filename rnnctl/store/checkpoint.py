"""Checkpoints as plain data: arrays in an .npz, scalars and RNG states in JSON. Nothing in a run
folder is ever executed: both files are read with ``allow_pickle=False`` and ``json``.

Writing is atomic across the two files: the arrays go to a new ``checkpoint-<update>.npz`` first,
then ``checkpoint.json`` (which names that file) replaces the old one in one rename, then the
previous arrays file is deleted. A crash at any point leaves the old checkpoint or the new one,
whole; an orphaned arrays file is removed at the next save.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import RunError, UnusableRun
from ..safeio import load_npz, read_json
from .atomic import atomic_save_npz, atomic_write_json
from .readers import MAX_NPZ_BYTES
from .layout import CHECKPOINT, CHECKPOINT_ARRAYS, CHECKPOINT_ARRAYS_GLOB, LEGACY_CHECKPOINT

FORMAT = "rnnctl.checkpoint/1"


@dataclass
class Checkpoint:
    """A training state as data: ``meta["update"]`` is the last update it includes."""

    arrays: dict[str, np.ndarray]
    meta: dict

    @property
    def update(self) -> int:
        return int(self.meta["update"])


def save_checkpoint(run_dir, arrays: dict[str, np.ndarray], meta: dict) -> None:
    run_dir = Path(run_dir)
    update = int(meta["update"])
    name = CHECKPOINT_ARRAYS.format(update=update)
    atomic_save_npz(run_dir / name, {k: np.asarray(v) for k, v in arrays.items()})
    atomic_write_json(run_dir / CHECKPOINT, {"format": FORMAT, "arrays": name, **meta})
    for old in run_dir.glob(CHECKPOINT_ARRAYS_GLOB):
        if old.name != name:
            old.unlink(missing_ok=True)


def load_checkpoint(run_dir) -> Checkpoint:
    """The run's checkpoint. RunError when there is none, it is damaged, or it is a legacy pickle."""
    run_dir = Path(run_dir)
    path = run_dir / CHECKPOINT
    if not path.exists():
        if (run_dir / LEGACY_CHECKPOINT).exists():
            raise RunError(f"{run_dir / LEGACY_CHECKPOINT} was written by an earlier rnnctl version as a "
                           "Python pickle, which rnnctl no longer loads (a pickle can run any code); "
                           "start the run again with rnnctl train")
        raise UnusableRun(f"{run_dir} has no checkpoint yet (one is written at every evaluation); "
                       "start it again with rnnctl train")
    try:
        meta = read_json(path)
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} file")
        name = meta.pop("arrays")
        meta.pop("format")
        if "/" in name or "\\" in name or not name.endswith(".npz"):
            raise ValueError(f"bad arrays file name {name!r}")
        arrays = load_npz(run_dir / name, MAX_NPZ_BYTES)
        int(meta["update"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RunError(f"cannot read the checkpoint of {run_dir}: {e}") from e
    return Checkpoint(arrays, meta)


def checkpoint_update(run_dir) -> int | None:
    """The update the run's checkpoint holds, from checkpoint.json alone (its arrays are not read);
    None when there is no readable checkpoint."""
    try:
        return int(read_json(Path(run_dir) / CHECKPOINT)["update"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_checkpoint(run_dir) -> None:
    run_dir = Path(run_dir)
    (run_dir / CHECKPOINT).unlink(missing_ok=True)
    for p in run_dir.glob(CHECKPOINT_ARRAYS_GLOB):
        p.unlink(missing_ok=True)
    (run_dir / LEGACY_CHECKPOINT).unlink(missing_ok=True)
