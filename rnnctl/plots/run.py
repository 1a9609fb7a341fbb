"""Figures of one run: gradient norm over updates (before/after the transform, threshold),
per-step backprop norms against the time lag (heatmap over training and curves), temporal
contributions at probe updates, loss and error (for a real-data run: loss and the validation
metric, best update marked), λ₁ of W_rec with the 1/γ bound, error against length (a range
run: plots.lengths), the post-mortem of a diverged run. Each ``fig_*`` returns a Figure, or None when the run has nothing to show;
``run_figures`` draws them all from the run folder (read through ``rnnctl.store``)."""

from __future__ import annotations

import warnings as _warnings
from pathlib import Path

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .. import store
from ..errors import RunError
from ..report import backprop_rows, fmt, fmt_any, is_num, is_real, metric_value, postmortem, to_lag
from ..store import RunRecord, mark_trace_unreadable
from .lengths import fig_bucket_error_over_training, fig_error_vs_length
from .style import (COLORS, bucket, cell_edges, colormap, config_text, error_axis, even_picks, figure, mark_divergence, positive,
                    suptitle)


def fig_grad_norm(run: RunRecord, trace: dict) -> Figure | None:
    """Global gradient norm per update before and after the transform (log scale), threshold."""
    if not len(trace.get("update", [])):
        return None
    u = trace["update"]
    fig = figure()
    ax = fig.add_subplot()
    x, lo, med, hi = bucket(u, positive(trace["norm_before"]))
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
        x2, lo2, med2, hi2 = bucket(u, positive(trace["norm_after"]))
        ax.plot(x2, med2, color=COLORS[2], lw=1.0, alpha=0.9, marker="x" if mk else None, ms=5,
                label="after the transform" + (" (median per bucket)" if reduced else ""))
    c = run.config or {}
    method = c.get("train.gradient.method")
    if "threshold" in trace and np.isfinite(trace["threshold"]).any():
        xt, _, mt, _ = bucket(u, trace["threshold"])
        ax.plot(xt, mt, color="k", lw=1.2, ls="--", label="threshold c")
    elif method in ("norm",) and is_num(c.get("train.gradient.threshold")):
        ax.axhline(float(c["train.gradient.threshold"]), color="k", lw=1.2, ls="--",
                   label=f"threshold c = {c['train.gradient.threshold']:g}")
    mark_divergence(ax, run)
    ax.set_yscale("log")
    ax.set_xlabel("update")
    ax.set_ylabel("‖∂E/∂θ‖ (global L2 norm)")
    rate = (run.info or {}).get("clip_rate")
    suptitle(fig, f"Gradient norm over training — method {method}"
           + (f", fired on {100 * rate:.1f}% of updates" if rate is not None and method not in (None, "none") else ""),
           config_text(run))
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    return fig


def fig_backprop(run: RunRecord, bp: tuple | None, peaks=()) -> Figure | None:
    """‖∂E/∂x_k‖ against the lag T − k: a heatmap over training and curves at a few updates.
    ``peaks``: the updates among ``bp``'s that were kept for their large norms (log.backprop_every
    auto); they show in the heatmap, saturated, but set neither its colour range nor the curves."""
    if bp is None:
        return None
    updates, norms = bp
    typical = ~np.isin(updates, np.asarray(peaks, dtype=np.int64))
    lag = to_lag(norms)                                    # (n, T_max + 1), column = lag
    width = int(np.max(np.sum(~np.isnan(lag), axis=1))) if lag.size else 0
    if width == 0:
        return None
    lag = lag[:, :width]
    pos = positive(lag)
    if not np.isfinite(pos).any():
        return None
    fig = figure(12, 4.8)
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.15, 1])
    scale = pos[typical] if np.isfinite(pos[typical]).any() else pos
    vmax = np.nanmax(scale)
    vmin = max(np.nanmin(scale), vmax * 1e-12)
    cmap = colormap("viridis")
    edges_y = cell_edges(updates)
    im = ax1.pcolormesh(np.arange(width + 1) - 0.5, edges_y, np.ma.masked_invalid(pos),
                        norm=LogNorm(vmin=vmin, vmax=vmax), cmap=cmap, shading="flat")
    fig.colorbar(im, ax=ax1, label="‖∂E/∂x_k‖ (log scale)")
    ax1.set_xlabel("time lag T − k (steps back from the last step)")
    ax1.set_ylabel("update")
    ax1.set_title("over training (grey: exactly 0 or not recorded"
                  + ("; bright lines: the largest norms)" if not typical.all() else ")"), fontsize=9)
    ax1.set_facecolor("#dddddd")
    # curves at up to 6 updates spread over training
    good = np.flatnonzero(np.isfinite(pos).any(axis=1) & typical)   # a diverged batch's row may be all NaN
    if not len(good):
        good = np.flatnonzero(np.isfinite(pos).any(axis=1))
    pick = good[even_picks(updates[good], 6)]
    cm = colormap("plasma")
    for j, i in enumerate(pick):
        ax2.plot(np.arange(width), pos[i], color=cm(0.85 * j / max(len(pick) - 1, 1)), lw=1.3,
                 label=f"update {int(updates[i])}")
    ax2.set_yscale("log")
    ax2.set_xlabel("time lag T − k")
    ax2.set_ylabel("‖∂E/∂x_k‖")
    ax2.set_title("at chosen updates (falling to the right: vanishing; rising: exploding)", fontsize=9)
    ax2.grid(True, alpha=0.3)
    ax2.legend(fontsize=8)
    suptitle(fig, "Per-step backprop norm ‖∂E/∂x_k‖ against the time lag", config_text(run))
    return fig


def fig_contributions(run: RunRecord, probes: list[tuple[int, Path]], max_probes: int = 3) -> Figure | None:
    """Temporal contributions ‖∂E_t/∂x_k‖ (top) and Jacobian norms ‖∂x_t/∂x_k‖ (bottom) at up to
    ``max_probes`` probe updates (first, middle, last). When a single step t is scored (the
    temporal-order problem scores the last one), its contributions are drawn as a curve over k."""
    if not probes:
        return None
    pick = [probes[i] for i in sorted({0, len(probes) // 2, len(probes) - 1})][:max_probes]
    loaded = []
    for upd, path in pick:
        try:
            z = store.read_probe(path)
            loaded.append((upd, np.array(z["contributions"], float), np.array(z["jacobian_norms"], float)))
        except (RunError, KeyError):
            continue
    if not loaded:
        return None
    fig = figure(4.3 * len(loaded) + 1.0, 8.0)
    axes = fig.subplots(2, len(loaded), squeeze=False)
    for j, (upd, C, J) in enumerate(loaded):
        ax = axes[0, j]
        Cp = positive(C)
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
            im = ax.imshow(np.ma.masked_invalid(Cp), origin="lower", aspect="auto", cmap=colormap("viridis"),
                           norm=LogNorm(vmin=max(v.min(), v.max() * 1e-12), vmax=v.max()),
                           extent=(-0.5, C.shape[1] - 0.5, 0.5, C.shape[0] + 0.5))
            fig.colorbar(im, ax=ax, label="‖∂E_t/∂x_k‖")
            ax.set_xlabel("step k")
            ax.set_ylabel("scored step t")
        ax.set_title(f"contributions, update {upd}", fontsize=9)
        ax = axes[1, j]
        Jp = positive(J)
        v = Jp[np.isfinite(Jp)]
        if len(v):
            im = ax.imshow(np.ma.masked_invalid(Jp), origin="lower", aspect="auto", cmap=colormap("magma"),
                           norm=LogNorm(vmin=max(v.min(), v.max() * 1e-12), vmax=v.max()))
            fig.colorbar(im, ax=ax, label="‖∂x_t/∂x_k‖₂")
        ax.set_xlabel("step k")
        ax.set_ylabel("step t")
        ax.set_title(f"Jacobian norms (eq. 5), update {upd}", fontsize=9)
    suptitle(fig, "Temporal contributions at probe updates (Pascanu et al. eq. 3–5)", config_text(run))
    return fig


def fig_loss_error(run: RunRecord, trace: dict | None, metrics: list[dict]) -> Figure | None:
    """Training loss per update (bucketed), evaluation loss and error at each evaluation."""
    if not metrics and not (trace and len(trace.get("update", []))):
        return None
    fig = figure(9, 6)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    _train_loss(ax1, trace)
    if metrics:
        mu = [m["update"] for m in metrics]
        ax1.plot(mu, _floats(m.get("loss") for m in metrics), "o-", color=COLORS[1], ms=3, lw=1.3,
                 label="evaluation loss (fresh sequences)")
        ax2.plot(mu, [100 * m["error"] if m.get("error") is not None else np.nan for m in metrics],
                 "o-", color=COLORS[3], ms=3, lw=1.3, label="evaluation error")
    se = (run.config or {}).get("eval.success_error")
    if is_num(se):
        ax2.axhline(100 * se, color="k", ls="--", lw=1, label=f"success below {100 * se:g}%")
    su = (run.info or {}).get("success_update")
    if su:
        ax2.axvline(su, color=COLORS[2], lw=1.2, label=f"solved at update {su}")
    mark_divergence(ax2, run)
    ax1.set_ylabel("loss (cross-entropy per sequence)" if (run.config or {}).get("task.name") not in
                   ("addition", "multiplication") else "loss (squared error)")
    ys = np.concatenate([np.asarray(l.get_ydata(), float) for l in ax1.get_lines()] or [np.zeros(0)])
    ys = ys[np.isfinite(ys) & (ys > 0)]
    if len(ys) and ys.max() / ys.min() > 10:     # log only where the loss spans decades
        ax1.set_yscale("log")
    ax1.grid(True, alpha=0.3)
    ax1.legend(fontsize=8)
    error_axis(ax2, "update")
    suptitle(fig, f"Loss and error over training — {(run.info or {}).get('status', run.status)}", config_text(run))
    return fig


def _train_loss(ax, trace: dict | None) -> None:
    """The training batch loss per update: the median per bucket, min–max shaded when bucketed."""
    if trace and len(trace.get("update", [])):
        x, lo, med, hi = bucket(trace["update"], trace["loss"])
        if len(x) < len(trace["update"]):
            ax.fill_between(x, lo, hi, color=COLORS[0], alpha=0.2, lw=0)
        ax.plot(x, med, color=COLORS[0], lw=0.9, label="training batch loss")


def _floats(values) -> np.ndarray:
    """Numbers or None (a record without the value) -> float array, None as NaN."""
    return np.array([v if is_num(v) else np.nan for v in values], float)


def fig_valid_metric(run: RunRecord, trace: dict | None, metrics: list[dict]) -> Figure | None:
    """A real-data run: training loss per update and validation loss at each evaluation (top);
    the selection metric on the validation split over updates, the best update marked and the
    test value (best parameters) dashed (bottom). Records without a "valid" dict are skipped."""
    info = run.info or {}
    recs = [m for m in metrics if isinstance(m.get("valid"), dict)]
    metric = info.get("metric") or next((k for m in recs for k in m["valid"] if k != "loss"), None) or "loss"
    if not recs and not (trace and len(trace.get("update", []))):
        return None
    fig = figure(9, 6)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    _train_loss(ax1, trace)
    mu = np.array([m["update"] for m in recs], float)
    if len(recs):
        ax1.plot(mu, _floats(m["valid"].get("loss", m.get("loss")) for m in recs), "o-", color=COLORS[1], ms=3,
                 lw=1.3, label="validation loss")
        ax2.plot(mu, _floats(m["valid"].get(metric) for m in recs), "o-", color=COLORS[3], ms=3, lw=1.3,
                 label=f"validation {metric}")
    best, best_v = info.get("best_update"), metric_value(info, f"valid.{metric}")
    if is_num(best):
        ax2.axvline(best, color=COLORS[2], lw=1.2, label=f"best update {best}"
                    + (" (stopped early)" if info.get("stopped_early") else ""))
        if best_v is not None:
            ax2.plot([best], [best_v], marker="*", ms=14, color=COLORS[2], ls="none",
                     label=f"best validation {metric} {fmt(best_v)}")
    test_v = metric_value(info, f"test.{metric}")
    if test_v is not None:
        ax2.axhline(test_v, color="k", ls="--", lw=1, label=f"test {metric} {fmt(test_v)} (best parameters)")
    base = metric_value(info, f"test.baseline_{metric}")
    if base is not None:
        ax2.axhline(base, color="#7f7f7f", ls=":", lw=1.2, label=f"naive last-value forecast {fmt(base)}")
    mark_divergence(ax2, run)
    ax1.set_ylabel("loss")
    ys = np.concatenate([np.asarray(l.get_ydata(), float) for l in ax1.get_lines()] or [np.zeros(0)])
    ys = ys[np.isfinite(ys) & (ys > 0)]
    if len(ys) and ys.max() / ys.min() > 10:     # log only where the loss spans decades
        ax1.set_yscale("log")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    mode = info.get("metric_mode")
    ax2.set_ylabel(f"{metric} (validation)" + (" ↓" if mode == "min" else " ↑" if mode == "max" else ""))
    ax2.set_xlabel("update")
    d = info.get("dataset") if isinstance(info.get("dataset"), dict) else {}
    suptitle(fig, f"Loss and validation {metric} over training — {d.get('source') or 'real data'}, "
                  f"{info.get('status', run.status)}", config_text(run))
    return fig


def fig_spectral(run: RunRecord, metrics: list[dict]) -> Figure | None:
    """λ₁ (largest singular value) and spectral radius of W_rec at each evaluation, with 1/γ."""
    recs = [m for m in metrics if isinstance(m.get("spectral"), dict) and m["spectral"]]
    if not recs:
        return None
    names = list(dict.fromkeys(k for m in recs for k in m["spectral"]))
    init = initial_spectral(run, names)
    if init:
        recs = [{"update": 0, "spectral": init, "bound": recs[0].get("bound")}, *recs]
    fig = figure()
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
    mark_divergence(ax, run)
    ax.set_xlabel("update")
    ax.set_ylabel("singular value / eigenvalue modulus")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    suptitle(fig, "Recurrent weights: λ₁ against the 1/γ bound (above it is necessary for exploding)",
           config_text(run))
    return fig


def initial_spectral(run: RunRecord, names: list[str]) -> dict:
    """λ₁ and spectral radius of the initial W_rec matrices (the parameters saved at the start of
    the run), as update 0; {} when they were not saved or cannot be read."""
    out = {}
    try:
        z = store.read_params(run.path, "init")
        for name in names:
            if name in z and z[name].ndim == 2 and z[name].shape[0] == z[name].shape[1]:
                W = np.asarray(z[name], float)
                out[name] = {"sv_max": float(np.linalg.norm(W, 2)),
                             "radius": float(np.max(np.abs(np.linalg.eigvals(W))))}
    except (RunError, ValueError, np.linalg.LinAlgError):
        return {}
    return out


def fig_postmortem(run: RunRecord, pm: dict | None) -> Figure | None:
    """Per-step backprop norms of the batch that diverged, replayed at the last finite parameters;
    steps whose norm is itself non-finite are marked at the top. When no step is finite (the
    forward pass overflowed, so every ‖∂E/∂x_k‖ is NaN) the figure says so and shows how the
    gradient norm grew over the last recorded updates instead."""
    if not pm or "backprop_norms" not in pm:
        return None
    lag = to_lag(np.atleast_2d(np.asarray(pm["backprop_norms"], float)))
    finite = np.isfinite(lag) & (lag > 0)
    fig = figure()
    ax = fig.add_subplot()
    if not finite.any():
        _postmortem_without_steps(ax, pm, lag)
        suptitle(fig, f"Divergence post-mortem: update {pm.get('update')} replayed, loss {fmt_any(pm.get('loss'))}, "
               f"‖g‖ = {fmt_any(pm.get('norm'))}", config_text(run))
        return fig
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
    suptitle(fig, f"Divergence post-mortem: update {pm.get('update')} replayed, loss {fmt_any(pm.get('loss'))}, "
           f"‖g‖ = {fmt_any(pm.get('norm'))}", config_text(run))
    return fig


def _postmortem_without_steps(ax, pm: dict, lag: np.ndarray) -> None:
    """The post-mortem of a replay with no finite per-step norm: ‖g‖ before the transform over the
    last recorded updates (when the trace has them), the failing update marked, and why there
    is no curve of ‖∂E/∂x_k‖."""
    recent = pm.get("recent") or {}
    u = np.asarray(recent.get("update", []), float)
    g = np.asarray(recent.get("norm_before", []), float)
    ok = np.isfinite(g) & (g > 0)
    if ok.any():
        ax.plot(u[ok], g[ok], color=COLORS[0], marker="o", ms=4, lw=1.4, label="‖g‖ before the transform")
        ax.set_yscale("log")
        ax.set_ylabel("‖g‖ (recorded updates)")
    else:
        ax.set_yticks([])
    if pm.get("update") is not None:
        ax.axvline(float(pm["update"]), color="#d62728", ls="--", lw=1.2, label="the failing update")
        ax.set_xlim(min([*u.tolist(), float(pm["update"])]) - 1, float(pm["update"]) + 1)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left")
    ax.set_xlabel("update")
    n_nan, n = int(np.isnan(lag).sum()), lag.size
    ax.text(0.98, 0.5, f"update {pm.get('update')}, replayed: loss {fmt_any(pm.get('loss'))},\n"
            f"‖∂E/∂x_k‖ non-finite at every step ({n_nan} of {n} NaN):\n"
            "the forward pass overflowed, so there is\nno error signal to draw against the lag",
            transform=ax.transAxes, ha="right", va="center", fontsize=9,
            bbox={"boxstyle": "round", "fc": "white", "ec": "#d62728", "alpha": 0.9})
    ax.grid(True, alpha=0.3)


def run_figures(run: RunRecord, warnings: list[str] | None = None, pm: dict | None = None) -> dict[str, Figure]:
    """Every figure of one run, by file stem; a damaged file costs only its figures (a warning).
    ``pm``: the run's post-mortem when the caller has replayed it already (else it is replayed
    here, for a diverged run)."""
    warnings = warnings if warnings is not None else []
    out: dict[str, Figure] = {}
    trace = metrics = None
    try:
        trace = store.read_trace(run.path)
    except Exception as e:  # noqa: BLE001 - the run is marked, its other figures still drawn
        warnings.append(f"{run.path}: {e}")
        mark_trace_unreadable(run)
    try:
        metrics = store.read_metrics(run.path)
    except Exception as e:  # noqa: BLE001
        warnings.append(f"{run.path}: {e}")
    builders = [
        ("grad_norm", lambda: fig_grad_norm(run, trace) if trace else None),
        ("backprop_norms", lambda: fig_backprop(run, backprop_rows(run.path), store.backprop_peak_updates(run.path))),
        ("contributions", lambda: fig_contributions(run, store.read_probes(run.path))),
        ("valid_metric", lambda: fig_valid_metric(run, trace, metrics or [])) if is_real(run.info) else
        ("loss_error", lambda: fig_loss_error(run, trace, metrics or [])),
        ("spectral", lambda: fig_spectral(run, metrics or [])),
        ("error_vs_length", lambda: fig_error_vs_length(run, metrics or [])),
        ("bucket_error_over_training", lambda: fig_bucket_error_over_training(run, metrics or [])),
        ("postmortem", lambda: fig_postmortem(run, pm if pm is not None else postmortem(run.path))
         if (run.info or {}).get("status") == "diverged" else None),
    ]
    for name, build in builders:
        try:
            with _warnings.catch_warnings():   # e.g. "no positive values" on a log axis: draw anyway
                _warnings.simplefilter("ignore")
                fig = build()
        except Exception as e:  # noqa: BLE001 - one bad file must not end the report
            warnings.append(f"{run.path}: figure {name}: {type(e).__name__}: {store.short_error(e)}")
            fig = None
        if fig is not None:
            out[name] = fig
    return out
