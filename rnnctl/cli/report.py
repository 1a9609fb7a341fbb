"""rnnctl report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from ..errors import RnnctlError
from . import app, err, fail, out


REPORT_EXIT_HELP = ("Exit codes: 0 report made (runs with missing or corrupt files are listed, with a warning), "
                    "2 bad path, key or option, 1 an output file cannot be written.")


@app.command(epilog=REPORT_EXIT_HELP)
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
):
    """Compare runs and sweeps: tables, success rates, paired seeds, figures, an HTML page.

    One row per run; --by groups runs and compares methods on paired seeds; a run folder gives that run in depth (with the divergence post-mortem).

    Reads only run.json and config.yaml per run (and jobs.jsonl); traces only for figures. A run folder with a missing or corrupt file is listed as missing/corrupt and the report goes on (exit 0).
    """
    from .. import report as R
    from ..errors import EXIT_USAGE
    if as_json and as_csv:
        err.print("[bold red]error:[/] --json and --csv exclude each other", highlight=False)
        raise typer.Exit(EXIT_USAGE)
    wide = out if out.is_terminal else Console(width=240)
    by_keys = [k.strip() for k in (by or "").split(",") if k.strip()]
    try:
        rep = R.load_report(path, list(where or []), sort)
        if rep.kind == "run" and len(rep.runs) == 1:
            _report_run(rep, as_json, as_csv, plots, html_path, wide)
            return
        if not rep.runs:
            err.print("no runs match the filters", highlight=False)
        groups = R.aggregate(rep, by_keys) if by_keys else None
        pair_key, pairs = R.paired(rep, by_keys, pair) if (by_keys or pair) else (None, None)
        if pair and not pairs:
            rep.warnings.append(f"--pair {pair}: no two finished runs differ only in it")
    except RnnctlError as e:
        fail(e)
    figures: list[str] = []
    if plots or html_path:
        from .. import plots as P
        err.print("drawing figures ...", highlight=False)
        sweep_figs = {k: P.png_bytes(f) for k, f in P.sweep_figures(rep, pair_key, rep.warnings).items()}
        chosen = [r for r in rep.runs if r.run_status is not None] if each_run else P.representative_runs(rep, pair_key)
        run_figs = [(r, {k: P.png_bytes(f) for k, f in P.run_figures(r, rep.warnings).items()}) for r in chosen]
        if plots:
            for name, png in sweep_figs.items():
                figures.append(_write_png(plots / f"{name}.png", png))
            for r, figs in run_figs:
                for name, png in figs.items():
                    figures.append(_write_png(plots / r.run_id / f"{name}.png", png))
        if html_path:
            from ..html import sweep_page
            html_groups = groups if groups is not None else R.aggregate(rep, [k for k in rep.swept if k != "seed"]) \
                if [k for k in rep.swept if k != "seed"] else None
            hp_key, hp = (pair_key, pairs) if pairs is not None else R.paired(rep, [k for k in rep.swept if k != "seed"], pair)
            _write_text(html_path, sweep_page(rep, html_groups, hp_key, hp, sweep_figs, run_figs))
            figures.append(str(html_path))
    for w in rep.warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False, markup=True, soft_wrap=True)
    if as_json:
        print(json.dumps(R.report_json(rep, by_keys, groups, pair_key, pairs, figures or None), indent=2))
    elif as_csv:
        sys.stdout.write(R.groups_csv(groups) if groups is not None else R.runs_csv(rep))
    elif groups is not None:
        wide.print(R.rich_table(*R.group_table_rows(groups), title=f"{len(rep.runs)} runs by {', '.join(by_keys)}"))
        if pairs:
            wide.print(R.rich_table(*R.pair_table_rows(pairs), title=f"paired seeds: {pair_key} (Δ = b − a)"))
    else:
        head, rows = R.run_table_rows(rep)
        wide.print(R.rich_table(head, rows, title=f"{len(rep.runs)} runs in {path}", status_col=1))
        if pairs:
            wide.print(R.rich_table(*R.pair_table_rows(pairs), title=f"paired seeds: {pair_key} (Δ = b − a)"))
    for f in figures:
        err.print(f"wrote {f}", highlight=False)


def _write_png(path: Path, png: bytes) -> str:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
    except OSError as e:
        fail(RnnctlError(f"cannot write {path}: {e}"))
    return str(path)


def _write_text(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        fail(RnnctlError(f"cannot write {path}: {e}"))


def _report_run(rep, as_json: bool, as_csv: bool, plots: Optional[Path], html_path: Optional[Path], wide) -> None:
    """rnnctl report RUN_DIR: status, summary, config diff, post-mortem, figures of one run."""
    from .. import report as R
    run = rep.runs[0]
    diff, against = R.run_diff(run)
    pm = R.postmortem(run.path) if run.run_status == "diverged" else None
    figures: list[str] = []
    if plots or html_path:
        from .. import plots as P
        err.print("drawing figures ...", highlight=False)
        figs = {k: P.png_bytes(f) for k, f in P.run_figures(run, rep.warnings).items()}
        if plots:
            figures += [_write_png(plots / f"{name}.png", png) for name, png in figs.items()]
        if html_path:
            from ..html import run_page
            _write_text(html_path, run_page(run, diff, against, pm, figs, rep.warnings))
            figures.append(str(html_path))
    for w in rep.warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False, markup=True, soft_wrap=True)
    if as_json:
        doc = R.report_json(rep, figures=figures or None)
        doc.update(R.run_json_extra(run, diff, against, pm))
        print(json.dumps(doc, indent=2))
    elif as_csv:
        sys.stdout.write(R.runs_csv(rep))
    else:
        wide.print(R.rich_table(["field", "value"], R.summary_rows(run), title=f"run {run.path}", status_col=1))
        if pm:
            wide.print(R.rich_table(["field", "value"], R.postmortem_rows(pm), title="divergence post-mortem "
                                    "(the failing update, replayed)"))
        wide.print(R.rich_table(["key", against, "this run"],
                                [[k, R.fmt_value(a), R.fmt_value(b)] for k, a, b in diff] or [["(none)", "", ""]],
                                title=f"config: differences from {against}"))
    for f in figures:
        err.print(f"wrote {f}", highlight=False)


