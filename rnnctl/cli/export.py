"""rnnctl export (a run's parameters to PyTorch or a plain .npz) and rnnctl import (a run or an
evaluation started from such weights): a few lines each over rnnctl.use.torchio."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import EXIT_OK, ConfigError, RnnctlError
from . import EXIT_CODES_HELP, app, err, fail, out

FORMATS = ("torch", "npz")


def _format(value: str, key: str) -> str:
    if value not in FORMATS:
        raise ConfigError(f"expected torch or npz, got {value!r}", key=key)
    return value


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


@app.command(epilog=EXIT_CODES_HELP)
def export(
    run_dir: Path = typer.Argument(..., help="A finished run folder (rnnctl train wrote it)."),
    out_path: Path = typer.Argument(..., metavar="OUT", help="The file to write, e.g. model.pt or model.npz "
                                    "(replaced if it exists; never inside the run folder)."),
    to: str = typer.Option(..., "--to", help="torch: one state_dict for torch.nn.RNN/LSTM/GRU and a "
                           "torch.nn.Linear readout (prints the Python lines that load it); npz: the named "
                           "arrays with their metadata."),
    params: str = typer.Option("best", "--params", help="best (the best validation parameters; a "
                               "generated task has none: final), final or init."),
):
    """Write a run's trained parameters for PyTorch (a state_dict) or as plain named arrays (.npz).

    --to torch prints on stdout the Python lines that build the torch modules, load the file strictly and define outputs(u), the equivalent of rnnctl's model.outputs. The run folder is never written.
    """  # noqa: E501 (one line: Typer keeps the line breaks of a help paragraph)
    try:
        fmt = _format(to, "--to")
        if fmt == "torch":
            from ..use.torchio import require_torch
            require_torch()
        if _inside(out_path, run_dir):
            raise ConfigError(f"{out_path} is inside the run folder {run_dir}; export writes elsewhere "
                              "(a run folder holds what its run wrote)", key="OUT")
        from ..use import load_trained
        from ..use import torchio
        trained = load_trained(run_dir, params)
        model = trained.model
        origin = f"rnnctl export of {run_dir} ({trained.params} parameters)"
        if fmt == "torch":
            torchio.check_exportable(model)
            torchio.save_torch(model, out_path)
            print(torchio.snippet(model, out_path, origin), end="")
        else:
            extra = {"run": str(run_dir), "params": trained.params, "task": trained.config.task.name}
            extra.update(_vocabulary(trained))
            torchio.save_npz(model, out_path, **extra)
        err.print(f"wrote {out_path} ({trained.params} parameters of {run_dir})", highlight=False)
    except RnnctlError as e:
        fail(e)


def _vocabulary(trained) -> dict:
    """A real-data run's symbols and labels, when its data still loads (what the outputs mean)."""
    if not getattr(trained.config.task, "data", False):
        return {}
    try:
        ds = trained.sampler.dataset
    except RnnctlError:
        return {}
    found = ((k, getattr(ds, k, None)) for k in ("vocab", "labels"))
    return {k: list(v) for k, v in found if v is not None}


@app.command("import", epilog=EXIT_CODES_HELP)
def import_cmd(
    fmt: str = typer.Argument(..., metavar="FORMAT", help="torch (a state_dict as rnnctl export --to torch "
                              "writes it) or npz (an rnnctl export --to npz file)."),
    file: Path = typer.Argument(..., help="The weights: a .pt state_dict or an .npz."),
    config: Path = typer.Argument(..., help="YAML experiment config describing the model and the task."),
    overrides: Optional[List[str]] = typer.Argument(
        None, help="Overrides as dotted key=value, as for rnnctl train.", show_default=False),
    evaluate: bool = typer.Option(False, "--eval", help="Print the evaluation of the weights on the "
                                  "config's task (the valid split of real data); start no run."),
    train: bool = typer.Option(False, "--train", help="Start a training run from the weights (the default)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    as_json: bool = typer.Option(False, "--json", help="Print the evaluation, or the run's final summary, as JSON."),
):
    """Start a training run (or, with --eval, an evaluation) from weights made elsewhere.

    The new run's initial parameters (params_init.npz) are the imported ones, bit for bit; run.json's info.init_from names the file and its sha256. The config must describe the same model: a missing, unexpected or misshapen key is an error naming it.
    """  # noqa: E501
    from ..config import check_runnable, load_config
    try:
        kind = _format(fmt, "FORMAT")
        if evaluate and train:
            raise ConfigError("--eval and --train exclude each other (--train is the default)", key="--eval")
        from ..use import torchio
        if kind == "torch":
            torchio.require_torch()
        cfg = load_config(config, list(overrides or []))
        check_runnable(cfg)
        from ..training import build_model
        model = build_model(cfg)
        if kind == "torch":
            values = torchio.from_arrays(model, torchio.load_torch(file), str(file))
        else:
            values = torchio.from_npz(model, torchio.load_npz(file)[0], str(file))
        origin = {"path": str(file.resolve()), "format": kind, "sha256": torchio.sha256(file)}
        if evaluate:
            model.set_params(values)
            _print_eval(cfg, model, origin, as_json)
            raise typer.Exit(EXIT_OK)
        from ..config import config_hash
        from ..store import RunFolder, new_run_id
        folder = RunFolder.create(cfg.runs_dir, cfg.name, new_run_id(config_hash(cfg)))
    except RnnctlError as e:
        fail(e)
    from .run import _run   # as rnnctl train: progress, summary, exit codes, failures recorded
    _run(cfg, folder, None, quiet, as_json, note=f" (initial parameters from {origin['path']})",
         init_params=values, init_from=origin)


def _evaluation(cfg, model) -> dict:
    import numpy as np

    from ..tasks import make_task
    sampler, ev = make_task(cfg), cfg.eval
    if cfg.task.data:
        from ..data.scoring import score
        return {"split": "valid", **score(model, sampler.dataset, "valid", batch_size=ev.batch_size,
                                          length=sampler.window)}
    from ..training import evaluate
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed).spawn(3)[2])   # a run's evaluation stream
    return {"sequences": ev.sequences, **evaluate(model, sampler, rng, ev.sequences, ev.batch_size)}


def _print_eval(cfg, model, origin: dict, as_json: bool) -> None:
    from ..store.atomic import strict
    result = _evaluation(cfg, model)
    if as_json:
        print(json.dumps({"init_from": origin, **{k: strict(v) for k, v in result.items()}}, indent=2))
        return
    from rich.table import Table
    table = Table("metric", "value", title=f"{Path(origin['path']).name} on {cfg.task.name}")
    for k, v in result.items():
        table.add_row(k, f"{v:.6g}" if isinstance(v, float) else str(v))
    out.print(table)
