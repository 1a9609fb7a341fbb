"""Runs into TensorBoard: event files written by tensorboardX's ``SummaryWriter`` (no PyTorch, no
TensorFlow), one folder per run id under the chosen log folder.

A run becomes ``<logdir>/<run id>/`` (``<logdir>/<sweep>/<run id>/`` for a sweep's job) holding
every trace column as a scalar series with one point per recorded update (``train/loss``, ...),
every number of metrics.jsonl at its evaluation's update (``eval/error``, ...), histograms of
log10 of the per-step backprop norms of recorded updates, the run's figures as images, its config
and tags as text, and ``rnnctl-export.json``, which records what was written: a run whose
fingerprint is unchanged is skipped, any other is written anew (its old event files removed).
"""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import store
from ..errors import RnnctlError
from ..store import RunRecord
from .collect import RunData, config_yaml, missing_package, read_run_data, relative_name, run_pngs

MARKER = "rnnctl-export.json"         # what an export wrote into a run's TensorBoard folder
EVENT_GLOB = "events.out.tfevents.*"  # the event files TensorBoard reads (the writer's names)
HISTOGRAMS = 500                      # at most this many recorded updates drawn as histograms


def writer_class():
    """tensorboardX's SummaryWriter; MissingPackage when rnnctl[tracking] is not installed."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError as e:
        raise missing_package("tensorboardX", "writing TensorBoard event files") from e
    return SummaryWriter


def summary_writer(logdir: Path, purge_step: int | None = None, flush_secs: int = 120):
    """A writer of one event file in ``logdir``. ``purge_step``: a resumed run's first update;
    TensorBoard then hides what an earlier process logged from that update on. The file's name
    ends in that update (and the pid): TensorBoard reads a folder's files in name order, so a
    resumed segment started within the same second as the one before still comes after it."""
    suffix = f".{purge_step or 0:010d}.{os.getpid()}"
    return writer_class()(logdir=str(logdir), purge_step=purge_step, flush_secs=flush_secs, max_queue=1000,
                          filename_suffix=suffix)


@dataclass
class Exported:
    """What an export did: the runs written and skipped (with why), and warnings."""

    written: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    where: str = ""


def skip_reason(record: RunRecord) -> str | None:
    """Why a run is not exported: never started, or trained right now (its live files would be
    rewritten under it)."""
    if record.info is None:
        return record.problem or "no run.json"
    if store.is_locked(record.path):
        return "being trained now (export it when it has ended)"
    return None


def export_tensorboard(records: list[RunRecord], logdir, histograms: int = HISTOGRAMS,
                       figures: bool = True, progress=None) -> Exported:
    """Write each run into ``logdir`` (see the module's docstring). ``progress(run_id)`` is called
    before each run. Raises RnnctlError when the folder cannot be written."""
    t0, logdir, result = time.perf_counter(), Path(logdir), Exported(where=str(logdir))
    for record in records:
        if progress:
            progress(record.run_id)
        reason = skip_reason(record)
        if reason:
            result.skipped.append((record.run_id, reason))
            continue
        target = logdir / relative_name(record.path)
        data = read_run_data(record)
        result.warnings += data.warnings
        if _marker(target).get("fingerprint") == data.fingerprint:
            result.skipped.append((record.run_id, "up to date"))
            continue
        try:
            target.mkdir(parents=True, exist_ok=True)
            for old in [*target.glob(EVENT_GLOB), target / MARKER]:
                old.unlink(missing_ok=True)
            write_run(data, target, histograms, figures, result.warnings)
            store.atomic_write_json(target / MARKER, {"run_id": data.run_id, "path": str(record.path),
                                                      "fingerprint": data.fingerprint})
        except OSError as e:
            raise RnnctlError(f"cannot write TensorBoard files under {target}: {e}") from e
        result.written.append(str(target))
    result.seconds = time.perf_counter() - t0
    return result


def _marker(target: Path) -> dict:
    try:
        data = json.loads((target / MARKER).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_run(data: RunData, target: Path, histograms: int, figures: bool, warnings: list[str]) -> None:
    """One run's event file in ``target``: scalars, histograms, images and text."""
    info = data.record.info or {}
    start = data.started_ms / 1000.0
    per_update = float(info.get("ms_per_update") or 0.0) / 1000.0   # wall times are approximate
    writer = summary_writer(target)
    try:
        writer.add_text("config", "```yaml\n" + config_yaml(data.record) + "```", 0, walltime=start)
        writer.add_text("tags", "\n".join(f"- **{k}**: {v}" for k, v in data.tags.items()), 0, walltime=start)
        for name, (steps, values) in data.series.items():
            add = writer.add_scalar
            for s, v in zip(steps.tolist(), values.tolist()):
                add(name, v, s, walltime=start + s * per_update)
        if histograms:
            _histograms(writer, data.record, histograms, start, per_update, warnings)
        if figures:
            last = int(info.get("updates") or 0)
            for name, png in run_pngs(data.record, warnings).items():
                writer.add_image(f"figures/{name}", _decode(png), last, walltime=start + last * per_update,
                                 dataformats="HWC")
    finally:
        writer.close()


def _histograms(writer, record: RunRecord, max_rows: int, start: float, per_update: float,
                warnings: list[str]) -> None:
    """log10 ‖∂E/∂x_k‖ over the steps k of each recorded update (at most ``max_rows`` of them,
    evenly spaced; updates that recorded none have no histogram), one series per layer."""
    try:
        bp = store.read_backprop(record.path, max_rows=max_rows)
    except RnnctlError as e:
        warnings.append(str(e))
        return
    if bp is None:
        return
    updates, norms = bp
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(norms.astype(np.float64))
    for i, update in enumerate(updates.tolist()):
        for layer in range(norms.shape[1]):
            row = logs[i, layer]
            row = row[np.isfinite(row)]
            if row.size:
                writer.add_histogram(f"backprop/log10_norm/layer{layer}", row, int(update),
                                     walltime=start + update * per_update)


def _decode(png: bytes) -> np.ndarray:
    """PNG bytes as an (H, W, channels) uint8 array, as the writer's add_image takes them."""
    import matplotlib.image as mpimg
    img = mpimg.imread(io.BytesIO(png), format="png")
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8) if img.dtype != np.uint8 else img
