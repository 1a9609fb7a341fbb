"""rnnctl eval: a trained model scored again (rnnctl.use.evaluate)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import RnnctlError
from . import app, err, fail, out

EVAL_EXIT_HELP = ("Exit codes: 0 scored, 2 bad option or data file, 5 the run folder cannot be used "
                  "(incomplete, another rnnctl version, non-finite parameters).")


@app.command("eval", epilog=EVAL_EXIT_HELP)
def evaluate(
    run_dir: Path = typer.Argument(..., help="A finished run folder (runs/<name>/<run-id>)."),
    split: Optional[str] = typer.Option(None, "--split", help="Real data: the split of the run's dataset to "
                                        "score: valid, test (default) or train."),
    data: Optional[Path] = typer.Option(None, "--data", help="Real data: score a new file in the run's format, "
                                        "read with the run's vocabulary, labels and normalisation, as a whole."),
    length: Optional[List[int]] = typer.Option(None, "--length", help="Generated tasks: score fresh sequences of "
                                               "this length (repeatable: --length 500 --length 1000); default "
                                               "the run's own length rule."),
    params: str = typer.Option("best", "--params", help="Which parameters: best (the best validation ones; "
                               "a generated task has none and uses final), final or init."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON on stdout."),
    predictions: Optional[Path] = typer.Option(None, "--predictions", help="Write per-sequence predictions to "
                                               "this .csv or .jsonl file (classification and forecasting)."),
    save: bool = typer.Option(False, "--save", help="Also keep the result in the run folder as "
                              "eval/<timestamp>.json (nothing else there changes)."),
    sequences: Optional[int] = typer.Option(None, "--sequences", min=1, help="Generated tasks: fresh sequences "
                                            "per length (default the run's eval.sequences)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Generated tasks: seed of the fresh sequences "
                                       "(default 0: the same numbers every time)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Sequences per chunk (default "
                                             "the run's eval.batch_size); memory stays bounded either way."),
):
    """Score a trained model: on a split of its data, on a new data file, or at new lengths.

    Real data: the metrics the run reports (bpc, nll, accuracy, mse, ...); --split test with the best parameters gives run.json's test scores. Generated tasks: Pascanu et al.'s generalisation test, the loss and error rate at each --length. Nothing in the run folder changes unless --save.
    """  # noqa: E501 (one line: Typer keeps the line breaks of a help paragraph)
    from .. import store
    from ..use.evaluate import evaluate_run
    try:
        doc = evaluate_run(run_dir, params=params, split=split, data=data, lengths=list(length or []),
                           sequences=sequences, seed=seed, batch_size=batch_size, predictions=predictions)
        saved = store.write_eval(run_dir, doc) if save else None
    except RnnctlError as e:
        fail(e)
    if as_json:
        print(json.dumps(store.strict(doc), indent=2, allow_nan=False))
    else:
        out.print(eval_heading(doc), highlight=False, soft_wrap=True)
        out.print(eval_table(doc))
    if doc.get("predictions"):
        err.print(f"wrote {doc['predictions']['rows']} predictions to {doc['predictions']['file']}", highlight=False)
    if saved:
        err.print(f"saved {saved}", highlight=False)


def eval_heading(doc: dict) -> str:
    what = (f"split {doc['split']}" if "split" in doc else f"data {doc['data']}" if "data" in doc
            else f"task {doc['task']}, seed {doc['seed']}")
    return f"{doc['run']}: {doc['params']} parameters, {what}"


def eval_table(doc: dict):
    """The Rich table of an evaluation document."""
    from rich.table import Table
    table = Table()
    if "metrics" in doc:
        table.add_column("metric")
        table.add_column("value", justify="right")
        for k, v in doc["metrics"].items():
            table.add_row(k, _num(v))
        return table
    for name in ("length", "loss", "error", "errors / sequences"):
        table.add_column(name, justify="right")
    for row in doc["lengths"]:
        span = (str(row["length"]) if row["length"] is not None
                else f"[{row['min_length']}, {row['max_length']})")
        table.add_row(span, _num(row["loss"]), _num(row["error"]), f"{row['errors']} / {row['sequences']}")
    return table


def _num(v) -> str:
    return "—" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)
