"""The gradient's norm: the rules ``exploding`` and ``clipping``, and the threshold a run's own
norms support (Pascanu et al. 2013, §3.2: a threshold of the order of the average norm over a
sufficiently long stretch of updates; they found 0.5 to 10 times it to work)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .evidence import Evidence
from .limits import WINDOW_ROWS
from .finding import Finding, nice, num
from .outcome import Outcome

#: A norm more than this multiple of the median of all norms before it ends the healthy stretch
#: of a run whose loss ran away (the remedy's threshold is the stretch's mean norm).
ONSET_FACTOR = 2.0
#: Methods that scale or clip with train.gradient.threshold.
THRESHOLD_METHODS = ("norm", "value", "per_tensor_norm")


@dataclass
class Norms:
    median: float
    spikes: np.ndarray        # indices of rows with a spike
    initial: float            # median of the first start_updates norms
    peak: float
    peak_at: int
    growth: float             # peak / initial
    healthy: tuple[int, int]  # (first, last) update of the healthy stretch
    healthy_mean: float       # the threshold the run's own norms support
    local: np.ndarray         # each finite row's window median (indexed like the finite rows)
    rows: np.ndarray          # the trace rows of those finite norms


def read_norms(ev: Evidence, out: Outcome) -> Norms | None:
    lim = ev.limits
    ok = np.flatnonzero(np.isfinite(ev.norms))
    if len(ok) < 3:
        return None
    g, u = ev.norms[ok], ev.updates[ok]
    med = float(np.median(g))
    local = _local_median(g, ev)   # a spike stands out from the norms around it, not from the run's
    spikes = ok[g > lim.spike_factor * local]
    initial = float(np.median(g[:lim.start_updates]))
    p = int(np.argmax(g))
    growth = float(g[p] / initial) if initial > 0 else np.inf
    if out.ran_away:   # the stretch before the norm first doubled over all norms before it
        run_med = _running_median(g)
        over = np.flatnonzero(g[1:] > ONSET_FACTOR * run_med[:-1]) + 1
        end = int(over[0]) if len(over) else len(g)
        stretch = g[:end]
        healthy = (int(u[0]), int(u[end - 1]))
    else:              # the updates without spikes
        calm = g <= lim.spike_factor * local
        stretch = g[calm]
        healthy = (int(u[0]), int(u[-1]))
    return Norms(med, spikes, initial, float(g[p]), int(u[p]), growth, healthy,
                 float(np.mean(stretch)) if len(stretch) else med, local, ok)


def _local_median(g: np.ndarray, ev: Evidence) -> np.ndarray:
    """Each row's window median (the windows of ``Evidence.window_levels``): the level a norm is
    compared with, which follows a norm that shrinks or grows as the model learns."""
    k = max(1, min(ev.limits.windows, len(g) // WINDOW_ROWS))
    edges = np.linspace(0, len(g), k + 1).astype(int)
    sizes = np.diff(edges)
    meds = np.array([np.median(g[a:b]) if b > a else np.nan for a, b in zip(edges[:-1], edges[1:])])
    return np.repeat(meds, sizes)


def _running_median(g: np.ndarray) -> np.ndarray:
    """Median of g[:i+1] for each i; exact for the first 1,000 rows (where an onset is looked for
    first), then that of a fixed-size prefix sample (enough for a ratio of 2)."""
    n = min(len(g), 1000)
    head = np.array([np.median(g[:i + 1]) for i in range(n)])
    if len(g) == n:
        return head
    return np.concatenate([head, np.full(len(g) - n, head[-1])])


def threshold_remedy(nm: Norms) -> str:
    return f"train.gradient.method=norm train.gradient.threshold={nice(nm.healthy_mean)}"


def _spectral_text(ev: Evidence) -> tuple[str, float | None]:
    if not ev.spectral:
        return "", None
    u, sv, bound = max(ev.spectral, key=lambda s: s[1])
    rel = ">" if sv > bound else "<="
    return f"; λ₁ of W_rec reached {num(sv)} (update {u}) {rel} 1/γ = {num(bound)}", sv


def _loss_response(ev: Evidence, i: int) -> tuple[float, float]:
    """Median loss over the response_updates rows before and after row i."""
    r = ev.limits.response_updates
    before, after = ev.loss[max(0, i - r):i], ev.loss[i + 1:i + 1 + r]
    f = lambda v: float(np.median(v[np.isfinite(v)])) if np.isfinite(v).any() else float("nan")  # noqa: E731
    return f(before), f(after)


def exploding(ev: Evidence, out: Outcome, nm: Norms | None) -> Finding | None:
    lim = ev.limits
    if nm is None:
        return None
    runaway = out.ran_away and nm.growth >= lim.growth_factor
    if not len(nm.spikes) and not runaway:
        return None
    sv_text, sv = _spectral_text(ev)
    parts, updates = [], []
    if len(nm.spikes):
        ratio = ev.norms[nm.spikes] / nm.local[np.searchsorted(nm.rows, nm.spikes)]
        k = int(np.argmax(ratio))
        top = nm.spikes[k]
        before, after = _loss_response(ev, int(top))
        response = (f"the loss went from {num(before)} to {num(after)} over the {lim.response_updates} updates "
                    "around it" if np.isfinite(before) else f"the loss over the next {lim.response_updates} "
                    f"updates: {num(after)}")
        parts.append(f"{len(nm.spikes)} norm spike{'s' if len(nm.spikes) > 1 else ''} above {lim.spike_factor:g}x "
                     f"the median norm of the updates around {'them' if len(nm.spikes) > 1 else 'it'} (the run's "
                     f"median: {num(nm.median)}), the largest {num(ev.norms[top])} at update "
                     f"{int(ev.updates[top])} ({num(ratio[k])}x the norms around it); {response}")
        updates += [int(ev.updates[k]) for k in nm.spikes[:20]]
    if runaway:
        parts.append(f"the gradient norm grew from {num(nm.initial)} at the start to {num(nm.peak)} at update "
                     f"{nm.peak_at} ({num(nm.growth)}x) and the loss ran away with it, from {num(out.start)} "
                     f"to {num(out.late)}")
        updates.append(nm.peak_at)
    problem = runaway or out.ran_away or ev.status == "diverged"
    method = ev.section("train", "gradient", "method")
    remedies = [threshold_remedy(nm)]
    if method == "norm" and not problem:
        remedies = []   # contained: nothing to change
    spectral = ev.section("model", "spectral_radius")
    if sv is not None and problem:
        remedies.append(f"model.spectral_radius={nice(min(1.0, spectral or 1.0) * 0.9)}")
    lr = ev.section("train", "optimizer", "lr")
    if problem and isinstance(lr, (int, float)):
        remedies.append(f"train.optimizer.lr={nice(lr / 3)}")
    handled = "" if problem else "; the run contained them (its loss did not run away)"
    return Finding("exploding", "problem" if problem else "warning", "; ".join(parts) + sv_text + handled,
                   remedies, sorted(set(updates)),
                   {"median_norm": nm.median, "peak_norm": nm.peak, "peak_update": nm.peak_at,
                    "growth": nm.growth, "spikes": int(len(nm.spikes)), "sv_max": sv,
                    "healthy_mean_norm": nm.healthy_mean, "healthy_updates": list(nm.healthy)})


def clipping(ev: Evidence, out: Outcome, nm: Norms | None, exploding_found: Finding | None,
             learned: bool) -> Finding | None:
    """Three ways norm scaling or clipping misleads: ``threshold: auto`` took its value from
    updates that had already exploded, it fires on almost every update (a smaller learning rate in
    disguise), or it never fires while the norm spikes. The first that applies is the finding."""
    g = ev.section("train", "gradient") or {}
    fired = ev.trace.get("fired")
    if nm is None or g.get("method") in (None, "none") or fired is None or not len(fired):
        return None
    serious = exploding_found is not None and exploding_found.severity == "problem"
    rate = float(np.mean(fired[np.isfinite(fired)] > 0))
    c = ev.info.get("threshold") if g.get("threshold") == "auto" else g.get("threshold")
    shown = num(c) if isinstance(c, (int, float)) else str(c)
    return (_auto_poisoned(ev, nm, g, c, rate, serious or out.ran_away)
            or _always_fires(ev, g, shown, c, rate, exploding_found, learned)
            or _never_fires(ev, nm, g, shown, c, fired, rate, serious))


def _auto_poisoned(ev, nm, g, c, rate, serious) -> Finding | None:
    lim = ev.limits
    if g.get("threshold") != "auto" or not isinstance(c, (int, float)):
        return None
    warm = ev.norms[: int(g.get("auto_updates") or 100)]
    warm = warm[np.isfinite(warm)]
    if len(warm) < lim.start_updates:
        return None
    first, peak = float(np.median(warm[:lim.start_updates])), float(warm.max())
    # poisoned: c stands growth_factor above the norms of the healthy updates (one spike that a
    # robust rule ignored is not enough; an average over exploded updates is)
    if not (nm.healthy_mean > 0 and c >= lim.growth_factor * nm.healthy_mean):
        return None
    return Finding("clipping", "problem" if serious else "warning",
                   f"threshold auto took c = {num(c)} from the first {len(warm)} updates, which had already "
                   f"exploded: their norm grew from {num(first)} (the first {lim.start_updates} updates) to "
                   f"{num(peak)}, and c is {num(c / nm.healthy_mean)}x the mean norm {num(nm.healthy_mean)} of "
                   f"the healthy stretch (updates {nm.healthy[0]}-{nm.healthy[1]})",
                   [threshold_remedy(nm)], [nm.healthy[1]],
                   {"threshold": c, "first_norm": first, "warmup_peak": peak,
                    "healthy_mean_norm": nm.healthy_mean, "clip_rate": rate})


def _always_fires(ev, g, shown, c, rate, exploding_found, learned) -> Finding | None:
    lim = ev.limits
    if len(ev.trace["fired"]) < lim.min_updates or rate < lim.always_fires:
        return None
    median = float(np.median(ev.norms[np.isfinite(ev.norms)]))
    lr = ev.section("train", "optimizer", "lr")
    # after an explosion the norms are those of blown-up weights: not a threshold to take
    fix = [f"train.gradient.threshold={nice(median)}"] if exploding_found is None else \
        ([f"train.optimizer.lr={nice(lr / 3)}"] if isinstance(lr, (int, float)) else [])
    return Finding("clipping", "warning" if learned else "problem",
                   f"the {g.get('method')} transform fired on {100 * rate:.0f}% of the updates (threshold {shown}, "
                   f"median norm {num(median)}): every step is scaled down, so it acts as a smaller learning rate",
                   fix, [], {"clip_rate": rate, "threshold": c, "median_norm": median})


def _never_fires(ev, nm, g, shown, c, fired, rate, serious) -> Finding | None:
    spikes = nm.spikes
    if g.get("threshold") == "auto":   # the warm-up is unclipped by design: its spikes do not count
        spikes = spikes[ev.updates[spikes] > int(g.get("auto_updates") or 100)]
    if g.get("method") not in THRESHOLD_METHODS or not len(spikes) or (fired[spikes] > 0).any():
        return None
    n = len(spikes)
    return Finding("clipping", "problem" if serious else "warning",
                   f"the {g.get('method')} transform fired on none of the {n} norm spike{'s' if n > 1 else ''} "
                   f"(threshold {shown}, median norm {num(nm.median)}, largest spike "
                   f"{num(float(ev.norms[spikes].max()))}): the threshold is above them",
                   [threshold_remedy(nm)], [int(ev.updates[k]) for k in spikes[:20]],
                   {"threshold": c, "clip_rate": rate})
