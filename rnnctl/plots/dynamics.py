"""Figures of the one-unit model (Pascanu et al. 2013, Figure 6): the error surface over (w, b)
with its wall and the two gradient-descent trajectories, and the bifurcation diagram of
x = w σ(x) + b against b with where ∂x_T/∂b explodes. Each ``fig_*`` takes the numbers computed by
rnnctl.dynamics.figures (``FigureData``) and returns a Figure; ``write_figures`` saves the PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..dynamics.figures import FigureData
from ..dynamics.fixed import critical_x
from .style import COLORS, cell_edges, colormap, figure, legend_outside, positive, save, suptitle

PLAIN, CLIPPED, WALL = COLORS[1], "#ffffff", "#ff7f0e"


def _surface_panel(ax, data: FigureData, prefix: str, title: str) -> None:
    a = data.arrays
    w, b, E = a[f"{prefix}_w"], a[f"{prefix}_b"], a[f"{prefix}_error"]
    mesh = ax.pcolormesh(cell_edges(w), cell_edges(b), E.T, cmap=colormap("viridis"),
                         shading="flat", rasterized=True)
    ww = a["wall_w"]
    keep = (ww >= w[0]) & (ww <= w[-1])
    if prefix == "zoom":  # the closed forms at the zoom's own resolution
        from ..dynamics.fixed import saddle_node_b, wall_b
        ww, keep = w, np.ones(len(w), bool)
        wall, (low, _) = wall_b(w, data.config.model.x0), saddle_node_b(w)
    else:
        wall, low = a["wall_b"], a["saddle_low_b"]
    ax.plot(ww[keep], wall[keep], color=WALL, lw=1.2, ls="--", label="wall (closed form, T → ∞)")
    ax.plot(ww[keep], low[keep], color=WALL, lw=0.8, ls=":", label="saddle-node b_low(w)")
    for name, color, label in (("plain", PLAIN, "gradient descent"),
                               ("clipped", CLIPPED, "rescaled to norm ≤ c")):
        P = a[f"{name}_points"]
        ax.plot(P[:, 0], P[:, 1], color=color, lw=1.0, marker="o", ms=2.5, label=label)
    ax.plot(*a["plain_points"][0], marker="*", color="k", ms=10, ls="none", label="start")
    ax.set_xlim(w[0], w[-1])
    ax.set_ylim(b[0], b[-1])
    ax.set_xlabel("w")
    ax.set_ylabel("b")
    ax.set_title(title, fontsize=10)
    ax.figure.colorbar(mesh, ax=ax, label="E = (σ(x_T) − target)²", shrink=0.85)


def fig_surface(data: FigureData) -> Figure:
    """Left: the whole window with both trajectories; right: zoom where the wall is crossed."""
    cfg, a = data.config, data.arrays
    fig = figure(13.0, 5.4)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    _surface_panel(left, data, "surface", "error surface and the two trajectories")
    _surface_panel(right, data, "zoom", "zoom: where the trajectories meet the wall")
    k = int(np.argmax(a["plain_steps"]))
    P = a["plain_points"]
    left.annotate(f"update {k}: ‖∇E‖ = {a['plain_grad_norms'][k]:.3g},\nstep {a['plain_steps'][k]:.3g}",
                  xy=P[k + 1], xytext=(0.45, 0.55), textcoords="axes fraction", fontsize=8,
                  color="w", arrowprops=dict(arrowstyle="->", color="w", lw=0.8))
    # below the panels: inside, it hid the plain run's path where it bounces off the wall; grey, so
    # that the white rescaled path shows in it
    legend_outside(fig, right, facecolor="#a0a0a0", framealpha=1.0)
    t = cfg.train
    suptitle(fig, "One recurrent unit: the wall and what a step does there (Pascanu et al. 2013, Fig. 6)",
             f"x_t = w σ(x_t−1) + b, T={cfg.model.steps}, x_0={cfg.model.x0}, target {cfg.model.target};"
             f" start (w, b) = ({t.w}, {t.b}), lr {t.lr}, {t.updates} updates, c = {t.threshold}")
    return fig


def _branches(w: float, xs: np.ndarray, stable: np.ndarray):
    """(label, x over b, stable) per branch of fixed points: lower, middle (unstable), upper."""
    if not w > 4:
        return [("fixed point", xs[:, 0], True)]
    xc = float(critical_x(w))
    pick = lambda mask: np.fmin.reduce(np.where(mask, xs, np.nan), axis=1)  # noqa: E731
    return [("lower attractor", pick(xs < -xc), True), ("unstable", pick(np.abs(xs) < xc), False),
            ("upper attractor", pick(xs > xc), True)]


def fig_bifurcation(data: FigureData) -> Figure:
    """Top: fixed points against b (stable solid, unstable dashed), the saddle-node values and the
    wall; bottom: |∂x_T/∂b| from x_0 for two T, the exploding region shaded in both."""
    cfg, a = data.config, data.arrays
    b, w = a["bif_b"], float(a["bif_w"])
    fig = figure(9.0, 7.0)
    top, bottom = fig.add_subplot(2, 1, 1), None
    bottom = fig.add_subplot(2, 1, 2, sharex=top)
    shown = set()
    for label, x, stable in _branches(w, a["bif_fixed_points"], a["bif_stable"]):
        kind = ("attractor (stable)" if w > 4 else "fixed point") if stable else "unstable fixed point"
        top.plot(b, x, color="k", lw=1.6 if stable else 1.1, ls="-" if stable else "--",
                 label=None if kind in shown else kind)   # the two attractors look alike: one entry
        shown.add(kind)
    top.axhline(cfg.model.x0, color=COLORS[0], lw=0.8, ls=":", label=f"x_0 = {cfg.model.x0}")
    lo_x, hi_x = a["bif_explode_span"]
    for ax in (top, bottom):
        for bv, text in ((a["bif_saddle_low_b"], "saddle-node"), (a["bif_saddle_high_b"], None)):
            if np.isfinite(bv):
                ax.axvline(bv, color="#7f7f7f", lw=0.9, ls="-.", label=text if ax is top else None)
        ax.axvline(a["bif_wall_b"], color=WALL, lw=1.2, ls="--",
                   label="wall: x_0 changes attractor" if ax is top else None)
        if np.isfinite(lo_x):
            ax.axvspan(lo_x, hi_x, color=COLORS[1], alpha=0.35, lw=0)
        ax.grid(True, alpha=0.3)
    if np.isfinite(lo_x):
        top.annotate(f"|∂x_T/∂b| > {cfg.bifurcation.explode:g} (T={cfg.model.steps}) only for b in\n"
                     f"[{lo_x:.10g}, {hi_x:.10g}]: a band {hi_x - lo_x:.2g} wide",
                     xy=(a["bif_wall_b"], cfg.model.x0), xytext=(0.55, 0.12),
                     textcoords="axes fraction", fontsize=8, color=COLORS[1],
                     arrowprops=dict(arrowstyle="->", color=COLORS[1], lw=0.8))
    top.set_ylabel("fixed point x*")
    legend_outside(fig, top, "right", fontsize=7)
    bottom.semilogy(b, positive(np.abs(a["bif_dxT_db_long"])), color=COLORS[1], lw=1.0,
                    label=f"T = {cfg.bifurcation.long_steps}")
    bottom.semilogy(b, positive(np.abs(a["bif_dxT_db"])), color=COLORS[0], lw=1.6, zorder=3,
                    label=f"T = {cfg.model.steps}")
    for label, x, stable in _branches(w, a["bif_fixed_points"], a["bif_stable"]):
        if stable:  # dx*/db = 1 / (1 − w σ'(x*)): the attractor itself, infinite at a saddle-node
            s = 1.0 / (1.0 + np.exp(-x))
            bottom.semilogy(b, positive(np.abs(1.0 / (1.0 - w * s * (1.0 - s)))), color="#7f7f7f",
                            lw=0.9, ls=":", label="|dx*/db| of the attractors"
                            if label != "upper attractor" else None)
    bottom.set_xlabel("b")
    bottom.set_ylabel("|∂x_T/∂b| from x_0")
    legend_outside(fig, bottom, "right", fontsize=7)
    suptitle(fig, f"Fixed points of x = w σ(x) + b at w = {w:g}, and where the gradient explodes",
             "the gradient explodes where x_0 sits on the boundary between the two basins;"
             " it grows with T there")
    return fig


def write_figures(data: FigureData, out_dir: str | Path) -> list[Path]:
    """The config's PNGs into ``out_dir``: <name>_surface.png and/or <name>_bifurcation.png."""
    out, name = Path(out_dir), data.config.name
    paths = []
    if "surface_error" in data.arrays:
        paths.append(save(fig_surface(data), out / f"{name}_surface.png"))
    if "bif_b" in data.arrays:
        paths.append(save(fig_bifurcation(data), out / f"{name}_bifurcation.png"))
    return paths
