"""The look shared by every figure: size and resolution, colours and markers, the Agg canvas
(pyplot is never imported, so a notebook's global backend is left alone), PNG output, the
reduction of a long trace to buckets, and the subtitle that says which run a figure shows."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..report import fmt_value, short_names
from ..store import RunRecord

DPI = 110
MAX_POINTS = 1500                      # buckets a long trace is reduced to before plotting
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
          "#7f7f7f", "#bcbd22"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def figure(w: float = 9.0, h: float = 4.6) -> Figure:
    """A Figure on its own Agg canvas (constrained layout)."""
    fig = Figure(figsize=(w, h), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def legend_outside(fig: Figure, ax=None, where: str = "lower center", ncols: int | None = None, **kw):
    """The legend of ``ax`` (default: the first axes) drawn outside every axes, at ``where`` of the
    figure ("lower center", ...) or "right" of ``ax`` itself (constrained layout makes room), so
    that it never covers data: a legend inside a surface or a dense path always hides some. None
    when ``ax`` has nothing labelled."""
    ax = ax or fig.axes[0]
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    if where == "right":        # beside its own axes (a figure of stacked panels, each with its legend)
        return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
                         fontsize=kw.pop("fontsize", 8), **kw)
    ncols = ncols or min(len(handles), 5)
    return fig.legend(handles, labels, loc=f"outside {where}", ncols=ncols, fontsize=kw.pop("fontsize", 8), **kw)


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG (its folder created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI)
    return path


def png_bytes(fig: Figure) -> bytes:
    """``fig`` encoded as PNG (for the HTML page)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def bucket(x: np.ndarray, y: np.ndarray, n: int = MAX_POINTS):
    """(x, low, median, high) with at most ``n`` points: min/median/max of y per bucket of
    consecutive updates (NaN ignored). Short series come back as they are."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) <= n:
        return x, y, y, y
    edges = np.linspace(0, len(x), n + 1).astype(int)
    xs, lo, med, hi = (np.full(n, np.nan) for _ in range(4))
    for i in range(n):
        seg = y[edges[i]:edges[i + 1]]
        xs[i] = x[edges[i]:edges[i + 1]].mean()
        seg = seg[~np.isnan(seg)]
        if len(seg):
            lo[i], med[i], hi[i] = seg.min(), np.median(seg), seg.max()
    return xs, lo, med, hi


def positive(y) -> np.ndarray:
    """``y`` as floats with every value a log axis cannot show (≤ 0, NaN, inf) set to NaN."""
    y = np.asarray(y, float).copy()
    y[~(y > 0) | ~np.isfinite(y)] = np.nan
    return y


def suptitle(fig: Figure, text: str, sub: str | None = None) -> None:
    fig.suptitle(text + (f"\n{sub}" if sub else ""), fontsize=11)


def cell_edges(centers: np.ndarray) -> np.ndarray:
    """Edges of the cells centred on ``centers`` (for pcolormesh over unevenly spaced updates)."""
    c = np.asarray(centers, float)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def even_picks(updates: np.ndarray, k: int) -> np.ndarray:
    """Indices of at most ``k`` rows spread evenly over the update axis (the row nearest to each of
    ``k`` evenly spaced updates): rows recorded on an irregular axis (log.backprop_every auto, dense
    early) still give curves spread over the whole run."""
    u = np.asarray(updates, float)
    if len(u) == 0:
        return np.zeros(0, int)
    targets = np.linspace(u[0], u[-1], min(k, len(u)))
    return np.unique([int(np.argmin(np.abs(u - t))) for t in targets])


def colormap(name: str):
    """A matplotlib colormap with NaN (masked) cells light grey."""
    import matplotlib
    return matplotlib.colormaps[name].with_extremes(bad="#dddddd")


def run_label(run: RunRecord, swept: list[str] | None = None) -> str:
    """'method=norm length=80 seed=0' (the swept values), else the run folder's name."""
    if swept:
        names = short_names(swept)
        return " ".join(f"{names[k]}={fmt_value(run.value(k))}" for k in swept)
    return run.run_id


def config_text(run: RunRecord) -> str:
    """The subtitle of a run's figure: task, length, model, init, method, seed."""
    c = run.config or {}
    g = c.get("train.gradient.method")
    parts = [f"{c.get('task.name', '?')}", f"T={c.get('task.length') or str(c.get('task.min_length')) + '–' + str(c.get('task.max_length'))}",
             f"{c.get('model.cell', 'rnn')} {c.get('model.hidden', '?')} {c.get('model.activation', '')}",
             f"init {c.get('model.init', '?')}", f"clip {g}" + (f" c={c.get('train.gradient.threshold')}" if g not in (None, "none") else ""),
             f"seed {run.value('seed')}"]
    return ", ".join(parts)


def mark_divergence(ax, run: RunRecord) -> None:
    """A dotted red line at the update where ``run`` diverged (if it did)."""
    d = (run.info or {}).get("diverged_at")
    if d:
        ax.axvline(d, color="#d62728", lw=1.2, ls=":", label=f"diverged at update {d}")


def error_axis(ax, xlabel: str) -> None:
    """An axis of error rates in percent: labels, zero floor, grid, legend."""
    ax.set_ylabel("misclassified sequences (%)")
    ax.set_xlabel(xlabel)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
