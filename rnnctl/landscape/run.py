"""A run's loss landscape: the slice around its parameters, evaluated on a fixed batch of its task,
with its trajectory projected onto the slice. ``landscape_of_run`` computes, ``write_landscape``
writes the .npz and the PNG."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import store
from ..errors import ConfigError, DataError, UnusableRun
from .directions import explicit_directions, make_directions, project
from .pca import auto_extent, axis_names, pca_plane, trajectory_plane
from .surface import grid_loss

AROUND = ("final", "best", "init")
PATH_KINDS = ("pca", "trajectory")     # directions fitted to the run's own snapshots (pca.py)


@dataclass
class Landscape:
    """A 1-D or 2-D slice θ(α, β) = center + α d₁ + β d₂ and the loss on it.

    axes: the directions' names; alphas (n1,), betas (n2,) or None for 1-D; loss (n1, n2) or (n1,)
    with loss[i, j] at (alphas[i], betas[j]), inf/NaN where the forward pass exploded; center (P,);
    directions (k, P); trajectory (n, k) least-squares coordinates of the run's snapshots in the
    slice (None when there is nothing to project), trajectory_updates (n,), trajectory_residual (n,)
    the distance of each snapshot from the slice's plane; metadata: run id, around, sequences,
    seed, dtype, method, seconds, ..."""

    axes: list
    alphas: np.ndarray
    betas: np.ndarray | None
    loss: np.ndarray
    center: np.ndarray
    directions: np.ndarray
    trajectory: np.ndarray | None = None
    trajectory_updates: np.ndarray | None = None
    trajectory_residual: np.ndarray | None = None
    metadata: dict = field(default_factory=dict)


def _center(run_dir: Path, around) -> tuple[object, np.ndarray, str]:
    """(Trained, center θ (P,), label) for ``around``: final, best, init, or an update of the
    params snapshots. The one gate for using a run is rnnctl.use.load_trained (exit 5)."""
    from ..use import load_trained
    if isinstance(around, str) and around.strip().lstrip("-").isdigit():
        around = int(around)
    if isinstance(around, str):
        if around not in AROUND:
            raise ConfigError(f"expected final, best, init or an update number, got {around!r}", key="--around")
        trained = load_trained(run_dir, around)
        return trained, trained.model.theta.astype(np.float64), trained.params
    trained = load_trained(run_dir, "final")
    snaps = store.read_params_snapshots(run_dir)
    if snaps is None:
        raise ConfigError(f"{run_dir} kept no parameter snapshots (train it with log.params_every=N); "
                          "use final, best or init", key="--around")
    updates, thetas = snaps
    hit = np.flatnonzero(updates == around)
    if not len(hit):
        near = updates[np.argmin(np.abs(updates - around))] if len(updates) else None
        raise ConfigError(f"no snapshot at update {around} (kept: {_listing(updates)})", key="--around",
                          suggestion=None if near is None else str(near))
    return trained, np.asarray(thetas[hit[-1]], np.float64), f"update {around}"


def _listing(updates) -> str:
    u = [str(int(x)) for x in updates]
    return ", ".join(u) if len(u) <= 8 else ", ".join(u[:4] + ["..."] + u[-3:])


def _batch(trained, sequences: int, seed: int):
    """The fixed evaluation batch: ``sequences`` fresh sequences of the run's task from ``seed``."""
    if getattr(trained.config.task, "data", None):
        raise DataError("rnnctl landscape evaluates generated tasks; this run trained on real data")
    if sequences < 1:
        raise ConfigError(f"expected a positive number, got {sequences}", key="--sequences")
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[0])
    return trained.sampler.sample(rng, sequences)


def _trajectory(run_dir, trained, center, directions):
    """The snapshots (or the init and final parameters) projected onto the slice."""
    snaps = store.read_params_snapshots(run_dir)
    if snaps is not None and len(snaps[0]):
        updates, thetas = snaps
        source = "snapshots"
    else:
        rows, updates = [], []
        for kind, update in (("init", 0), ("final", trained.info.get("updates", -1))):
            if store.has_params(run_dir, kind):
                rows.append(_flat_params(run_dir, kind, trained.model.layout))
                updates.append(update)
        if not rows:
            return None, None, None, "none"
        thetas, updates, source = np.stack(rows), np.array(updates), "init and final"
    coords, residual = project(thetas, center, directions)
    return coords, np.asarray(updates, np.int64), residual, source


def _flat_params(run_dir, kind: str, layout) -> np.ndarray:
    """The saved ``init`` or ``final`` parameters as one flat float64 vector (Model.theta's layout)."""
    p = store.read_params(run_dir, kind)
    return np.concatenate([np.asarray(p[n], np.float64).ravel() for n in layout.names])


def _path_kind(directions) -> str | None:
    """"pca" or "trajectory" when ``directions`` asks for a plane fitted to the path (alone, or as
    the only entry of a list, the way the CLI passes it), else None."""
    if isinstance(directions, str):
        return directions if directions in PATH_KINDS else None
    if isinstance(directions, (list, tuple)) and any(d in PATH_KINDS for d in directions if isinstance(d, str)):
        if len(directions) != 1:
            raise ConfigError("--direction pca and --direction trajectory each choose both axes; give "
                              "them alone", key="--direction")
        return directions[0]
    return None


def _path_directions(run_dir, trained, center, kind: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(axis names, directions (2, P), shares of the path's variance (2,)) of a plane fitted to the
    run's snapshots (pca.py). The trajectory plane starts at the update-0 snapshot (else the saved
    init parameters) and ends at the last snapshot, the run's last update."""
    snaps = store.read_params_snapshots(run_dir)
    updates, thetas = snaps if snaps is not None else (np.zeros(0, np.int64), np.zeros((0, center.size)))
    if kind == "pca":
        dirs, ratios = pca_plane(thetas, center)
    else:
        if len(updates) and updates[0] == 0:
            start = thetas[0]
        elif store.has_params(run_dir, "init"):
            start = _flat_params(run_dir, "init", trained.model.layout)
        else:
            start = center                              # trajectory_plane then refuses too few snapshots
        finite = np.isfinite(thetas).all(axis=1) if len(thetas) else np.zeros(0, bool)
        end = thetas[finite][-1] if finite.any() else center
        dirs, ratios = trajectory_plane(start, end, thetas, center)
    return axis_names(kind, ratios), dirs, ratios


def landscape_of_run(run_dir, *, grid: int = 51, directions="random", around="final",
                     span: float | None = None, sequences: int = 1000, seed: int = 0, dtype: str = "float32",
                     method: str = "auto", names=None) -> Landscape:
    """The loss over a slice around a run's parameters (module docstring; docs/landscape.md).

    directions: "random" (two random filter-normalised directions), 1 or 2 (that many random ones),
    a list of one or two parameter names like ["W_rec[0,0]", "b[0]"], "pca" (the two leading
    principal directions of the snapshots' deviations from the center), "trajectory" (start → end
    and the principal direction orthogonal to it), or an array (k, P) of explicit vectors, named
    by ``names`` (default "d1", "d2"). around: final, best, init or the update of a params
    snapshot. span: each axis covers [-span, span] in units of its direction; None: 1.0, except
    for pca and trajectory, whose axes then cover the projected path with a margin. grid: points
    per axis. The batch is ``sequences`` sequences of the run's task drawn from ``seed`` (the
    random directions from an independent stream of the same seed)."""
    run_dir = Path(run_dir)
    if not 2 <= int(grid) <= 1001:
        raise ConfigError(f"expected 2 <= N <= 1001, got {grid}", key="--grid")
    if span is not None and not span > 0:
        raise ConfigError(f"expected a positive span, got {span}", key="--span")
    explicit = isinstance(directions, np.ndarray)
    kind = None if explicit else _path_kind(directions)
    if names is not None and not explicit:
        raise ConfigError("names= labels explicit direction vectors only; the other kinds name their axes",
                          key="names")
    trained, center, label = _center(run_dir, around)
    model = trained.model
    ratios = None
    if explicit:
        names, dirs = explicit_directions(directions, model.layout, names)
    elif kind is not None:
        names, dirs, ratios = _path_directions(run_dir, trained, center, kind)
    else:
        rng_dirs = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
        names, dirs = make_directions(directions, center, model.layout, rng_dirs)
    batch = _batch(trained, sequences, seed)
    traj, updates, residual, source = _trajectory(run_dir, trained, center, dirs)
    if span is None and kind is not None:       # cover the projected path (pca.auto_extent)
        alphas, betas = auto_extent(traj[:, 0], grid), auto_extent(traj[:, 1], grid)
    else:
        s = 1.0 if span is None else float(span)
        alphas = np.linspace(-s, s, int(grid))
        betas = alphas.copy() if len(dirs) == 2 else None
    coords = (np.stack(np.meshgrid(alphas, betas, indexing="ij"), -1).reshape(-1, 2) if betas is not None
              else alphas[:, None])
    t0, c0 = time.perf_counter(), time.process_time()
    loss, used = grid_loss(model, center, dirs, coords, batch.u, batch.target, dtype, method)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    info = trained.info
    meta = {"run_dir": str(run_dir), "run_id": run_dir.name, "name": info.get("name"),
            "status": info.get("status"), "around": label, "sequences": int(sequences), "seed": int(seed),
            "dtype": dtype, "method": used, "span": "auto" if span is None and kind is not None else float(span or 1.0),
            "extent": [[float(alphas[0]), float(alphas[-1])]] + ([[float(betas[0]), float(betas[-1])]]
                                                                 if betas is not None else []),
            "directions_kind": "explicit" if explicit else kind or "named or random", "grid": int(grid),
            "length": int(batch.u.shape[0]), "cell": model.cell, "hidden": model.hidden,
            "trajectory_source": source, "points": int(loss.size), "nonfinite": int((~np.isfinite(loss)).sum()), "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3)}
    if ratios is not None:
        meta["explained_variance"] = [float(r) for r in ratios]
    return Landscape(names, alphas, betas, loss.reshape(len(alphas), -1) if betas is not None else loss,
                     center, dirs, traj, updates, residual, meta)


def write_landscape(ls: Landscape, out_dir) -> list[Path]:
    """landscape.npz (every array of ``ls`` and its metadata as JSON) and landscape.png (through
    rnnctl.plots.landscape) in out_dir, made if absent. -> the paths written."""
    import json
    from ..plots.landscape import save_landscape_png
    from ..store.atomic import atomic_save_npz
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"alphas": ls.alphas, "loss": ls.loss, "center": ls.center, "directions": ls.directions,
              "axes": np.array(ls.axes), "metadata": np.array(json.dumps(ls.metadata))}
    if ls.betas is not None:
        arrays["betas"] = ls.betas
    if ls.trajectory is not None:
        arrays.update(trajectory=ls.trajectory, trajectory_updates=ls.trajectory_updates,
                      trajectory_residual=ls.trajectory_residual)
    npz = out / "landscape.npz"
    atomic_save_npz(npz, arrays)
    png = out / "landscape.png"
    save_landscape_png(ls, png)
    return [npz, png]


def read_landscape(path) -> Landscape:
    """A Landscape back from the .npz write_landscape wrote."""
    import json
    with np.load(path, allow_pickle=False) as z:
        get = (lambda k: z[k] if k in z.files else None)
        return Landscape([str(a) for a in z["axes"]], z["alphas"], get("betas"), z["loss"], z["center"],
                         z["directions"], get("trajectory"), get("trajectory_updates"),
                         get("trajectory_residual"), json.loads(str(z["metadata"])))
