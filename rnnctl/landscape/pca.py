"""Directions fitted to a run's own path: the plane that holds as much of the trajectory as any
plane through the slice's center can (Li et al. 2018, "Visualizing the loss landscape of neural
nets", section 7, "Visualizing optimization paths").

Why: two random directions in a space of thousands of dimensions are nearly orthogonal to any
training path, so the path projects to a dot at the center. Li et al. instead stack the
deviations of the snapshots from the final parameters, M = [θ₀ − θ_n; …; θ_{n−1} − θ_n], and
take the two leading principal directions of M.

- ``pca_plane``: the two leading right singular vectors of M_c = [θ_i − c] (c the slice's center),
  **without subtracting the mean of the rows**. The SVD of M_c gives the 2-D subspace through c
  that minimises Σ_i dist(θ_i, plane)², and the slice is exactly center + span(d₁, d₂): a plane
  fitted around the rows' mean would pass through the mean, not the center, and would then not
  be the plane the loss is drawn on. (Li et al. take c = θ_n; here c is whatever ``--around``
  picked, final by default.) What is "explained" is the sum of squared deviations from the center,
  Σ_i ‖θ_i − c‖²; the docs call it the path's variance, as Li et al. do.
- ``trajectory_plane``: d₁ along the line from the start to the end of the run, d₂ the leading
  principal direction of M_c once d₁ is projected out of it, so start and end lie exactly in the
  plane when the center is one of them (the only case accepted).

Both return unit vectors, orthogonal to each other: a step of 1 along an axis is a Euclidean
distance of 1 in parameter space, so the axes are in parameter-space units (unlike the random
directions, whose unit is each tensor's norm). Signs are fixed so that the first snapshot has
coordinates ≤ 0 (the path runs towards positive α when it ends at the center); for the
trajectory plane's d₂, on which the start has coordinate 0, the snapshot farthest from d₁ does.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

MIN_SNAPSHOTS = 3
MARGIN = 0.15     # the automatic span: a margin of this fraction of the path's extent on each side


def _deviations(thetas: np.ndarray, center: np.ndarray, kind: str) -> np.ndarray:
    """M_c (n, P), the finite snapshots minus the center; ConfigError when fewer than
    MIN_SNAPSHOTS are finite or the path does not move away from the center."""
    thetas = np.asarray(thetas, np.float64)
    thetas = thetas[np.isfinite(thetas).all(axis=1)] if thetas.ndim == 2 else thetas
    if thetas.ndim != 2 or len(thetas) < MIN_SNAPSHOTS:
        n = 0 if thetas.ndim != 2 else len(thetas)
        raise ConfigError(f"--direction {kind} fits a plane to the run's parameter snapshots and needs at "
                          f"least {MIN_SNAPSHOTS} finite ones; this run kept {n}. Train it with "
                          "log.params_every=N (e.g. rnnctl train CONFIG log.params_every=100)",
                          key="--direction")
    deltas = thetas - np.asarray(center, np.float64)
    if not np.any(deltas):
        raise ConfigError(f"--direction {kind}: every snapshot equals the center, so the path has no "
                          "direction; use random or named directions", key="--direction")
    return deltas


def _orient(dirs: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Flip each direction so that the first snapshot's coordinate along it is ≤ 0 (an SVD's
    signs are arbitrary; this makes the picture the same from one NumPy build to the next)."""
    return np.stack([-d if first @ d > 0 else d for d in dirs])


def captured(deltas: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """The share of Σ_i ‖θ_i − c‖² along each orthonormal direction: Σ_i (δ_i·d_k)² / Σ_i ‖δ_i‖².
    For the principal directions it is σ_k² / Σ_j σ_j², the explained-variance ratio."""
    total = float(np.sum(deltas ** 2))
    return np.sum((deltas @ dirs.T) ** 2, axis=0) / total


def pca_plane(thetas: np.ndarray, center: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(directions (2, P) orthonormal, explained-variance ratios (2,) descending) of the snapshots
    thetas (n, P) around ``center`` (module docstring)."""
    deltas = _deviations(thetas, center, "pca")
    _, s, vt = np.linalg.svd(deltas, full_matrices=False)
    dirs = vt[:2] if len(vt) >= 2 else np.vstack([vt, _any_orthogonal(vt[0])])
    dirs = _orient(dirs, deltas[0])
    ratios = np.zeros(2)
    ratios[:min(2, len(s))] = (s[:2] ** 2) / np.sum(s ** 2)
    return dirs, ratios


def trajectory_plane(start: np.ndarray, end: np.ndarray, thetas: np.ndarray,
                     center: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(directions (2, P) orthonormal, captured shares (2,)): d₁ = (end − start)/‖end − start‖,
    d₂ the leading principal direction of the snapshots' deviations with d₁ projected out. The
    center must lie on the line through start and end (``--around final`` or ``init``), or the
    two ends would not both be in the plane."""
    deltas = _deviations(thetas, center, "trajectory")
    start, end, center = (np.asarray(x, np.float64) for x in (start, end, center))
    d1 = end - start
    n1 = float(np.linalg.norm(d1))
    if n1 == 0:
        raise ConfigError("--direction trajectory: the run's start and final parameters are equal; "
                          "use --direction pca or random directions", key="--direction")
    d1 /= n1
    off = (center - start) - ((center - start) @ d1) * d1
    if np.linalg.norm(off) > 1e-9 * max(n1, 1.0):
        raise ConfigError("--direction trajectory puts the start and the final parameters in the plane, "
                          "so the center must be one of them: use --around final or --around init "
                          "(or --direction pca for another center)", key="--around")
    rest = deltas - np.outer(deltas @ d1, d1)
    if np.any(np.abs(rest) > 1e-12 * n1):
        d2 = np.linalg.svd(rest, full_matrices=False)[2][0]
        d2 -= (d2 @ d1) * d1                            # exact orthogonality despite rounding
        d2 /= np.linalg.norm(d2)
    else:                                               # a straight path: any orthogonal d₂ shows it
        d2 = _any_orthogonal(d1)
    # the start lies on d₁ (coordinate 0 along d₂ up to rounding), so d₂'s sign is set by the
    # snapshot farthest from the d₁ line instead: it sits at β ≤ 0
    far = rest[int(np.argmax(np.linalg.norm(rest, axis=1)))]
    dirs = np.stack([d1, _orient(d2[None], far)[0]])
    return dirs, captured(deltas, dirs)


def _any_orthogonal(d: np.ndarray) -> np.ndarray:
    """A unit vector orthogonal to the unit vector d (the coordinate axis least aligned with it)."""
    e = np.zeros_like(d)
    e[int(np.argmin(np.abs(d)))] = 1.0
    e -= (e @ d) * d
    return e / np.linalg.norm(e)


def axis_names(kind: str, ratios: np.ndarray) -> list[str]:
    """Axis names carrying the unit and the share of the path, e.g. "PC1 (62% of the path's variance)"."""
    first, second = ("PC1", "PC2") if kind == "pca" else ("start → end", "PC ⊥")
    return [f"{n} ({100 * r:.0f}% of the path's variance; parameter-space units)"
            for n, r in zip((first, second), ratios)]


def auto_extent(points: np.ndarray, grid: int) -> np.ndarray:
    """``grid`` values covering the finite ``points`` (n,) and 0 (the center), with a margin of
    MARGIN of that range on each side."""
    p = np.asarray(points, float)
    p = p[np.isfinite(p)]
    lo, hi = min(float(p.min()) if p.size else 0.0, 0.0), max(float(p.max()) if p.size else 0.0, 0.0)
    pad = MARGIN * (hi - lo) if hi > lo else 1.0
    return np.linspace(lo - pad, hi + pad, int(grid))
