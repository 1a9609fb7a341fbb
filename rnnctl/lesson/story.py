"""The sentences under the lesson's figures, computed from the runs' data: every number in them is
read from a run folder (or from the arrays the lesson computed), so the page says what happened
in these runs, never what usually happens. Pure functions over LessonRun fields and arrays (the
tests feed them synthetic runs)."""

from __future__ import annotations

import math

import numpy as np

from ..report import to_lag
from .runs import LessonRun


def num(x) -> str:
    """A number as a class reads it: 3 significant digits, powers of ten as 3.1e4."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return str(x) if x is not None else "n/a"
    x = float(x)
    text = f"{x:.3g}" if x == 0 or 1e-3 <= abs(x) < 1e4 else f"{x:.2e}"
    if "e" not in text:
        return text
    m, e = text.split("e")
    m = m.rstrip("0").rstrip(".") if "." in m else m
    return f"{m}e{int(e)}"


def cap(text: str) -> str:
    """The first letter upper case, the rest as it is (labels hold names like LSTM and Ω)."""
    return text[:1].upper() + text[1:]


def pct(x) -> str:
    return f"{100 * float(x):.3g}%"


def outcome(run: LessonRun) -> str:
    """How the run ended, from run.json."""
    i = run.info
    if run.status == "succeeded":
        return f"it solved the task at update {i.get('success_update')}"
    if run.status == "diverged":
        return f"it diverged (NaN/Inf) at update {i.get('diverged_at')}"
    err = i.get("final_error")
    tail = f", still misclassifying {pct(err)} of the test sequences" if err is not None else ""
    verb = "stopped" if run.status == "stopped" else "ended"
    return f"it {verb} after {i.get('updates')} updates{tail}{diagnosed(i)}"


def diagnosed(info: dict) -> str:
    """The problems the run's own diagnosis (run.json's ``diagnosis``, rnnctl.diagnosis) found, as
    the end of a sentence: ''; the diagnosis reads vanishing and no_learning'."""
    d = info.get("diagnosis") or {}
    kinds = list(dict.fromkeys(f.get("kind") for f in d.get("findings", []) if f.get("severity") == "problem"))
    if not kinds:
        return ""
    return "; its diagnosis reads " + (" and ".join(kinds) if len(kinds) < 3 else
                                        ", ".join(kinds[:-1]) + " and " + kinds[-1])


def norm_stats(trace: dict) -> dict:
    """Largest and median norm before the transform, where the largest was, the largest norm after
    it, and the fraction of updates the transform changed (the ``fired`` column)."""
    before = np.asarray(trace["norm_before"], float)
    after = np.asarray(trace["norm_after"], float)
    ok = np.isfinite(before)
    if not ok.any():
        return {}
    i = int(np.nanargmax(np.where(ok, before, -np.inf)))
    fired = np.asarray(trace.get("fired", np.zeros_like(before)), float)
    return {"max": float(before[i]), "at": int(trace["update"][i]), "median": float(np.median(before[ok])),
            "max_after": float(np.nanmax(np.where(np.isfinite(after), after, np.nan))) if np.isfinite(after).any()
            else float("nan"), "fired": float(np.nanmean(fired)) if len(fired) else 0.0}


def norms_caption(runs: list[LessonRun]) -> str:
    """Figure 1: per run, the largest norm before the transform, what the transform left, the end."""
    parts = []
    for r in runs:
        s = norm_stats(r.trace or {"norm_before": [], "norm_after": [], "update": []}) if r.trace else {}
        if not s:
            parts.append(f"{r.label}: no finite gradient norm was recorded; {outcome(r)}.")
            continue
        head = (f"the largest gradient norm was {num(s['max'])} (update {s['at']}), "
                f"{num(s['max'] / s['median'])} times its median {num(s['median'])}")
        if r.method == "none":
            parts.append(f"{cap(r.label)}: {head}; {outcome(r)}.")
        else:
            parts.append(f"{cap(r.label)}: {head} before the transform and at most "
                         f"{num(s['max_after'])} after it; it changed {pct(s['fired'])} of the updates; "
                         f"{outcome(r)}.")
    return " ".join(parts)


def lag_decay(norms: np.ndarray) -> tuple[float, int] | None:
    """(‖∂E/∂x_T‖ / ‖∂E/∂x_k‖ at the longest lag, that lag) for one row of per-step norms over k."""
    lag = to_lag(np.atleast_2d(np.asarray(norms, float)))[0]
    ok = np.flatnonzero(np.isfinite(lag) & (lag > 0))
    if len(ok) < 2 or ok[0] != 0:
        return None
    return float(lag[0] / lag[ok[-1]]), int(ok[-1])


def _factor(ratio: float) -> str:
    return f"fell by a factor of {num(ratio)}" if ratio >= 1 else f"grew by a factor of {num(1 / ratio)}"


def backprop_caption(runs: list[LessonRun]) -> str:
    """Figure 2: how much the error signal fell going back in time, first and last recorded update."""
    parts = []
    for r in runs:
        if r.backprop is None:
            continue
        updates, norms = r.backprop
        rows = [(int(u), lag_decay(n)) for u, n in zip(updates, norms)]
        rows = [(u, d) for u, d in rows if d is not None]
        if not rows:
            continue
        (u0, first), (u1, last) = rows[0], rows[-1]
        um, most = max(rows, key=lambda x: x[1][0])
        parts.append(f"{r.label}: from the last step to {first[1]} steps back ‖∂E/∂x_k‖ {_factor(first[0])} "
                     f"at update {u0}, {_factor(most[0])} at update {um} (its strongest fall) and "
                     f"{_factor(last[0])} at update {u1}")
    if not parts:
        return "No run recorded per-step backprop norms (log.backprop_every)."
    return "; ".join(parts) + "."


def spectral_records(run: LessonRun) -> tuple[list, list, float | None]:
    """(updates, λ₁ of W_rec) with the initial parameters as update 0, and 1/γ, for a vanilla run."""
    recs = [m for m in run.metrics if isinstance(m.get("spectral"), dict) and "W_rec" in m["spectral"]]
    xs = [m["update"] for m in recs]
    sv = [m["spectral"]["W_rec"].get("sv_max") for m in recs]
    if "W_rec" in run.init_spectral:
        xs, sv = [0, *xs], [run.init_spectral["W_rec"]["sv_max"], *sv]
    bound = next((m.get("bound") for m in recs if m.get("bound") is not None), None)
    return xs, sv, bound


def spectral_caption(runs: list[LessonRun]) -> str:
    """Figure 3: λ₁ at the start and the end of each vanilla run, against 1/γ."""
    parts, bound, ends = [], None, []
    for r in runs:
        if not r.vanilla:
            continue
        xs, sv, b = spectral_records(r)
        bound = bound if b is None else b
        if sv:
            parts.append(f"{r.label} {num(sv[0])} → {num(sv[-1])}")
            ends.append(sv[-1])
    if not parts:
        return "No vanilla run recorded λ₁ of W_rec."
    text = "λ₁ of W_rec from the start to the end of training: " + "; ".join(parts) + "."
    if bound is not None:
        n_above = sum(e > bound for e in ends)
        text += (f" The bound 1/γ is {num(bound)}; {n_above} of {len(ends)} vanilla runs ended above it. "
                 "Below it the gradient must vanish; above it, it can explode (necessary, not "
                 "sufficient: Pascanu et al. 2013, sec. 2.1).")
    return text


def lengths_caption(runs: list[LessonRun], success_error: float) -> str:
    """Figure 4: at which lengths each trained model is under the success threshold."""
    parts = []
    for r in runs:
        rows = [x for x in r.lengths if x.get("length") is not None]
        if not rows:
            problem = next((x.get("problem") for x in r.lengths if x.get("problem")), "not scored")
            parts.append(f"{r.label}: {problem}")
            continue
        good = [str(x["length"]) for x in rows if x["error"] < success_error]
        worst = max(rows, key=lambda x: x["error"])
        parts.append(f"{r.label}: under {pct(success_error)} at "
                     + (f"length{'s' if len(good) > 1 else ''} {', '.join(good)}" if good else "no length")
                     + f", {pct(worst['error'])} wrong at length {worst['length']}")
    return "Error of each final model on fresh sequences: " + "; ".join(parts) + "."


def jumps(snapshots: tuple | None) -> tuple[float, int] | None:
    """(largest distance ‖θ_{i+1} − θ_i‖ between consecutive snapshots, the update it ended at)."""
    if snapshots is None or len(snapshots[0]) < 2:
        return None
    updates, thetas = snapshots
    d = np.linalg.norm(np.diff(np.asarray(thetas, float), axis=0), axis=1)
    if not np.isfinite(d).any():
        return None
    i = int(np.nanargmax(d))
    return float(d[i]), int(updates[i + 1])


def landscape_caption(points: dict, runs: list[LessonRun], residuals: dict | None = None) -> str:
    """Figure 5: the loss at the points the plane goes through, each path's largest move, and how far
    the paths not in the plane are from it. ``points``: name -> loss there; ``residuals``: label ->
    distance of each snapshot from the plane."""
    text = "Loss on the slice's batch at " + ", ".join(f"{k} {num(v)}" for k, v in points.items()) + ". "
    moves = []
    for r in runs:
        j = jumps(r.snapshots)
        if j is not None and r.vanilla:
            moves.append(f"{r.label} {num(j[0])} (ending at update {j[1]})")
    if moves:
        text += ("Largest move in parameter space between two consecutive snapshots: " + "; ".join(moves) + ".")
    off = [f"{label} up to {num(float(np.nanmax(res)))}" for label, res in (residuals or {}).items()
           if len(res) and np.nanmax(res) > 1e-3]
    if off:
        text += (" Only the start and the two ends lie in the plane; the other snapshots are drawn as their "
                 "least-squares projection, at most this far from it: " + "; ".join(off) + ".")
    return text


def one_unit_caption(summary: dict) -> str:
    """Figure 6: the one-unit model's two descents (rnnctl.dynamics.figures.summary's numbers)."""
    t = summary["train"]
    p, c = t["plain"], t["clipped"]
    w, b = p["start"]
    return (f"One recurrent sigmoid unit, x_t = w σ(x_t−1) + b over T = {summary['T']} steps (Pascanu et al. "
            f"2013, sec. 3 and Fig. 6): both descents start at (w, b) = ({num(w)}, {num(b)}), error "
            f"{num(p['initial_error'])}, lr {num(t['lr'])}, {t['updates']} updates. Plain gradient descent made "
            f"its largest step, {num(p['largest_step'])}, at update {p['largest_step_at_update']} (‖g‖ = "
            f"{num(p['grad_norm_there'])}) and ended {num(p['distance_from_start'])} from the start at error "
            f"{num(p['final_error'])}. Rescaled to c = {num(c['threshold'])} (steps ≤ {num(c['step_bound'])}) it "
            f"ended {num(c['distance_from_start'])} from the start at error {num(c['final_error'])}.")
