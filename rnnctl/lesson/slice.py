"""The lesson's landscape slice: the loss over the plane through three points every vanilla run
knows, the shared start θ₀ (same seed, same init), the end of the norm-scaling run θ_c (the
center) and the end of the run without clipping θ_x, with every vanilla run's snapshots projected
onto it (rnnctl.landscape.directions.project) and the loss from rnnctl.landscape's kernel.

Why this plane and not two random directions (``rnnctl landscape``'s default): the runs move a
distance of about ‖θ_c − θ₀‖ in a space of a few thousand dimensions, and two random directions
catch only ~1/√P of that, so every path would shrink to a dot at the center. The plane through
the three points holds the start and both ends exactly (residual 0): α = −1 is the start, (0, 0)
the norm-scaling end. d₁ = θ_c − θ₀; d₂ is θ_x − θ₀ with its d₁ part removed, scaled to ‖d₁‖
(a random filter-normalised direction when there is no θ_x, or it lies on d₁).
"""

from __future__ import annotations

import time

import numpy as np

from ..landscape import Landscape
from ..landscape.directions import project, random_direction
from ..landscape.surface import grid_loss
from .runs import LessonRun

MARGIN = 0.2      # grid margin around the points, as a fraction of the plane's extent


def plane(theta0: np.ndarray, center: np.ndarray, other: np.ndarray | None, layout,
          rng: np.random.Generator) -> np.ndarray:
    """Directions (2, P): d₁ = center − θ₀ and d₂ ⟂ d₁ towards ``other`` with ‖d₂‖ = ‖d₁‖."""
    d1 = center - theta0
    n1 = float(np.linalg.norm(d1))
    if n1 == 0:
        raise ValueError("the run did not move: its start and end parameters are equal")
    d2 = None
    if other is not None:
        v = other - theta0
        v = v - (v @ d1) / n1 ** 2 * d1
        if np.linalg.norm(v) > 1e-9 * n1:
            d2 = v
    if d2 is None:
        v = random_direction(center, layout, rng)
        d2 = v - (v @ d1) / n1 ** 2 * d1
    return np.stack([d1, d2 * n1 / np.linalg.norm(d2)])


def extent(points: np.ndarray, grid: int) -> np.ndarray:
    """``grid`` values covering ``points`` (n,) and 0, with MARGIN of the range on each side."""
    lo, hi = float(min(points.min(), 0.0)), float(max(points.max(), 0.0))
    pad = MARGIN * max(hi - lo, 0.5)
    return np.linspace(lo - pad, hi + pad, grid)


def lesson_slice(center_run: LessonRun, other: LessonRun | None, runs: list[LessonRun], *, grid: int = 31,
                 sequences: int = 256, seed: int = 0) -> tuple[Landscape, dict]:
    """(the Landscape of the plane, {label: (updates, coords (n, 2), residual (n,))} of every
    vanilla run with snapshots). ``center_run`` must have snapshots (log.params_every). The
    metadata's ``points`` holds the loss at the start and at the two ends (the caption's)."""
    from ..use import load_trained
    trained = load_trained(center_run.run_dir, "final")
    model = trained.model
    center = np.asarray(model.theta, np.float64)
    theta0 = np.asarray(center_run.snapshots[1][0], np.float64)
    far = np.asarray(other.snapshots[1][-1], np.float64) if other is not None and other.snapshots else None
    dirs = plane(theta0, center, far, model.layout, np.random.default_rng(seed))
    paths = {}
    for r in runs:
        if r.vanilla and r.snapshots is not None and len(r.snapshots[0]):
            coords, residual = project(r.snapshots[1], center, dirs)
            paths[r.label] = (np.asarray(r.snapshots[0]), coords, residual)
    pts = np.concatenate([c for _, c, _ in paths.values()]) if paths else np.zeros((1, 2))
    pts = pts[np.isfinite(pts).all(axis=1)]
    # the axes cover the center run and the run without clipping; a wilder path may leave the frame
    keep = [paths[r.label][1] for r in (center_run, other) if r is not None and r.label in paths]
    frame = np.concatenate(keep) if keep else pts
    alphas, betas = extent(frame[:, 0], grid), extent(frame[:, 1], grid)
    batch = trained.sampler.sample(np.random.default_rng(seed), sequences)
    coords = np.stack(np.meshgrid(alphas, betas, indexing="ij"), -1).reshape(-1, 2)
    t0 = time.perf_counter()
    loss, used = grid_loss(model, center, dirs, coords, batch.u, batch.target, "float32")
    named = {"the shared start": np.array([-1.0, 0.0]), f"the end of {center_run.label}": np.zeros(2)}
    if far is not None and other.label in paths:
        named[f"the end of {other.label}"] = paths[other.label][1][-1]
    at, _ = grid_loss(model, center, dirs, np.stack(list(named.values())), batch.u, batch.target, "float32")
    meta = {"points": dict(zip(named, map(float, at))), "run_id": center_run.run_dir.name,
            "name": center_run.label, "around": f"end of {center_run.label}",
            "sequences": int(sequences), "seed": int(seed), "dtype": "float32", "method": used,
            "grid": int(grid), "seconds": round(time.perf_counter() - t0, 3),
            "grid_points": int(loss.size), "nonfinite": int((~np.isfinite(loss)).sum())}
    names = [f"start → end of {center_run.label}",
             f"towards the end of {other.label}" if far is not None and other is not None else "random"]
    ls = Landscape(names, alphas, betas, loss.reshape(len(alphas), len(betas)), center, dirs,
                   metadata=meta)
    return ls, paths
