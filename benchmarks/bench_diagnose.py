"""Time to diagnose a run folder of 300,000 updates, against reading its files whole, in one run.

    python benchmarks/bench_diagnose.py [--updates 300000] [--length 50] [--repeats 5] [--keep DIR]

The folder is written with ``rnnctl.store.RunFolder``'s writers, not trained: the quickstart
config (temporal order, 50 units), a trace.csv row and a backprop-norms row (T = 50 steps) per
update with a realistic shape (the loss falls from ln 4, norm spikes every 5,000 updates, the
error signal decays over the sequence), an evaluation every 1,000 updates and the model's initial
parameters as its final ones (so that the saturation rule runs the model too).

Reported, as medians of ``--repeats`` calls (wall time and this process's CPU time):
``rnnctl.diagnose`` with every rule, without the saturation rule (the only one that runs the model), and the baseline: ``np.loadtxt`` of the whole trace plus ``np.load``
of the whole backprop file. The issue asks for under 2 s with every rule.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import rnnctl
from rnnctl.config import dump_config
from rnnctl.store import RunFolder


def write_folder(root: Path, updates: int, T: int) -> Path:
    cfg = rnnctl.load_config(Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml",
                             [f"train.steps={updates}", f"runs_dir={root}", f"task.length={T}"])
    model = rnnctl.build_model(cfg)
    columns = ("update", "loss", "norm_before", "norm_after", "fired", "length",
               "norm.W_in", "norm.W_rec", "norm.b", "norm.W_out", "norm.b_out")
    f = RunFolder.create(root, "bench", "run")
    f.start({"name": "bench", "seed": 0, "config_hash": "0" * 16}, dump_config(cfg), columns, (1, T + 1))
    f.params("init", model.params)
    rng = np.random.default_rng(0)
    u = np.arange(1, updates + 1)
    loss = np.log(4) * np.exp(-u / (updates / 3)) + 0.01 * rng.random(updates)
    norm = 0.2 + 0.1 * rng.random(updates)
    norm[::5000] *= 50.0
    after = np.minimum(norm, 1.0)
    decay = np.exp(-np.arange(T + 1) / 10.0)[::-1]
    for i in range(updates):
        f.trace((int(u[i]), loss[i], norm[i], after[i], norm[i] > 1.0, T, *(norm[i] / 3,) * 5))
        f.backprop(int(u[i]), (decay * norm[i])[None, :])
        if u[i] % 1000 == 0:
            f.metrics({"update": int(u[i]), "loss": float(loss[i]), "error": 0.5, "train_loss": float(loss[i]),
                       "spectral": {"W_rec": {"sv_max": 1.2, "radius": 0.9}}, "bound": 1.0})
    f.params("final", model.params)
    f.finish("completed", {"updates": updates, "success": False})
    return f.path


def median_time(fn, repeats: int) -> tuple[float, float]:
    """(median wall time, median CPU time of this process): on a shared machine a descheduled
    process loses wall time that CPU time does not count."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=300_000)
    ap.add_argument("--length", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--keep", type=Path, default=None, help="write the folder here and keep it")
    a = ap.parse_args()
    root = a.keep or Path(tempfile.mkdtemp(prefix="bench_diagnose_"))
    try:
        t0 = time.perf_counter()
        run = write_folder(root, a.updates, a.length)
        print(f"wrote {run} ({a.updates:,} updates) in {time.perf_counter() - t0:.1f} s")
        rnnctl.diagnose(run)   # warm: imports, Numba's cache
        full = median_time(lambda: rnnctl.diagnose(run), a.repeats)
        light = median_time(lambda: rnnctl.diagnose(run, saturation=False), a.repeats)
        raw = median_time(lambda: (np.loadtxt(run / "trace.csv", delimiter=",", skiprows=1),
                                   np.load(run / "backprop_norms.npy")), a.repeats)
        for what, (w, c) in (("diagnose, every rule", full), ("diagnose, without saturation", light),
                             ("baseline: reading the files whole", raw)):
            print(f"{what:34s} wall {w:.3f} s ({w / raw[0]:.2f}x the baseline)   CPU {c:.3f} s ({c / raw[1]:.2f}x)")
        print("findings:", [f["kind"] for f in rnnctl.diagnose(run)["findings"]])
    finally:
        if a.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
