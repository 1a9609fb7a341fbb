"""One run folder as a tracking tool sees it: parameters, tags and metric series, read through
``rnnctl.store``'s readers only. Plain data (dicts, NumPy arrays); the writers for TensorBoard
(``board``) and MLflow (``mlflowrun``) read it here, naming things through ``names`` as the live
sink does, so that a run looks the same wherever it went.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np

from .. import store
from ..store import RunRecord
from .names import metric_tags, param_value, sweep_of, trace_tag

#: Part of every fingerprint: raise it when what an export writes changes, so that runs exported
#: before are written anew.
FORMAT = 1
#: run.json's numbers that sum a run up, logged once at its last update (``summary/<key>``).
SUMMARY_KEYS = ("updates", "final_loss", "final_error", "success_update", "diverged_at", "clip_rate",
                "train_loss", "norm_max", "norm_median", "ms_per_update", "wall_time")


@dataclass
class RunData:
    """What is exported of one run."""

    record: RunRecord
    params: dict[str, str]
    tags: dict[str, str]
    series: dict[str, tuple[np.ndarray, np.ndarray]]   # name -> (steps int64, values float64)
    started_ms: int = 0
    fingerprint: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def status(self) -> str:
        return self.record.run_status or self.record.status


def _tags(record: RunRecord) -> dict[str, str]:
    info = record.info or {}
    tags = {"rnnctl.run_id": record.run_id, "status": record.run_status or record.status,
            "name": str(info.get("name") or (record.config or {}).get("name") or ""),
            "path": str(record.path.resolve())}
    for key in ("seed", "config_hash"):
        if info.get(key) is not None:
            tags[key] = str(info[key])
    sweep = sweep_of(record.path)
    if sweep:
        tags["sweep"] = sweep
    diagnosis = info.get("diagnosis")
    if isinstance(diagnosis, dict):   # {"healthy": bool, "findings": [{"kind": ..., "severity": ...}]}
        findings = [f for f in diagnosis.get("findings") or [] if isinstance(f, dict)]
        kinds = sorted({str(f["kind"]) for f in findings if f.get("kind")})
        tags["diagnosis"] = ",".join(kinds) if kinds else "none"
        if "healthy" in diagnosis:
            tags["healthy"] = str(bool(diagnosis["healthy"])).lower()
        for f in findings:
            if f.get("kind") and f.get("severity"):
                tags[f"diagnosis.{f['kind']}"] = str(f["severity"])
    if record.problem:
        tags["problem"] = record.problem
    return tags


def _series(record: RunRecord, warnings: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        trace = store.read_trace(record.path)
    except Exception as e:  # noqa: BLE001 - a damaged trace costs its series, not the export
        warnings.append(f"{record.path}: {e}")
        trace = None
    if trace is not None and len(trace["update"]):
        steps = trace["update"].astype(np.int64)
        for column, values in trace.items():
            if column != "update":
                series[trace_tag(column)] = (steps, values.astype(np.float64))
    try:
        records = store.read_metrics(record.path)
    except Exception as e:  # noqa: BLE001
        warnings.append(f"{record.path}: {e}")
        records = []
    points: dict[str, tuple[list, list]] = {}
    for rec in records:
        step = rec.get("update")
        if not isinstance(step, int):
            continue
        for name, value in metric_tags(rec).items():
            s, v = points.setdefault(name, ([], []))
            s.append(step)
            v.append(value)
    for name, (s, v) in points.items():
        series[name] = (np.asarray(s, np.int64), np.asarray(v, np.float64))
    info = record.info or {}
    last = int(info.get("updates") or (series["train/loss"][0][-1] if "train/loss" in series else 0))
    for key in SUMMARY_KEYS:
        value = info.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            series[f"summary/{key}"] = (np.array([last], np.int64), np.array([float(value)]))
    return series


def _started_ms(info: dict) -> int:
    from datetime import datetime
    try:
        return int(datetime.fromisoformat(str(info.get("started"))).timestamp() * 1000)
    except (TypeError, ValueError):
        return 0


def read_run_data(record: RunRecord) -> RunData:
    """The parameters (the flattened resolved config, as text), tags and metric series of a run."""
    warnings: list[str] = []
    params = {k: param_value(v) for k, v in sorted((record.config or {}).items())}
    series = _series(record, warnings)
    data = RunData(record, params, _tags(record), series, _started_ms(record.info or {}), warnings=warnings)
    data.fingerprint = fingerprint(data)
    return data


def fingerprint(data: RunData) -> str:
    """What decides whether an export is up to date: the format, the run's status and config, and
    how far each series reaches. A resumed or extended run has a new one; exporting a finished
    run again has the same."""
    reach = {k: [len(s), int(s[-1]) if len(s) else -1] for k, (s, _) in sorted(data.series.items())}
    blob = json.dumps([FORMAT, data.status, data.tags, data.params, reach], sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def thin(steps: np.ndarray, values: np.ndarray, max_points: int | None) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` evenly spaced points of a series, the first and last kept; all
    points when ``max_points`` is None or the series is shorter."""
    n = len(steps)
    if max_points is None or n <= max_points:
        return steps, values
    idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))
    return steps[idx], values[idx]


def run_pngs(record: RunRecord, warnings: list[str]) -> dict[str, bytes]:
    """The figures ``rnnctl report RUN --plots`` draws for this run, as PNG bytes by file stem."""
    from ..plots.run import run_figures
    from ..plots.style import png_bytes
    return {name: png_bytes(fig) for name, fig in run_figures(record, warnings).items()}


def config_yaml(record: RunRecord) -> str:
    """The run's config.yaml text ('' when unreadable)."""
    try:
        return store.read_config_text(record.path)
    except Exception:  # noqa: BLE001 - the params already say what could be read
        return ""
