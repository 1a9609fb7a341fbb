"""Aggregation over groups of runs and the paired-seed comparison of methods.

    groups = aggregate(rep, ["train.gradient.method", "task.length"])   # GROUP_FIELDS each
    key, pairs = paired(rep, ["train.gradient.method", "task.length"])   # PAIR_FIELDS each

When the report holds a real-data run, each group also gets ``real.REAL_GROUP_FIELDS`` (the
train/valid/test metrics over seeds) and each pair ``real.REAL_PAIR_FIELDS`` (the selection metric
of b against a, seed by seed); a synthetic-only report is exactly as before.

Rates count finished runs only (succeeded, completed, diverged, stopped); running, interrupted
and failed runs are "unfinished", missing and corrupt ones "problems", and neither enters a rate.
"""

from __future__ import annotations

import itertools
import statistics

from ..store import RunRecord
from . import real
from .query import Report, field_value, group_key, resolve_key
from .values import canon, finite, identity, json_tree, jsonable, sort_key

#: Every per-group field of the JSON document, in order.
GROUP_FIELDS = ("values", "runs", "finished", "succeeded", "success_rate", "success", "diverged",
                "unfinished", "problems", "updates_to_success", "clip_rate_median", "norm_max_median", "final_error_median",
                "ms_per_update_median")
#: Fields of a paired comparison.
PAIR_FIELDS = ("key", "a", "b", "context", "tied", "n", "both", "only_a", "only_b", "neither",
               "success_a", "success_b", "delta_success", "delta_updates", "per_seed")
STATS_FIELDS = ("n", "mean", "std", "min", "max", "median")


def stats(values: list[float]) -> dict:
    """n, mean, std (sample, ddof=1; null below 2 values), min, max, median."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None, "median": None}
    return {"n": len(vals), "mean": statistics.fmean(vals),
            "std": statistics.stdev(vals) if len(vals) > 1 else None,
            "min": min(vals), "max": max(vals), "median": statistics.median(vals)}


def median(values) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return statistics.median(vals) if vals else None


def _by_value(t: tuple) -> tuple:
    return tuple(sort_key(v) for v in t)


def aggregate(rep: Report, by: list[str]) -> list[dict]:
    """One dict per group of runs sharing the values of ``by`` (GROUP_FIELDS), groups sorted by value.

    Counts are over finished runs (succeeded, completed, diverged, stopped): ``success`` is
    "succeeded/finished", ``success_rate`` their ratio; ``updates_to_success`` are the stats of
    success_update over the runs that succeeded; ``final_error_median`` the median of the last
    evaluation's error over the finished runs; ``unfinished`` counts running, interrupted and
    failed runs and ``problems`` missing or corrupt ones (neither enters the rates).
    """
    keys = [resolve_key(k, rep.all_keys, rep.swept) for k in by]
    with_real = rep.real
    groups: dict[tuple, list[RunRecord]] = {}
    for r in rep.runs:
        groups.setdefault(group_key(r, keys), []).append(r)
    out = []
    for gk in sorted(groups, key=_by_value):
        members = groups[gk]
        fin = [r for r in members if r.finished]
        ok = [r for r in fin if (r.info or {}).get("success")]
        n_ok, n_fin = len(ok), len(fin)
        out.append({
            "values": {k: jsonable(field_value(members[0], k)) for k in keys},   # as written, not canonical
            "runs": len(members),
            "finished": n_fin,
            "succeeded": n_ok,
            "success_rate": n_ok / n_fin if n_fin else None,
            "success": f"{n_ok}/{n_fin}",
            "diverged": sum(1 for r in fin if r.run_status == "diverged"),
            "unfinished": sum(1 for r in members if not r.finished and r.run_status is not None),
            "problems": sum(1 for r in members if r.problem is not None),
            "updates_to_success": stats([(r.info or {}).get("success_update") for r in ok]),
            "clip_rate_median": median((r.info or {}).get("clip_rate") for r in fin),
            "norm_max_median": median(finite((r.info or {}).get("norm_max")) for r in fin),
            # how close the runs that did not succeed came (a study with a small update budget)
            "final_error_median": median(finite((r.info or {}).get("final_error")) for r in fin),
            "ms_per_update_median": median((r.info or {}).get("ms_per_update") for r in fin),
        })
        if with_real:
            out[-1].update(json_tree(real.group_fields(members)))
    return out


def tied_keys(runs: list[RunRecord], key: str, among: list[str]) -> list[str]:
    """Keys of ``among`` whose value is fixed by ``key``'s (a zip: one threshold per method)."""
    out = []
    for k in among:
        if k == key:
            continue
        seen: dict = {}
        ok = True
        for r in runs:
            a, b = identity(r.value(key)), identity(r.value(k))
            if seen.setdefault(a, b) != b:
                ok = False
                break
        if ok:
            out.append(k)
    return out


def default_pair_key(rep: Report) -> str | None:
    return "train.gradient.method" if "train.gradient.method" in rep.swept else None


def paired(rep: Report, by: list[str], pair: str | None = None) -> tuple[str | None, list[dict]]:
    """Paired-seed comparison of the values of ``pair`` (default train.gradient.method).

    Two runs pair up when they differ in ``pair`` (and the keys tied to it, e.g. a zipped threshold)
    and agree on every other swept key, seed included. For each two values a, b of ``pair`` (in
    sorted order) and each context (the ``by`` keys other than ``pair``), one dict (PAIR_FIELDS):
    counts of pairs where both, only a, only b or neither succeeded, ``delta_success`` the mean of
    success_b - success_a, ``delta_updates`` the stats of success_update_b - success_update_a over
    the pairs where both succeeded, and ``per_seed`` the pairs themselves. Only finished runs pair.
    With real-data runs, each dict also compares the report's (first) selection metric on valid
    and test (real.REAL_PAIR_FIELDS; each per_seed entry gets real.REAL_SEED_FIELDS).
    """
    key = resolve_key(pair, rep.all_keys, rep.swept) if pair else default_pair_key(rep)
    if key is None or key not in rep.swept:
        return key, []
    runs = [r for r in rep.runs if r.finished]
    tied = tied_keys(runs, key, rep.swept)
    match_keys = [k for k in rep.swept if k != key and k not in tied]
    ctx_keys = [k for k in (resolve_key(b, rep.all_keys, rep.swept) for b in by)
                if k != key and k not in tied and k in match_keys]
    other_keys = [k for k in match_keys if k not in ctx_keys and k != "seed"]
    values = sorted({canon(r.value(key)) for r in runs}, key=sort_key)
    raw = {canon(r.value(key)): r.value(key) for r in reversed(runs)}      # canonical -> as written
    cells: dict[tuple, dict] = {}           # the runs that agree on every match key, by value of key
    for r in runs:
        cells.setdefault(group_key(r, match_keys), {}).setdefault(canon(r.value(key)), r)
    metric = (real.selection_metrics(runs) or [None])[0] if rep.real else None
    mode = real.metric_mode(runs, metric)
    tie_label = {v: {k: jsonable(r.value(k)) for k in tied}
                 for v in values for r in runs if canon(r.value(key)) == v}
    out = []
    ctx_raw: dict[tuple, tuple] = {}
    for a, b in itertools.combinations(values, 2):
        by_ctx: dict[tuple, list[dict]] = {}
        for cell in cells.values():
            if a in cell and b in cell:
                ra, rb = cell[a], cell[b]
                ctx = tuple(canon(ra.value(k)) for k in ctx_keys)
                ctx_raw.setdefault(ctx, tuple(ra.value(k) for k in ctx_keys))
                by_ctx.setdefault(ctx, []).append((ra, rb))
        for ctx in sorted(by_ctx, key=_by_value):
            head = {"key": key, "a": jsonable(raw[a]), "b": jsonable(raw[b]),
                    "context": {k: jsonable(v) for k, v in zip(ctx_keys, ctx_raw[ctx])},
                    "tied": {"a": tie_label.get(a, {}), "b": tie_label.get(b, {})}}
            runs_ab = by_ctx[ctx]
            out.append({**head, **_pair_counts([_seed_pair(ra, rb, other_keys) for ra, rb in runs_ab])})
            if rep.real:
                extra, seeds = real.pair_fields(runs_ab, metric, mode)
                out[-1].update(json_tree(extra))
                for s, e in zip(out[-1]["per_seed"], seeds):
                    s.update(json_tree(e))
    return key, out


def _seed_pair(ra: RunRecord, rb: RunRecord, other_keys: list[str]) -> dict:
    """One pair of runs (a per_seed entry): who succeeded, and when."""
    ia, ib = ra.info or {}, rb.info or {}
    sa, sb = bool(ia.get("success")), bool(ib.get("success"))
    ua, ub = ia.get("success_update") if sa else None, ib.get("success_update") if sb else None
    return {"seed": jsonable(ra.value("seed")),
            "match": {k: jsonable(ra.value(k)) for k in other_keys},
            "run_a": ra.run_id, "run_b": rb.run_id,
            "success_a": sa, "success_b": sb,
            "updates_a": ua, "updates_b": ub,
            "delta_success": int(sb) - int(sa),
            "delta_updates": ub - ua if ua is not None and ub is not None else None}


def _pair_counts(ps: list[dict]) -> dict:
    """The PAIR_FIELDS from ``n`` on, over the pairs of one context."""
    n = len(ps)
    return {"n": n,
            "both": sum(p["success_a"] and p["success_b"] for p in ps),
            "only_a": sum(p["success_a"] and not p["success_b"] for p in ps),
            "only_b": sum(p["success_b"] and not p["success_a"] for p in ps),
            "neither": sum(not p["success_a"] and not p["success_b"] for p in ps),
            "success_a": sum(p["success_a"] for p in ps),
            "success_b": sum(p["success_b"] for p in ps),
            "delta_success": sum(p["delta_success"] for p in ps) / n,
            "delta_updates": stats([p["delta_updates"] for p in ps]),
            "per_seed": ps}
