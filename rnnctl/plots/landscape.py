"""The figure of a loss landscape (rnnctl.landscape.Landscape): log₁₀ of the loss over the slice,
its colour range clipped so that the cliff's huge values do not wash out the rest, inf/NaN points
marked as such, and the run's trajectory projected onto the slice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import ListedColormap

from .style import cell_edges, colormap, figure, legend_outside, save, suptitle

CLIP_PERCENTILE = 95   # the colour range ends here: higher (cliff) values saturate
BAD = "#ff00ff"         # inf/NaN: the forward pass exploded


def log_loss(loss):
    """(log₁₀ loss with non-finite and non-positive values as NaN, mask of the non-finite ones,
    (lo, hi) the colour range: the finite minimum to the CLIP_PERCENTILE-th percentile)."""
    loss = np.asarray(loss, float)
    bad = ~np.isfinite(loss)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log10(np.where(bad | (loss <= 0), np.nan, loss))
    finite = z[np.isfinite(z)]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(np.percentile(finite, CLIP_PERCENTILE)) if finite.size else 1.0
    return z, bad, (lo, hi if hi > lo else lo + 1.0)


def _subtitle(ls) -> str:
    m = ls.metadata
    text = (f"{m.get('name') or ''} {m.get('run_id', '')}: around {m.get('around')}\n"
            f"{m.get('sequences')} sequences (seed {m.get('seed')}), {m.get('dtype')}, {m.get('method')} path")
    if ls.trajectory_residual is not None and len(ls.trajectory_residual):
        scale = np.linalg.norm(ls.center) or 1.0
        text += (f"\ntrajectory ({m.get('trajectory_source')}) projected by least squares: up to "
                 f"{np.nanmax(ls.trajectory_residual):.3g} off the plane (‖center‖ {scale:.3g})")
    return text


def fig_landscape(ls):
    fig = figure(7.4, 6.0) if ls.betas is not None else figure(8.0, 4.8)
    ax = fig.add_subplot()
    z, bad, (lo, hi) = log_loss(ls.loss)
    if ls.betas is None:
        _one_d(ax, ls, z, bad, lo, hi)
    else:
        _two_d(fig, ax, ls, z, bad, lo, hi)
    suptitle(fig, "Loss landscape", _subtitle(ls))
    return fig


def _two_d(fig, ax, ls, z, bad, lo, hi):
    xe, ye = cell_edges(ls.alphas), cell_edges(ls.betas)
    mesh = ax.pcolormesh(xe, ye, z.T, cmap=colormap("viridis"), vmin=lo, vmax=hi, shading="flat")
    fig.colorbar(mesh, ax=ax, extend="max",
                 label=f"log₁₀ loss (clipped at the {CLIP_PERCENTILE}th percentile)")
    if np.isfinite(z).sum() > 4:
        ax.contour(ls.alphas, ls.betas, np.clip(z, lo, hi).T, levels=10, colors="white",
                   linewidths=0.5, alpha=0.6)
    if bad.any():
        ax.pcolormesh(xe, ye, np.ma.masked_where(~bad.T, np.ones_like(z.T)), cmap=ListedColormap([BAD]),
                      shading="flat")
        ax.plot([], [], "s", color=BAD, label=f"inf/NaN loss ({int(bad.sum())} points)")
    if ls.trajectory is not None and len(ls.trajectory):
        t = ls.trajectory
        ax.plot(t[:, 0], t[:, 1], "-", color="white", lw=1.6, zorder=3)
        ax.plot(t[:, 0], t[:, 1], ".", color="#d62728", ms=4, zorder=4, label="trajectory")
        ax.plot(*t[0, :2], "o", color="#ff7f0e", ms=7, zorder=5, label=f"update {ls.trajectory_updates[0]}")
        ax.plot(*t[-1, :2], "s", color="#d62728", ms=7, zorder=5, label=f"update {ls.trajectory_updates[-1]}")
    ax.plot(0, 0, "x", color="black", ms=9, mew=2, zorder=6, label=f"center ({ls.metadata.get('around')})")
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.set_xlabel(f"α along {ls.axes[0]}")
    ax.set_ylabel(f"β along {ls.axes[1]}")
    legend_outside(fig, ax, ncols=3)   # inside, it hid the path's end or the minimum


def _one_d(ax, ls, z, bad, lo, hi):
    ax.plot(ls.alphas, np.clip(z, None, hi + 0.1 * (hi - lo)), "-", color="#1f77b4", label="log₁₀ loss")
    top = hi + 0.1 * (hi - lo)
    if bad.any():
        ax.plot(ls.alphas[bad], np.full(bad.sum(), top), "v", color=BAD, label="inf/NaN loss")
    if ls.trajectory is not None and len(ls.trajectory):
        a = ls.trajectory[:, 0]
        ax.scatter(a, np.full(len(a), lo), c=ls.trajectory_updates, cmap="autumn", s=14, zorder=4,
                   label="trajectory (colour: update)")
    ax.axvline(0, color="black", lw=0.8, ls="--", label=f"center ({ls.metadata.get('around')})")
    ax.set_xlabel(f"α along {ls.axes[0]}")
    ax.set_ylabel("log₁₀ loss (clipped)")
    legend_outside(ax.figure, ax, ncols=4)


def save_landscape_png(ls, path) -> Path:
    return save(fig_landscape(ls), path)
