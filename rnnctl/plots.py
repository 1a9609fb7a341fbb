"""Figures for ``rnnctl report`` (matplotlib, Agg canvas; pyplot is never imported, so the global
backend of a notebook is left alone). Each ``fig_*`` function returns a Figure, or None when the run
or sweep has nothing to show; ``save`` writes it as PNG and ``png_bytes`` encodes it for HTML.

Per run: gradient norm over updates (before/after the transform, threshold), per-step backprop
norms against the time lag (heatmap over training and curves), temporal contributions at probe
updates, loss and error, λ₁ of W_rec with the 1/γ bound, the post-mortem of a diverged run.
Per sweep: success rate against sequence length (Pascanu et al. 2013, Fig. 7: one line per method,
one panel per init), updates to success, the largest gradient norm per run, norm traces overlaid.
"""

from __future__ import annotations

import io
import warnings as _warnings
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from . import report as R

DPI = 110
MAX_POINTS = 1500                      # buckets a long trace is reduced to before plotting
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
          "#7f7f7f", "#bcbd22"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def _figure(w: float = 9.0, h: float = 4.6) -> Figure:
    fig = Figure(figsize=(w, h), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI)
    return path


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Helpers

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


def _positive(y):
    y = np.asarray(y, float).copy()
    y[~(y > 0) | ~np.isfinite(y)] = np.nan
    return y


def _title(fig: Figure, text: str, sub: str | None = None) -> None:
    fig.suptitle(text + (f"\n{sub}" if sub else ""), fontsize=11)


def run_label(run: R.Run, swept: list[str] | None = None) -> str:
    """'method=norm length=80 seed=0' (the swept values), else the run folder's name."""
    if swept:
        names = R.short_names(swept)
        return " ".join(f"{names[k]}={R.fmt_value(run.value(k))}" for k in swept)
    return run.run_id


def _config_text(run: R.Run) -> str:
    c = run.config or {}
    g = c.get("train.gradient.method")
    parts = [f"{c.get('task.name', '?')}", f"T={c.get('task.length') or str(c.get('task.min_length')) + '–' + str(c.get('task.max_length'))}",
             f"{c.get('model.cell', 'rnn')} {c.get('model.hidden', '?')} {c.get('model.activation', '')}",
             f"init {c.get('model.init', '?')}", f"clip {g}" + (f" c={c.get('train.gradient.threshold')}" if g not in (None, "none") else ""),
             f"seed {run.value('seed')}"]
    return ", ".join(parts)


def _diverged_line(ax, run: R.Run) -> None:
    d = (run.info or {}).get("diverged_at")
    if d:
        ax.axvline(d, color="#d62728", lw=1.2, ls=":", label=f"diverged at update {d}")


# ---------------------------------------------------------------------------------------------
# One run

def fig_grad_norm(run: R.Run, trace: dict) -> Figure | None:
    """Global gradient norm per update before and after the transform (log scale), threshold."""
    if not len(trace.get("update", [])):
        return None
    u = trace["update"]
    fig = _figure()
    ax = fig.add_subplot()
    x, lo, med, hi = bucket(u, _positive(trace["norm_before"]))
    reduced = len(x) < len(u)
    if reduced:
        ax.fill_between(x, lo, hi, color=COLORS[0], alpha=0.25, lw=0, label="before: min–max per bucket")
    mk = "o" if len(x) <= 60 else None       # a short run: show the points themselves
    ax.plot(x, med, color=COLORS[0], lw=1.0, marker=mk, ms=4,
            label="before the transform" + (" (median per bucket)" if reduced else ""))
    same = np.allclose(trace["norm_before"], trace["norm_after"], equal_nan=True)
    if same:   # the transform never changed the gradient: one line says it
        ax.lines[-1].set_label("before = after the transform (it never fired)")
    else:
        x2, lo2, med2, hi2 = bucket(u, _positive(trace["norm_after"]))
        ax.plot(x2, med2, color=COLORS[2], lw=1.0, alpha=0.9, marker="x" if mk else None, ms=5,
                label="after the transform" + (" (median per bucket)" if reduced else ""))
    c = run.config or {}
    method = c.get("train.gradient.method")
    if "threshold" in trace and np.isfinite(trace["threshold"]).any():
        xt, _, mt, _ = bucket(u, trace["threshold"])
        ax.plot(xt, mt, color="k", lw=1.2, ls="--", label="threshold c")
    elif method in ("norm",) and R._is_num(c.get("train.gradient.threshold")):
        ax.axhline(float(c["train.gradient.threshold"]), color="k", lw=1.2, ls="--",
                   label=f"threshold c = {c['train.gradient.threshold']:g}")
    _diverged_line(ax, run)
    ax.set_yscale("log")
    ax.set_xlabel("update")
    ax.set_ylabel("‖∂E/∂θ‖ (global L2 norm)")
    rate = (run.info or {}).get("clip_rate")
    _title(fig, f"Gradient norm over training — method {method}"
           + (f", fired on {100 * rate:.1f}% of updates" if rate is not None and method not in (None, "none") else ""),
           _config_text(run))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig


def fig_backprop(run: R.Run, bp: tuple | None) -> Figure | None:
    """‖∂E/∂x_k‖ against the lag T − k: a heatmap over training and curves at a few updates."""
    if bp is None:
        return None
    updates, norms = bp
    lag = R.to_lag(norms)                                    # (n, T_max + 1), column = lag
    width = int(np.max(np.sum(~np.isnan(lag), axis=1))) if lag.size else 0
    if width == 0:
        return None
    lag = lag[:, :width]
    pos = _positive(lag)
    if not np.isfinite(pos).any():
        return None
    fig = _figure(12, 4.8)
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.15, 1])
    vmax = np.nanmax(pos)
    vmin = max(np.nanmin(pos), vmax * 1e-12)
    cmap = _cmap("viridis")
    edges_y = _edges(updates)
    im = ax1.pcolormesh(np.arange(width + 1) - 0.5, edges_y, np.ma.masked_invalid(pos),
                        norm=LogNorm(vmin=vmin, vmax=vmax), cmap=cmap, shading="flat")
    fig.colorbar(im, ax=ax1, label="‖∂E/∂x_k‖ (log scale)")
    ax1.set_xlabel("time lag T − k (steps back from the last step)")
    ax1.set_ylabel("update")
    ax1.set_title("over training (grey: exactly 0 or not recorded)", fontsize=9)
    ax1.set_facecolor("#dddddd")
    # curves at up to 6 updates spread over training
    good = np.flatnonzero(np.isfinite(pos).any(axis=1))    # a diverged batch's row may be all NaN
    pick = good[np.unique(np.linspace(0, len(good) - 1, min(6, len(good))).round().astype(int))]
    cm = _cmap("plasma")
    for j, i in enumerate(pick):
        ax2.plot(np.arange(width), pos[i], color=cm(0.85 * j / max(len(pick) - 1, 1)), lw=1.3,
                 label=f"update {int(updates[i])}")
    ax2.set_yscale("log")
    ax2.set_xlabel("time lag T − k")
    ax2.set_ylabel("‖∂E/∂x_k‖")
    ax2.set_title("at chosen updates (falling to the right: vanishing; rising: exploding)", fontsize=9)
    ax2.grid(True, alpha=0.3)
    ax2.legend(fontsize=8)
    _title(fig, "Per-step backprop norm ‖∂E/∂x_k‖ against the time lag", _config_text(run))
    return fig


def _edges(centers: np.ndarray) -> np.ndarray:
    c = np.asarray(centers, float)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def _cmap(name: str):
    import matplotlib
    return matplotlib.colormaps[name].with_extremes(bad="#dddddd")


def fig_contributions(run: R.Run, probes: list[tuple[int, Path]], max_probes: int = 3) -> Figure | None:
    """Temporal contributions ‖∂E_t/∂x_k‖ (top) and Jacobian norms ‖∂x_t/∂x_k‖ (bottom) at up to
    ``max_probes`` probe updates (first, middle, last). When a single step t is scored (the
    temporal-order problem scores the last one), its contributions are drawn as a curve over k."""
    if not probes:
        return None
    pick = [probes[i] for i in sorted({0, len(probes) // 2, len(probes) - 1})][:max_probes]
    loaded = []
    for upd, path in pick:
        try:
            with np.load(path) as z:
                loaded.append((upd, np.array(z["contributions"], float), np.array(z["jacobian_norms"], float)))
        except (OSError, KeyError, ValueError):
            continue
    if not loaded:
        return None
    fig = _figure(4.3 * len(loaded) + 1.0, 8.0)
    axes = fig.subplots(2, len(loaded), squeeze=False)
    for j, (upd, C, J) in enumerate(loaded):
        ax = axes[0, j]
        Cp = _positive(C)
        scored = [t for t in range(C.shape[0]) if np.isfinite(Cp[t]).any()]
        if len(scored) <= 2:
            for t in scored:
                ax.plot(np.arange(C.shape[1]), Cp[t], lw=1.3, label=f"t = {t + 1}")
            ax.set_yscale("log")
            ax.set_xlabel("step k")
            ax.set_ylabel("‖∂E_t/∂x_k‖")
            ax.grid(True, alpha=0.3)
            if scored:
                ax.legend(fontsize=8, title="scored step", title_fontsize=8)
        else:
            v = Cp[np.isfinite(Cp)]
            im = ax.imshow(np.ma.masked_invalid(Cp), origin="lower", aspect="auto", cmap=_cmap("viridis"),
                           norm=LogNorm(vmin=max(v.min(), v.max() * 1e-12), vmax=v.max()),
                           extent=(-0.5, C.shape[1] - 0.5, 0.5, C.shape[0] + 0.5))
            fig.colorbar(im, ax=ax, label="‖∂E_t/∂x_k‖")
            ax.set_xlabel("step k")
            ax.set_ylabel("scored step t")
        ax.set_title(f"contributions, update {upd}", fontsize=9)
        ax = axes[1, j]
        Jp = _positive(J)
        v = Jp[np.isfinite(Jp)]
        if len(v):
            im = ax.imshow(np.ma.masked_invalid(Jp), origin="lower", aspect="auto", cmap=_cmap("magma"),
                           norm=LogNorm(vmin=max(v.min(), v.max() * 1e-12), vmax=v.max()))
            fig.colorbar(im, ax=ax, label="‖∂x_t/∂x_k‖₂")
        ax.set_xlabel("step k")
        ax.set_ylabel("step t")
        ax.set_title(f"Jacobian norms (eq. 5), update {upd}", fontsize=9)
    _title(fig, "Temporal contributions at probe updates (Pascanu et al. eq. 3–5)", _config_text(run))
    return fig


def fig_loss_error(run: R.Run, trace: dict | None, metrics: list[dict]) -> Figure | None:
    """Training loss per update (bucketed), evaluation loss and error at each evaluation."""
    if not metrics and not (trace and len(trace.get("update", []))):
        return None
    fig = _figure(9, 6)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    if trace and len(trace.get("update", [])):
        x, lo, med, hi = bucket(trace["update"], trace["loss"])
        if len(x) < len(trace["update"]):
            ax1.fill_between(x, lo, hi, color=COLORS[0], alpha=0.2, lw=0)
        ax1.plot(x, med, color=COLORS[0], lw=0.9, label="training batch loss")
    if metrics:
        mu = [m["update"] for m in metrics]
        ax1.plot(mu, [m.get("loss") for m in metrics], "o-", color=COLORS[1], ms=3, lw=1.3,
                 label="evaluation loss (fresh sequences)")
        ax2.plot(mu, [100 * m["error"] if m.get("error") is not None else np.nan for m in metrics],
                 "o-", color=COLORS[3], ms=3, lw=1.3, label="evaluation error")
    se = (run.config or {}).get("eval.success_error")
    if R._is_num(se):
        ax2.axhline(100 * se, color="k", ls="--", lw=1, label=f"success below {100 * se:g}%")
    su = (run.info or {}).get("success_update")
    if su:
        ax2.axvline(su, color=COLORS[2], lw=1.2, label=f"solved at update {su}")
    _diverged_line(ax2, run)
    ax1.set_ylabel("loss (cross-entropy per sequence)" if (run.config or {}).get("task.name") not in
                   ("addition", "multiplication") else "loss (squared error)")
    ys = np.concatenate([np.asarray(l.get_ydata(), float) for l in ax1.get_lines()] or [np.zeros(0)])
    ys = ys[np.isfinite(ys) & (ys > 0)]
    if len(ys) and ys.max() / ys.min() > 10:     # log only where the loss spans decades
        ax1.set_yscale("log")
    ax1.grid(True, alpha=0.3)
    ax1.legend(fontsize=8)
    ax2.set_ylabel("misclassified sequences (%)")
    ax2.set_xlabel("update")
    ax2.set_ylim(bottom=0)
    ax2.grid(True, alpha=0.3)
    ax2.legend(fontsize=8)
    _title(fig, f"Loss and error over training — {(run.info or {}).get('status', run.status)}", _config_text(run))
    return fig


def fig_spectral(run: R.Run, metrics: list[dict]) -> Figure | None:
    """λ₁ (largest singular value) and spectral radius of W_rec at each evaluation, with 1/γ."""
    recs = [m for m in metrics if isinstance(m.get("spectral"), dict) and m["spectral"]]
    if not recs:
        return None
    names = list(dict.fromkeys(k for m in recs for k in m["spectral"]))
    init = _initial_spectral(run, names)
    if init:
        recs = [{"update": 0, "spectral": init, "bound": recs[0].get("bound")}, *recs]
    fig = _figure()
    ax = fig.add_subplot()
    for i, name in enumerate(names[:8]):
        xs = [m["update"] for m in recs if name in m["spectral"]]
        sv = [m["spectral"][name].get("sv_max") for m in recs if name in m["spectral"]]
        rad = [m["spectral"][name].get("radius") for m in recs if name in m["spectral"]]
        col = COLORS[i % len(COLORS)]
        ax.plot(xs, sv, "o-", ms=3, color=col, lw=1.4, label=f"λ₁ of {name} (largest singular value)")
        ax.plot(xs, rad, ":", color=col, lw=1.2, label=f"spectral radius of {name}")
    bound = next((m.get("bound") for m in recs if m.get("bound") is not None), None)
    if bound is not None:
        ax.axhline(bound, color="k", ls="--", lw=1.2, label=f"1/γ = {bound:g}")
        lo, hi = ax.get_ylim()
        ax.axhspan(min(lo, 0), bound, color="#1f77b4", alpha=0.06, lw=0)
        ax.text(0.01, 0.02, "λ₁ < 1/γ: vanishing guaranteed", transform=ax.transAxes, fontsize=8, color="#1f77b4")
        ax.set_ylim(min(lo, bound * 0.9, 0) if lo < 0 else min(lo, bound * 0.9), max(hi, bound * 1.1))
    _diverged_line(ax, run)
    ax.set_xlabel("update")
    ax.set_ylabel("singular value / eigenvalue modulus")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    _title(fig, "Recurrent weights: λ₁ against the 1/γ bound (above it is necessary for exploding)",
           _config_text(run))
    return fig


def _initial_spectral(run: R.Run, names: list[str]) -> dict:
    """λ₁ and spectral radius of the initial W_rec matrices (params_init.npz), as update 0."""
    out = {}
    try:
        with np.load(run.path / "params_init.npz") as z:
            for name in names:
                if name in z.files and z[name].ndim == 2 and z[name].shape[0] == z[name].shape[1]:
                    W = np.asarray(z[name], float)
                    out[name] = {"sv_max": float(np.linalg.norm(W, 2)),
                                 "radius": float(np.max(np.abs(np.linalg.eigvals(W))))}
    except (OSError, ValueError, KeyError, np.linalg.LinAlgError):
        return {}
    return out


def fig_postmortem(run: R.Run, pm: dict | None) -> Figure | None:
    """Per-step backprop norms of the batch that diverged, replayed at the last finite parameters;
    steps whose norm is itself non-finite are marked at the top. None when no step is finite."""
    if not pm or "backprop_norms" not in pm:
        return None
    lag = R.to_lag(np.atleast_2d(np.asarray(pm["backprop_norms"], float)))
    finite = np.isfinite(lag) & (lag > 0)
    if not finite.any():
        return None
    fig = _figure()
    ax = fig.add_subplot()
    top = np.nanmax(np.where(finite, lag, np.nan)) * 3
    for i, row in enumerate(lag):
        n = int(np.sum(~np.isnan(row)))
        k = np.arange(n)
        col = COLORS[i % len(COLORS)]
        ax.plot(k, np.where(finite[i, :n], row[:n], np.nan), lw=1.4, color=col, marker="o" if n <= 60 else None,
                ms=3, label=f"layer {i}" if len(lag) > 1 else "failing batch")
        bad = k[~np.isfinite(row[:n]) & ~np.isnan(row[:n])]
        if len(bad):
            ax.scatter(bad, np.full(len(bad), top), marker="x", color="#d62728", s=30,
                       label="non-finite (inf)" if i == 0 else None)
    ax.set_yscale("log")
    ax.set_xlabel("time lag T − k")
    ax.set_ylabel("‖∂E/∂x_k‖")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    _title(fig, f"Divergence post-mortem: update {pm.get('update')} replayed, loss {R.fmt_any(pm.get('loss'))}, "
           f"‖g‖ = {R.fmt_any(pm.get('norm'))}", _config_text(run))
    return fig


def run_figures(run: R.Run, warnings: list[str] | None = None) -> dict[str, Figure]:
    """Every figure of one run, by file stem; a damaged file costs only its figures (a warning)."""
    warnings = warnings if warnings is not None else []
    out: dict[str, Figure] = {}
    trace = metrics = None
    try:
        trace = R.load_trace(run.path)
    except Exception as e:  # noqa: BLE001 - the run is marked, its other figures still drawn
        warnings.append(f"{run.path}: {e}")
        exists = (run.path / "trace.csv").exists()
        R._problem(run, "corrupt" if exists else "missing", "trace.csv: unreadable" if exists else "no trace.csv")
    try:
        metrics = R.load_metrics(run.path)
    except Exception as e:  # noqa: BLE001
        warnings.append(f"{run.path}: {e}")
    builders = [
        ("grad_norm", lambda: fig_grad_norm(run, trace) if trace else None),
        ("backprop_norms", lambda: fig_backprop(run, R.load_backprop(run.path))),
        ("contributions", lambda: fig_contributions(run, R.load_probes(run.path))),
        ("loss_error", lambda: fig_loss_error(run, trace, metrics or [])),
        ("spectral", lambda: fig_spectral(run, metrics or [])),
        ("postmortem", lambda: fig_postmortem(run, R.postmortem(run.path))
         if (run.info or {}).get("status") == "diverged" else None),
    ]
    for name, build in builders:
        try:
            with _warnings.catch_warnings():   # e.g. "no positive values" on a log axis: draw anyway
                _warnings.simplefilter("ignore")
                fig = build()
        except Exception as e:  # noqa: BLE001 - one bad file must not end the report
            warnings.append(f"{run.path}: figure {name}: {type(e).__name__}: {R._short(e)}")
            fig = None
        if fig is not None:
            out[name] = fig
    return out


# ---------------------------------------------------------------------------------------------
# A sweep

LENGTH_KEYS = ("task.length", "task.max_length", "task.min_length")
PANEL_KEYS = ("model.init", "model.cell")


def _line_keys(rep: R.Report, x: str | None, panel: str | None, pair: str | None) -> list[str]:
    """Keys that tell lines apart: the pair key (method) and the keys tied to it; else every swept
    key but x, the panel, seed."""
    runs = [r for r in rep.runs if r.finished]
    if pair and pair in rep.swept:
        return [pair] + [k for k in R.tied_keys(runs, pair, rep.swept) if k not in (x, panel, "seed")
                         and not (panel and k in R.tied_keys(runs, panel, rep.swept))]
    return [k for k in rep.swept if k not in (x, panel, "seed")]


def _line_label(keys: list[str], vals: tuple) -> str:
    if not keys:
        return "all runs"
    names = R.short_names(keys)
    first = R.fmt_value(vals[0])
    rest = [f"{names[k]}={R.fmt_value(v)}" for k, v in zip(keys[1:], vals[1:])]
    return first + (f" ({', '.join(rest)})" if rest else "")


def _panel_label(rep: R.Report, panel: str | None, value, runs) -> str:
    if panel is None:
        return ""
    tied = [k for k in R.tied_keys(runs, panel, rep.swept) if k != "seed"]
    extra = [R.fmt_value(next(r.value(k) for r in runs if R._canon(r.value(panel)) == value)) for k in tied]
    return f"{R.short_names([panel])[panel]}: {R.fmt_value(value)}" + (f" ({', '.join(extra)})" if extra else "")


def sweep_axes(rep: R.Report, pair: str | None = None) -> tuple[str | None, str | None, list[str]]:
    """(x key, panel key, line keys) of the sweep figures."""
    x = next((k for k in LENGTH_KEYS if k in rep.swept), None)
    runs = [r for r in rep.runs if r.finished]
    panel = next((k for k in PANEL_KEYS if k in rep.swept and k != pair
                  and not (pair and k in R.tied_keys(runs, pair, rep.swept))), None)
    return x, panel, _line_keys(rep, x, panel, pair or R.default_pair_key(rep))


def _by_panel_line(rep, x, panel, lines):
    runs = [r for r in rep.runs if r.finished]
    panels = sorted({R._canon(r.value(panel)) for r in runs}, key=R._sort_key) if panel else [None]
    line_vals = sorted({R.group_key(r, lines) for r in runs}, key=lambda t: tuple(R._sort_key(v) for v in t))
    return runs, panels, line_vals


def _length_panels(runs, x, panels, height):
    """The sorted lengths, their span, and a figure with one shared-y panel per init."""
    xs_all = sorted({R._canon(r.value(x)) for r in runs}, key=R._sort_key)
    span = (max(xs_all) - min(xs_all)) if len(xs_all) > 1 else 1.0
    fig = _figure(max(min(5.2 * len(panels), 16) + 1.5, 8.5), height)
    return xs_all, span, fig, fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]


def _finish_length_panel(ax, first: bool, xs_all, x, ylabel: str, title: str) -> None:
    """Ticks at the swept lengths, labels (y on the first panel only, the axis is shared), grid."""
    ax.set_xticks(xs_all)
    ax.set_xlabel(f"sequence length ({x})")
    if first:
        ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)


def fig_success_vs_length(rep: R.Report, pair: str | None = None) -> Figure | None:
    """Success rate against sequence length: one line per method, one panel per init (Fig. 7)."""
    x, panel, lines = sweep_axes(rep, pair)
    if x is None:
        return None
    runs, panels, line_vals = _by_panel_line(rep, x, panel, lines)
    if not runs:
        return None
    xs_all, span, fig, axes = _length_panels(runs, x, panels, 5.0)
    for pi, pv in enumerate(panels):
        ax = axes[pi]
        for li, lv in enumerate(line_vals):
            pts = []
            for xv in xs_all:
                sel = [r for r in runs if R._canon(r.value(x)) == xv and R.group_key(r, lines) == lv
                       and (panel is None or R._canon(r.value(panel)) == pv)]
                if sel:
                    ok = sum(bool((r.info or {}).get("success")) for r in sel)
                    pts.append((xv, ok, len(sel)))
            if not pts:
                continue
            off = (li - (len(line_vals) - 1) / 2) * 0.02 * span    # keep overlapping lines visible
            px = [p[0] + off for p in pts]
            py = [100 * p[1] / p[2] for p in pts]
            col = COLORS[li % len(COLORS)]
            ax.plot(px, py, marker=MARKERS[li % len(MARKERS)], color=col, lw=1.8, ms=7,
                    label=_line_label(lines, lv))
            for xx, yy, p in zip(px, py, pts):   # stacked per line, above (below at the top) the point
                dy = 9 + 10 * li if yy < 60 else -(15 + 10 * li)
                ax.annotate(f"{p[1]}/{p[2]}", (xx, yy), textcoords="offset points", xytext=(0, dy),
                            ha="center", fontsize=8, color=col, fontweight="bold")
        ax.set_ylim(-6, 106)
        _finish_length_panel(ax, pi == 0, xs_all, x, "rate of success (%)",
                             _panel_label(rep, panel, pv, runs) or "all runs")
    axes[-1].legend(fontsize=8, title=R.short_names(lines)[lines[0]] if lines else None, title_fontsize=8,
                    loc="lower left")
    task = next((r.config.get("task.name") for r in runs if r.config), "")
    crit = next((r.config.get("eval.success_error") for r in runs if r.config), None)
    _title(fig, f"Rate of success against sequence length — {task}",
           (f"success: under {100 * crit:g}% of fresh sequences misclassified · " if crit else "")
           + "labels: succeeded / finished runs")
    return fig


def fig_updates_to_success(rep: R.Report, pair: str | None = None) -> Figure | None:
    """Updates each successful run needed, per length, one marker colour per method."""
    x, panel, lines = sweep_axes(rep, pair)
    runs, panels, line_vals = _by_panel_line(rep, x, panel, lines)
    ok = [r for r in runs if (r.info or {}).get("success") and (r.info or {}).get("success_update")]
    if not ok or x is None:
        return None
    xs_all, span, fig, axes = _length_panels(runs, x, panels, 4.8)
    for pi, pv in enumerate(panels):
        ax = axes[pi]
        for li, lv in enumerate(line_vals):
            sel = [r for r in ok if R.group_key(r, lines) == lv and (panel is None or R._canon(r.value(panel)) == pv)]
            off = (li - (len(line_vals) - 1) / 2) * 0.03 * span
            col = COLORS[li % len(COLORS)]
            jit = [0.012 * span * ((k % 5) - 2) for k in range(len(sel))]   # seeds that tie stay visible
            ax.scatter([float(r.value(x)) + off + j for r, j in zip(sel, jit)], [r.info["success_update"] for r in sel],
                       color=col, marker=MARKERS[li % len(MARKERS)], s=30, alpha=0.8, label=_line_label(lines, lv))
            means = []
            for xv in xs_all:
                v = [r.info["success_update"] for r in sel if R._canon(r.value(x)) == xv]
                if v:
                    means.append((xv + off, float(np.mean(v))))
            if means:
                ax.plot(*zip(*means), color=col, lw=1, alpha=0.7)
        _finish_length_panel(ax, pi == 0, xs_all, x, "updates to success",
                             _panel_label(rep, panel, pv, runs) or "successful runs")
        ax.set_ylim(bottom=0)
    axes[-1].legend(fontsize=8, loc="upper left")
    _title(fig, "Updates to success (successful runs only; one marker per run, line: mean)")
    return fig


def fig_norm_max(rep: R.Report, pair: str | None = None) -> Figure | None:
    """Largest and median pre-transform gradient norm of each run (from run.json), log scale."""
    x, panel, lines = sweep_axes(rep, pair)
    runs, panels, line_vals = _by_panel_line(rep, x, panel, lines)
    runs = [r for r in runs if R._finite((r.info or {}).get("norm_max")) is not None]
    if not runs:
        return None
    xs_all = sorted({R._canon(r.value(x)) for r in runs}, key=R._sort_key) if x else [None]
    pos = {v: i for i, v in enumerate(xs_all)}
    fig = _figure(min(5.2 * len(panels), 16) + 4.0, 4.8)
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    for pi, pv in enumerate(panels):
        ax = axes[pi]
        for li, lv in enumerate(line_vals):
            sel = [r for r in runs if R.group_key(r, lines) == lv and (panel is None or R._canon(r.value(panel)) == pv)]
            if not sel:
                continue
            off = (li - (len(line_vals) - 1) / 2) * 0.22
            col = COLORS[li % len(COLORS)]
            xx = [pos[R._canon(r.value(x)) if x else None] + off for r in sel]
            ax.scatter(xx, [r.info["norm_max"] for r in sel], color=col, marker=MARKERS[li % len(MARKERS)],
                       s=34, label=f"{_line_label(lines, lv)}: max")
            ax.scatter(xx, [r.info.get("norm_median") or np.nan for r in sel], facecolors="none",
                       edgecolors=col, marker=MARKERS[li % len(MARKERS)], s=22, label=f"{_line_label(lines, lv)}: median")
            dv = [(xx[i], r.info["norm_max"]) for i, r in enumerate(sel) if r.run_status == "diverged"]
            if dv:
                ax.scatter(*zip(*dv), marker="x", color="k", s=60, zorder=3)
        ax.set_yscale("log")
        ax.set_xticks(range(len(xs_all)))
        ax.set_xticklabels([R.fmt_value(v) for v in xs_all])
        ax.set_xlabel(f"sequence length ({x})" if x else "")
        if pi == 0:
            ax.set_ylabel("pre-transform ‖∂E/∂θ‖ over the run")
        ax.set_title(_panel_label(rep, panel, pv, runs) or "all runs", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    _title(fig, "Largest (filled) and median (open) pre-transform gradient norm of each run; × diverged")
    return fig


def fig_norm_overlay(rep: R.Report, pair: str | None = None, per_line: int = 5,
                     warnings: list[str] | None = None) -> Figure | None:
    """Pre-transform gradient norm over updates of every run (at most ``per_line`` per method and
    panel), one panel per length: where the norm explodes, and for which method."""
    x, panel, lines = sweep_axes(rep, pair)
    runs, _, line_vals = _by_panel_line(rep, x, panel, lines)
    if not runs:
        return None
    cols = sorted({R._canon(r.value(x)) for r in runs}, key=R._sort_key) if x else [None]
    fig = _figure(min(4.4 * len(cols), 17) + 1, 4.6)
    axes = fig.subplots(1, len(cols), squeeze=False, sharey=True)[0]
    drawn = False
    for ci, cv in enumerate(cols):
        ax = axes[ci]
        for li, lv in enumerate(line_vals):
            sel = [r for r in runs if R.group_key(r, lines) == lv and (x is None or R._canon(r.value(x)) == cv)]
            for k, r in enumerate(sel[:per_line]):
                try:
                    tr = R.load_trace(r.path)
                except Exception as e:  # noqa: BLE001
                    (warnings if warnings is not None else []).append(f"{r.path}: {e}")
                    continue
                xs, _, med, _ = bucket(tr["update"], _positive(tr["norm_before"]), 400)
                ax.plot(xs, med, color=COLORS[li % len(COLORS)], lw=0.9, alpha=0.75,
                        label=_line_label(lines, lv) if k == 0 else None)
                drawn = True
        ax.set_yscale("log")
        ax.set_xlabel("update")
        if ci == 0:
            ax.set_ylabel("‖∂E/∂θ‖ before the transform")
        ax.set_title(f"{R.short_names([x])[x]} = {R.fmt_value(cv)}" if x else "all runs", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    if not drawn:
        return None
    axes[0].legend(fontsize=8, loc="upper left")
    _title(fig, "Gradient norm over training, every run (median per bucket of updates)")
    return fig


def sweep_figures(rep: R.Report, pair: str | None = None, warnings: list[str] | None = None) -> dict[str, Figure]:
    out = {}
    for name, build in [("success_vs_length", lambda: fig_success_vs_length(rep, pair)),
                        ("updates_to_success", lambda: fig_updates_to_success(rep, pair)),
                        ("norm_max", lambda: fig_norm_max(rep, pair)),
                        ("norm_overlay", lambda: fig_norm_overlay(rep, pair, warnings=warnings))]:
        try:
            with _warnings.catch_warnings():
                _warnings.simplefilter("ignore")
                fig = build()
        except Exception as e:  # noqa: BLE001
            (warnings if warnings is not None else []).append(f"figure {name}: {type(e).__name__}: {R._short(e)}")
            fig = None
        if fig is not None:
            out[name] = fig
    return out


def representative_runs(rep: R.Report, pair: str | None = None) -> list[R.Run]:
    """One finished run per value of the pair key (method), at the longest length, lowest seed:
    the runs whose own figures a sweep report shows."""
    x, panel, lines = sweep_axes(rep, pair)
    runs = [r for r in rep.runs if r.finished and not r.problem]
    if not runs:
        return []
    if x:
        longest = max((R._canon(r.value(x)) for r in runs), key=R._sort_key)
        runs = [r for r in runs if R._canon(r.value(x)) == longest]
    seen, out = set(), []
    for r in sorted(runs, key=lambda r: R._sort_key(r.value("seed"))):
        k = (R.group_key(r, lines), R._canon(r.value(panel)) if panel else None)
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out[:8]
