"""Command-line interface: parse, load the config, call the library, render.

Data goes to stdout, progress and diagnostics to stderr. Library errors (RnnctlError) become a
one-line message and the exit code of their class; nothing here is imported by the library.
Heavy modules (numpy, numba) are imported inside commands so that ``rnnctl --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

# One BLAS thread unless the user says otherwise, set before numpy loads: NumPy's and SciPy's
# OpenBLAS (the latter serves Numba's np.dot) each keep a spinning thread pool, and on a small
# machine the two pools fight for the cores; at this project's sizes that made updates up to 10x
# slower (see the README's Performance section). OPENBLAS_NUM_THREADS=2 restores threading.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from . import __version__  # noqa: E402
from .errors import EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_OK, EXIT_RUN_FAILED, RnnctlError

EXIT_CODES_HELP = ("Exit codes: 0 run finished (succeeded or completed), 1 run failed, "
                   "2 bad usage or config, 3 diverged (NaN/Inf), 4 some runs of a sweep failed, "
                   "130 interrupted.")

app = typer.Typer(
    name="rnnctl",
    help="A lab bench for studying how recurrent networks train. " + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)
out = Console()


def _version(value: bool):
    if value:
        print(f"rnnctl {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit.")):
    """rnnctl: train, sweep and report on recurrent networks."""


def fail(e: RnnctlError):
    from rich.markup import escape  # messages may hold brackets: "pip install 'rnnctl[dask]'"
    err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(e.exit_code)


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
    from .config import config_hash, dump_config, load_config
    try:
        cfg = load_config(config, list(overrides or []))
    except RnnctlError as e:
        fail(e)
    if dry_run:
        sys.stdout.write(dump_config(cfg))
        raise typer.Exit(EXIT_OK)

    from .store import RunFolder, new_run_id
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
    from .config import load_config
    from .store import RunFolder
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
    from .store import read_run
    from .train import train as run_training
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


SWEEP_EXIT_HELP = ("Exit codes: 0 every run finished (succeeded, completed, diverged or stopped: all "
                   "outcomes of a study), 2 bad spec or config (nothing is run), 4 some runs failed, "
                   "130 interrupted (run the same command again to resume).")


@app.command(epilog=SWEEP_EXIT_HELP)
def sweep(
    spec: Path = typer.Argument(..., help="Sweep spec (YAML), e.g. configs/sweeps/clipping_vs_length.yaml."),
    overrides: Optional[List[str]] = typer.Argument(
        None, help="Overrides of the base config as dotted key=value; name=... and runs_dir=... set the "
                   "sweep's own.", show_default=False),
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
    from rich.console import Console

    from .executors import make_backend
    from .sweep import LiveView, LogView, expand, job_table, load_sweep, plan, result_table, run_sweep
    wide = out if out.is_terminal else Console(width=240)  # piped tables keep every column
    try:
        sw = load_sweep(spec, list(overrides or []))
        jobs = expand(sw)
        make_backend(executor, workers, address)  # check the options before anything starts
    except RnnctlError as e:
        fail(e)
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED)
    if dry_run:
        plans = plan(jobs)
        if as_json:
            print(json.dumps([{"job": p.job.index, "run_id": p.job.run_id, "values": p.job.values,
                               "action": p.action, "state": p.state} for p in plans], indent=2))
        else:
            wide.print(job_table(plans, sw))
        merged = sw.combinations - len(jobs)
        todo = sum(p.runs for p in plans)
        err.print(f"{len(jobs)} jobs" + (f" ({merged} identical combinations merged)" if merged else "")
                  + f", {len(jobs) - todo} finished, {todo} to run; nothing was run (--dry-run)", highlight=False)
        raise typer.Exit(EXIT_OK)

    view = LogView(err) if quiet or not err.is_terminal else LiveView(err)
    try:
        result = run_sweep(sw, executor=executor, workers=workers, address=address, observer=view, jobs=jobs)
    except RnnctlError as e:
        fail(e)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        wide.print(result_table(result, sw))
    if result.interrupted:
        err.print(f"interrupted: run the same command again to resume ({sw.folder})", highlight=False,
                  markup=False)
    elif result.unfinished:
        err.print(f"[bold red]{len(result.unfinished)} of {len(result.runs)} runs did not finish[/]; run the "
                  "same command again to rerun them", highlight=False)
    raise typer.Exit(result.exit_code)


@app.command()
def keys(markdown: bool = typer.Option(False, "--markdown", help="Print a Markdown table, as in the README.")):
    """List every config key with its type, default and meaning."""
    from .config import schema_reference
    rows = schema_reference()
    if markdown:
        esc = lambda s: s.replace("|", "\\|")  # noqa: E731
        print("| key | type | default | meaning |\n|---|---|---|---|")
        for key, kind, default, help_ in rows:
            print(f"| `{key}` | {esc(kind)} | {esc(default)} | {esc(help_)} |")
        return
    from rich.table import Table
    table = Table("key", "type", "default", "meaning", title="config keys (set in YAML or as key=value)")
    for row in rows:
        table.add_row(*row)
    out.print(table)


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
    from . import report as R
    from .errors import EXIT_USAGE
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
        from . import plots as P
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
            from .html import sweep_page
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
    from . import report as R
    run = rep.runs[0]
    diff, against = R.run_diff(run)
    pm = R.postmortem(run.path) if run.run_status == "diverged" else None
    figures: list[str] = []
    if plots or html_path:
        from . import plots as P
        err.print("drawing figures ...", highlight=False)
        figs = {k: P.png_bytes(f) for k, f in P.run_figures(run, rep.warnings).items()}
        if plots:
            figures += [_write_png(plots / f"{name}.png", png) for name, png in figs.items()]
        if html_path:
            from .html import run_page
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


@app.command()
def warmup(quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing.")):
    """Compile every Numba kernel into the cache (run once after installing, and on cluster workers).

    The cache lives in __pycache__ beside rnnctl's sources, or under NUMBA_CACHE_DIR when set.
    """
    from .warmup import warmup as run_warmup
    t0 = time.perf_counter()
    report = None if quiet else (lambda cell, dtype, s: err.print(f"{cell:5s} {dtype:8s} {s:6.2f} s", highlight=False))
    run_warmup(progress=report)
    if not quiet:
        err.print(f"kernels ready in {time.perf_counter() - t0:.1f} s", highlight=False)
