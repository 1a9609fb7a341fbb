"""rnnctl diagnose: a few lines over rnnctl.diagnosis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import typer
from rich.console import Console

from ..errors import RnnctlError
from . import app, err, fail, out

DIAGNOSE_EXIT_HELP = ("Exit codes: 0 diagnosis made (healthy or not), 2 bad usage, 5 a path is not a run "
                      "folder, a sweep folder or a folder of runs.")


@app.command(epilog=DIAGNOSE_EXIT_HELP)
def diagnose(
    run_dirs: List[Path] = typer.Argument(..., help="Run folders, sweep folders or folders of run folders."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout: one object for one run folder, a "
                                 "list for several, a sweep or a folder of runs."),
):
    """Read runs for what went wrong with their gradients and learning, with the evidence and the config changes it supports.

    The kinds: exploding, diverged, vanishing, saturated, clipping, no_learning, overfitting, below_baseline. One run: its findings in full. Several runs or a sweep: one line per run and a summary line. docs/diagnosis.md states every rule.
    """  # noqa: E501 (one line: Typer keeps the line breaks of a help paragraph)
    from ..diagnosis import diagnose_paths, summary_line
    from ..ui.diagnosis import run_findings, runs_table
    try:
        found = diagnose_paths(run_dirs)
    except RnnctlError as e:
        fail(e)
    from ..store import is_run_folder, is_sweep_folder
    # one object for one run folder named; a list for several, a sweep or a folder of runs
    single = len(run_dirs) == 1 and is_run_folder(run_dirs[0]) and not is_sweep_folder(run_dirs[0])
    if as_json:
        print(json.dumps(found[0] if single else found, indent=2, ensure_ascii=False))
        return
    wide = out if out.is_terminal else Console(width=200)
    if single:
        wide.print(run_findings(found[0]))
    else:
        wide.print(runs_table(found))
        print(summary_line(found))
