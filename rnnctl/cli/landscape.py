"""rnnctl landscape: the loss over a slice of parameter space around a run's parameters
(rnnctl.landscape)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import RnnctlError
from . import app, err, fail, out

LANDSCAPE_EXIT_HELP = ("Exit codes: 0 written, 2 bad option (an unknown --direction lists the valid "
                       "names), 5 the run folder cannot be used (incomplete, another rnnctl version, "
                       "non-finite parameters).")


@app.command("landscape", epilog=LANDSCAPE_EXIT_HELP)
def landscape(
    run_dir: Path = typer.Argument(..., help="A finished run folder (runs/<name>/<run-id>)."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for landscape.npz and landscape.png (made if absent)."),
    grid: int = typer.Option(51, "--grid", min=2, max=1001, help="Points per axis (a 2-D slice evaluates N²)."),
    direction: Optional[List[str]] = typer.Option(
        None, "--direction", help="A named scalar parameter as an axis, e.g. 'W_rec[0,0]' (repeat for a "
        "2-D slice: --direction 'W_rec[0,0]' --direction 'b[0]'); or 'pca' (the two leading principal "
        "directions of the run's snapshots, Li et al. 2018 section 7) or 'trajectory' (start to end, and "
        "the principal direction orthogonal to it), both needing log.params_every; default two random "
        "directions, normalised per parameter tensor (Li et al. 2018)."),
    random: int = typer.Option(2, "--random", min=1, max=2, help="Without --direction: 1 or 2 random "
                               "directions (a 1-D or 2-D slice)."),
    around: str = typer.Option("final", "--around", help="The slice's center: final, best, init, or the "
                               "update of a params snapshot (log.params_every)."),
    span: Optional[float] = typer.Option(
        None, "--span", help="Each axis covers [-span, span] in units of its direction; default 1, or for "
        "pca and trajectory the projected path with a margin."),
    sequences: int = typer.Option(1000, "--sequences", min=1, help="Sequences of the run's task in the fixed "
                                  "evaluation batch."),
    seed: int = typer.Option(0, "--seed", help="Seed of the evaluation batch and the random directions."),
    dtype: str = typer.Option("float32", "--dtype", help="float32 (fast, tanh approximated within 7.1e-7) or "
                              "float64 (exact activations)."),
    method: str = typer.Option("auto", "--method", help="auto (the fused kernel for a single-layer vanilla "
                               "RNN, else generic), fast, or generic (Model.loss per point)."),
):
    """Plot the loss over a 1-D or 2-D slice of parameter space around a run, with its trajectory.

    The loss is evaluated on one fixed batch of the run's task at every grid point; the run's params snapshots (log.params_every), else its init and final parameters, are projected onto the slice by least squares. See docs/landscape.md.
    """  # noqa: E501 (one line: Typer keeps the line breaks of a help paragraph)
    from ..landscape import landscape_of_run, write_landscape
    try:
        ls = landscape_of_run(run_dir, grid=grid, directions=list(direction) if direction else random,
                              around=around, span=span, sequences=sequences, seed=seed, dtype=dtype,
                              method=method)
        paths = write_landscape(ls, out_dir)
    except RnnctlError as e:
        fail(e)
    m = ls.metadata
    err.print(f"{m['points']} points in {m['seconds']:.2f} s ({m['method']} path, {m['dtype']}); "
              f"inf/NaN loss at {m['nonfinite']}", highlight=False)
    for p in paths:
        out.print(str(p), highlight=False, soft_wrap=True)
