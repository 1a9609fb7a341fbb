"""rnnctl train and rnnctl resume: a few lines each over rnnctl.training and rnnctl.store."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import EXIT_DIVERGED, EXIT_OK, EXIT_RUN_FAILED, CannotWrite, RnnctlError, RunningElsewhere
from . import EXIT_CODES_HELP, app, err, fail, out


@app.command(epilog=EXIT_CODES_HELP)
def train(
    config: Path = typer.Argument(..., help="YAML experiment config, e.g. configs/quickstart.yaml."),
    overrides: Optional[List[str]] = typer.Argument(
        None, help="Overrides as dotted key=value, e.g. task.length=100 train.gradient.method=norm seed=3.",
        show_default=False),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved config and exit; run nothing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print the final summary as JSON on stdout."),
):
    """Train one model as CONFIG describes; write a run folder under runs_dir/name/."""
    from ..config import check_runnable, config_hash, dump_config, load_config
    from ..store import RunFolder, new_run_id
    try:
        cfg = load_config(config, list(overrides or []))
        check_runnable(cfg)   # the rules that need the task (task and arch fit, ...): before any folder exists
        _warn_size(cfg)
        if dry_run:
            sys.stdout.write(dump_config(cfg))
            raise typer.Exit(EXIT_OK)
        # named now, made (and locked) when the run starts: a run that cannot start leaves no folder
        folder = RunFolder.create(cfg.runs_dir, cfg.name, new_run_id(config_hash(cfg)), defer=True)
    except RnnctlError as e:
        fail(e)
    _run(cfg, folder, None, quiet, as_json)


@app.command(epilog=EXIT_CODES_HELP)
def resume(
    run_dir: Path = typer.Argument(..., help="An unfinished run folder (interrupted, failed or killed), or a completed "
                                          "one to extend with train.steps=N."),
    overrides: Optional[List[str]] = typer.Argument(
        None, help="Only train.steps=N (more updates than done: extends the run), "
                   "eval.stop_on_success=true|false and eval.success_error=E (0: train on until no "
                   "error); other keys would change what the run computes.",
        show_default=False),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print the final summary as JSON on stdout."),
):
    """Continue an unfinished run from its last checkpoint (written at every evaluation), or extend a finished one.

    The resumed run gives the same numbers as one that was never interrupted; a completed run extended with train.steps=N gives the numbers of a run that was given N steps from the start (schedules that span train.steps excepted: they are refused).
    """  # noqa: E501 (one line: Typer keeps the line breaks of a help paragraph)
    from ..training import resume_run
    try:
        cfg, folder, checkpoint = resume_run(run_dir, list(overrides or []))
        if overrides:   # extended: the folder grows on to the new train.steps
            _warn_size(cfg)
    except RnnctlError as e:
        fail(e)
    err.print(f"resuming at update {checkpoint.update}" if checkpoint is not None else
              "no checkpoint yet (killed before its first evaluation): training again from update 0",
              highlight=False)
    _run(cfg, folder, checkpoint, quiet, as_json)


def _warn_size(cfg) -> None:
    """On stderr, before anything runs: the folder size the config implies at its full train.steps,
    when it exceeds store.sizes.WARN_BYTES (1 GiB). ``check_runnable`` has passed: the task the
    estimate builds can be built."""
    from ..footprint import folder_size_warning
    text = folder_size_warning(cfg)
    if text:
        err.print(f"[bold yellow]warning:[/] {text}", highlight=False)


def _run(cfg, folder, checkpoint, quiet: bool, as_json: bool, note: str = "", **train_kwargs):
    """Train into ``folder``, render the outcome, exit with the status's code. ``train_kwargs``
    go to ``rnnctl.training.train`` (rnnctl import: init_params, init_from); ``note`` follows the
    folder's name on stderr."""
    from rich.markup import escape

    from ..diagnosis.record import problem_lines
    from ..interrupt import RaiseOnSignal, exit_code, signal_name
    from ..store import read_run
    from ..store.layout import params_file
    from ..training import train as run_training
    from ..ui.progress import TrainProgress, summary_table
    try:
        err.print(f"run folder: {folder.path}{note}", highlight=False)
        # SIGTERM/SIGHUP: as Ctrl-C (the loop checkpoints at the next update; outside it they raise)
        with RaiseOnSignal(), TrainProgress(err, quiet) as progress:
            result = run_training(cfg, folder, progress, resume=checkpoint, **train_kwargs)
    except KeyboardInterrupt as e:   # Ctrl-C, SIGTERM or SIGHUP: exit 130, 143 or 129
        err.print(f"interrupted by {signal_name(getattr(e, 'signum', None))}: continue with  "
                  f"rnnctl resume {folder.path}", highlight=False)
        raise typer.Exit(exit_code(e))
    except RunningElsewhere as e:   # the folder is locked by another live process: not touched
        fail(e)
    except RnnctlError as e:
        folder.record_failure(e)   # run.json: failed, the message and its type (if the folder exists)
        fail(e)
    except Exception as e:  # recorded as 'failed' in run.json by the loop, or here if it failed before
        folder.record_failure(e)
        full = CannotWrite.of(e, f"rnnctl resume {folder.path}")
        if full is not None:   # a full or read-only disk: a one-line reason, exit 7
            fail(full)
        err.print(f"[bold red]error:[/] run failed: {type(e).__name__}: {e}", highlight=False)
        raise typer.Exit(EXIT_RUN_FAILED)

    info = read_run(folder.path)
    if as_json:
        print(json.dumps({"run_dir": str(folder.path), **info}, indent=2))
    else:
        out.print(summary_table(folder.path, result.status, info))
    for line in problem_lines(info.get("diagnosis")):   # the run's own diagnosis (rnnctl diagnose RUN)
        err.print(f"[bold red]problem:[/] {escape(line)}", highlight=False, soft_wrap=True)
    if result.status == "diverged":
        err.print(f"[bold red]diverged:[/] {result.summary['message']}; the last finite parameters are in "
                  f"{params_file(folder.path, 'final')}", highlight=False)
        raise typer.Exit(EXIT_DIVERGED)
    raise typer.Exit(EXIT_OK)
