"""Evaluations saved beside a run: ``rnnctl eval --save`` writes ``eval/<timestamp>.json`` in the
run folder, one file per evaluation, atomically (a reader sees a whole record or none). Nothing
else in the folder changes. Standard library only.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..errors import RunError
from ..safeio import read_json
from .atomic import atomic_write_json, now_iso
from .layout import EVALS_DIR


def write_eval(run_dir, record: dict) -> Path:
    """Write ``record`` (plain data; NaN/Inf become null) as ``eval/<timestamp>.json`` in
    ``run_dir`` and return its path. The name sorts by time (local, to the second); a second
    evaluation in the same second gets ``-2``, ``-3``, ... ``record`` gains ``saved`` (UTC, ISO)."""
    folder = Path(run_dir) / EVALS_DIR
    try:
        folder.mkdir(exist_ok=True)
    except OSError as e:
        raise RunError(f"cannot create {folder}: {e}") from e
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path, k = folder / f"{stamp}.json", 1
    while path.exists():
        k += 1
        path = folder / f"{stamp}-{k}.json"
    try:
        atomic_write_json(path, {**record, "saved": now_iso()})
    except OSError as e:
        raise RunError(f"cannot write {path}: {e}") from e
    return path


def _order(path: Path):
    """By (day, second, counter): '...-120000.json' < '...-120000-2.json' < '...-120000-10.json'."""
    day, _, rest = path.stem.partition("-")
    second, _, k = rest.partition("-")
    return (day, second, int(k) if k.isdigit() else 1)


def read_evals(run_dir) -> list[dict]:
    """The saved evaluations of a run, oldest first, each with ``file`` (its name); [] when there
    are none. An unreadable file is a RunError naming it."""
    folder = Path(run_dir) / EVALS_DIR
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json"), key=_order):
        try:
            record = read_json(path)
        except (OSError, ValueError) as e:
            raise RunError(f"cannot read {path}: {e}") from e
        if not isinstance(record, dict):
            raise RunError(f"cannot read {path}: expected a JSON object")
        out.append({**record, "file": path.name})
    return out
