"""The lesson's figures (rnnctl.lesson): the gradient norm before and after the transform per run,
the per-step backprop norms by lag (vanilla against LSTM), λ₁ of W_rec against 1/γ, error against
length, and the loss over the plane through the runs' start and ends with their paths. Each
``fig_*`` takes LessonRuns (or the slice) and returns a Figure, or None with nothing to show."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from ..lesson.story import spectral_records
from ..report import to_lag
from .landscape import BAD, CLIP_PERCENTILE, log_loss
from .style import COLORS, bucket, cell_edges, colormap, even_picks, figure, legend_outside, positive, suptitle

ROLE_COLORS = {"none": COLORS[1], "norm": COLORS[0], "value": COLORS[4], "omega": COLORS[3],
               "lstm": COLORS[2], "other": COLORS[5]}


def _color(run) -> str:
    return ROLE_COLORS.get(run.role, COLORS[5])


def fig_norms(runs) -> Figure | None:
    """One panel per run: ‖g‖ before the transform (median per bucket, min–max band) and after."""
    runs = [r for r in runs if r.trace is not None and len(r.trace.get("update", []))]
    if not runs:
        return None
    fig = figure(10, 1.9 * len(runs) + 0.8)
    axes = fig.subplots(len(runs), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
    for ax, r in zip(axes, runs):
        u = r.trace["update"]
        x, lo, med, hi = bucket(u, positive(r.trace["norm_before"]), 600)
        ax.fill_between(x, lo, hi, color=_color(r), alpha=0.25, lw=0)
        ax.plot(x, med, color=_color(r), lw=1.0, label="before the transform")
        if r.method != "none" or r.role == "omega":
            x2, _, _, hi2 = bucket(u, positive(r.trace["norm_after"]), 600)
            ax.plot(x2, hi2, color="k", lw=0.9, label="after (largest per bucket)")
        if r.method == "norm" and r.threshold is not None:
            ax.axhline(r.threshold, color="k", ls="--", lw=0.8, label=f"c = {r.threshold:g}")
        if r.info.get("diverged_at"):
            ax.axvline(r.info["diverged_at"], color="#d62728", ls=":", lw=1.2, label="diverged")
        ax.set_yscale("log")
        ax.set_title(f"{r.label}: {r.status}", fontsize=9, loc="left")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
        ax.set_ylabel("‖∂E/∂θ‖")
    axes[-1].set_xlabel("update")
    suptitle(fig, "1. Gradient norm before and after the transform (band: min–max per bucket of updates)")
    return fig


def fig_backprop(runs) -> Figure | None:
    """‖∂E/∂x_k‖ against the lag T − k at a few updates, one panel per run."""
    runs = [r for r in runs if r.backprop is not None and len(r.backprop[0])]
    if not runs:
        return None
    fig = figure(4.0 * len(runs) + 1, 4.2)
    axes = fig.subplots(1, len(runs), sharey=True, squeeze=False)[0]
    cm = colormap("plasma")
    for ax, r in zip(axes, runs):
        updates, norms = r.backprop
        lag = positive(to_lag(norms))
        pick = even_picks(updates, 5)
        for j, i in enumerate(pick):
            ok = np.isfinite(lag[i])
            ax.plot(np.flatnonzero(ok), lag[i][ok], color=cm(0.85 * j / max(len(pick) - 1, 1)), lw=1.3,
                    label=f"update {int(updates[i])}")
        ax.set_yscale("log")
        ax.set_title(r.label, fontsize=9)
        ax.set_xlabel("lag T − k (steps back from the last step)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("‖∂E/∂x_k‖")
    suptitle(fig, "2. How far back the error signal reaches: falling to the right is a vanishing gradient")
    return fig


def fig_spectral(runs) -> Figure | None:
    """λ₁ of W_rec over training for each vanilla run, with 1/γ."""
    fig = figure(9, 4.4)
    ax = fig.add_subplot()
    bound, drawn = None, False
    for r in runs:
        if not r.vanilla:
            continue
        xs, sv, b = spectral_records(r)
        bound = bound if b is None else b
        if sv:
            ax.plot(xs, sv, "o-", ms=3, lw=1.3, color=_color(r), label=r.label)
            drawn = True
    if not drawn:
        return None
    if bound is not None:
        ax.axhline(bound, color="k", ls="--", lw=1.2, label=f"1/γ = {bound:g}")
        ax.axhspan(0, bound, color="#1f77b4", alpha=0.06, lw=0)
        ax.text(0.01, 0.02, "λ₁ < 1/γ: the gradient must vanish", transform=ax.transAxes, fontsize=8,
                color="#1f77b4")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("update")
    ax.set_ylabel("λ₁ (largest singular value of W_rec)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    suptitle(fig, "3. λ₁ of the recurrent weights against the 1/γ bound")
    return fig


def fig_lengths(runs, success_error: float) -> Figure | None:
    """Error rate of each final model against the sequence length, with the success line."""
    fig = figure(9, 4.4)
    ax = fig.add_subplot()
    drawn = False
    for r in runs:
        rows = [x for x in r.lengths if x.get("length") is not None]
        if rows:
            ax.plot([x["length"] for x in rows], [100 * x["error"] for x in rows], "o-", color=_color(r),
                    lw=1.4, label=r.label)
            drawn = True
    if not drawn:
        return None
    ax.axhline(100 * success_error, color="k", ls="--", lw=1.0, label=f"success: under {100 * success_error:g}%")
    ax.set_xscale("log")
    lengths = sorted({x["length"] for r in runs for x in r.lengths if x.get("length") is not None})
    ax.xaxis.set_minor_locator(NullLocator())      # only the lengths scored are labelled
    ax.set_xticks(lengths, [str(v) for v in lengths])
    ax.set_ylabel("misclassified sequences (%)")
    ax.set_xlabel("sequence length (trained at one length)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    suptitle(fig, "4. Success against length: each trained model on fresh sequences of other lengths")
    return fig


def fig_slice(ls, paths: dict, colors: dict) -> Figure:
    """log₁₀ loss over the plane, with each run's snapshots projected onto it."""
    fig = figure(8.6, 6.6)
    ax = fig.add_subplot()
    z, bad, (lo, hi) = log_loss(ls.loss)
    xe, ye = cell_edges(ls.alphas), cell_edges(ls.betas)
    mesh = ax.pcolormesh(xe, ye, z.T, cmap=colormap("viridis"), vmin=lo, vmax=hi, shading="flat")
    fig.colorbar(mesh, ax=ax, extend="max", label=f"log₁₀ loss (clipped at the {CLIP_PERCENTILE}th percentile)")
    if bad.any():
        ax.pcolormesh(xe, ye, np.ma.masked_where(~bad.T, np.ones_like(z.T)), cmap=ListedColormap([BAD]),
                      shading="flat")
    for label, (updates, c, _) in paths.items():
        col = colors.get(label, "white")
        ax.plot(c[:, 0], c[:, 1], "-", color="white", lw=2.6, zorder=3)
        ax.plot(c[:, 0], c[:, 1], ".-", color=col, lw=1.3, ms=4, zorder=4, label=label)
        ax.plot(*c[-1], "s", color=col, ms=7, mec="white", zorder=5)
    ax.plot(-1, 0, "o", color="#ff7f0e", ms=9, mec="white", zorder=6, label="shared start (update 0)")
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.set_xlabel(f"α: {ls.axes[0]}")
    ax.set_ylabel(f"β: {ls.axes[1]}")
    legend_outside(fig, ax, ncols=3, fontsize=7)   # inside, it hid a path's end on the surface
    m = ls.metadata
    suptitle(fig, "5. The loss over the plane through the start and the two ends, with the paths",
             f"{m.get('grid')}×{m.get('grid')} points, {m.get('sequences')} sequences, squares: last snapshot")
    return fig
