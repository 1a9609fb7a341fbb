"""Reports over run folders: find runs (through ``rnnctl.store``), filter, sort, aggregate,
compare methods on paired seeds, export JSON and CSV, and write the HTML page. No matplotlib and
no Rich here: figures are ``rnnctl.plots``, terminal tables ``rnnctl.ui.tables``.

    rep = load_report("runs/clipping_vs_length", where=["task.length>=50"], sort="-final_error")
    rep.rows                          # one dict per run (ROW_FIELDS)
    groups = aggregate(rep, ["train.gradient.method", "task.length"])
    key, pairs = paired(rep, ["train.gradient.method", "task.length"])
    report_json(rep, by, groups, key, pairs)   # the stable JSON document (SCHEMA, in the README)

Modules: ``query`` (Report, load_report, --where/--sort, swept keys, rows), ``aggregate`` (groups,
paired seeds, stats), ``export`` (JSON, CSV), ``text`` (cells and table rows as plain text),
``real`` (real-data runs: train/valid/test metrics, dataset), ``detail`` (one run: config diff, post-mortem replay), ``html`` (the page, from figures it is
given), ``outputs`` (compare runs, or one run in depth), ``values`` (comparing and sorting values).
Drawing and writing the figures is ``rnnctl.plots.write_outputs``.
"""

from .aggregate import GROUP_FIELDS, PAIR_FIELDS, STATS_FIELDS, aggregate, default_pair_key, paired, stats, tied_keys
from .detail import backprop_rows, config_defaults, postmortem, run_diff, to_lag
from .export import (CSV_GROUP_FIELDS, CSV_RUN_FIELDS, RUN_FIELDS, SCHEMA, TOP_FIELDS, groups_csv, report_json,
                     run_json_extra, runs_csv)
from .outputs import Comparison, RunDetail, compare, inspect_run, is_single_run
from .query import (DIAGNOSIS_ROW_FIELDS, ROW_FIELDS, ROW_KEYS, SUMMARY_FIELDS, Report, field_value, group_key,
                    load_report, parse_where, resolve_key, row_of, swept_keys, sweep_info)
from .real import (REAL_GROUP_FIELDS, REAL_PAIR_FIELDS, REAL_ROW_FIELDS, REAL_SEED_FIELDS, SPLITS, is_real,
                   metric_value)
from .text import (data_rows, diff_rows, diff_text, findings_rows, fmt, fmt_any, fmt_spread, fmt_stats, fmt_value,
                   group_table_rows, metric_rows, pair_label, pair_table_rows, per_seed_text, postmortem_rows, run_table_rows,
                   short_names, summary_rows)
from .values import canon, finite, is_num, sort_key

__all__ = [
    "GROUP_FIELDS", "PAIR_FIELDS", "STATS_FIELDS", "aggregate", "default_pair_key", "paired", "stats", "tied_keys",
    "backprop_rows", "config_defaults", "postmortem", "run_diff", "to_lag",
    "CSV_GROUP_FIELDS", "CSV_RUN_FIELDS", "RUN_FIELDS", "SCHEMA", "TOP_FIELDS", "groups_csv", "report_json",
    "run_json_extra", "runs_csv",
    "Comparison", "RunDetail", "compare", "inspect_run", "is_single_run",
    "DIAGNOSIS_ROW_FIELDS", "ROW_FIELDS", "ROW_KEYS", "SUMMARY_FIELDS", "Report", "field_value", "group_key", "load_report",
    "parse_where", "resolve_key", "row_of", "swept_keys", "sweep_info",
    "REAL_GROUP_FIELDS", "REAL_PAIR_FIELDS", "REAL_ROW_FIELDS", "REAL_SEED_FIELDS", "SPLITS", "is_real",
    "metric_value",
    "data_rows", "diff_rows", "diff_text", "findings_rows", "fmt", "fmt_any", "fmt_spread", "fmt_stats", "fmt_value",
    "group_table_rows", "metric_rows", "pair_label", "pair_table_rows", "per_seed_text", "postmortem_rows",
    "run_table_rows", "short_names", "summary_rows",
    "canon", "finite", "is_num", "sort_key",
]
