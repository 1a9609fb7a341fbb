"""The numbers behind the figures of a figure config: computed once, plotted by
rnnctl.plots.dynamics, saved as one ``.npz`` and summarised for the terminal.

Everything is a pure function of a FiguresConfig. Array names in the ``.npz`` (and ``FigureData``):

- ``surface_w`` (n,), ``surface_b`` (n,), ``surface_error`` (n, n) indexed [w, b]; the same over a
  zoom around the trajectories' start: ``zoom_w``, ``zoom_b``, ``zoom_error``;
- ``plain_points`` / ``clipped_points`` (updates + 1, 2) as (w, b), ``*_losses``, ``*_grad_norms``
  (updates + 1,) and ``*_steps`` (updates,);
- ``wall_w`` (n,) with ``wall_b`` (the closed-form wall, fixed.wall_b), ``saddle_low_b``,
  ``saddle_high_b`` (the saddle-node curves; NaN for w ≤ 4);
- ``bif_b`` (m,), ``bif_fixed_points`` and ``bif_stable`` (m, 3), ``bif_dxT_db`` and
  ``bif_dxT_db_long`` (m,): ∂x_T/∂b from x_0 for T and for the longer T; scalars ``bif_w``,
  ``bif_saddle_low_b``, ``bif_saddle_high_b``, ``bif_separatrix_b``, ``bif_wall_b`` (closed form)
  and ``bif_wall_b_measured`` (where |∂x_T/∂b| peaks on the b grid).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import FiguresConfig
from .fixed import fixed_points_along_b, saddle_node_b, separatrix_b, wall_b
from .one_unit import Trajectory, one_unit_error, one_unit_grad, train_one_unit

__all__ = ["FigureData", "compute_figures", "write_npz", "summary", "zoom_window"]


@dataclass
class FigureData:
    """The arrays of the module docstring (``arrays``) and the two trajectories."""

    config: FiguresConfig
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    plain: Trajectory | None = None
    clipped: Trajectory | None = None


def zoom_window(cfg: FiguresConfig, clipped: Trajectory) -> tuple[float, float, float, float]:
    """(w_min, w_max, b_min, b_max): the clipped trajectory's bounding box with a margin of half
    its size (at least 0.25), where the wall is crossed, so the zoom shows it at full detail."""
    P = clipped.points
    lo, hi = P.min(axis=0), P.max(axis=0)
    pad = np.maximum(0.5 * (hi - lo), 0.25)
    return float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])


def _surface(cfg: FiguresConfig, box, prefix: str) -> dict[str, np.ndarray]:
    m, n = cfg.model, cfg.surface.grid
    w = np.linspace(box[0], box[1], n)
    b = np.linspace(box[2], box[3], n)
    E = one_unit_error(w[:, None], b[None, :], m.steps, m.x0, m.target)   # (n_w, n_b)
    return {f"{prefix}_w": w, f"{prefix}_b": b, f"{prefix}_error": E}


def _trajectories(cfg: FiguresConfig) -> tuple[Trajectory, Trajectory]:
    m, t = cfg.model, cfg.train
    common = dict(lr=t.lr, updates=t.updates, T=m.steps, x0=m.x0, target=m.target)
    return (train_one_unit(t.w, t.b, **common),
            train_one_unit(t.w, t.b, threshold=t.threshold, **common))


def _bifurcation(cfg: FiguresConfig) -> dict[str, np.ndarray]:
    m, f = cfg.model, cfg.bifurcation
    low, high = saddle_node_b(f.w)
    b = _refined(f.b_min, f.b_max, f.points, [wall_b(f.w, m.x0), low, high])
    xs, stable = fixed_points_along_b(f.w, b)
    short = one_unit_grad(f.w, b, m.steps, m.x0, m.target).dxT_db
    long = one_unit_grad(f.w, b, f.long_steps, m.x0, m.target).dxT_db
    big = b[np.abs(short) > f.explode]
    return {"bif_w": np.float64(f.w), "bif_b": b, "bif_fixed_points": xs, "bif_stable": stable,
            "bif_dxT_db": short, "bif_dxT_db_long": long,
            "bif_saddle_low_b": np.float64(low), "bif_saddle_high_b": np.float64(high),
            "bif_separatrix_b": np.float64(separatrix_b(f.w, m.x0)),
            "bif_wall_b": np.float64(wall_b(f.w, m.x0)),
            "bif_wall_b_measured": np.float64(b[np.argmax(np.abs(short))]),
            "bif_explode_span": np.array([big.min(), big.max()] if len(big) else [np.nan, np.nan])}


def _refined(lo: float, hi: float, n: int, around) -> np.ndarray:
    """``n`` evenly spaced b in [lo, hi] plus, around each finite value of ``around``, offsets
    ±10^k for k from −15 to 0: the spike of ∂x_T/∂b at the wall is about λ^−T wide (λ = w σ'(x_0),
    so 10^−7 for w = 6 and T = 50), far narrower than any even grid, and float64 resolves b to
    about 10^−15."""
    offsets = np.logspace(-15, 0, 151)
    extra = [c + s * offsets for c in around if np.isfinite(c) for s in (-1.0, 1.0)]
    b = np.unique(np.concatenate([np.linspace(lo, hi, n), *extra, [c for c in around if np.isfinite(c)]]))
    return b[(b >= lo) & (b <= hi)]


def compute_figures(cfg: FiguresConfig) -> FigureData:
    """Every number the config's figures show (module docstring)."""
    data = FigureData(cfg)
    a = data.arrays
    if cfg.figures in ("both", "surface"):
        s = cfg.surface
        data.plain, data.clipped = _trajectories(cfg)
        a.update(_surface(cfg, (s.w_min, s.w_max, s.b_min, s.b_max), "surface"))
        a.update(_surface(cfg, zoom_window(cfg, data.clipped), "zoom"))
        for name, tr in (("plain", data.plain), ("clipped", data.clipped)):
            a.update({f"{name}_points": tr.points, f"{name}_losses": tr.losses,
                      f"{name}_grad_norms": tr.grad_norms, f"{name}_steps": tr.steps})
        w = a["surface_w"]
        low, high = saddle_node_b(w)
        a.update({"wall_w": w, "wall_b": wall_b(w, cfg.model.x0),
                  "saddle_low_b": low, "saddle_high_b": high})
    if cfg.figures in ("both", "bifurcation"):
        a.update(_bifurcation(cfg))
    return data


def write_npz(data: FigureData, path: str | Path) -> Path:
    """The arrays as one ``.npz`` (plain arrays, no pickles), its folder created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **data.arrays)
    return path


def _trajectory_summary(tr: Trajectory, lr: float) -> dict:
    k = int(np.argmax(tr.steps))
    return {"start": tr.points[0].tolist(), "final": tr.points[-1].tolist(),
            "initial_error": float(tr.losses[0]), "final_error": float(tr.losses[-1]),
            "largest_step": tr.largest_step, "largest_step_at_update": k,
            "grad_norm_there": float(tr.grad_norms[k]), "distance_from_start": tr.distance,
            "threshold": tr.threshold, "step_bound": None if tr.threshold is None else lr * tr.threshold}


def summary(data: FigureData) -> dict:
    """The headline numbers (JSON-ready): the wall's b at the bifurcation w and the trajectories."""
    cfg, a = data.config, data.arrays
    out: dict = {"name": cfg.name, "T": cfg.model.steps, "x0": cfg.model.x0,
                 "target": cfg.model.target}
    if "bif_w" in a:
        out["bifurcation"] = {k: float(a["bif_" + k]) for k in (
            "w", "wall_b", "wall_b_measured", "separatrix_b", "saddle_low_b", "saddle_high_b")}
        out["bifurcation"]["explode_span"] = a["bif_explode_span"].tolist()
        out["bifurcation"]["max_dxT_db"] = float(np.abs(a["bif_dxT_db"]).max())
        out["bifurcation"]["max_dxT_db_long"] = float(np.abs(a["bif_dxT_db_long"]).max())
    if data.plain is not None:
        out["train"] = {"lr": cfg.train.lr, "updates": cfg.train.updates,
                        "plain": _trajectory_summary(data.plain, cfg.train.lr),
                        "clipped": _trajectory_summary(data.clipped, cfg.train.lr)}
    return out
