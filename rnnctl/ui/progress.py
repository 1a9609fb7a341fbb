"""rnnctl train's terminal view: a progress bar (an Observer of the training loop) and the
summary table printed at the end. Rich is imported here and in rnnctl.cli only."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
    TimeRemainingColumn
from rich.table import Table

from ..report.real import baselines


class TrainProgress:
    """Rich progress bar on ``console`` (stderr), refreshed at most ~10 times a second. An
    observer of ``rnnctl.training.train`` (on_start, on_update, on_eval); a context manager."""

    stop_requested = False

    def __init__(self, console: Console, quiet: bool = False):
        self.progress = Progress(TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                 console=console, disable=quiet, transient=False)
        self.task = None
        self.last = 0.0
        self.loss = float("nan")
        self.error = None
        self.valid = None   # real data: (metric, value) of the last validation

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def _info(self) -> str:
        e = "" if self.error is None else f"  eval error {100 * self.error:.2f}%"
        if self.valid is not None:
            e = f"  valid {self.valid[0]} {self.valid[1]:.4g}"
        return f"loss {self.loss:.4g}{e}"

    def on_start(self, total: int) -> None:
        self.task = self.progress.add_task("train", total=total, info="")

    def on_update(self, update: int, loss: float, stats: dict) -> None:
        if loss == loss:  # NaN marks the resume point: no loss yet
            self.loss = loss
        now = time.monotonic()
        if now - self.last > 0.1 or not stats:
            self.last = now
            self.progress.update(self.task, completed=update, info=self._info())

    def on_eval(self, record: dict) -> None:
        self.error = record["error"]
        valid = record.get("valid")
        if valid:   # real data: the selection metric comes first (bpc, nll, accuracy, mse, ...)
            name = next(iter(valid))
            self.valid = (name, valid[name])
        self.progress.update(self.task, completed=record["update"], info=self._info())


    def on_end(self, update: int, status: str) -> None:
        """Stop the bar at the run's real last update: after an early success or a divergence the
        bar's total becomes the update reached, so it does not read 1500/20000 forever."""
        if self.task is not None:
            self.progress.update(self.task, total=max(update, 1), completed=update, info=self._info())


def summary_table(run_dir: Path, status: str, s: dict) -> Table:
    """The run's outcome (``s`` is its run.json) as a two-column table."""
    t = Table(show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value", overflow="fold")
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    t.add_row("run folder", str(run_dir))
    t.add_row("status", status)
    t.add_row("updates", str(s["updates"]))
    if s.get("metric"):   # real data: the best parameters' metrics on each split
        metric = s["metric"]
        for split in ("train", "valid", "test"):
            t.add_row(f"{split} {metric}", fmt((s.get(split) or {}).get(metric), ".4g"))
        for split in ("valid", "test"):   # what a model that learned nothing would score
            b = baselines(s, split, metric)
            if b:
                t.add_row(f"{split} {metric}, trivial", ", ".join(
                    f"{name} {fmt(v, '.4g')}" for name, v in b["values"].items()))
        t.add_row("best update", fmt(s.get("best_update"), "d") + (" (stopped early)" if s.get("stopped_early") else ""))
    else:
        t.add_row("final eval loss", fmt(s["final_loss"], ".4g"))
        t.add_row("final eval error", "-" if s["final_error"] is None else f"{100 * s['final_error']:.2f}%")
        t.add_row("success", "yes at update %d" % s["success_update"] if s["success"] else "no")
    t.add_row("clip rate", "-" if s["clip_rate"] is None else f"{100 * s['clip_rate']:.1f}%")
    if s.get("skipped_updates"):
        t.add_row("skipped updates", str(s["skipped_updates"]))
    t.add_row("time per update", fmt(s["ms_per_update"], ".3f") + " ms")
    t.add_row("wall time", fmt(s["wall_time"], ".1f") + " s")
    if s.get("message"):
        t.add_row("message", s["message"])
    return t
