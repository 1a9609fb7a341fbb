"""rnnctl report."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import typer
from typer.core import TyperCommand
from rich.console import Console

from ..errors import RnnctlError
from . import app, err, fail, out


REPORT_EXIT_HELP = ("Exit codes: 0 report made (runs with missing or corrupt files are listed, with a warning), "
                    "2 bad key or option, or a path with no run folder (or --to without the tracking extra), "
                    "5 no such path, 1 an output file cannot be written (or the --to destination refused "
                    "the export).")
TARGETS = ("tensorboard", "mlflow")


class _ReportCommand(TyperCommand):
    """``--to mlflow`` may stand without its URI (then $MLFLOW_TRACKING_URI or ./mlruns): Click's
    two-value option gets an empty one in its place."""

    def parse_args(self, ctx, args):
        args = list(args)
        for i, a in enumerate(args):
            if a == "--to" and args[i + 1:i + 2] == ["mlflow"] and (i + 2 == len(args) or args[i + 2].startswith("-")):
                args.insert(i + 2, "")
                break
        return super().parse_args(ctx, args)


@app.command(epilog=REPORT_EXIT_HELP, cls=_ReportCommand)
def report(
    path: Path = typer.Argument(..., help="A sweep folder (runs/<sweep>), a folder of run folders "
                                          "(searched recursively), or one run folder."),
    by: Optional[str] = typer.Option(None, "--by", help="Aggregate over groups sharing these keys, comma-separated "
                                     "(config keys or unique suffixes: train.gradient.method,task.length)."),
    where: Optional[List[str]] = typer.Option(None, "--where", help="Keep runs where key=value (also !=, <, >, <=, >=; "
                                              "a=x,y for either); repeatable. Keys: config keys or run fields."),
    sort: Optional[str] = typer.Option(None, "--sort", help="Sort runs by this field or key; -field for descending."),
    pair: Optional[str] = typer.Option(None, "--pair", help="Compare the values of this key on paired seeds "
                                       "(default: train.gradient.method, when it varies)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout (schema in the README)."),
    as_csv: bool = typer.Option(False, "--csv", help="Print the run table (or, with --by, the group table) as CSV."),
    plots: Optional[Path] = typer.Option(None, "--plots", help="Write PNG figures into this folder."),
    html_path: Optional[Path] = typer.Option(None, "--html", help="Write one self-contained HTML page."),
    each_run: bool = typer.Option(False, "--each-run", help="Figures for every run (default: one run per method, "
                                  "at the longest length)."),
    to: Optional[Tuple[str, str]] = typer.Option(None, "--to", metavar="TARGET DEST",
                                                 help="Export the runs instead of printing the report: "
                                                 "'tensorboard DIR' (event files, a folder per run) or "
                                                 "'mlflow [URI]' (default $MLFLOW_TRACKING_URI, else the "
                                                 "file store ./mlruns). Needs the tracking extra "
                                                 "(pip install 'rnnctl\\[tracking]'); see docs/tracking.md."),
    no_figures: bool = typer.Option(False, "--no-figures", help="With --to: leave out each run's figures "
                                    "(drawing them is most of an export's time)."),
    columns: Optional[str] = typer.Option(None, "--columns", help="The run table's columns, comma-separated: run_id, "
                                          "status, final_loss, final_error, success, success_update, wall_time, "
                                          "clip_rate, norm_max, norm_median, diverged_at, problem, valid.<metric>, "
                                          "test.<metric>, best_update, stopped_early, or any config key (a unique "
                                          "suffix will do: method, length)."),
):
    """Compare runs and sweeps: tables, success rates, paired seeds, figures, an HTML page.

    One row per run; --by groups runs and compares methods on paired seeds; a run folder gives that run in depth (with the divergence post-mortem).

    --to tensorboard DIR or --to mlflow [URI] exports the runs instead, for TensorBoard or MLflow (docs/tracking.md).

    Reads only run.json and config.yaml per run (and jobs.jsonl); traces only for figures. A run folder with a missing or corrupt file is listed as missing/corrupt and the report goes on (exit 0).
    """
    from .. import report as R
    from ..errors import EXIT_USAGE
    from ..ui.tables import report_tables
    if as_json and as_csv:
        err.print("[bold red]error:[/] --json and --csv exclude each other", highlight=False)
        raise typer.Exit(EXIT_USAGE)
    by_keys = [k.strip() for k in (by or "").split(",") if k.strip()]
    try:
        rep = R.load_report(path, list(where or []), sort)
        if to:
            return _export(rep, *to, as_json, not no_figures)
        if R.is_single_run(rep):
            result = R.inspect_run(rep)
        else:
            if not rep.runs:
                err.print("no runs match the filters", highlight=False)
            result = R.compare(rep, by_keys, pair)
        figures = []
        if plots or html_path:   # matplotlib is loaded only when figures are asked for
            from ..plots import write_outputs
            err.print("drawing figures ...", highlight=False)
            figures = write_outputs(result, plots, html_path, each_run)
    except RnnctlError as e:
        fail(e)
    for w in rep.warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False, markup=True, soft_wrap=True)
    if as_json:
        print(json.dumps(result.document(figures), indent=2))
    elif as_csv:
        sys.stdout.write(result.csv())
    else:   # fitted to the terminal; piped, to $COLUMNS, else 100 columns
        console = out if out.is_terminal else Console(width=_width())
        try:
            tables = report_tables(result, console.width, [c.strip() for c in (columns or "").split(",") if c.strip()])
        except RnnctlError as e:
            fail(e)
        for table in tables:
            console.print(table)
    for f in figures:
        err.print(f"wrote {f}", highlight=False)


def _export(rep, target: str, dest: str, as_json: bool, figures: bool) -> None:
    """rnnctl report ... --to TARGET DEST: the export, a line per run on stderr, a summary."""
    from ..errors import ConfigError
    if target not in TARGETS:
        import difflib
        close = difflib.get_close_matches(target, TARGETS, n=1)
        raise ConfigError(f"expected one of {', '.join(TARGETS)}; got {target!r}", key="--to",
                          suggestion=close[0] if close else None)
    if target == "tensorboard" and not dest:
        raise ConfigError("give the folder to write into: --to tensorboard DIR", key="--to")
    from .. import tracking
    show = (lambda run_id: err.print(f"exporting {run_id}", highlight=False)) if err.is_terminal else None
    if target == "tensorboard":
        res = tracking.export_tensorboard(rep.runs, dest, figures=figures, progress=show)
    else:
        res = tracking.export_mlflow(rep.runs, dest or None, figures=figures, progress=show)
    for w in rep.warnings + res.warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False, markup=True, soft_wrap=True)
    for run_id, why in res.skipped:
        err.print(f"skipped {run_id}: {why}", highlight=False, soft_wrap=True)
    if as_json:
        print(json.dumps({"target": target, "destination": res.where, "written": res.written,
                          "skipped": [{"run_id": r, "reason": w} for r, w in res.skipped],
                          "seconds": round(res.seconds, 3)}, indent=2))
    else:
        err.print(f"exported {len(res.written)} run(s) to {target} at {res.where} "
                  f"({len(res.skipped)} skipped) in {res.seconds:.1f} s", highlight=False, soft_wrap=True)
def _width() -> int:
    """The width of the report when stdout is not a terminal: $COLUMNS, else 100."""
    try:
        return max(40, int(os.environ.get("COLUMNS", "")))
    except ValueError:
        return 100
