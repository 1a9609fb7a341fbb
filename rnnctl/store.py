"""Run folders: ``runs/<name>/<run-id>/``. Whole files are written atomically (temp file + rename);
growing logs (metrics.jsonl, trace.csv) are appended line by line and flushed, so a crash loses at
most the unflushed tail and never corrupts what was written.

Files of a run folder:
  config.yaml         resolved config
  run.json            status, seed, times, versions, final metrics
  metrics.jsonl       one JSON object per evaluation
  trace.csv           one row per update: update, loss, norm_before, norm_after, fired, length,
                      then the method's and regularizer's figures and norm.<group> per parameter
  backprop_norms.npy  (n, layers, T_max + 1) float32: Σ_b ‖∂E/∂x_k‖ per recorded update, NaN past
                      each batch's length; backprop_updates.npy (n,) holds the update numbers
  probes/             update_<n>.npz per probe (temporal contributions), listed in probes.jsonl
  postmortem.npz      for a diverged run: the batch that broke it and the parameters before it
  params_init.npz     named parameter arrays at the start
  params_final.npz    named parameter arrays at the end (last finite ones for a diverged run)
  checkpoint.pkl      the training state at the last evaluation, kept while a run is unfinished
                      (interrupted, failed or killed) so that ``rnnctl resume`` can continue it
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .errors import RunError

TRACE_COLUMNS = ("update", "loss", "norm_before", "norm_after", "fired")  # always first
STATUSES = ("running", "completed", "succeeded", "diverged", "stopped", "failed", "interrupted")
FINISHED = ("completed", "succeeded", "diverged", "stopped")


def _atomic_write(path: Path, write) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def _strict(value):
    """JSON has no NaN or Infinity: write them as null."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def atomic_write_json(path: Path, data) -> None:
    atomic_write_text(path, json.dumps(_strict(data), indent=2, sort_keys=False, allow_nan=False) + "\n")


def atomic_save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    _atomic_write(path, lambda f: np.savez(f, **arrays))


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    import numba

    from . import __version__
    return {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "rnnctl": __version__}


def new_run_id(config_hash: str) -> str:
    """Sortable by start time; the config hash tells runs of different configs apart at a glance."""
    return datetime.now().strftime("%Y%m%d-%H%M%S") + "-" + config_hash[:8]


class GrowingNpy:
    """A .npy file that grows by rows: a fixed-size header rewritten after each append, so
    ``np.load`` reads it at any time and a crash mid-append leaves a readable file."""

    HEADER = 256

    def __init__(self, path: Path, row_shape: tuple, dtype, n: int = 0):
        self.path, self.row_shape, self.dtype, self.n = Path(path), tuple(row_shape), np.dtype(dtype), n
        self.row_bytes = int(np.prod(self.row_shape)) * self.dtype.itemsize

    @classmethod
    def create(cls, path, row_shape, dtype) -> "GrowingNpy":
        self = cls(path, row_shape, dtype)
        with open(self.path, "wb") as f:
            self._write_header(f)
        return self

    @classmethod
    def open(cls, path) -> "GrowingNpy":
        with open(path, "rb") as f:
            np.lib.format.read_magic(f)  # our header is always version 1.0
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        return cls(path, shape[1:], dtype, shape[0])

    def _write_header(self, f) -> None:
        d = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
             "shape": (self.n, *self.row_shape)}
        text = repr(d).encode("latin1")
        body = text + b" " * (self.HEADER - 10 - len(text) - 1) + b"\n"
        f.seek(0)
        f.write(b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body)

    def append(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        with open(self.path, "r+b") as f:
            f.seek(self.HEADER + self.n * self.row_bytes)
            f.write(rows.tobytes())
            f.truncate()
            self.n += len(rows)
            self._write_header(f)

    def truncate(self, n: int) -> None:
        with open(self.path, "r+b") as f:
            self.n = min(n, self.n)
            f.truncate(self.HEADER + self.n * self.row_bytes)
            self._write_header(f)


class RunFolder:
    """One run's folder; also the training loop's sink (see ``rnnctl.train.Sink``)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._trace_rows: list[str] = []
        self._bp_rows: list[np.ndarray] = []
        self._bp_updates: list[int] = []
        self._info: dict = {}
        self._t0 = time.perf_counter()
        self._wall_before = 0.0  # wall time of earlier segments of a resumed run

    @classmethod
    def create(cls, runs_dir, name: str, run_id: str, exist_ok: bool = False) -> "RunFolder":
        """Make a new, empty folder. Never reuses an existing one: a clash gets a numeric suffix.

        With ``exist_ok`` (rnnctl sweep, whose run ids are config hashes) the folder ``run_id`` is
        used whether or not it exists; the caller resumes or clears what an earlier attempt left."""
        parent = Path(runs_dir) / name
        try:
            parent.mkdir(parents=True, exist_ok=True)
            if exist_ok:
                (parent / run_id).mkdir(exist_ok=True)
                return cls(parent / run_id)
        except OSError as e:
            raise RunError(f"cannot create run folder under {parent}: {e}") from e
        for n in range(1000):
            path = parent / (run_id if n == 0 else f"{run_id}-{n}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return cls(path)
        raise RunError(f"cannot find a free run folder name for {parent / run_id}")

    # -- the Sink interface -----------------------------------------------------------------------
    def start(self, info: dict, config_text: str, columns: tuple = TRACE_COLUMNS,
              backprop_shape: tuple | None = None) -> None:
        atomic_write_text(self.path / "config.yaml", config_text)
        (self.path / "trace.csv").write_text(",".join(columns) + "\n")
        (self.path / "metrics.jsonl").touch()
        if backprop_shape is not None:
            GrowingNpy.create(self.path / "backprop_norms.npy", backprop_shape, np.float32)
            GrowingNpy.create(self.path / "backprop_updates.npy", (), np.int64)
        self._info = {"status": "running", **info, "started": now_iso(), "ended": None,
                      "wall_time": None, "host": platform.node(), "pid": os.getpid(),
                      "command": sys.argv, "versions": versions()}
        self._t0 = time.perf_counter()
        atomic_write_json(self.path / "run.json", self._info)

    def resume(self):
        """Reopen an unfinished run: load its checkpoint and cut the logs back to it.

        Returns the ``TrainState`` to hand to ``rnnctl.train.train(..., resume=...)``.
        """
        info = read_run(self.path)
        if info.get("status") in FINISHED:
            raise RunError(f"{self.path} has finished (status {info['status']}); nothing to resume")
        if info.get("status") == "running" and alive_here(info):
            raise RunError(f"{self.path} is still running (pid {info['pid']})")
        try:
            with open(self.path / "checkpoint.pkl", "rb") as f:
                state = pickle.load(f)
        except FileNotFoundError:
            raise RunError(f"{self.path} has no checkpoint yet (one is written at every "
                           "evaluation); start it again with rnnctl train") from None
        except (OSError, pickle.UnpicklingError, EOFError) as e:
            raise RunError(f"cannot read {self.path / 'checkpoint.pkl'}: {e}") from e
        # Rows written after the checkpoint are redone by the resumed run.
        _truncate_lines(self.path / "trace.csv", lambda line: int(line.split(",", 1)[0]) <= state.update,
                        header=True)
        _truncate_lines(self.path / "metrics.jsonl", lambda line: json.loads(line)["update"] <= state.update)
        if (self.path / "probes.jsonl").exists():
            _truncate_lines(self.path / "probes.jsonl", lambda line: json.loads(line)["update"] <= state.update)
        if (self.path / "backprop_updates.npy").exists():
            updates = np.load(self.path / "backprop_updates.npy")
            keep = int(np.searchsorted(updates, state.update, side="right"))
            GrowingNpy.open(self.path / "backprop_updates.npy").truncate(keep)
            GrowingNpy.open(self.path / "backprop_norms.npy").truncate(keep)
        self._wall_before = info.get("wall_time") or 0.0
        self._info = {**info, "status": "running", "pid": os.getpid(), "host": platform.node(),
                      "resumed": [*info.get("resumed", []), {"at": now_iso(), "update": state.update}]}
        self._t0 = time.perf_counter()
        atomic_write_json(self.path / "run.json", self._info)
        return state

    def checkpoint(self, state) -> None:
        self.flush()  # the trace on disk then reaches at least state.update
        _atomic_write(self.path / "checkpoint.pkl", lambda f: pickle.dump(state, f, protocol=5))

    def params(self, kind: str, arrays: dict[str, np.ndarray]) -> None:
        atomic_save_npz(self.path / f"params_{kind}.npz", arrays)

    def trace(self, row: tuple) -> None:
        self._trace_rows.append(",".join(_fmt(v) for v in row) + "\n")

    def backprop(self, update: int, norms: np.ndarray) -> None:
        self._bp_updates.append(update)
        self._bp_rows.append(norms)

    def probe(self, update: int, arrays: dict, summary: dict) -> None:
        (self.path / "probes").mkdir(exist_ok=True)
        name = f"probes/update_{update:07d}.npz"
        atomic_save_npz(self.path / name, arrays)
        with open(self.path / "probes.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(_strict({"update": update, "file": name, **summary}), allow_nan=False) + "\n")

    def postmortem(self, arrays: dict) -> None:
        atomic_save_npz(self.path / "postmortem.npz", arrays)

    def metrics(self, record: dict) -> None:
        self.flush()
        with open(self.path / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(_strict(record), allow_nan=False) + "\n")

    def flush(self) -> None:
        if self._trace_rows:
            with open(self.path / "trace.csv", "a", encoding="utf-8") as f:
                f.writelines(self._trace_rows)
            self._trace_rows.clear()
        if self._bp_rows:
            rows = GrowingNpy.open(self.path / "backprop_norms.npy")
            width = rows.row_shape[-1]
            block = np.full((len(self._bp_rows), *rows.row_shape), np.nan, np.float32)
            with np.errstate(over="ignore"):  # beyond float32's range is stored as inf
                for i, r in enumerate(self._bp_rows):  # NaN-pad each batch's T+1 to T_max+1
                    r = np.asarray(r)[..., :width]
                    block[i, ..., :r.shape[-1]] = r
            rows.append(block)
            GrowingNpy.open(self.path / "backprop_updates.npy").append(np.array(self._bp_updates))
            self._bp_rows.clear()
            self._bp_updates.clear()

    def finish(self, status: str, summary: dict) -> None:
        self.flush()
        wall = self._wall_before + time.perf_counter() - self._t0
        self._info.update(status=status, ended=now_iso(), wall_time=round(wall, 3), **summary)
        atomic_write_json(self.path / "run.json", self._info)
        if status in FINISHED:
            (self.path / "checkpoint.pkl").unlink(missing_ok=True)


def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(int(v))
    if isinstance(v, (int, np.integer)):
        return str(v)
    return format(float(v), ".9g")


def alive_here(info: dict) -> bool:
    """True when run.json ``info`` names a process on this host that is still running."""
    pid = info.get("pid")
    if info.get("host") != platform.node() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _truncate_lines(path: Path, keep, header: bool = False) -> None:
    """Keep the lines for which ``keep(line)`` holds (and a header line); drop a torn last line."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    head, body = (lines[:1], lines[1:]) if header else ([], lines)
    kept = []
    for line in body:
        if not line.endswith("\n"):
            break  # torn by a crash mid-write
        try:
            if keep(line):
                kept.append(line)
        except (ValueError, KeyError):
            break
    atomic_write_text(path, "".join(head + kept))


def read_run(path) -> dict:
    """run.json of a run folder, as a dict."""
    try:
        return json.loads((Path(path) / "run.json").read_text())
    except (OSError, ValueError) as e:
        raise RunError(f"cannot read {Path(path) / 'run.json'}: {e}") from e


def read_trace(path) -> np.ndarray:
    """The per-update trace as a structured array (columns TRACE_COLUMNS)."""
    # deletechars="" keeps column names such as norm.W_rec as written
    return np.genfromtxt(Path(path) / "trace.csv", delimiter=",", names=True, ndmin=1, deletechars="")


def read_backprop(path) -> tuple[np.ndarray, np.ndarray]:
    """(updates (n,), norms (n, layers, T_max + 1)) of the per-step backprop norms."""
    path = Path(path)
    return np.load(path / "backprop_updates.npy"), np.load(path / "backprop_norms.npy")


def read_metrics(path) -> list[dict]:
    lines = (Path(path) / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]
