"""Cost of rnnctl's gradient diagnostics, relative to an untraced update, measured in one run.

    python benchmarks/bench_tracing.py [--updates 300] [--repeats 5] [--length 100]

Trains the Pascanu-size model (50 tanh units, batch 20, temporal order) into a temporary run
folder with: no per-step trace (log.backprop_every=0), the bounded per-step trace (auto, the
default), the per-step trace on every update, the regularizer Ω on every update, and reports the
median time per update of each and its ratio to the untraced update; then the median wall time of one temporal-contribution probe. Configurations are
interleaved and repeated so machine noise hits them alike; quote medians and ratios.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from rnnctl.config import load_config
from rnnctl.store import RunFolder, read_probe_index
from rnnctl.training import train

REPO = Path(__file__).resolve().parents[1]

VARIANTS = {
    "untraced": ["log.backprop_every=0"],
    "per-step trace, bounded (auto, the default)": ["log.backprop_every=auto"],
    "per-step trace every update": ["log.backprop_every=1"],
    "trace + Ω every update": ["log.backprop_every=1", "train.regularizer.omega=2.0"],
}


def one(overrides, updates, length, tmp):
    cfg = load_config(REPO / "configs/pascanu/temporal_order.yaml",
                      [f"task.length={length}", f"train.steps={updates}", f"eval.every={updates}",
                       "eval.sequences=100", "eval.stop_on_success=false", f"runs_dir={tmp}", *overrides])
    folder = RunFolder.create(tmp, "bench", "run")
    result = train(cfg, folder)
    return result.summary["ms_per_update"], folder


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--length", type=int, default=100)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one(["log.backprop_every=0"], 5, args.length, tmp)          # compile / load the cache first
        times = {k: [] for k in VARIANTS}
        for _ in range(args.repeats):
            for name, overrides in VARIANTS.items():
                times[name].append(one(overrides, args.updates, args.length, tmp)[0])
        probe_cfg = ["log.probe_every=1", "log.backprop_every=0", "log.probe_sequences=4"]
        _, folder = one(probe_cfg, max(args.repeats, 3), args.length, tmp)
        probe_s = [entry["seconds"] for entry in read_probe_index(folder.path)]
    base = statistics.median(times["untraced"])
    print(f"Pascanu size: H=50, B=20, T={args.length}, tanh; {args.updates} updates x {args.repeats} repeats")
    print(f"{'variant':32s} {'ms/update':>10s} {'ratio':>7s}")
    for name, ts in times.items():
        m = statistics.median(ts)
        print(f"{name:32s} {m:10.3f} {m / base:7.2f}")
    p = statistics.median(probe_s[1:] or probe_s) * 1000
    print(f"{'one probe (4 sequences)':32s} {p:10.1f} {p / base:7.1f}  (x an untraced update)")


if __name__ == "__main__":
    main()
