"""rnnctl sweep: a few lines over rnnctl.sweep (the library) and rnnctl.ui.sweep (the views)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from ..errors import EXIT_OK, RnnctlError
from . import app, err, fail, out

SWEEP_EXIT_HELP = ("Exit codes: 0 every run finished (succeeded, completed, diverged or stopped: all "
                   "outcomes of a study), 2 bad spec or config (nothing is run), 4 some runs failed, "
                   "6 the only unfinished runs are running elsewhere (another process holds their run "
                   "folder's lock), 7 the sweep folder cannot be written (disk full or read-only: its "
                   "runs resume when the same command runs again), 130 interrupted by Ctrl-C, 143 by "
                   "SIGTERM, 129 by SIGHUP (run the same command again to resume).")


@app.command(epilog=SWEEP_EXIT_HELP)
def sweep(
    spec: Path = typer.Argument(..., help="Sweep spec (YAML), e.g. configs/sweeps/clipping_vs_length.yaml."),
    overrides: Optional[List[str]] = typer.Argument(
        None, help="Overrides of the base config as dotted key=value; name, runs_dir, seeds, early_stop.after, "
                   "early_stop.error_above, random.count, random.seed and description set the sweep's own "
                   "(e.g. seeds=1 name=try).", show_default=False),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the expanded job table and exit; run nothing."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w",
                                          help="Parallel jobs (default: the number of cores)."),
    executor: str = typer.Option("local", "--executor", "-e",
                                 help="local (worker processes), dask, or thread (in-process, for debugging)."),
    address: Optional[str] = typer.Option(None, "--address",
                                          help="Dask scheduler, e.g. tcp://host:8786 (default: a local cluster)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Plain log lines instead of the live table."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary (or, with --dry-run, the jobs) as JSON."),
):
    """Run every combination of a sweep spec (grid, zip, random, seeds) as its own run, in parallel.

    A run is named by the hash of its config: running the same sweep again skips finished runs, resumes interrupted ones and reruns failed ones.
    """  # noqa: E501 (one line: Typer keeps the line breaks of a help paragraph)
    from ..executors import make_backend
    from ..interrupt import RaiseOnSignal, exit_code
    from ..sweep import expand, load_sweep, plan, run_sweep
    from ..ui.sweep import LiveView, LogView, dry_run_note, end_note, job_table, result_table
    wide = out if out.is_terminal else Console(width=240)  # piped tables keep every column
    try:
        sw = load_sweep(spec, list(overrides or []))
        jobs = expand(sw)
        make_backend(executor, workers, address)  # check the options before anything starts
        if dry_run:
            plans = plan(jobs)
            if as_json:
                print(json.dumps([{"job": p.job.index, "run_id": p.job.run_id, "values": p.job.values,
                                   "action": p.action, "state": p.state} for p in plans], indent=2))
            else:
                wide.print(job_table(plans, sw))
            err.print(dry_run_note(sw, plans), highlight=False)
            raise typer.Exit(EXIT_OK)
        view = LogView(err) if quiet or not err.is_terminal else LiveView(err)
        with RaiseOnSignal():  # SIGTERM/SIGHUP outside the driver's handler raise, as Ctrl-C does
            result = run_sweep(sw, executor=executor, workers=workers, address=address, observer=view, jobs=jobs)
    except RnnctlError as e:
        fail(e)
    except KeyboardInterrupt as e:  # before the sweep's own handler is installed, or after it is removed
        raise typer.Exit(exit_code(e))
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        wide.print(result_table(result, sw))
    note = end_note(result, sw)
    if note:
        err.print(note, highlight=False)
    raise typer.Exit(result.exit_code)
