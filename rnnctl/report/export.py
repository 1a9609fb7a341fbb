"""The report as data for other programs: the JSON document (schema ``rnnctl.report/1``,
documented field by field in the README) and CSV tables."""

from __future__ import annotations

import csv
import io

import yaml

from .. import store
from ..store import RunRecord
from .query import Report
from .values import json_tree, jsonable

SCHEMA = "rnnctl.report/1"
#: Top-level keys of the JSON document.
TOP_FIELDS = ("schema", "kind", "source", "sweep", "swept", "where", "sort", "counts", "runs", "by",
              "groups", "pair", "pairs", "figures", "warnings")
#: Keys the document of a single run adds.
RUN_FIELDS = ("config", "config_diff", "diff_against", "postmortem")

CSV_RUN_FIELDS = ("run_id", "status", "final_loss", "final_error", "success", "success_update", "updates",
                  "wall_time", "clip_rate", "norm_max", "norm_median", "diverged_at", "problem", "path")
CSV_GROUP_FIELDS = ("runs", "finished", "succeeded", "success_rate", "diverged", "unfinished", "problems",
                    "updates_mean", "updates_std", "updates_min", "updates_max", "updates_median",
                    "clip_rate_median", "norm_max_median")


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
    (null when unreadable), its diff, what the diff is against, and the post-mortem."""
    try:
        config = store.read_config_dict(run.path)
    except (OSError, ValueError, yaml.YAMLError):
        config = None
    return {"config": config,
            "config_diff": [{"key": k, "base": jsonable(a), "value": jsonable(b)} for k, a, b in diff],
            "diff_against": against, "postmortem": json_tree(pm)}


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
    """The run table as CSV: the swept keys, then CSV_RUN_FIELDS."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*rep.swept, *CSV_RUN_FIELDS])
    for row in rep.rows:
        w.writerow([_csv(row["values"][k]) for k in rep.swept] + [_csv(row[f]) for f in CSV_RUN_FIELDS])
    return buf.getvalue()


def groups_csv(groups: list[dict]) -> str:
    """The group table as CSV: the group's keys, then CSV_GROUP_FIELDS (updates to success flat)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    keys = list(groups[0]["values"]) if groups else []
    w.writerow([*keys, *CSV_GROUP_FIELDS])
    for g in groups:
        u = g["updates_to_success"]
        flat = {**g, "updates_mean": u["mean"], "updates_std": u["std"], "updates_min": u["min"],
                "updates_max": u["max"], "updates_median": u["median"]}
        w.writerow([_csv(g["values"][k]) for k in keys] + [_csv(flat[f]) for f in CSV_GROUP_FIELDS])
    return buf.getvalue()
