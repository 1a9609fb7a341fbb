"""What the diagnosis reads: a run's records as plain arrays and dicts, from a run folder (through
``rnnctl.store``'s readers) or from a ``MemorySink``, and the levels every rule shares.

The per-update trace may be recorded densely or thinned: every array carries its own update
numbers and no rule assumes one row per update.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .. import store
from ..errors import RunError, UnusableRun
from .limits import WINDOW_ROWS, Limits

#: The trace columns the rules read (parsing only these keeps a 300,000-update trace fast).
COLUMNS = ("update", "loss", "norm_before", "norm_after", "fired", "threshold")


@dataclass
class Evidence:
    run: str
    info: dict                               # run.json ({} when there is none)
    config: dict                             # the resolved config as nested dicts ({} when none)
    trace: dict[str, np.ndarray]             # COLUMNS that were recorded, float arrays
    metrics: list[dict]                      # one record per evaluation
    backprop: tuple[np.ndarray, np.ndarray] | None   # (updates (n,), norms (n, layers, T+1)), evenly thinned
    params: dict | None = None               # the final named parameter arrays (for saturation), if any
    limits: Limits = field(default_factory=Limits)

    # -- the shared readings ------------------------------------------------------------------
    def section(self, *keys, default=None):
        """config[k1][k2]... or default."""
        node = self.config
        for k in keys:
            if not isinstance(node, dict) or k not in node:
                return default
            node = node[k]
        return node

    @cached_property
    def updates(self) -> np.ndarray:
        return self.trace.get("update", np.zeros(0))

    @cached_property
    def norms(self) -> np.ndarray:
        return self.trace.get("norm_before", np.full(len(self.updates), np.nan))

    @cached_property
    def loss(self) -> np.ndarray:
        return self.trace.get("loss", np.full(len(self.updates), np.nan))

    @cached_property
    def finite(self) -> np.ndarray:
        """Rows whose loss and norm are finite."""
        return np.isfinite(self.loss) & np.isfinite(self.norms)

    def start_level(self, values: np.ndarray) -> float:
        """Median of the first ``start_updates`` finite values: the run's starting level."""
        v = values[np.isfinite(values)][: self.limits.start_updates]
        return float(np.median(v)) if len(v) else float("nan")

    def window_levels(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(last update of each window, median of each window) over ``windows`` equal windows of
        the finite rows: a level that one noisy update cannot move."""
        ok = np.isfinite(values)
        v, u = values[ok], self.updates[ok]
        k = max(1, min(self.limits.windows, len(v) // WINDOW_ROWS))
        if len(v) == 0:
            return np.zeros(0), np.zeros(0)
        edges = np.linspace(0, len(v), k + 1).astype(int)
        med = np.array([np.median(v[a:b]) for a, b in zip(edges[:-1], edges[1:]) if b > a])
        ends = np.array([u[b - 1] for a, b in zip(edges[:-1], edges[1:]) if b > a])
        return ends, med

    @cached_property
    def status(self) -> str | None:
        return self.info.get("status")

    @cached_property
    def real(self) -> bool:
        """A run on real data (run.json names its selection metric)."""
        return bool(self.info.get("metric"))

    @cached_property
    def spectral(self) -> list[tuple[int, float, float]]:
        """(update, λ₁ = largest singular value of W_rec, 1/γ) per evaluation that recorded them."""
        out = []
        for r in self.metrics:
            sv = ((r.get("spectral") or {}).get("W_rec") or {}).get("sv_max")
            if sv is not None and r.get("bound") is not None:
                out.append((int(r["update"]), float(sv), float(r["bound"])))
        return out


def from_folder(run_dir, limits: Limits | None = None, params: bool = True) -> Evidence:
    """The evidence a run folder holds. UnusableRun when ``run_dir`` is not a run folder; files a
    crash left missing or unreadable count as not recorded."""
    run_dir = Path(run_dir)
    limits = limits or Limits()
    if not run_dir.is_dir() or not store.is_run_folder(run_dir):
        raise UnusableRun(f"{run_dir}: not a run folder (no run.json, config.yaml or trace.csv)")
    info = store.read_run_or_none(run_dir) or {}
    try:
        config = store.read_config_dict(run_dir)
    except Exception:   # OSError, ValueError or yaml's errors: a damaged config reads as none
        config = {}
    try:
        trace = store.read_trace(run_dir, COLUMNS)
    except RunError:
        trace = {}
    try:
        metrics = store.read_metrics(run_dir)
    except RunError:
        metrics = []
    try:
        backprop = store.read_backprop(run_dir, max_rows=limits.backprop_rows)
    except RunError:
        backprop = None
    final = None
    if params and store.has_params(run_dir, "final"):
        try:
            final = store.read_params(run_dir, "final")
        except RunError:
            final = None
    return Evidence(str(run_dir), info, config, trace, metrics, backprop, final, limits)


def from_memory(sink, limits: Limits | None = None) -> Evidence:
    """The evidence a ``MemorySink`` holds after ``rnnctl.train`` (run.json's fields are its info
    and summary)."""
    import yaml
    cols = [c for c in COLUMNS if c in sink.columns]
    trace = {c: sink.column(c) for c in cols} if sink.rows else {c: np.zeros(0) for c in cols}
    bp = None
    if sink.backprop_rows:
        width = max(np.atleast_2d(r).shape[-1] for _, r in sink.backprop_rows)
        layers = np.atleast_2d(sink.backprop_rows[0][1]).shape[0]
        norms = np.full((len(sink.backprop_rows), layers, width), np.nan)
        for i, (_, r) in enumerate(sink.backprop_rows):
            r = np.atleast_2d(r)
            norms[i, :, :r.shape[-1]] = r
        bp = (np.array([u for u, _ in sink.backprop_rows]), norms)
    info = {**sink.info, "status": sink.status, **sink.summary}
    config = yaml.safe_load(sink.config_text) if sink.config_text else {}
    return Evidence("<memory>", info, config or {}, trace, list(sink.records), bp,
                    sink.saved_params.get("final"), limits or Limits())
