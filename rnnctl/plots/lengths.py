"""Error against length. For one run trained on a length range: the last evaluation's error per
length bucket (``per_length`` of its metrics records, eval.length_buckets), with a few earlier
evaluations fainter, and each bucket's error over training. For a sweep: the generalisation test,
error against fixed lengths far beyond training, from the evaluations saved by ``rnnctl eval
--save``."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import store
from ..report import is_num
from ..store import RunRecord
from .style import COLORS, colormap, config_text, error_axis, figure, suptitle

#: Earlier evaluations drawn besides the last one (evenly spaced over training).
EARLIER = 4


def _steps(per_length: list) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a step curve: each bucket's error (%) held over its lengths lo..hi."""
    x, y = [], []
    for row in per_length:
        err = 100 * row["error"] if is_num(row.get("error")) else np.nan
        x += [row["lo"] - 0.5, row["hi"] + 0.5]
        y += [err, err]
    return np.asarray(x, float), np.asarray(y, float)


def fig_error_vs_length(run: RunRecord, metrics: list[dict]) -> Figure | None:
    """Error (%) against length from the evaluations that recorded ``per_length`` (none for a
    fixed-length run, or a run made before per-length evaluation: no figure); the success
    threshold dashed, and which rule judged the run."""
    evals = [m for m in metrics if m.get("per_length")]
    if not evals:
        last = (run.info or {}).get("per_length")
        if not last:
            return None
        evals = [{"update": (run.info or {}).get("updates"), "per_length": last}]
    fig = figure(9, 4.6)
    ax = fig.subplots()
    earlier = evals[:-1]
    if earlier:
        picks = sorted({int(i) for i in np.linspace(0, len(earlier) - 1, min(EARLIER, len(earlier)))})
        for k, i in enumerate(picks):
            x, y = _steps(earlier[i]["per_length"])
            ax.plot(x, y, color=COLORS[0], lw=1, alpha=0.2 + 0.5 * (k + 1) / (len(picks) + 1),
                    label=f"update {earlier[i].get('update')}")
    x, y = _steps(evals[-1]["per_length"])
    ax.plot(x, y, color=COLORS[1], lw=2, label=f"update {evals[-1].get('update')} (last evaluation)")
    se = (run.config or {}).get("eval.success_error")
    if is_num(se):
        ax.axhline(100 * se, color="k", ls="--", lw=1, label=f"success under {100 * se:g}% "
                   f"({(run.info or {}).get('success_rule') or 'mean'} rule)")
    error_axis(ax, "sequence length (each bucket's lengths lo..hi)")
    suptitle(fig, f"Error against length — {(run.info or {}).get('status', run.status)}", config_text(run))
    return fig


def fig_bucket_error_over_training(run: RunRecord, metrics: list[dict]) -> Figure | None:
    """Each length bucket's error (%) against the update, one line per bucket (coloured from the
    shortest to the longest lengths), for a run trained on a length range: how the model came to
    solve the whole range, and which lengths held out longest. Symlog y, so that 0 errors show."""
    evals = [m for m in metrics if m.get("per_length") and is_num(m.get("update"))]
    if len(evals) < 2:
        return None
    buckets = evals[-1]["per_length"]
    fig = figure(9, 4.6)
    ax = fig.subplots()
    cmap = colormap("viridis")
    x = np.array([m["update"] for m in evals], float)
    for i, row in enumerate(buckets):
        y = [100 * m["per_length"][i]["error"] if i < len(m["per_length"]) and is_num(m["per_length"][i].get("error"))
             else np.nan for m in evals]
        ax.plot(x, y, color=cmap(i / max(1, len(buckets) - 1)), lw=1.2, label=f"lengths {row['lo']}–{row['hi']}")
    se = (run.config or {}).get("eval.success_error")
    if is_num(se) and se > 0:
        ax.axhline(100 * se, color="k", ls="--", lw=1, label=f"success under {100 * se:g}%")
    success = (run.info or {}).get("success_update")
    if success:
        ax.axvline(success, color="#d62728", ls=":", lw=1.2, label=f"success at update {success}")
    ax.set_yscale("symlog", linthresh=0.1, linscale=0.5)
    ax.set_ylim(bottom=0, top=100)
    ax.set_ylabel("misclassified sequences (%)")
    ax.set_xlabel("update")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="upper right", framealpha=0.85)
    suptitle(fig, "Error of each length bucket over training", config_text(run))
    return fig


def generalisation_curves(runs: list[RunRecord]) -> list[dict]:
    """The saved evaluations at fixed lengths (``rnnctl eval --length ... --save``) of each run,
    grouped by the parameters scored: [{run, seed, update, params, lengths: [...], errors: [...]}],
    sorted by run then update. An evaluation that names no update (an older rnnctl) counts as the
    run's last."""
    out = []
    for run in runs:
        try:
            saved = store.read_evals(run.path)
        except Exception:  # noqa: BLE001 - an unreadable eval costs only its curve
            continue
        points: dict[tuple, dict[int, float]] = {}
        for rec in saved:
            key = (rec.get("params"), rec.get("update", (run.info or {}).get("updates")))
            for row in rec.get("lengths") or []:
                if is_num(row.get("length")) and is_num(row.get("error")):
                    points.setdefault(key, {})[int(row["length"])] = float(row["error"])
        for (params, update), by_length in sorted(points.items(), key=lambda kv: (kv[0][1] or 0)):
            if len(by_length) >= 2:
                lengths = sorted(by_length)
                out.append({"run": run.run_id, "seed": run.value("seed"), "params": params, "update": update,
                            "lengths": lengths, "errors": [by_length[L] for L in lengths]})
    return out


def fig_generalisation(runs: list[RunRecord]) -> Figure | None:
    """Error (%) against length on a log axis, from each run's saved evaluations at fixed lengths
    (Pascanu et al.'s generalisation test): one colour per run (seed), one line per set of
    parameters scored (dashed: earlier, solid: the latest), markers at the lengths scored."""
    curves = generalisation_curves(runs)
    if not curves:
        return None
    fig = figure(9, 4.8)
    ax = fig.subplots()
    colour = {r: COLORS[i % len(COLORS)] for i, r in enumerate(dict.fromkeys(c["run"] for c in curves))}
    last = {c["run"]: c["update"] for c in curves}
    for c in curves:
        latest = c["update"] == last[c["run"]]
        ax.plot(c["lengths"], [100 * e for e in c["errors"]], color=colour[c["run"]], marker="o", ms=3,
                lw=1.6 if latest else 1.0, ls="-" if latest else "--",
                label=f"seed {c['seed']}, update {c['update']:,}" if is_num(c["update"]) else f"seed {c['seed']}")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=0.1, linscale=0.5)
    ax.set_ylim(bottom=0, top=100)
    ax.set_xlabel("sequence length (fresh sequences of one length)")
    ax.set_ylabel("misclassified sequences (%)")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2, loc="upper left", framealpha=0.85)
    suptitle(fig, "Generalisation: error against length (saved evaluations)",
             "dashed: earlier parameters of the same run; solid: its latest")
    return fig
