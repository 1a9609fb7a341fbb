"""RunFolder: one run's folder, written by the training loop through the sink interface
(``rnnctl.training.sinks.Sink``). Whole files are written atomically; growing logs
(metrics.jsonl, trace.csv) are appended line by line and flushed, so a crash loses at most the
unflushed tail and never corrupts what was written. The backprop norms grow by rows
(``GrowingNpy``); their peaks (log.backprop_every auto) are a small .npz rewritten atomically at
each flush from the training state's reservoir, and cut back to the checkpoint on resume.

The process that trains a run holds the folder's lock (``store.lock``) from ``start``/``resume``
to ``finish``: a second process trying to train it gets ``RunningElsewhere``, and the trace and
metrics are only ever appended under the lock.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from ..errors import CannotWrite, RunError, RunningElsewhere, UnusableRun
from ..safeio import loads_json
from . import layout as L
from .atomic import atomic_save_npz, atomic_write_text, json_line, now_iso
from .checkpoint import Checkpoint, load_checkpoint, remove_checkpoint, save_checkpoint
from .npyfile import GrowingNpy
from .lock import RunLock
from .provenance import provenance
from .runinfo import clear, mark, mark_failed_start, read_run, read_run_or_none, write_run


class RunFolder:
    """One run's folder; also the training loop's sink."""

    def __init__(self, path):
        self.path = Path(path)
        self._trace_rows: list[str] = []
        self._bp_rows: list[np.ndarray] = []
        self._bp_updates: list[int] = []
        self._bp_peaks: tuple | None = None     # (updates, norms): the training state's live reservoir
        self._snaps: list[np.ndarray] = []      # params snapshots not yet written
        self._snap_updates: list[int] = []
        self._info: dict = {}
        self._t0 = time.perf_counter()
        self._wall_before = 0.0  # wall time of earlier segments of a resumed run
        self._lock = RunLock(self.path)
        self._defer: tuple | None = None   # (runs_dir, name, run_id) of a folder start() makes

    @classmethod
    def create(cls, runs_dir, name: str, run_id: str, defer: bool = False) -> "RunFolder":
        """Make a new, empty folder. Never reuses an existing one: a clash gets a numeric suffix.

        ``defer``: only choose the name now (``path`` is the first free one); ``start`` makes the
        folder, so a run that fails before it starts (a model too large to allocate, ...) leaves
        no empty folder behind (rnnctl train). Should another process take that name in between,
        ``start`` moves on to the next free suffix and ``path`` says where the run went."""
        if defer:
            folder = cls(_free_name(L.run_path(runs_dir, name, run_id)))
            folder._defer = (runs_dir, name, run_id)
            return folder
        parent = L.run_path(runs_dir, name, run_id).parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CannotWrite.of(e, "run the command again") or \
                RunError(f"cannot create run folder under {parent}: {e}") from None
        for n in range(1000):
            path = parent / (run_id if n == 0 else f"{run_id}-{n}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            except OSError as e:
                raise CannotWrite.of(e, "run the command again") or \
                    RunError(f"cannot create run folder {path}: {e}") from None
            return cls(path)
        raise RunError(f"cannot find a free run folder name for {parent / run_id}")

    @classmethod
    def at(cls, path) -> "RunFolder":
        """The folder at ``path``, made if absent (rnnctl sweep: run ids are config hashes, so an
        earlier attempt's folder is reused; the caller resumes or clears what it left)."""
        path = Path(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunError(f"cannot create run folder {path}: {e}") from e
        return cls(path)

    # -- the lock ---------------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the folder's lock (no-op when held); ``RunningElsewhere`` when another process has
        it. start() and resume() take it; the sweep worker takes it earlier, before it decides
        between resuming and starting again."""
        self._lock.acquire()

    def release(self) -> None:
        """Free the lock (finish() does; the kernel does when the process ends)."""
        self._lock.release()

    def _locked(self) -> None:
        if not self._lock.held:   # e.g. train(config, RunFolder(path), resume=checkpoint)
            self._lock.acquire()

    def record_failure(self, exc: BaseException, name: str | None = None, config_hash: str | None = None) -> None:
        """A failure that escaped the training loop (or came before it wrote run.json): run.json
        says 'failed' with the message and the error's type; then the lock is freed. Nothing is
        made when the folder does not exist (a deferred folder that never started)."""
        if not self.path.is_dir() or self._defer is not None:
            return
        message, kind = f"{type(exc).__name__}: {exc}", type(exc).__name__
        try:
            self._locked()
        except RunningElsewhere:
            return   # someone else trains it now: theirs to record
        try:
            info = read_run_or_none(self.path)
            if info is None:
                mark_failed_start(self.path, name, config_hash, message, kind)
            elif info.get("status") == "failed":
                if not info.get("error_type"):
                    mark(self.path, "failed", info.get("message") or message, ("failed",), kind)
            else:
                mark(self.path, "failed", message, ("running",), kind)
        except OSError:
            pass   # a full or read-only disk: the lock, freed below, says the run is not running
        finally:
            self.release()

    # -- state of the folder ----------------------------------------------------------------------
    def info(self) -> dict:
        return read_run(self.path)

    def has_checkpoint(self) -> bool:
        return (self.path / L.CHECKPOINT).exists()

    def clear(self) -> None:
        clear(self.path)

    # -- the Sink interface -----------------------------------------------------------------------
    def start(self, info: dict, config_text: str, columns: tuple = L.TRACE_COLUMNS,
              backprop_shape: tuple | None = None) -> None:
        if self._defer is not None:
            made = RunFolder.create(*self._defer)
            self.path, self._lock, self._defer = made.path, made._lock, None
        self.lock()
        atomic_write_text(self.path / L.CONFIG, config_text)
        (self.path / L.TRACE).write_text(",".join(columns) + "\n")
        (self.path / L.METRICS).touch()
        if backprop_shape is not None:
            GrowingNpy.create(self.path / L.BACKPROP_NORMS, backprop_shape, np.float32)
            GrowingNpy.create(self.path / L.BACKPROP_UPDATES, (), np.int64)
        # made later (by the first snapshot, the first flush of the peaks): none from an earlier start
        for stale in (L.PARAMS_SNAPSHOTS, L.PARAMS_SNAPSHOT_UPDATES, L.BACKPROP_PEAKS):
            (self.path / stale).unlink(missing_ok=True)
        self._info = {"status": "running", **info, "started": now_iso(), "ended": None,
                      "wall_time": None, "host": platform.node(), "pid": os.getpid(),
                      "command": sys.argv, **provenance()}
        self._t0 = time.perf_counter()
        write_run(self.path, self._info)

    def resume(self, changes: dict | None = None) -> Checkpoint:
        """Reopen an unfinished run: load its checkpoint and cut the logs back to it.

        Returns the ``Checkpoint`` to hand to ``rnnctl.train(..., resume=...)``. ``changes`` (e.g.
        {"train.steps": 5000}) are recorded in run.json's ``resumed`` list.
        """
        held = self._lock.held   # the sweep worker locks first, and keeps the lock if this fails
        self.lock()   # RunningElsewhere when another process trains it; a 'running' one whose lock is free was killed
        try:
            return self._resume(changes)
        except BaseException:
            if not held:
                self.release()
            raise

    def restart(self) -> None:
        """Empty an unfinished run that has no checkpoint yet (killed or failed before its first
        evaluation), so that ``rnnctl resume`` trains it again from update 0 with the same config.
        Takes the lock (RunningElsewhere while its process lives: a 'running' run whose lock is
        free was killed) and keeps it for the run; a finished run is UnusableRun (exit 5)."""
        held = self._lock.held
        self.lock()
        try:
            status = read_run(self.path).get("status")
            if status not in L.UNFINISHED:
                raise UnusableRun(f"{self.path} has finished (status {status}) and keeps no checkpoint; "
                                  "nothing to resume")
            if (self.path / L.LEGACY_CHECKPOINT).exists():
                load_checkpoint(self.path)   # raises: a pickle from rnnctl 0.1 is never loaded
            clear(self.path)
        except BaseException:
            if not held:
                self.release()
            raise

    def _resume(self, changes: dict | None) -> Checkpoint:
        info = read_run(self.path)
        status = info.get("status")
        if status in L.FINISHED and not (changes and status in L.EXTENDABLE):
            hint = (" (extend it with train.steps=N, more updates than it has made)"
                    if status in L.EXTENDABLE else "")
            raise UnusableRun(f"{self.path} has finished (status {status}); nothing to resume{hint}")
        state = load_checkpoint(self.path)
        try:
            self._truncate_to(state.update)
        except Exception as e:  # noqa: BLE001 (a damaged log: bad UTF-8, a torn .npy header, ...)
            raise RunError(f"cannot resume {self.path}: a log file is damaged ({type(e).__name__}: "
                           f"{' '.join(str(e).split())[:160]}); start the run again with rnnctl train "
                           f"{self.path / L.CONFIG}") from None
        self._wall_before = info.get("wall_time") or 0.0
        entry = {"at": now_iso(), "update": state.update, **({"changes": changes} if changes else {})}
        info.pop("diagnosis", None)   # of the run's earlier end: the resumed run is diagnosed at its own
        self._info = {**info, "status": "running", "pid": os.getpid(), "host": platform.node(),
                      **provenance(), "resumed": [*info.get("resumed", []), entry]}
        self._t0 = time.perf_counter()
        write_run(self.path, self._info)
        return state

    def rewrite_config(self, config_text: str) -> None:
        """Replace config.yaml (rnnctl resume ... train.steps=N extends a run: the folder then
        describes what the run now computes; run.json's ``resumed`` list records the change)."""
        atomic_write_text(self.path / L.CONFIG, config_text)

    def _truncate_to(self, update: int) -> None:
        """Rows written after the checkpoint are redone by the resumed run."""
        p = self.path
        _truncate_lines(p / L.TRACE, lambda line: int(line.split(",", 1)[0]) <= update, header=True)
        _truncate_lines(p / L.METRICS, lambda line: loads_json(line)["update"] <= update)
        if (p / L.PROBES_INDEX).exists():
            _truncate_lines(p / L.PROBES_INDEX, lambda line: loads_json(line)["update"] <= update)
        if (p / L.BACKPROP_UPDATES).exists():
            updates = np.load(p / L.BACKPROP_UPDATES, mmap_mode="r")   # a damaged header allocates nothing
            keep = int(np.searchsorted(updates, update, side="right"))
            GrowingNpy.open(p / L.BACKPROP_UPDATES).truncate(keep)
            GrowingNpy.open(p / L.BACKPROP_NORMS).truncate(keep)
        if (p / L.BACKPROP_PEAKS).exists():   # the checkpoint's reservoir replaces it at the next flush
            with np.load(p / L.BACKPROP_PEAKS) as z:
                updates, norms = z["updates"], z["norms"]
            ok = updates <= update
            atomic_save_npz(p / L.BACKPROP_PEAKS, {"updates": updates[ok], "norms": norms[ok]})
        if (p / L.PARAMS_SNAPSHOT_UPDATES).exists():   # the same rule for the params snapshots
            updates = np.load(p / L.PARAMS_SNAPSHOT_UPDATES, mmap_mode="r")
            keep = int(np.searchsorted(updates, update, side="right"))
            GrowingNpy.open(p / L.PARAMS_SNAPSHOT_UPDATES).truncate(keep)
            GrowingNpy.open(p / L.PARAMS_SNAPSHOTS).truncate(keep)

    def checkpoint(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        self.flush()  # the trace on disk then reaches at least meta["update"]
        save_checkpoint(self.path, arrays, meta)

    def params(self, kind: str, arrays: dict[str, np.ndarray]) -> None:
        atomic_save_npz(L.params_file(self.path, kind), arrays)

    def trace(self, row: tuple) -> None:
        self._trace_rows.append(",".join(_fmt(v) for v in row) + "\n")

    def backprop(self, update: int, norms: np.ndarray) -> None:
        self._bp_updates.append(update)
        self._bp_rows.append(norms)

    def backprop_peaks(self, updates: np.ndarray, norms: np.ndarray) -> None:
        self._bp_peaks = (updates, norms)

    def snapshot(self, update: int, theta: np.ndarray) -> None:
        self._snap_updates.append(update)
        self._snaps.append(np.array(theta))

    def probe(self, update: int, arrays: dict, summary: dict) -> None:
        (self.path / L.PROBES_DIR).mkdir(exist_ok=True)
        name = L.probe_name(update)
        atomic_save_npz(self.path / name, arrays)
        self._locked()
        with open(self.path / L.PROBES_INDEX, "a", encoding="utf-8") as f:
            f.write(json_line({"update": update, "file": name, **summary}))

    def postmortem(self, arrays: dict) -> None:
        atomic_save_npz(self.path / L.POSTMORTEM, arrays)

    def metrics(self, record: dict) -> None:
        self.flush()   # takes the lock if need be
        with open(self.path / L.METRICS, "a", encoding="utf-8") as f:
            f.write(json_line(record))

    def flush(self) -> None:
        if self._trace_rows or self._bp_rows or self._snaps or self._bp_peaks is not None:
            self._locked()
        if self._trace_rows:
            with open(self.path / L.TRACE, "a", encoding="utf-8") as f:
                f.writelines(self._trace_rows)
            self._trace_rows.clear()
        if self._bp_rows:
            rows = GrowingNpy.open(self.path / L.BACKPROP_NORMS)
            width = rows.row_shape[-1]
            block = np.full((len(self._bp_rows), *rows.row_shape), np.nan, np.float32)
            with np.errstate(over="ignore"):  # beyond float32's range is stored as inf
                for i, r in enumerate(self._bp_rows):  # NaN-pad each batch's T+1 to T_max+1
                    r = np.asarray(r)[..., :width]
                    block[i, ..., :r.shape[-1]] = r
            rows.append(block)
            GrowingNpy.open(self.path / L.BACKPROP_UPDATES).append(np.array(self._bp_updates))
            self._bp_rows.clear()
            self._bp_updates.clear()
        if self._snaps:
            self._flush_snapshots()
        if self._bp_peaks is not None:
            updates, norms = self._bp_peaks
            order = [i for i in np.argsort(updates, kind="stable") if updates[i] >= 0]
            atomic_save_npz(self.path / L.BACKPROP_PEAKS,
                            {"updates": np.array(updates[order]), "norms": np.array(norms[order])})

    def _flush_snapshots(self) -> None:
        """Append the buffered snapshots; the files are made by the first one (a run with
        log.params_every 0 has none)."""
        block = np.stack(self._snaps)
        if not (self.path / L.PARAMS_SNAPSHOTS).exists():
            GrowingNpy.create(self.path / L.PARAMS_SNAPSHOTS, block.shape[1:], block.dtype)
            GrowingNpy.create(self.path / L.PARAMS_SNAPSHOT_UPDATES, (), np.int64)
        # updates first, then rows: a reader takes the shorter of the two
        GrowingNpy.open(self.path / L.PARAMS_SNAPSHOT_UPDATES).append(np.array(self._snap_updates))
        GrowingNpy.open(self.path / L.PARAMS_SNAPSHOTS).append(block)
        self._snaps.clear()
        self._snap_updates.clear()

    def finish(self, status: str, summary: dict) -> None:
        self.flush()
        wall = self._wall_before + time.perf_counter() - self._t0
        self._info.update(status=status, ended=now_iso(), wall_time=round(wall, 3), **summary)
        error = sys.exc_info()[1]   # train() finishes a failed run inside its `except Exception`
        if status == "failed" and error is not None and "error_type" not in summary:
            self._info["error_type"] = type(error).__name__
        write_run(self.path, self._info)
        if status in L.FINISHED and status not in L.EXTENDABLE:
            remove_checkpoint(self.path)
        self.release()


def _free_name(path: Path) -> Path:
    """``path``, or the first ``path-N`` that does not exist yet."""
    for n in range(1000):
        candidate = path if n == 0 else path.with_name(f"{path.name}-{n}")
        if not candidate.exists():
            return candidate
    raise RunError(f"cannot find a free run folder name for {path}")


def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(int(v))
    if isinstance(v, (int, np.integer)):
        return str(v)
    return format(float(v), ".9g")


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
        except (ValueError, KeyError, TypeError):
            break
    atomic_write_text(path, "".join(head + kept))
