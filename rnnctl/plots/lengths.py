"""Error against length for one run trained on a length range (issue 15): the last evaluation's
error per length bucket (``per_length`` of its metrics records, eval.length_buckets), with a few
earlier evaluations fainter to show how the error over the range evolved during training."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..report import is_num
from ..store import RunRecord
from .style import COLORS, config_text, error_axis, figure, suptitle

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
