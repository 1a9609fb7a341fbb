"""How long ``rnnctl report RUN --to tensorboard DIR`` and ``--to mlflow URI`` take on a long run.

    python benchmarks/bench_export.py [--updates 300000] [--length 50] [--every 1000] [--folder DIR]

Writes a synthetic run folder through rnnctl's own sink (``store.RunFolder``: the trace of a
vanilla RNN with norm clipping, 11 columns, a row per update; the per-step backprop norms of every
update, T + 1 = 51 steps; an evaluation every ``--every`` updates), then times, in this one
process: reading the folder back with store's readers (the baseline every export pays), the
TensorBoard export (every point of every trace column, 500 histograms) and the MLflow export to
a local file store (10,000 points per series), both without figures, and the figures alone.
Prints seconds and the ratio of each to the baseline.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from rnnctl import store
from rnnctl.config import config_from_dict, config_hash, dump_config


def make_run(root: Path, updates: int, length: int, every: int) -> Path:
    cfg = config_from_dict({"name": "long", "task": {"name": "temporal_order", "length": length},
                            "train": {"steps": updates, "gradient": {"method": "norm", "threshold": 1.0}},
                            "eval": {"every": every}})
    rng = np.random.default_rng(0)
    folder = store.RunFolder.create(root, "long", config_hash(cfg))
    columns = store.TRACE_COLUMNS + ("length", "norm.W_in", "norm.W_rec", "norm.b", "norm.W_out", "norm.b_out")
    folder.start({"name": "long", "seed": 0, "config_hash": config_hash(cfg)}, dump_config(cfg), columns,
                 (1, length + 1))
    loss = 1.39 * np.exp(-np.arange(1, updates + 1) / updates) + 0.01 * rng.random(updates)
    norms = np.exp(rng.normal(0, 1, updates))
    for u in range(1, updates + 1):
        n = norms[u - 1]
        folder.trace((u, loss[u - 1], n, min(n, 1.0), n > 1.0, length, *(n * rng.random(5))))
        folder.backprop(u, np.exp(-np.arange(length + 1)[::-1] / 10.0)[None, :])
        if u % every == 0:
            folder.metrics({"update": u, "loss": float(loss[u - 1]), "error": 0.5 * (1 - u / updates),
                            "spectral": {"W_rec": {"sv_max": 1.0 + u / updates, "radius": 0.9}}, "bound": 1.0})
    folder.finish("completed", {"updates": updates, "final_loss": float(loss[-1]), "ms_per_update": 2.0})
    return folder.path


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return time.perf_counter() - t0, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=300_000)
    ap.add_argument("--length", type=int, default=50)
    ap.add_argument("--every", type=int, default=1000)
    ap.add_argument("--folder", type=Path, default=None, help="work here (default: a temporary folder)")
    args = ap.parse_args()
    from rnnctl.tracking import export_mlflow, export_tensorboard
    from rnnctl.tracking.collect import read_run_data, run_pngs

    work = args.folder or Path(tempfile.mkdtemp(prefix="rnnctl-bench-export-"))
    try:
        made, run = timed(lambda: make_run(work / "runs", args.updates, args.length, args.every))
        print(f"run folder of {args.updates:,} updates written in {made:.1f} s: {run}")
        record = store.read_run_record(run)
        base, data = timed(lambda: read_run_data(record))
        points = sum(len(s) for s, _ in data.series.values())
        print(f"read back (baseline):        {base:7.1f} s  ({len(data.series)} series, {points:,} points)")
        tb, res = timed(lambda: export_tensorboard([record], work / "tb", figures=False))
        size = sum(p.stat().st_size for p in (work / "tb").rglob("*")) / 2**20
        print(f"--to tensorboard:            {tb:7.1f} s  ({tb / base:.1f}x the baseline; {size:.0f} MiB)")
        ml, res = timed(lambda: export_mlflow([record], str(work / "mlruns"), figures=False))
        print(f"--to mlflow (file store):    {ml:7.1f} s  ({ml / base:.1f}x the baseline)")
        again, res = timed(lambda: export_mlflow([record], str(work / "mlruns"), figures=False))
        print(f"--to mlflow again (skipped): {again:7.1f} s  ({res.skipped})")
        figs, pngs = timed(lambda: run_pngs(record, []))
        print(f"the run's figures alone:     {figs:7.1f} s  ({len(pngs)} PNGs)")
    finally:
        if args.folder is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
