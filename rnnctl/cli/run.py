"""rnnctl train and rnnctl resume."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED, RnnctlError
from . import EXIT_CODES_HELP, app, err, fail, out


class _Progress:
    """Rich progress bar on stderr, refreshed at most ~10 times a second."""

    def __init__(self, quiet: bool):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn
        self.quiet = quiet
        self.progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                 console=err, disable=quiet, transient=False)
        self.task = None
        self.last = 0.0
        self.loss = float("nan")
        self.error = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def _info(self):
        e = "" if self.error is None else f"  eval error {100 * self.error:.2f}%"
        return f"loss {self.loss:.4g}{e}"

    def on_start(self, total):
        self.task = self.progress.add_task("train", total=total, info="")

    def on_update(self, update, loss, stats):
        if loss == loss:  # NaN marks the resume point: no loss yet
            self.loss = loss
        now = time.monotonic()
        if now - self.last > 0.1 or not stats:
            self.last = now
            self.progress.update(self.task, completed=update, info=self._info())

    def on_eval(self, record):
        self.error = record["error"]
        self.progress.update(self.task, completed=record["update"], info=self._info())


def _summary_table(run_dir: Path, status: str, s: dict):
    from rich.table import Table
    t = Table(show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", overflow="fold")
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    t.add_row("run folder", str(run_dir))
    t.add_row("status", status)
    t.add_row("updates", str(s["updates"]))
    t.add_row("final eval loss", fmt(s["final_loss"], ".4g"))
    t.add_row("final eval error", "-" if s["final_error"] is None else f"{100 * s['final_error']:.2f}%")
    t.add_row("success", "yes at update %d" % s["success_update"] if s["success"] else "no")
    t.add_row("clip rate", "-" if s["clip_rate"] is None else f"{100 * s['clip_rate']:.1f}%")
    t.add_row("time per update", fmt(s["ms_per_update"], ".3f") + " ms")
    t.add_row("wall time", fmt(s["wall_time"], ".1f") + " s")
    if s.get("message"):
        t.add_row("message", s["message"])
    return t


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
    try:
        cfg = load_config(config, list(overrides or []))
        if dry_run:  # the rules that need the task (task and arch fit, lengths, ...) too
            check_runnable(cfg)
    except RnnctlError as e:
        fail(e)
    if dry_run:
        sys.stdout.write(dump_config(cfg))
        raise typer.Exit(EXIT_OK)

    from ..store import RunFolder, new_run_id
    try:
        folder = RunFolder.create(cfg.runs_dir, cfg.name, new_run_id(config_hash(cfg)))
    except RnnctlError as e:
        fail(e)
    _run(cfg, folder, None, quiet, as_json)


@app.command(epilog=EXIT_CODES_HELP)
def resume(
    run_dir: Path = typer.Argument(..., help="An unfinished run folder (interrupted, failed or killed)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print the final summary as JSON on stdout."),
):
    """Continue an unfinished run from its last checkpoint (written at every evaluation).

    The resumed run gives the same numbers as one that was never interrupted.
    """
    from ..config import load_config
    from ..store import RunFolder
    try:
        cfg = load_config(run_dir / "config.yaml")
        folder = RunFolder(run_dir)
        state = folder.resume()
    except RnnctlError as e:
        fail(e)
    err.print(f"resuming at update {state.update}", highlight=False)
    _run(cfg, folder, state, quiet, as_json)


def _run(cfg, folder, state, quiet: bool, as_json: bool):
    """Train into ``folder``, render the outcome, exit with the status's code."""
    from ..store import read_run
    from ..train import train as run_training
    try:
        err.print(f"run folder: {folder.path}", highlight=False)
        with _Progress(quiet) as progress:
            result = run_training(cfg, folder, progress, resume=state)
    except KeyboardInterrupt:
        err.print(f"interrupted: continue with  rnnctl resume {folder.path}", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED)
    except RnnctlError as e:
        fail(e)
    except Exception as e:  # recorded as 'failed' in run.json by the loop
        err.print(f"[bold red]error:[/] run failed: {type(e).__name__}: {e}", highlight=False)
        raise typer.Exit(EXIT_RUN_FAILED)

    info = read_run(folder.path)
    if as_json:
        print(json.dumps({"run_dir": str(folder.path), **info}, indent=2))
    else:
        out.print(_summary_table(folder.path, result.status, info))
    if result.status == "diverged":
        err.print(f"[bold red]diverged:[/] {result.summary['message']}; the last finite parameters are in "
                  f"{folder.path / 'params_final.npz'}", highlight=False)
        raise typer.Exit(EXIT_DIVERGED)
    raise typer.Exit(EXIT_OK)


