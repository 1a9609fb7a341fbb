"""Terminal views of a sweep (stderr) and its tables (stdout), over the library's plain data: the
driver reports through ``rnnctl.sweep.SweepObserver``, which ``LiveView`` (a Rich live table and
progress bar) and ``LogView`` (one line per job start and end: --quiet, or stderr not a terminal)
implement; ``job_table`` (the dry run) and ``result_table`` (the outcome) render a sweep's jobs.
"""

from __future__ import annotations

import threading
import time

from ..labels import diagnosis_text, findings, fmt_value, problem_kinds, short_names
from ..sweep import JobPlan, Sweep, SweepObserver, SweepResult
from ..sweep.worker import ELSEWHERE


def _fmt_error(e) -> str:
    return "-" if e is None else f"{100 * e:.2f}%"


def _fmt_loss(x) -> str:
    return "-" if x is None or x != x else f"{x:.4g}"


def _fmt_time(s) -> str:
    if s is None:
        return "-"
    if s < 60:
        return f"{s:.1f}s"
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def outcome_text(out: dict) -> str:
    """One job's outcome in words: 'succeeded at update 500, error 0.40%'."""
    s = out.get("status")
    if s == "succeeded":
        text = f"succeeded at update {out.get('success_update')}"
    elif s in ("completed", "stopped", "interrupted"):
        text = f"{s} after {out.get('updates')} updates"
    elif s == "diverged":
        text = f"diverged ({out.get('message')})"
    else:
        text = f"{s}: {out.get('message')}"
    if out.get("final_error") is not None and s != "failed":
        text += f", error {_fmt_error(out['final_error'])}"
    metric = out.get("metric")
    for split in ("valid", "test"):   # real data: the selection metric of the best parameters
        if metric and isinstance(out.get(split), dict) and metric in out[split] and s != "failed":
            text += f", {split} {metric} {_fmt_loss(out[split][metric])}"
    problems = problem_kinds(out)
    if problems:   # its diagnosis found something that spoiled the run
        text += f"; problems: {', '.join(problems)}"
    return text


def _split_metric(r: dict, split: str) -> str:
    values, metric = r.get(split), r.get("metric")
    return _fmt_loss(values.get(metric)) if isinstance(values, dict) and metric else "-"


class LogView(SweepObserver):
    """One line per job start and end: for --quiet, and when stderr is not a terminal."""

    def __init__(self, console):
        self.console = console

    def _print(self, text):
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)

    def on_sweep_start(self, sweep, plans, executor):
        from ..sweep.driver import job_cost
        self.total = sum(p.runs for p in plans)
        self.done = 0
        self.cost = {p.job.index: job_cost(p.job) for p in plans if p.runs}
        self.left_cost, self.done_cost = sum(self.cost.values()), 0.0
        self.t0 = time.monotonic()
        self.names = short_names(sweep.swept)
        skip = sum(p.action == "skip" for p in plans)
        if not self.total:
            self._print(f"sweep {sweep.name}: all {len(plans)} jobs finished earlier; nothing to run "
                        f"-> {sweep.folder}")
            return
        self._print(f"sweep {sweep.name}: {len(plans)} jobs, {skip} finished earlier, {self.total} to run"
                    f" ({executor}) -> {sweep.folder}")

    def on_job_start(self, job, info):
        self._print(f"[{self.done}/{self.total}] start #{job.index} {job.run_id} {job.label(self.names)}")

    def on_job_end(self, job, outcome):
        self.done += 1
        c = self.cost.get(job.index, 0.0)
        self.done_cost, self.left_cost = self.done_cost + c, max(self.left_cost - c, 0.0)
        t = outcome.get("wall_time")
        word = {"failed": "FAILED", ELSEWHERE: "SKIPPED"}.get(outcome["status"], "done")
        self._print(f"[{self.done}/{self.total}] {word} "
                    f"#{job.index} {job.label(self.names)}: {outcome_text(outcome)}"
                    + (f" ({t:.1f} s)" if t else "") + self._eta())

    def _eta(self) -> str:
        """', eta 12:34': the work left at the pace of the work done so far, each job weighed by
        its rough cost (length x width² x updates, as the driver orders them: the longest start
        first, so counting jobs would overestimate). A long study's log says when it will end;
        the live view has its own ETA, over updates."""
        if self.done >= self.total or not self.done_cost:
            return ""
        return f", eta {_fmt_time((time.monotonic() - self.t0) / self.done_cost * self.left_cost)}"

    def on_stop(self, message):
        self._print(message)

    def on_sweep_end(self, result):
        counts = ", ".join(f"{n} {s}" for s, n in sorted(result.counts.items()))
        self._print(f"sweep {result.name}: {counts}; {result.ran} ran in {_fmt_time(result.wall_time)}")


class LiveView(SweepObserver):
    """A Rich table of running, failed and recently finished jobs, and a progress bar with an
    ETA over the updates still to do (stderr, refreshed 4 times a second)."""

    def __init__(self, console):
        self.console = console
        self.lock = threading.Lock()
        self.rows: dict[int, dict] = {}
        self.order: list[int] = []     # finished, most recent last
        self.live = None

    def on_sweep_start(self, sweep, plans, executor):
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn
        self.names = short_names(sweep.swept)
        self.sweep, self.executor = sweep, executor
        todo = [p for p in plans if p.runs]
        if not todo:
            self.console.print(f"sweep {sweep.name}: all {len(plans)} jobs finished earlier; nothing to run",
                               highlight=False, markup=False)
            return
        self.totals = {p.job.index: p.job.config.train.steps for p in todo}
        self.base = {p.job.index: ((p.info or {}).get("updates") or 0) if p.action == "resume" else 0
                     for p in todo}
        self.progress_of = dict(self.base)
        self.jobs_total, self.jobs_done, self.failed = len(todo), 0, 0
        self.skipped = len(plans) - len(todo)
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("updates"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=self.console)
        self.task = self.progress.add_task(f"sweep {sweep.name}", total=sum(self.totals.values()),
                                           completed=sum(self.base.values()))
        self.live = Live(self, console=self.console, refresh_per_second=4, transient=False)
        self.live.start()

    def _advance(self):
        self.progress.update(self.task, completed=sum(self.progress_of.values()))

    def on_job_start(self, job, info):
        with self.lock:
            self.rows[job.index] = {"job": job, "status": "running", "update": None, "loss": None,
                                    "error": None, "t0": time.monotonic(), "host": info.get("host")}

    def on_job_progress(self, job, update, loss, error):
        with self.lock:
            row = self.rows.setdefault(job.index, {"job": job, "status": "running", "update": None, "loss": None,
                                                   "error": None, "t0": time.monotonic()})
            row["update"] = update
            if loss is not None:
                row["loss"] = loss
            if error is not None:
                row["error"] = error
            self.progress_of[job.index] = update
            self._advance()

    def on_job_end(self, job, outcome):
        with self.lock:
            row = self.rows.setdefault(job.index, {"job": job, "t0": time.monotonic()})
            row.update(status=outcome["status"], update=outcome.get("updates"), loss=outcome.get("final_loss"),
                       error=outcome.get("final_error"), message=outcome.get("message"),
                       wall=outcome.get("wall_time"), problems=problem_kinds(outcome))
            self.jobs_done += 1
            self.failed += outcome["status"] == "failed"
            if outcome["status"] != "interrupted":
                self.progress_of[job.index] = self.totals.get(job.index, 0)
            self.order.append(job.index)
            self._advance()

    def on_stop(self, message):
        self.console.print(message, highlight=False, markup=False)

    def on_sweep_end(self, result):
        self.close()

    def close(self):
        if self.live is not None:
            self.live.stop()
            self.live = None

    def __rich__(self):
        from rich.console import Group
        from rich.markup import escape
        from rich.table import Table
        with self.lock:
            head = (f"{self.jobs_done}/{self.jobs_total} jobs done"
                    + (f", {self.skipped} finished earlier" if self.skipped else "")
                    + (f", [red]{self.failed} failed[/]" if self.failed else "") + f"  ({self.executor})")
            table = Table(box=None, pad_edge=False, header_style="bold")
            for col in ("#", "job", "status", "update", "loss", "error", "time"):
                table.add_column(col, justify="right" if col in ("#", "update", "loss", "error", "time") else "left",
                                 no_wrap=col != "status", overflow="ellipsis")
            height = max(self.console.size.height - 6, 6)
            running = [i for i, r in sorted(self.rows.items()) if r["status"] == "running"]
            failed = [i for i in self.order if self.rows[i]["status"] == "failed"]
            room = max(height - len(running) - len(failed), 3)
            recent = [i for i in self.order if self.rows[i]["status"] != "failed"][-room:]
            now = time.monotonic()
            for i in running + failed + recent:
                r = self.rows[i]
                status = r["status"]
                style = {"running": "cyan", "failed": "red", "diverged": "yellow", "succeeded": "green",
                         "interrupted": "magenta", ELSEWHERE: "blue"}.get(status, "")
                text = escape(status if status != "failed" else f"failed: {r.get('message')}")
                text = f"[{style}]{text}[/]" if style else text
                if r.get("problems"):   # the finished run's diagnosis: not healthy
                    text += f" [bold red]✗ {escape(', '.join(r['problems']))}[/]"
                t = r.get("wall") if status != "running" else now - r["t0"]
                table.add_row(str(i), escape(r["job"].label(self.names)), text,
                              "-" if r["update"] is None else str(r["update"]), _fmt_loss(r["loss"]),
                              _fmt_error(r["error"]), _fmt_time(t))
            return Group(head, self.progress, table)


# ---------------------------------------------------------------------------------------------
# Tables (stdout)

def job_table(plans: list[JobPlan], sweep: Sweep):
    """The dry-run table: job, run id, swept values, what running now would do."""
    from rich.markup import escape
    from rich.table import Table
    names = short_names(sweep.swept)
    t = Table(title=escape(f"sweep {sweep.name}: {len(plans)} jobs -> {sweep.folder}"), title_justify="left")
    t.add_column("#", justify="right")
    t.add_column("run id")
    for k in sweep.swept:
        t.add_column(names[k])
    t.add_column("state")
    for p in plans:
        t.add_row(str(p.job.index), p.job.run_id, *(escape(fmt_value(p.job.values[k])) for k in sweep.swept),
                  escape(p.state))
    return t


def result_table(result: SweepResult, sweep: Sweep):
    """The final per-run table."""
    from rich.markup import escape
    from rich.table import Table
    names = short_names(sweep.swept)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result.counts.items()))
    t = Table(title=escape(f"sweep {result.name}: {counts} -> {result.folder}"), title_justify="left")
    t.add_column("#", justify="right")
    t.add_column("run id")
    for k in sweep.swept:
        t.add_column(names[k])
    metric = next((r.get("metric") for r in result.runs if r.get("metric")), None)   # real data
    last = (f"valid {metric}", f"test {metric}") if metric else ("error", "solved at")
    diagnosed = any(findings(r) is not None for r in result.runs)
    for col in ("status", "updates", *last, "time", *(("diagnosis",) if diagnosed else ())):
        t.add_column(col, justify="left" if col in ("status", "diagnosis") else "right")
    for r in result.runs:
        status = r["status"] + ("" if r["ran"] or r["status"] == "pending" else " (earlier)")
        outcome = ((_split_metric(r, "valid"), _split_metric(r, "test")) if metric else
                   (_fmt_error(r["final_error"]), "-" if r["success_update"] is None else str(r["success_update"])))
        t.add_row(str(r["job"]), r["run_id"], *(escape(fmt_value(r["values"][k])) for k in sweep.swept), status,
                  "-" if r["updates"] is None else str(r["updates"]), *outcome,
                  _fmt_time(r["wall_time"]) if r["wall_time"] is not None else "-",
                  *((escape(diagnosis_text(r)),) if diagnosed else ()))
    return t


# ---------------------------------------------------------------------------------------------
# Notes (stderr, Rich markup)

def dry_run_note(sweep: Sweep, plans: list[JobPlan]) -> str:
    """Under the dry-run table: how many jobs, merged, finished and to run."""
    merged = sweep.combinations - len(plans)
    todo = sum(p.runs for p in plans)
    return (f"{len(plans)} jobs" + (f" ({merged} identical combinations merged)" if merged else "")
            + f", {len(plans) - todo} finished, {todo} to run; nothing was run (--dry-run)")


def end_note(result: SweepResult, sweep: Sweep) -> str | None:
    """Under the result table: what to do about runs that did not finish (None: nothing)."""
    from rich.markup import escape
    if result.interrupted:
        return escape(f"interrupted: run the same command again to resume ({sweep.folder})")
    elsewhere = (f"{len(result.elsewhere)} of {len(result.runs)} runs are running elsewhere (another "
                 "process holds their run folder's lock; they were not touched): run the same command "
                 "again once it has ended to collect them") if result.elsewhere else ""
    failed = len(result.unfinished) - len(result.elsewhere)
    if failed:
        return (f"[bold red]{failed} of {len(result.runs)} runs did not finish[/]; run the "
                "same command again to rerun them" + (f"; {elsewhere}" if elsewhere else ""))
    return escape(elsewhere) or None
