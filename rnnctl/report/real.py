"""Real-data runs as the report sees them: the train/valid/test metrics, the selection metric and
the dataset a run's summary records (the run-folder contract of issue 12; a synthetic run has
none of these and is shown by its success and error, as before).

    is_real(run.info)                  # True for a run trained on a dataset
    metric_value(run.info, "valid.bpc")
    selection_metrics(rep.runs)        # ["bpc"]: the metrics that get columns, most common first

Keys: ``<split>.<metric>`` (``valid.bpc``, ``test.accuracy``, ``train.loss``) and
``dataset.<field>`` (``dataset.source``, ``dataset.hash``) work in --where, --sort and --by like
row fields. Standard library only.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter

from ..store import RunRecord

SPLITS = ("train", "valid", "test")
#: Metric names the training code writes (issue 12); others found in a summary are shown too.
METRIC_NAMES = ("loss", "bpc", "nll", "accuracy", "frame_accuracy", "mse", "mae", "baseline_mse", "baseline_mae")
#: Metrics shown beside a selection metric: the naive last-value forecast it is judged against.
COMPANIONS = {"mse": ("baseline_mse",), "mae": ("baseline_mae",)}
#: Summary fields of a real-data run that are row fields (and --where/--sort keys).
REAL_KEYS = ("metric", "metric_mode", "best_update", "stopped_early")
#: The fields of ``info["dataset"]`` a row carries (``dataset.<field>`` keys).
DATASET_FIELDS = ("kind", "source", "hash", "sizes")
#: Keys a row gains when its report holds a real-data run (null for a synthetic run's row);
#: ``baselines`` is the run's {split: {metric: {"better", "values": {name: value}}}}.
REAL_ROW_FIELDS = (*REAL_KEYS, "dataset", "train", "valid", "test", "baselines")
#: Keys a group gains when its report holds a real-data run: how many of its runs are real-data
#: ones; per split, {metric: stats} over its finished ones; best_update stats; runs stopped early.
REAL_GROUP_FIELDS = ("real_runs", "metric", "train", "valid", "test", "best_update", "stopped_early")
#: Keys a paired comparison gains: the selection metric and, for valid and test, its stats on each
#: side, the stats of b − a, and how many seeds each side won (by metric_mode).
REAL_PAIR_FIELDS = ("metric", "metric_mode", "valid", "test")
#: Keys a per_seed entry of a pair gains.
REAL_SEED_FIELDS = ("valid_a", "valid_b", "test_a", "test_b")


def _num(v) -> float | None:
    """A finite float, else None (a metric of a run that diverged may be NaN or missing)."""
    if v is None or isinstance(v, (bool, str, dict, list)):
        return None
    try:
        v = float(v)                                  # NumPy scalars too
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def is_real(info: dict | None) -> bool:
    """Whether a run's summary is a real-data one: it records a selection metric, split metrics
    or a dataset."""
    if not isinstance(info, dict):
        return False
    return (isinstance(info.get("metric"), str) or isinstance(info.get("valid"), dict)
            or isinstance(info.get("dataset"), dict))


def split_metrics(info: dict | None, split: str) -> dict[str, float | None]:
    """{metric: value} of one split from a summary ({} when absent; non-finite values None)."""
    d = (info or {}).get(split)
    if not isinstance(d, dict):
        return {}
    return {str(k): _num(v) for k, v in d.items()}


def dataset_brief(info: dict | None) -> dict | None:
    """The dataset fields a row carries (DATASET_FIELDS), None for a synthetic run."""
    d = (info or {}).get("dataset")
    if not isinstance(d, dict):
        return None
    return {f: d.get(f) for f in DATASET_FIELDS}


def is_real_key(name: str) -> bool:
    """``<split>.<known metric>``, ``dataset.<field>`` or a REAL_KEYS field."""
    if name in REAL_KEYS:
        return True
    head, _, tail = name.partition(".")
    return bool(tail) and ((head in SPLITS and tail in METRIC_NAMES) or (head == "dataset" and tail in DATASET_FIELDS))


def observed_keys(runs: list[RunRecord]) -> list[str]:
    """Every ``<split>.<metric>`` key some run's summary holds (names beyond METRIC_NAMES too)."""
    out: dict[str, None] = {}
    for r in runs:
        for s in SPLITS:
            for m in split_metrics(r.info, s):
                out.setdefault(f"{s}.{m}")
    return list(out)


def real_value(info: dict | None, key: str):
    """The value of a real-data key for one run (None when it has none)."""
    info = info or {}
    if key in REAL_KEYS:
        return info.get(key)
    head, _, tail = key.partition(".")
    if head == "dataset":
        d = info.get("dataset")
        return d.get(tail) if isinstance(d, dict) else None
    return split_metrics(info, head).get(tail)


def metric_value(info: dict | None, key: str) -> float | None:
    """``valid.bpc`` -> the finite number, else None."""
    return _num(real_value(info, key))


def selection_metrics(runs: list[RunRecord]) -> list[str]:
    """The selection metrics of the real-data runs, most common first (one per task, usually)."""
    c = Counter((r.info or {}).get("metric") for r in runs if is_real(r.info))
    c.pop(None, None)
    return [m for m, _ in c.most_common()]


def shown_metrics(runs: list[RunRecord]) -> list[str]:
    """The metrics a table shows columns for: each selection metric, then its companions (the
    forecasting baseline) when some run recorded them. A real run without a selection metric
    falls back to its first validation metric."""
    out = selection_metrics(runs)
    if not out:
        out = list(dict.fromkeys(m for r in runs for m in split_metrics(r.info, "valid")))[:1]
    extra = [c for m in out for c in COMPANIONS.get(m, ())
             if any(c in split_metrics(r.info, "test") for r in runs)]
    return list(dict.fromkeys([*out, *extra]))


def all_metrics(runs: list[RunRecord]) -> list[str]:
    """Every metric name any split of any run holds, known names in METRIC_NAMES order first."""
    seen = {m for r in runs for s in SPLITS for m in split_metrics(r.info, s)}
    return [m for m in METRIC_NAMES if m in seen] + sorted(seen - set(METRIC_NAMES))


def row_fields(run: RunRecord) -> dict:
    """REAL_ROW_FIELDS of one run (every value null for a synthetic run)."""
    info = run.info or {}
    real = is_real(info)
    out = {k: info.get(k) if real else None for k in REAL_KEYS}
    out["dataset"] = dataset_brief(info)
    for s in SPLITS:
        out[s] = split_metrics(info, s) if real else None
    out["baselines"] = {s: {m: baselines(info, s, m) for m in (info.get("baselines") or {}).get(s) or {}}
                        for s in SPLITS if baselines(info, s, None)} if real else None
    return out


def baselines(info: dict | None, split: str, metric: str | None) -> dict | None:
    """The trivial baselines a run recorded for ``metric`` on ``split``: {"better": "lower" or
    "higher", "values": {name: finite value or None}}; with ``metric`` None, whether the split has
    any ({} or None). None when the run has none (recorded before issue 21, or synthetic)."""
    b = (info or {}).get("baselines")
    b = b.get(split) if isinstance(b, dict) else None
    if not isinstance(b, dict) or metric is None:
        return b or None
    entry = b.get(metric)
    if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
        return None
    return {"better": entry.get("better"), "values": {str(k): _num(v) for k, v in entry["values"].items()}}


def best_baseline(info: dict | None, split: str, metric: str) -> tuple[str, float] | None:
    """(name, value) of the strongest trivial baseline of ``metric`` on ``split`` (the lowest
    for a metric where lower is better), None when there is none."""
    b = baselines(info, split, metric)
    vals = [(n, v) for n, v in (b or {}).get("values", {}).items() if v is not None]
    if not vals:
        return None
    pick = max if b["better"] == "higher" else min
    return pick(vals, key=lambda nv: nv[1])


def _stats(values) -> dict:
    vals = [v for v in values if v is not None]
    if not vals:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None, "median": None}
    return {"n": len(vals), "mean": statistics.fmean(vals),
            "std": statistics.stdev(vals) if len(vals) > 1 else None,
            "min": min(vals), "max": max(vals), "median": statistics.median(vals)}


def group_fields(members: list[RunRecord]) -> dict:
    """REAL_GROUP_FIELDS of one group: its real-data runs, and over the finished ones, per split {metric: stats}
    (STATS_FIELDS) of every metric some member recorded; the group's selection metric when its
    runs share one; best_update stats; the count of runs that stopped early."""
    fin = [r for r in members if r.finished and is_real(r.info)]
    metrics = all_metrics(fin)
    sel = selection_metrics(fin)
    out: dict = {"real_runs": sum(1 for r in members if is_real(r.info)),
                 "metric": sel[0] if len(sel) == 1 else None}
    for s in SPLITS:
        out[s] = {m: _stats(metric_value(r.info, f"{s}.{m}") for r in fin) for m in metrics
                  if any(metric_value(r.info, f"{s}.{m}") is not None for r in fin)}
    out["best_update"] = _stats(_num((r.info or {}).get("best_update")) for r in fin)
    out["stopped_early"] = sum(1 for r in fin if (r.info or {}).get("stopped_early") is True)
    return out


def _wins(deltas: list[float], mode: str | None) -> tuple[int, int]:
    """(seeds where b is better, seeds where a is better) given b − a and the metric's mode."""
    sign = -1.0 if mode == "min" else 1.0            # min: a negative b − a is b's win
    return sum(1 for d in deltas if sign * d > 0), sum(1 for d in deltas if sign * d < 0)


def pair_fields(pairs: list[tuple[RunRecord, RunRecord]], metric: str | None, mode: str | None) -> tuple[dict, list[dict]]:
    """(REAL_PAIR_FIELDS, REAL_SEED_FIELDS of each pair) of one context of a paired comparison on
    the selection ``metric``: for valid and test, stats of a, of b, of b − a, and wins of each side."""
    seeds = []
    for ra, rb in pairs:
        seeds.append({f"{s}_{side}": metric_value(r.info, f"{s}.{metric}") if metric else None
                      for s in ("valid", "test") for side, r in (("a", ra), ("b", rb))})
    head: dict = {"metric": metric, "metric_mode": mode}
    for s in ("valid", "test"):
        a = [p[f"{s}_a"] for p in seeds]
        b = [p[f"{s}_b"] for p in seeds]
        d = [y - x for x, y in zip(a, b) if x is not None and y is not None]
        wb, wa = _wins(d, mode)
        head[s] = {"a": _stats(a), "b": _stats(b), "delta": _stats(d), "b_better": wb, "a_better": wa}
    return head, [{k: p[k] for k in REAL_SEED_FIELDS} for p in seeds]


def metric_mode(runs: list[RunRecord], metric: str | None) -> str | None:
    """The metric_mode the runs with selection metric ``metric`` record (min for a loss-like name
    when none is recorded; max for accuracy)."""
    modes = Counter((r.info or {}).get("metric_mode") for r in runs
                    if is_real(r.info) and (r.info or {}).get("metric") == metric)
    modes.pop(None, None)
    if modes:
        return modes.most_common(1)[0][0]
    if metric is None:
        return None
    return "max" if "accuracy" in metric else "min"
