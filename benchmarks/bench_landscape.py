"""Time rnnctl landscape's surface: a 101 x 101 slice of a Pascanu-size model (vanilla tanh RNN,
50 units, temporal order T=100, 1000 sequences), fast fused kernel against the generic path
(Model.loss per point) measured in the same run on a small grid.

    python benchmarks/bench_landscape.py [--grid 101] [--repeats 3] [--dtype float32]

Prints the machine's load (the timings of a busy machine are inflated: CPU time is printed too),
the first call (compilation or cache load included), the median of the repeats, the GFLOP/s
achieved (2 S T H (H + I) flops per point: the recurrence and the input projection; the readout
and σ not counted) and the per-point ratio against the generic path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def timed(f):
    t0, c0 = time.perf_counter(), time.process_time()
    out = f()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", type=int, default=101)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sequences", type=int, default=1000)
    ap.add_argument("--length", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=50)
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    ap.add_argument("--generic-points", type=int, default=4, help="points timed on the generic path")
    a = ap.parse_args()

    from rnnctl.config import config_from_dict
    from rnnctl.landscape.directions import make_directions
    from rnnctl.landscape.surface import grid_loss
    from rnnctl.training import build_model
    from rnnctl.tasks import make_task

    cfg = config_from_dict({"task": {"name": "temporal_order", "length": a.length},
                            "model": {"hidden": a.hidden, "dtype": a.dtype}})
    model = build_model(cfg)
    batch = make_task(cfg).sample(np.random.default_rng(0), a.sequences)
    T, S, I = batch.u.shape
    H = model.hidden
    center = model.theta.astype(np.float64)
    _, dirs = make_directions("random", center, model.layout, np.random.default_rng(1))
    axis = np.linspace(-1, 1, a.grid)
    coords = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    flops = 2.0 * S * T * H * (H + I) * len(coords)
    print(f"load (uptime): {os.getloadavg()}, cpus: {os.cpu_count()}")
    print(f"model: vanilla tanh H={H}, T={T}, S={S}, I={I}; grid {a.grid}x{a.grid} = {len(coords)} points; "
          f"{flops / 1e12:.2f} TFLOP; {a.dtype}")

    def fast(c):
        return grid_loss(model, center, dirs, c, batch.u, batch.target, a.dtype, "fast")[0]

    _, first, first_cpu = timed(lambda: fast(coords[:2]))
    print(f"first call (2 points, compile or cache load included): {first:.2f} s wall, {first_cpu:.2f} s CPU")
    walls, cpus = [], []
    for _ in range(a.repeats):
        loss, wall, cpu = timed(lambda: fast(coords))
        walls.append(wall)
        cpus.append(cpu)
        print(f"  repeat: {wall:.2f} s wall, {cpu:.2f} s CPU, load {os.getloadavg()[0]:.2f}")
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(f"fast: median {wall:.2f} s wall ({flops / wall / 1e9:.1f} GFLOP/s), {cpu:.2f} s CPU "
          f"({flops / cpu / 1e9:.1f} GFLOP per CPU-second); finite points {np.isfinite(loss).sum()}")
    few = coords[:a.generic_points]
    _, g_wall, g_cpu = timed(lambda: grid_loss(model, center, dirs, few, batch.u, batch.target, a.dtype,
                                               "generic"))
    _, g_wall, g_cpu = timed(lambda: grid_loss(model, center, dirs, few, batch.u, batch.target, a.dtype,
                                               "generic"))
    per_g, per_f = g_wall / len(few), wall / len(coords)
    print(f"generic: {per_g * 1e3:.1f} ms/point wall ({g_cpu / len(few) * 1e3:.1f} ms CPU); fast "
          f"{per_f * 1e3:.2f} ms/point wall: {per_g / per_f:.1f}x (wall), "
          f"{(g_cpu / len(few)) / (cpu / len(coords)):.1f}x (CPU)")


if __name__ == "__main__":
    main()
