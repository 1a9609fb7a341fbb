"""run.json: reading it and marking a run's status from outside the run. Whether a run is being
trained is its lock's business (``store.lock``), not a guess from the pid recorded here.

Standard library only: the sweep driver plans jobs from these without loading NumPy.
"""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

from ..errors import RunError
from ..safeio import read_json
from .atomic import atomic_write_json, now_iso
from .layout import CHECKPOINT, LEGACY_CHECKPOINT, LOCK, RUN_INFO


def read_run(path) -> dict:
    """run.json of a run folder, as a dict. RunError when it is missing or unreadable."""
    try:
        info = read_json(Path(path) / RUN_INFO)   # bounded: size, nesting (rnnctl.safeio)
    except (OSError, ValueError) as e:
        raise RunError(f"cannot read {Path(path) / RUN_INFO}: {e}") from e
    if not isinstance(info, dict):
        raise RunError(f"cannot read {Path(path) / RUN_INFO}: expected a JSON object")
    return info


def read_run_or_none(path) -> dict | None:
    """run.json, or None when there is none or it cannot be read."""
    try:
        return read_run(path)
    except RunError:
        return None


def write_run(path, info: dict) -> None:
    atomic_write_json(Path(path) / RUN_INFO, info)


def has_checkpoint(path) -> bool:
    """True when the run folder holds a checkpoint to resume from."""
    return (Path(path) / CHECKPOINT).exists()


def has_legacy_checkpoint(path) -> bool:
    """True when the folder holds only a checkpoint pickled by rnnctl 0.1 (refused, never read)."""
    path = Path(path)
    return not has_checkpoint(path) and (path / LEGACY_CHECKPOINT).exists()


def mark(path, status: str, message: str, only_if=("running",), error_type: str | None = None) -> bool:
    """Set the status of a run whose process is gone (or never started); True when written.
    ``error_type``: the exception's class name, for a failed run."""
    info = read_run_or_none(path)
    if info is None or info.get("status") not in only_if:
        return False
    info.update(status=status, message=message, ended=info.get("ended") or now_iso())
    if error_type:
        info["error_type"] = error_type
    write_run(path, info)
    return True


def mark_failed_start(path, name: str, config_hash: str, message: str, error_type: str | None = None) -> None:
    """A run that failed before its folder was started: a run.json saying so, and nothing else."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    write_run(path, {"status": "failed", "name": name, "config_hash": config_hash,
                     "started": now_iso(), "ended": now_iso(), "host": platform.node(),
                     "pid": os.getpid(), "message": message,
                     **({"error_type": error_type} if error_type else {})})


def clear(path) -> None:
    """Empty a run folder for a fresh start (a failed run, or one without a checkpoint). The lock
    file stays: its holder (the caller) keeps the lock."""
    for p in Path(path).iterdir():
        if p.name == LOCK:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
