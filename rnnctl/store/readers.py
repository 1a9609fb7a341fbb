"""Readers of a run folder's files. Each tolerates what a crash can leave (a torn last line) and
raises RunError, naming the file, for anything else."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from ..errors import RunError
from . import layout as L


def _short(e: Exception) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 120 else text[:117] + "..."


def read_config_text(run_dir) -> str:
    path = Path(run_dir) / L.CONFIG
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise RunError(f"cannot read {path}: {e}") from e


def config_path(run_dir) -> Path:
    """The resolved config of a run (for ``rnnctl.load_config``)."""
    return Path(run_dir) / L.CONFIG


def read_trace(run_dir, columns=None) -> dict[str, np.ndarray]:
    """trace.csv as {column: float array}, fast (np.loadtxt); a torn last line is dropped.
    ``columns``: only these (those the file has; parsing fewer is faster on a long run).
    Raises RunError when the file is missing or unreadable."""
    path = Path(run_dir) / L.TRACE
    try:
        with open(path, encoding="utf-8") as f:
            header = f.readline().strip().split(",")
            text = f.read()
    except OSError as e:
        raise RunError(f"cannot read {path}: {e}") from e
    if not header or header[0] != "update":
        raise RunError(f"cannot read {path}: no header line starting with 'update'")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]       # torn by a crash mid-write
    names = header if columns is None else [c for c in header if c in columns]
    use = None if columns is None else [header.index(c) for c in names]
    try:
        data = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, dtype=float, usecols=use) \
            if text.strip() else np.zeros((0, len(names)))
    except ValueError as e:
        raise RunError(f"cannot read {path}: {_short(e)}") from e
    if data.shape[1] != len(names):
        raise RunError(f"cannot read {path}: {data.shape[1]} columns for a header of {len(header)}")
    return {name: data[:, i] for i, name in enumerate(names)}


def read_metrics(run_dir) -> list[dict]:
    """metrics.jsonl as a list of records; a torn or bad line is skipped. RunError when missing."""
    path = Path(run_dir) / L.METRICS
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise RunError(f"cannot read {path}: {e}") from e
    out = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and "update" in rec:
            out.append(rec)
    return out


def has_backprop(run_dir) -> bool:
    return (Path(run_dir) / L.BACKPROP_NORMS).exists()


def _growing_pair(run_dir: Path, rows_name: str, updates_name: str, what: str):
    """(updates, rows memory-mapped, n) of a growing array file and its update numbers; n is the
    rows both hold (a crash between the two appends leaves one row more in one of them)."""
    try:
        rows = np.load(run_dir / rows_name, mmap_mode="r")
        updates = np.load(run_dir / updates_name)
    except (OSError, ValueError) as e:
        raise RunError(f"cannot read {what} of {run_dir}: {_short(e)}") from e
    return updates, rows, min(len(updates), len(rows))


def read_backprop(run_dir, max_rows: int | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(updates (n,), norms (n, layers, T_max + 1)) of the per-step backprop norms; None when the
    run recorded none. With ``max_rows``, at most that many evenly spaced rows, read through a
    memory map (a long run's file is not read whole)."""
    run_dir = Path(run_dir)
    if not has_backprop(run_dir):
        return None
    updates, norms, n = _growing_pair(run_dir, L.BACKPROP_NORMS, L.BACKPROP_UPDATES, "the backprop norms")
    if max_rows is None:
        return np.asarray(updates[:n]), np.array(norms[:n])
    if n == 0:
        return np.zeros(0, np.int64), np.zeros((0, *norms.shape[1:]))
    idx = np.unique(np.linspace(0, n - 1, min(n, max_rows)).round().astype(int))
    return np.asarray(updates[idx]), np.asarray(norms[idx], dtype=float)


def has_params_snapshots(run_dir) -> bool:
    return (Path(run_dir) / L.PARAMS_SNAPSHOTS).exists()


def read_params_snapshots(run_dir) -> tuple[np.ndarray, np.ndarray] | None:
    """(updates (n,) int64, thetas (n, P)) of the flat parameter vectors kept every
    log.params_every updates (in the layout of ``Model.theta``); None when the run kept none."""
    run_dir = Path(run_dir)
    if not has_params_snapshots(run_dir):
        return None
    updates, thetas, n = _growing_pair(run_dir, L.PARAMS_SNAPSHOTS, L.PARAMS_SNAPSHOT_UPDATES,
                                       "the parameter snapshots")
    return np.array(updates[:n], dtype=np.int64), np.array(thetas[:n])


def read_probes(run_dir) -> list[tuple[int, Path]]:
    """(update, file) of every probe of the run, in update order (the files are not opened)."""
    out = []
    for p in sorted((Path(run_dir) / L.PROBES_DIR).glob("update_*.npz")):
        try:
            out.append((int(p.stem.split("_")[1]), p))
        except (IndexError, ValueError):
            continue
    return out


def read_probe(path) -> dict[str, np.ndarray]:
    """The arrays of one probe file (from ``read_probes``)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise RunError(f"cannot read {path}: {_short(e)}") from e


def read_probe_index(run_dir) -> list[dict]:
    path = Path(run_dir) / L.PROBES_INDEX
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def has_params(run_dir, kind: str) -> bool:
    return L.params_file(run_dir, kind).exists()


def read_params(run_dir, kind: str = "final") -> dict[str, np.ndarray]:
    """Named parameter arrays saved at the start (``init``) or end (``final``) of a run."""
    path = L.params_file(run_dir, kind)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise RunError(f"cannot read {path}: {_short(e)}") from e


def has_postmortem(run_dir) -> bool:
    return (Path(run_dir) / L.POSTMORTEM).exists()


def read_postmortem(run_dir) -> dict[str, np.ndarray] | None:
    """The arrays a diverged run saved: u, target, update, state0.<i>, param.<name>; None if absent."""
    path = Path(run_dir) / L.POSTMORTEM
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise RunError(f"cannot read {path}: {_short(e)}") from e
