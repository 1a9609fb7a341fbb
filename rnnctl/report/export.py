"""The report as data for other programs: the JSON document (schema ``rnnctl.report/1``,
documented field by field in the README) and CSV tables.

Real-data runs add keys, never change one (``real.REAL_ROW_FIELDS``, ``REAL_GROUP_FIELDS``,
``REAL_PAIR_FIELDS``, ``REAL_SEED_FIELDS``, present only when the report holds such a run), so
the schema stays ``rnnctl.report/1``: a reader of synthetic reports reads them unchanged. CSV
tables gain columns at the end the same way."""

from __future__ import annotations

import csv
import io

from .. import store
from ..labels import diagnosis_text
from ..store import RunRecord
from . import real
from .query import Report
from .values import json_tree, jsonable

SCHEMA = "rnnctl.report/1"
#: Top-level keys of the JSON document.
TOP_FIELDS = ("schema", "kind", "source", "sweep", "swept", "where", "sort", "counts", "runs", "by",
              "groups", "pair", "pairs", "figures", "warnings")
#: Keys the document of a single run adds.
RUN_FIELDS = ("config", "config_diff", "diff_against", "postmortem", "success_rule", "per_length", "evaluations",
              "saved_evals")

CSV_RUN_FIELDS = ("run_id", "status", "final_loss", "final_error", "success", "success_update", "updates",
                  "wall_time", "clip_rate", "norm_max", "norm_median", "diverged_at", "problem", "path")
CSV_GROUP_FIELDS = ("runs", "finished", "succeeded", "success_rate", "diverged", "unfinished", "problems",
                    "updates_mean", "updates_std", "updates_min", "updates_max", "updates_median",
                    "clip_rate_median", "norm_max_median", "final_error_median", "ms_per_update_median")
#: Columns the run table adds after CSV_RUN_FIELDS when the report holds a real-data run, before
#: one ``<split>.<metric>`` column per metric recorded.
CSV_REAL_RUN_FIELDS = ("metric", "metric_mode", "best_update", "stopped_early", "dataset.source", "dataset.hash")
#: Columns the group table adds likewise, before ``<split>.<metric>_mean``, ``_std`` and ``_n``.
CSV_REAL_GROUP_FIELDS = ("real_runs", "metric", "best_update_mean", "stopped_early")


def report_json(rep: Report, by: list[str] | None = None, groups: list[dict] | None = None,
                pair: str | None = None, pairs: list[dict] | None = None,
                figures: list[str] | None = None) -> dict:
    """The JSON document (TOP_FIELDS), as ``rnnctl report --json`` prints it."""
    sweep = None
    if rep.sweep:
        sweep = {"name": rep.sweep.get("name"), "folder": rep.sweep.get("folder"),
                 "base": {k: jsonable(v) for k, v in (rep.sweep.get("base") or {}).items()} or None}
    return {"schema": SCHEMA, "kind": rep.kind, "source": str(rep.source), "sweep": sweep,
            "swept": rep.swept, "where": rep.where, "sort": rep.sort, "counts": rep.counts,
            "runs": rep.rows, "by": list(by) if by else None, "groups": groups,
            "pair": pair, "pairs": pairs, "figures": figures, "warnings": rep.warnings}


def run_json_extra(run: RunRecord, diff, against: str, pm: dict | None) -> dict:
    """The keys a single-run JSON document adds (RUN_FIELDS): the config as nested mappings
    (null when unreadable), its diff, what the diff is against, the post-mortem, the success rule
    the run was judged by (null: recorded before per-length evaluation, i.e. the mean) and its last
    evaluation's error per length bucket (null for a fixed length or an older run); every
    evaluation during training (update, loss, error, and per_length when recorded) and the
    evaluations saved by ``rnnctl eval --save``: the data behind the run's error figures."""
    info = run.info or {}
    try:
        config = store.read_config_dict(run.path)
    except (OSError, ValueError):
        config = None
    return {"config": config,
            "config_diff": [{"key": k, "base": jsonable(a), "value": jsonable(b)} for k, a, b in diff],
            "diff_against": against, "postmortem": json_tree(pm),
            "success_rule": info.get("success_rule"), "per_length": json_tree(info.get("per_length")),
            "evaluations": _evaluations(run), "saved_evals": _saved_evals(run)}


def _evaluations(run: RunRecord) -> list[dict] | None:
    """Each evaluation record's update, loss, error (and per_length); null when unreadable."""
    try:
        records = store.read_metrics(run.path)
    except Exception:  # noqa: BLE001 - a damaged file is reported elsewhere; the document goes on
        return None
    keep = ("update", "loss", "error", "per_length")
    return [json_tree({k: m[k] for k in keep if k in m}) for m in records]


def _saved_evals(run: RunRecord) -> list[dict] | None:
    try:
        return json_tree(store.read_evals(run.path))
    except Exception:  # noqa: BLE001
        return None


def _csv(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return format(v, ".6g")
    if isinstance(v, (list, tuple)):
        return " ".join(map(str, v))
    return str(v)


def runs_csv(rep: Report) -> str:
    """The run table as CSV: the swept keys, then CSV_RUN_FIELDS; with real-data runs their
    fields and metrics, then ``<split>.<metric>.<baseline>`` for each trivial baseline recorded;
    when a run holds a diagnosis, ``diagnosis`` (its kinds, as the table shows them)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    extra = [*CSV_REAL_RUN_FIELDS, *(f"{s}.{m}" for s in real.SPLITS for m in real.all_metrics(rep.runs))] \
        if rep.real else []
    trivial = list(dict.fromkeys((s, m, n) for r in rep.runs for s in real.SPLITS for m in real.all_metrics([r])
                                 for n in (real.baselines(r.info, s, m) or {}).get("values", {})))
    diagnosed = rep.diagnosed
    w.writerow([*rep.swept, *CSV_RUN_FIELDS, *extra, *(".".join(t) for t in trivial),
                *(("diagnosis",) if diagnosed else ())])
    for run, row in zip(rep.runs, rep.rows):
        w.writerow([_csv(row["values"][k]) for k in rep.swept] + [_csv(row[f]) for f in CSV_RUN_FIELDS]
                   + [_csv(real.real_value(run.info, k) if real.is_real(run.info) else None) for k in extra]
                   + [_csv((real.baselines(run.info, s, m) or {}).get("values", {}).get(n)) for s, m, n in trivial]
                   + ([diagnosis_text(run.info)] if diagnosed else []))
    return buf.getvalue()


def groups_csv(groups: list[dict]) -> str:
    """The group table as CSV: the group's keys, then CSV_GROUP_FIELDS (updates to success flat)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    keys = list(groups[0]["values"]) if groups else []
    has_real = any("valid" in g for g in groups)
    metrics = [(s, m) for s in real.SPLITS for m in dict.fromkeys(m for g in groups for m in (g.get(s) or {}))]
    extra = [*CSV_REAL_GROUP_FIELDS, *(f"{s}.{m}_{x}" for s, m in metrics for x in ("mean", "std", "n"))] \
        if has_real else []
    w.writerow([*keys, *CSV_GROUP_FIELDS, *extra])
    for g in groups:
        u = g["updates_to_success"]
        flat = {**g, "updates_mean": u["mean"], "updates_std": u["std"], "updates_min": u["min"],
                "updates_max": u["max"], "updates_median": u["median"]}
        if has_real:
            flat["best_update_mean"] = (g.get("best_update") or {}).get("mean")
            for s, m in metrics:
                st = (g.get(s) or {}).get(m) or {}
                flat.update({f"{s}.{m}_mean": st.get("mean"), f"{s}.{m}_std": st.get("std"), f"{s}.{m}_n": st.get("n")})
        w.writerow([_csv(g["values"][k]) for k in keys] + [_csv(flat[f]) for f in CSV_GROUP_FIELDS]
                   + [_csv(flat.get(f)) for f in extra])
    return buf.getvalue()
