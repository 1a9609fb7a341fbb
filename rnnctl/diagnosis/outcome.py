"""How the run went, read from its loss and validation metric: the facts the other rules lean on
(did it learn, did its loss run away) and the rules ``diverged``, ``no_learning`` and
``overfitting``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .evidence import Evidence
from .finding import Finding, nice, num


@dataclass
class Outcome:
    n: int                 # finite trace rows
    start: float           # the loss's starting level (median of the first start_updates)
    best: float            # its best level (lowest window median)
    best_at: int           # the last update of that window
    late: float            # its level at the end (the last window's median)
    learned: bool          # the best level fell more than learned_drop below the start (or the run succeeded)
    ran_away: bool         # the end level is above loss_rise x min(start, best)
    nonfinite_at: int | None   # first update with a non-finite loss or norm


def read_outcome(ev: Evidence) -> Outcome:
    lim = ev.limits
    ends, levels = ev.window_levels(ev.loss)
    n = int(ev.finite.sum())
    bad = np.flatnonzero(~ev.finite)
    nonfinite_at = int(ev.updates[bad[0]]) if len(bad) else None
    if not len(levels):
        return Outcome(0, np.nan, np.nan, 0, np.nan, False, False, nonfinite_at)
    start = ev.start_level(ev.loss)
    i = int(np.argmin(levels))
    best, late = float(levels[i]), float(levels[-1])
    succeeded = ev.status == "succeeded" or bool(ev.info.get("success"))
    learned = succeeded or best <= (1.0 - lim.learned_drop) * start
    ran_away = late > lim.loss_rise * min(start, best) and late > start
    return Outcome(n, start, best, int(ends[i]), late, bool(learned), bool(ran_away), nonfinite_at)


def _valid_series(ev: Evidence) -> tuple[str, str, list[tuple[int, float, float | None]]]:
    """(metric, mode, [(update, valid metric, train loss)]) of a run on real data, else the
    evaluations' loss (min) of a generated task."""
    metric, mode = ev.info.get("metric"), ev.info.get("metric_mode", "min")
    out = []
    for r in ev.metrics:
        v = (r.get("valid") or {}).get(metric) if metric else r.get("loss")
        if v is not None:
            out.append((int(r["update"]), float(v), r.get("train_loss")))
    return (metric or "loss"), (mode if metric else "min"), out


def _worse(mode: str, value: float, best: float) -> float:
    """How much worse ``value`` is than ``best``, as a fraction of |best| (accuracy: in points)."""
    if mode == "max":
        return best - value
    return (value - best) / abs(best) if best else (np.inf if value > best else 0.0)


def diverged(ev: Evidence, out: Outcome) -> Finding | None:
    lim = ev.limits
    lr = ev.section("train", "optimizer", "lr")
    remedies = [f"train.optimizer.lr={nice(lr / 3)}"] if isinstance(lr, (int, float)) else []
    if ev.status == "diverged" or out.nonfinite_at is not None:
        at = ev.info.get("diverged_at") or out.nonfinite_at
        why = ev.info.get("message") or "a non-finite loss or gradient"
        handled = ev.status != "diverged"   # nonfinite: skip carried on
        text = f"non-finite values at update {at}: {why}"
        if handled:
            skipped = ev.info.get("skipped_updates")
            text += f"; the run skipped them and went on ({skipped} updates skipped)" if skipped else ""
        return Finding("diverged", "warning" if handled and not out.ran_away else "problem", text,
                       remedies, [at] if at else [], {"diverged_at": at})
    metric, mode, series = _valid_series(ev)
    if out.ran_away:
        return Finding("diverged", "problem",
                       f"the training loss ran away: from {num(out.start)} at the start (median of the first "
                       f"{lim.start_updates} updates) and {num(out.best)} at best (up to update {out.best_at}) "
                       f"to {num(out.late)} at the end, more than {lim.loss_rise:g}x",
                       remedies, [out.best_at], {"loss_start": out.start, "loss_best": out.best,
                                                 "loss_end": out.late})
    if len(series) >= 2:
        b = min(range(len(series)), key=lambda i: series[i][1] * (-1 if mode == "max" else 1))
        last = series[-1]
        tl_best, tl_last = series[b][2], last[2]
        train_rose = tl_best is not None and tl_last is not None and tl_last > tl_best
        gave_back = _worse(mode, last[1], series[0][1]) > 0   # worse than at the first evaluation
        if b < len(series) - 1 and train_rose and gave_back and _worse(mode, last[1], series[b][1]) > lim.valid_runaway:
            return Finding("diverged", "problem",
                           f"validation {metric} ran away from its best, {num(series[b][1])} at update "
                           f"{series[b][0]}, to {num(last[1])} at update {last[0]}, worse than at the first "
                           f"evaluation ({num(series[0][1])}), while the training loss "
                           f"rose from {num(tl_best)} to {num(tl_last)}",
                           remedies, [series[b][0], last[0]], {"best": series[b][1], "last": last[1]})
    return None


def no_learning(ev: Evidence, out: Outcome) -> Finding | None:
    lim = ev.limits
    if out.n < lim.min_updates or out.learned or out.ran_away:
        return None
    drop = 1.0 - out.best / out.start if out.start else 0.0
    lr = ev.section("train", "optimizer", "lr")
    remedies = []
    if isinstance(lr, (int, float)):
        remedies.append(f"train.optimizer.lr={nice(lr * 3)}")
    return Finding("no_learning", "problem",
                   f"the training loss stayed at its starting level over {out.n} updates: "
                   f"{num(out.start)} at the start, {num(out.best)} at best (update {out.best_at}), "
                   f"{100 * drop:.1f}% lower, less than the {100 * lim.learned_drop:g}% that counts as learning",
                   remedies, [out.best_at], {"loss_start": out.start, "loss_best": out.best, "drop": drop})


def overfitting(ev: Evidence, out: Outcome) -> Finding | None:
    """Real data: the validation metric worsened after its best while the training loss kept
    falling. A warning: model selection kept the best parameters."""
    lim = ev.limits
    if not ev.real or out.ran_away:
        return None
    metric, mode, series = _valid_series(ev)
    if len(series) < 2:
        return None
    b = min(range(len(series)), key=lambda i: series[i][1] * (-1 if mode == "max" else 1))
    last = series[-1]
    if b == len(series) - 1:
        return None
    worse = _worse(mode, last[1], series[b][1])
    tl_best, tl_last = series[b][2], last[2]
    if worse <= lim.overfit_margin or tl_best is None or tl_last is None or not tl_last < tl_best:
        return None
    remedies = ["eval.patience=2", f"train.steps={series[b][0]}"]
    hidden = ev.section("model", "hidden")
    if isinstance(hidden, int) and hidden > 4:
        remedies.append(f"model.hidden={hidden // 2}")
    how = f"{worse:.3f} lower" if mode == "max" else f"{100 * worse:.1f}% worse"
    return Finding("overfitting", "warning",
                   f"validation {metric} was best at update {series[b][0]} ({num(series[b][1])}) and "
                   f"{num(last[1])} at update {last[0]} ({how}) while the training loss fell from "
                   f"{num(tl_best)} to {num(tl_last)}; the best parameters were kept",
                   remedies, [series[b][0], last[0]], {"best": series[b][1], "last": last[1]})
