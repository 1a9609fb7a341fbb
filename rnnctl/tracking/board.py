"""Runs into TensorBoard: event files written by the ``tensorboard`` package's own writer
(``events``), one folder per run id under the chosen log folder.

A run becomes ``<logdir>/<run id>/`` (``<logdir>/<sweep>/<run id>/`` for a sweep's job) holding
every trace column as a scalar series with one point per recorded update (``train/loss``, ...),
every number of metrics.jsonl at its evaluation's update (``eval/error``, ...), histograms of
log10 of the per-step backprop norms of recorded updates, the run's figures as images, its config
and tags as text, and ``rnnctl-export.json``, which records what was written: a run whose
fingerprint is unchanged is skipped, any other is written anew (its old event files removed).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import store
from ..errors import RnnctlError
from ..store import RunRecord
from .collect import RunData, config_yaml, read_run_data, run_pngs
from .events import EventWriter, event_files, require
from .names import relative_name

MARKER = "rnnctl-export.json"         # what an export wrote into a run's TensorBoard folder
HISTOGRAMS = 500                      # at most this many recorded updates drawn as histograms


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
    before each run. Raises RnnctlError when the folder cannot be written, MissingPackage without
    the tensorboard package."""
    require()
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
            for old in [*event_files(target), target / MARKER]:
                old.unlink(missing_ok=True)
            write_run(data, target, histograms, figures, result.warnings)
            store.atomic_write_json(target / MARKER, {"run_id": data.run_id, "path": str(record.path.resolve()),
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
    """One run's event file in ``target``: scalars, histograms, images and text. Wall times are
    the run's start plus its mean time per update (the trace records no clock)."""
    info = data.record.info or {}
    start = data.started_ms / 1000.0
    per_update = float(info.get("ms_per_update") or 0.0) / 1000.0

    def at(step: int) -> float:
        return start + step * per_update

    w = EventWriter(target)
    try:
        w.text("config", "```yaml\n" + config_yaml(data.record) + "```", 0, start)
        w.text("tags", "\n".join(f"- **{k}**: {v}" for k, v in data.tags.items()), 0, start)
        _scalars(w, data.series, at)
        if histograms:
            _histograms(w, data.record, histograms, at, warnings)
        if figures:
            last = int(info.get("updates") or 0)
            for name, png in run_pngs(data.record, warnings).items():
                w.image(f"figures/{name}", png, last, at(last))
    finally:
        w.close()


def _scalars(w: EventWriter, series: dict, at) -> None:
    """Every point of every series; the series that share their steps (the trace's columns) go
    into one event per step, which TensorBoard reads as one point per tag."""
    groups: dict[int, tuple] = {}
    for name, (steps, values) in series.items():
        groups.setdefault(id(steps), (steps, []))[1].append((name, values))
    for steps, named in groups.values():
        tags = [n for n, _ in named]
        rows = np.column_stack([v for _, v in named]).tolist()
        for step, row in zip(steps.tolist(), rows):
            w.scalars(tags, row, step, at(step))


def _histograms(w: EventWriter, record: RunRecord, max_rows: int, at, warnings: list[str]) -> None:
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
                w.histogram(f"backprop/log10_norm/layer{layer}", row, int(update), at(update))
