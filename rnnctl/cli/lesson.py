"""rnnctl lesson: the lesson's sweep and its page (rnnctl.lesson), a few lines over the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import RnnctlError
from . import app, err, fail


@app.command()
def lesson(
    spec: Path = typer.Argument(..., help="The lesson's sweep spec, e.g. configs/lesson/lesson.yaml."),
    overrides: Optional[List[str]] = typer.Argument(
        None, help="Overrides as for rnnctl sweep, e.g. train.steps=300 (changed configs are new runs).",
        show_default=False),
    out: Path = typer.Option(Path("lesson"), "--out", "-o",
                             help="Folder for lesson.html, the PNGs and the runs (OUT/<sweep name>/)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", help="Parallel runs (default: the cores)."),
    executor: str = typer.Option("local", "--executor", "-e", help="local (processes) or thread (in-process)."),
    length: Optional[List[int]] = typer.Option(None, "--length",
                                               help="Lengths of figure 4, repeatable (default 25 50 100 200)."),
    eval_sequences: int = typer.Option(1000, "--eval-sequences", help="Fresh sequences per length in figure 4."),
    grid: int = typer.Option(31, "--grid", help="Points per axis of the landscape slice (figure 5)."),
    sequences: int = typer.Option(256, "--sequences", help="Sequences in the slice's fixed batch."),
    one_unit: bool = typer.Option(True, "--one-unit/--no-one-unit",
                                  help="Add figure 6: the one-unit model of Pascanu et al.'s Figure 6."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON (for scripts)."),
):
    """Train the lesson's five runs and write one HTML page telling the gradient story in figures.

    The runs are a sweep: finished ones are skipped, interrupted ones resume. The page is
    self-contained (images inline), with a sentence computed from the runs under each figure."""
    from ..interrupt import RaiseOnSignal, exit_code
    from ..lesson import LessonOptions, run_lesson
    from ..lesson.build import LENGTHS
    from ..ui.sweep import LogView
    opt = LessonOptions(workers=workers, executor=executor, lengths=tuple(length or LENGTHS),
                        eval_sequences=eval_sequences, grid=grid, sequences=sequences,
                        one_unit=one_unit)
    try:
        with RaiseOnSignal():
            res = run_lesson(spec, list(overrides or []), out, opt, observer=LogView(err),
                             say=lambda s: err.print(s, highlight=False))
    except RnnctlError as e:
        fail(e)
    except KeyboardInterrupt as e:
        raise typer.Exit(exit_code(e))
    if res.interrupted:
        err.print("interrupted: run the same command again to resume", highlight=False)
        raise typer.Exit(res.sweep_exit)
    summary = {"page": str(res.page), "pngs": [str(p) for p in res.pngs], "folder": str(res.folder),
               "ran": res.ran, "skipped": res.skipped, "seconds": round(res.seconds, 1),
               "cpu_seconds": round(res.cpu_seconds, 1), "runs": res.runs}
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        for r in res.runs:
            print(f"{r['label']}: {r['status']} after {r['updates']} updates, error "
                  f"{100 * (r['final_error'] or 0):.3g}%, largest norm {r['norm_max']:.3g}")
        print(f"wrote {res.page} and {len(res.pngs)} PNGs ({res.seconds:.0f} s)")
    if res.sweep_exit:
        raise typer.Exit(res.sweep_exit)
