"""Figures of a sweep (or any set of runs): success rate against sequence length (Pascanu et al.
2013, Fig. 7: one line per method, one panel per init), updates to success, the largest gradient
norm of each run, norm traces overlaid. The x axis is the swept length, panels the swept init (or
cell), lines the compared method with every other swept setting (``sweep_axes``). Real-data runs: their
selection metric on valid and test by setting, and the validation curves of every run."""

from __future__ import annotations

import warnings as _warnings

import numpy as np
from matplotlib.figure import Figure

from .. import store
from ..report import (Report, canon, default_pair_key, finite, fmt_value, group_key, is_real, metric_value,
                      short_names, sort_key, tied_keys)
from ..store import RunRecord
from .lengths import fig_generalisation
from .style import COLORS, MARKERS, bucket, figure, legend_outside, positive, suptitle


LENGTH_KEYS = ("task.length", "task.max_length", "task.min_length")
PANEL_KEYS = ("model.init", "model.cell")


def _line_keys(rep: Report, x: str | None, panel: str | None, pair: str | None) -> list[str]:
    """Keys that tell lines apart: every swept key but x, the panel, seed and the keys tied to x or
    the panel, the pair key (method) first. A key zipped with the method but not fixed by it (Ω in
    SGD / SGD-C / SGD-CR: method none, norm, norm) must stay a line key, or SGD-C and SGD-CR would
    be drawn as one line."""
    runs = [r for r in rep.runs if r.finished]
    axes = [k for k in (x, panel) if k]
    fixed = {k for a in axes for k in tied_keys(runs, a, rep.swept)}
    keys = [k for k in rep.swept if k not in axes and k != "seed" and k not in fixed]
    if pair in keys:
        keys.remove(pair)
        keys.insert(0, pair)
    return keys


def _line_label(keys: list[str], vals: tuple) -> str:
    if not keys:
        return "all runs"
    names = short_names(keys)
    first = fmt_value(vals[0])
    rest = [f"{names[k]}={fmt_value(v)}" for k, v in zip(keys[1:], vals[1:])]
    return first + (f" ({', '.join(rest)})" if rest else "")


def _panel_label(rep: Report, panel: str | None, value, runs) -> str:
    if panel is None:
        return ""
    tied = [k for k in tied_keys(runs, panel, rep.swept) if k != "seed" and k not in LENGTH_KEYS]   # the x axis
    extra = [fmt_value(next(r.value(k) for r in runs if canon(r.value(panel)) == value)) for k in tied]
    return f"{short_names([panel])[panel]}: {fmt_value(value)}" + (f" ({', '.join(extra)})" if extra else "")


def sweep_axes(rep: Report, pair: str | None = None) -> tuple[str | None, str | None, list[str]]:
    """(x key, panel key, line keys) of the sweep figures."""
    x = next((k for k in LENGTH_KEYS if k in rep.swept), None)
    runs = [r for r in rep.runs if r.finished]
    panel = next((k for k in PANEL_KEYS if k in rep.swept and k != pair
                  and not (pair and k in tied_keys(runs, pair, rep.swept))), None)
    return x, panel, _line_keys(rep, x, panel, pair or default_pair_key(rep))


def _by_panel_line(rep, x, panel, lines):
    runs = [r for r in rep.runs if r.finished]
    panels = sorted({canon(r.value(panel)) for r in runs}, key=sort_key) if panel else [None]
    line_vals = sorted({group_key(r, lines) for r in runs}, key=lambda t: tuple(sort_key(v) for v in t))
    return runs, panels, line_vals


def _length_panels(runs, x, panels, height):
    """The sorted lengths, their span, and a figure with one shared-y panel per init."""
    xs_all = sorted({canon(r.value(x)) for r in runs}, key=sort_key)
    span = (max(xs_all) - min(xs_all)) if len(xs_all) > 1 else 1.0
    fig = figure(max(min(5.2 * len(panels), 16) + 1.5, 8.5), height)
    return xs_all, span, fig, fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]


def _finish_length_panel(ax, first: bool, xs_all, x, ylabel: str, title: str) -> None:
    """Ticks at the swept lengths, labels (y on the first panel only, the axis is shared), grid."""
    ax.set_xticks(xs_all)
    ax.set_xlabel(f"sequence length ({x})")
    if first:
        ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)


def fig_success_vs_length(rep: Report, pair: str | None = None) -> Figure | None:
    """Success rate against sequence length: one line per method, one panel per init (Fig. 7)."""
    if rep.real and all(is_real(r.info) for r in rep.runs):
        return None                          # a real-data run never "succeeds"
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
                sel = [r for r in runs if canon(r.value(x)) == xv and group_key(r, lines) == lv
                       and (panel is None or canon(r.value(panel)) == pv)]
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
    # below the panels: a rate of 0 puts the lines at the bottom, where a legend inside would sit
    legend_outside(fig, axes[-1], title=short_names(lines)[lines[0]] if lines else None, title_fontsize=8)
    task = next((r.config.get("task.name") for r in runs if r.config), "")
    crit = next((r.config.get("eval.success_error") for r in runs if r.config), None)
    suptitle(fig, f"Rate of success against sequence length — {task}",
           (f"success: under {100 * crit:g}% of fresh sequences misclassified · " if crit else "")
           + "labels: succeeded / finished runs")
    return fig


def fig_updates_to_success(rep: Report, pair: str | None = None) -> Figure | None:
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
            sel = [r for r in ok if group_key(r, lines) == lv and (panel is None or canon(r.value(panel)) == pv)]
            off = (li - (len(line_vals) - 1) / 2) * 0.03 * span
            col = COLORS[li % len(COLORS)]
            jit = [0.012 * span * ((k % 5) - 2) for k in range(len(sel))]   # seeds that tie stay visible
            ax.scatter([float(r.value(x)) + off + j for r, j in zip(sel, jit)], [r.info["success_update"] for r in sel],
                       color=col, marker=MARKERS[li % len(MARKERS)], s=30, alpha=0.8, label=_line_label(lines, lv))
            means = []
            for xv in xs_all:
                v = [r.info["success_update"] for r in sel if canon(r.value(x)) == xv]
                if v:
                    means.append((xv + off, float(np.mean(v))))
            if means:
                ax.plot(*zip(*means), color=col, lw=1, alpha=0.7)
        _finish_length_panel(ax, pi == 0, xs_all, x, "updates to success",
                             _panel_label(rep, panel, pv, runs) or "successful runs")
        ax.set_ylim(bottom=0)
    axes[-1].legend(fontsize=8, loc="upper left")
    suptitle(fig, "Updates to success (successful runs only; one marker per run, line: mean)")
    return fig


def fig_norm_max(rep: Report, pair: str | None = None) -> Figure | None:
    """Largest and median pre-transform gradient norm of each run (from its summary), log scale."""
    x, panel, lines = sweep_axes(rep, pair)
    runs, panels, line_vals = _by_panel_line(rep, x, panel, lines)
    runs = [r for r in runs if finite((r.info or {}).get("norm_max")) is not None]
    if not runs:
        return None
    xs_all = sorted({canon(r.value(x)) for r in runs}, key=sort_key) if x else [None]
    pos = {v: i for i, v in enumerate(xs_all)}
    fig = figure(min(5.2 * len(panels), 16) + 4.0, 4.8)
    axes = fig.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    for pi, pv in enumerate(panels):
        ax = axes[pi]
        for li, lv in enumerate(line_vals):
            sel = [r for r in runs if group_key(r, lines) == lv and (panel is None or canon(r.value(panel)) == pv)]
            if not sel:
                continue
            off = (li - (len(line_vals) - 1) / 2) * 0.22
            col = COLORS[li % len(COLORS)]
            xx = [pos[canon(r.value(x)) if x else None] + off for r in sel]
            ax.scatter(xx, [r.info["norm_max"] for r in sel], color=col, marker=MARKERS[li % len(MARKERS)],
                       s=34, label=f"{_line_label(lines, lv)}: max")
            ax.scatter(xx, [r.info.get("norm_median") or np.nan for r in sel], facecolors="none",
                       edgecolors=col, marker=MARKERS[li % len(MARKERS)], s=22, label=f"{_line_label(lines, lv)}: median")
            dv = [(xx[i], r.info["norm_max"]) for i, r in enumerate(sel) if r.run_status == "diverged"]
            if dv:
                ax.scatter(*zip(*dv), marker="x", color="k", s=60, zorder=3)
        ax.set_yscale("log")
        ax.set_xticks(range(len(xs_all)))
        ax.set_xticklabels([fmt_value(v) for v in xs_all])
        ax.set_xlabel(f"sequence length ({x})" if x else "")
        if pi == 0:
            ax.set_ylabel("pre-transform ‖∂E/∂θ‖ over the run")
        ax.set_title(_panel_label(rep, panel, pv, runs) or "all runs", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    suptitle(fig, "Largest (filled) and median (open) pre-transform gradient norm of each run; × diverged")
    return fig


def fig_norm_overlay(rep: Report, pair: str | None = None, per_line: int = 5,
                     warnings: list[str] | None = None) -> Figure | None:
    """Pre-transform gradient norm over updates of every run (at most ``per_line`` per method and
    panel), one panel per length: where the norm explodes, and for which method."""
    x, panel, lines = sweep_axes(rep, pair)
    runs, _, line_vals = _by_panel_line(rep, x, panel, lines)
    if not runs:
        return None
    cols = sorted({canon(r.value(x)) for r in runs}, key=sort_key) if x else [None]
    fig = figure(min(4.4 * len(cols), 17) + 1, 4.6)
    axes = fig.subplots(1, len(cols), squeeze=False, sharey=True)[0]
    drawn = False
    for ci, cv in enumerate(cols):
        ax = axes[ci]
        for li, lv in enumerate(line_vals):
            sel = [r for r in runs if group_key(r, lines) == lv and (x is None or canon(r.value(x)) == cv)]
            for k, r in enumerate(sel[:per_line]):
                try:
                    tr = store.read_trace(r.path)
                except Exception as e:  # noqa: BLE001
                    (warnings if warnings is not None else []).append(f"{r.path}: {e}")
                    continue
                xs, _, med, _ = bucket(tr["update"], positive(tr["norm_before"]), 400)
                ax.plot(xs, med, color=COLORS[li % len(COLORS)], lw=0.9, alpha=0.75,
                        label=_line_label(lines, lv) if k == 0 else None)
                drawn = True
        ax.set_yscale("log")
        ax.set_xlabel("update")
        if ci == 0:
            ax.set_ylabel("‖∂E/∂θ‖ before the transform")
        ax.set_title(f"{short_names([x])[x]} = {fmt_value(cv)}" if x else "all runs", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    if not drawn:
        return None
    axes[0].legend(fontsize=8, loc="upper left")
    suptitle(fig, "Gradient norm over training, every run (median per bucket of updates)")
    return fig


# -- real-data runs: the selection metric, compared across settings (Pascanu's Table 1) -----------

def _real_settings(rep: Report) -> tuple[list[RunRecord], list[str], list[tuple], str | None]:
    """(finished real-data runs, the keys that tell settings apart (every swept key but the
    seed: SGD / SGD + norm scaling / + Ω differ in method and omega together), the settings in
    order, the selection metric most runs use)."""
    runs = [r for r in rep.runs if r.finished and is_real(r.info)]
    keys = [k for k in rep.swept if k != "seed"]
    settings = sorted({group_key(r, keys) for r in runs}, key=lambda t: tuple(sort_key(v) for v in t))
    metrics = [(r.info or {}).get("metric") for r in runs if (r.info or {}).get("metric")]
    metric = max(set(metrics), key=metrics.count) if metrics else None
    return runs, keys, settings, metric


def _setting_label(keys: list[str], vals: tuple) -> str:
    names = short_names(keys)
    return "\n".join(f"{names[k]}={fmt_value(v)}" for k, v in zip(keys, vals)) or "all runs"


def fig_metric_by_group(rep: Report, pair: str | None = None) -> Figure | None:
    """The selection metric of every finished real-data run on valid (left) and test (right),
    one column per setting, a bar at the mean over seeds."""
    runs, keys, settings, metric = _real_settings(rep)
    if metric is None or not settings or len(settings) > 24:
        return None
    fig = figure(max(8.5, 1.3 * len(settings) * 2 + 2), 4.8)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, split in zip(axes, ("valid", "test")):
        for i, sv in enumerate(settings):
            vals = [v for r in runs if group_key(r, keys) == sv
                    for v in [metric_value(r.info, f"{split}.{metric}")] if v is not None]
            col = COLORS[i % len(COLORS)]
            if vals:
                jit = [0.06 * ((k % 5) - 2) for k in range(len(vals))]
                ax.scatter([i + j for j in jit], vals, color=col, marker=MARKERS[i % len(MARKERS)], s=30, zorder=3)
                m = float(np.mean(vals))
                ax.plot([i - 0.3, i + 0.3], [m, m], color=col, lw=2.5)
                ax.annotate(f"{m:.4g}", (i, m), textcoords="offset points", xytext=(0, 6), ha="center",
                            fontsize=8, color=col, fontweight="bold")
        ax.set_xticks(range(len(settings)))
        ax.set_xticklabels([_setting_label(keys, sv) for sv in settings], fontsize=8)
        ax.set_title(f"{split} ({'at the best update' if split == 'valid' else 'best parameters, once'})", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
    mode = next(((r.info or {}).get("metric_mode") for r in runs if (r.info or {}).get("metric") == metric), None)
    axes[0].set_ylabel(f"{metric}" + (" (lower is better)" if mode == "min" else " (higher is better)" if mode == "max" else ""))
    task = next((r.config.get("task.name") for r in runs if r.config), "")
    suptitle(fig, f"{metric} on valid and test by setting — {task}", "one marker per run (seed), bar: mean")
    return fig


def fig_valid_overlay(rep: Report, pair: str | None = None, per_line: int = 5,
                      warnings: list[str] | None = None) -> Figure | None:
    """The validation metric over updates of every real-data run (at most ``per_line`` per
    setting), one colour per setting; each run's best update marked."""
    runs, keys, settings, metric = _real_settings(rep)
    if metric is None or not settings:
        return None
    fig = figure(9, 4.8)
    ax = fig.add_subplot()
    drawn = False
    for i, sv in enumerate(settings[:len(COLORS)]):
        col = COLORS[i % len(COLORS)]
        for k, r in enumerate([r for r in runs if group_key(r, keys) == sv][:per_line]):
            try:
                recs = [m for m in store.read_metrics(r.path) if isinstance(m.get("valid"), dict)]
            except Exception as e:  # noqa: BLE001
                (warnings if warnings is not None else []).append(f"{r.path}: {e}")
                continue
            xs = [m["update"] for m in recs]
            ys = [m["valid"].get(metric) if finite(m["valid"].get(metric)) is not None else np.nan for m in recs]
            if not xs:
                continue
            ax.plot(xs, ys, color=col, lw=1.0, alpha=0.8,
                    label=_setting_label(keys, sv).replace("\n", " ") if k == 0 else None)
            b, bv = (r.info or {}).get("best_update"), metric_value(r.info, f"valid.{metric}")
            if b is not None and bv is not None:
                ax.plot([b], [bv], marker="*", ms=9, color=col, ls="none")
            drawn = True
    if not drawn:
        return None
    ax.set_xlabel("update")
    ax.set_ylabel(f"validation {metric}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    suptitle(fig, f"Validation {metric} over training, every run (★ best update)")
    return fig


def sweep_figures(rep: Report, pair: str | None = None, warnings: list[str] | None = None) -> dict[str, Figure]:
    """Every sweep figure, by file stem. Success figures need a synthetic run (a real-data run
    never succeeds); the metric figures need a real-data one."""
    out = {}
    synthetic = any(not is_real(r.info) for r in rep.runs)
    builders = [("success_vs_length", lambda: fig_success_vs_length(rep, pair)),
                ("updates_to_success", lambda: fig_updates_to_success(rep, pair))] if synthetic else []
    if rep.real:
        builders += [("metric_by_group", lambda: fig_metric_by_group(rep, pair)),
                     ("valid_overlay", lambda: fig_valid_overlay(rep, pair, warnings=warnings))]
    if synthetic:
        builders.append(("generalisation", lambda: fig_generalisation(rep.runs)))
    builders += [("norm_max", lambda: fig_norm_max(rep, pair)),
                 ("norm_overlay", lambda: fig_norm_overlay(rep, pair, warnings=warnings))]
    for name, build in builders:
        try:
            with _warnings.catch_warnings():
                _warnings.simplefilter("ignore")
                fig = build()
        except Exception as e:  # noqa: BLE001
            (warnings if warnings is not None else []).append(f"figure {name}: {type(e).__name__}: {store.short_error(e)}")
            fig = None
        if fig is not None:
            out[name] = fig
    return out


def representative_runs(rep: Report, pair: str | None = None) -> list[RunRecord]:
    """One finished run per value of the pair key (method), at the longest length, lowest seed:
    the runs whose own figures a sweep report shows."""
    x, panel, lines = sweep_axes(rep, pair)
    runs = [r for r in rep.runs if r.finished and not r.problem]
    if not runs:
        return []
    if x:
        longest = max((canon(r.value(x)) for r in runs), key=sort_key)
        runs = [r for r in runs if canon(r.value(x)) == longest]
    seen, out = set(), []
    for r in sorted(runs, key=lambda r: sort_key(r.value("seed"))):
        k = (group_key(r, lines), canon(r.value(panel)) if panel else None)
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out[:8]
