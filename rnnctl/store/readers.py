"""Readers of a run folder's files. Each tolerates what a crash can leave (a torn last line) and
raises RunError, naming the file, for anything else."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..errors import RunError
from ..safeio import load_npz, loads_json
from . import layout as L

#: The largest .npz of a run folder read (parameters, checkpoints, probes, post-mortems), its
#: arrays decompressed: rnnctl.safeio checks every declared size against it before reading.
MAX_NPZ_BYTES = 8 * 2**30


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


#: trace.csv bodies from this size on are parsed by ``csvfast`` (Numba) rather than np.loadtxt:
#: about 40,000 updates, where loadtxt starts to take a noticeable fraction of a second.
FAST_TRACE_BYTES = 4 << 20


def read_trace(run_dir, columns=None) -> dict[str, np.ndarray]:
    """trace.csv as {column: float array}; a torn last line is dropped. ``columns``: only these
    (those the file has). A long trace (a 5M-update
    run's is 550 MB) is parsed in one compiled pass (``csvfast``), the same doubles as np.loadtxt.
    Raises RunError when the file is missing or unreadable."""
    path = Path(run_dir) / L.TRACE
    try:
        with open(path, "rb") as f:
            header = f.readline().decode("utf-8").strip().split(",")
            body = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise RunError(f"cannot read {path}: {e}") from e
    if not header or header[0] != "update":
        raise RunError(f"cannot read {path}: no header line starting with 'update'")
    if body and not body.endswith(b"\n"):
        body = body[: body.rfind(b"\n") + 1]       # torn by a crash mid-write
    try:
        if not body or body.isspace():   # (strip() would copy a long body)
            data = np.zeros((0, len(header)))
        elif len(body) >= FAST_TRACE_BYTES:
            from .csvfast import parse_csv
            data = parse_csv(body, len(header))
        else:
            data = np.loadtxt(io.StringIO(body.decode("utf-8")), delimiter=",", ndmin=2, dtype=float)
    except (ValueError, UnicodeDecodeError) as e:
        raise RunError(f"cannot read {path}: {_short(e)}") from e
    if data.shape[1] != len(header):
        raise RunError(f"cannot read {path}: {data.shape[1]} columns for a header of {len(header)}")
    names = header if columns is None else [c for c in header if c in columns]
    return {name: data[:, header.index(name)] for name in names}


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
            rec = loads_json(line)
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
        updates = np.load(run_dir / updates_name, mmap_mode="r")   # a damaged header allocates nothing
    except (OSError, ValueError) as e:
        raise RunError(f"cannot read {what} of {run_dir}: {_short(e)}") from e
    return updates, rows, min(len(updates), len(rows))


def read_backprop(run_dir, max_rows: int | None = None, peaks: bool = True) -> tuple[np.ndarray, np.ndarray] | None:
    """(updates (n,), norms (n, layers, T_max + 1)) of the per-step backprop norms, in update order;
    None when the run recorded none. The update axis is irregular under ``log.backprop_every:
    auto`` (log-spaced, with the largest rows of backprop_peaks.npz merged in). With ``max_rows``,
    at most about that many rows spread evenly over the updates (the nearest recorded row to each
    of ``max_rows`` evenly spaced updates), plus every peak row, read through a memory map.
    ``peaks=False`` leaves the peaks out: the rows of the schedule alone, typical of training."""
    run_dir = Path(run_dir)
    if not has_backprop(run_dir):
        return None
    updates, norms, n = _growing_pair(run_dir, L.BACKPROP_NORMS, L.BACKPROP_UPDATES, "the backprop norms")
    updates = np.asarray(updates[:n], dtype=np.int64)
    peak_updates, peak_norms = _read_peaks(run_dir, norms.shape[1:]) if peaks else _no_peaks(norms.shape[1:])
    if max_rows is None or n == 0:
        idx = np.arange(n)
    else:
        targets = np.linspace(updates[0], updates[-1], min(n, max_rows))
        right = np.clip(np.searchsorted(updates, targets), 1, n - 1) if n > 1 else np.zeros(len(targets), int)
        left = np.maximum(right - 1, 0)
        idx = np.unique(np.where(targets - updates[left] <= updates[right] - targets, left, right))
    new = ~np.isin(peak_updates, updates)        # a peak is never on the schedule, but be safe
    all_updates = np.concatenate([updates[idx], peak_updates[new]])
    dtype = norms.dtype if max_rows is None else float      # a full read stays float32: it can be large
    rows = np.concatenate([np.asarray(norms[idx], dtype=dtype), peak_norms[new].astype(dtype)])
    order = np.argsort(all_updates, kind="stable")
    return all_updates[order], rows[order]


def backprop_peak_updates(run_dir) -> np.ndarray:
    """The updates of backprop_peaks.npz (log.backprop_every auto: the largest norms between the
    scheduled rows), in order; empty when the run kept none. ``read_backprop`` merges their rows."""
    run_dir = Path(run_dir)
    if not has_backprop(run_dir):
        return np.zeros(0, np.int64)
    try:
        shape = np.load(run_dir / L.BACKPROP_NORMS, mmap_mode="r").shape[1:]
    except (OSError, ValueError):
        return np.zeros(0, np.int64)
    return _read_peaks(run_dir, shape)[0]


def _no_peaks(row_shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros((0, *row_shape), np.float32)


def _read_peaks(run_dir: Path, row_shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(updates, norms) of backprop_peaks.npz; empty when absent, damaged or of another shape (the
    peaks are an extra: the schedule's rows still stand without them)."""
    path = run_dir / L.BACKPROP_PEAKS
    empty = _no_peaks(row_shape)
    if not path.exists():
        return empty
    try:
        with np.load(path, allow_pickle=False) as z:
            updates, norms = np.asarray(z["updates"], np.int64), np.asarray(z["norms"])
    except (OSError, ValueError, KeyError):
        return empty
    if norms.shape[1:] != tuple(row_shape) or len(norms) != len(updates):
        return empty
    keep = updates >= 0
    return updates[keep], norms[keep]


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
        return load_npz(path, MAX_NPZ_BYTES)
    except (OSError, ValueError) as e:
        raise RunError(f"cannot read {path}: {_short(e)}") from e


def read_probe_index(run_dir) -> list[dict]:
    path = Path(run_dir) / L.PROBES_INDEX
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(loads_json(line))
        except ValueError:
            continue
    return out


def has_params(run_dir, kind: str) -> bool:
    return L.params_file(run_dir, kind).exists()


def read_params(run_dir, kind: str = "final") -> dict[str, np.ndarray]:
    """Named parameter arrays saved at the start (``init``) or end (``final``) of a run."""
    path = L.params_file(run_dir, kind)
    try:
        return load_npz(path, MAX_NPZ_BYTES)
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
        return load_npz(path, MAX_NPZ_BYTES)
    except (OSError, ValueError) as e:
        raise RunError(f"cannot read {path}: {_short(e)}") from e
