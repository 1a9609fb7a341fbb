"""Reading a long run's trace.csv: store.read_trace (its compiled parser, csvfast) against the
np.loadtxt it used before, measured in one run.

    python benchmarks/bench_read_trace.py [--rows 5000000] [--repeats 3]

Writes a trace of ``--rows`` updates into a temporary folder with the columns of the Pascanu
temporal-order run (values from a short real run of that config, repeated, with increasing update
numbers), then times both readers alternately and prints the median wall and CPU seconds of each
(CPU time is what to quote on a shared machine), the ratio, and whether both return the same
doubles.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from rnnctl.config import load_config
from rnnctl.store import RunFolder, read_trace
from rnnctl.store.layout import TRACE
from rnnctl.training import train

REPO = Path(__file__).resolve().parents[1]


def write_trace(tmp: Path, rows: int) -> Path:
    cfg = load_config(REPO / "configs/pascanu/temporal_order.yaml",
                      ["train.steps=500", "eval.every=500", "eval.sequences=100", f"runs_dir={tmp}"])
    folder = RunFolder.create(tmp, "bench", "source")
    train(cfg, folder)
    lines = (folder.path / TRACE).read_text().splitlines()
    header, tails = lines[0], [line.split(",", 1)[1] for line in lines[1:]]
    out = tmp / "long"
    out.mkdir()
    with open(out / TRACE, "w") as f:
        f.write(header + "\n")
        for start in range(0, rows, 100_000):
            f.writelines(f"{u + 1},{tails[u % len(tails)]}\n" for u in range(start, min(rows, start + 100_000)))
    return out


def loadtxt(run_dir: Path) -> np.ndarray:
    with open(run_dir / TRACE) as f:
        f.readline()
        return np.loadtxt(io.StringIO(f.read()), delimiter=",", ndmin=2, dtype=float)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = write_trace(Path(tmp), a.rows)
        size = (run / TRACE).stat().st_size
        read_trace(run)   # compiles the parser once (cached on disk afterwards)
        fast = slow = None
        times = {"read_trace": [], "np.loadtxt": []}
        for _ in range(a.repeats):
            for name, read in (("read_trace", read_trace), ("np.loadtxt", loadtxt)):
                t, c = time.perf_counter(), time.process_time()
                result = read(run)
                times[name].append((time.perf_counter() - t, time.process_time() - c))
                fast, slow = (result, slow) if name == "read_trace" else (fast, result)
        same = all(np.array_equal(fast[c], slow[:, i], equal_nan=True) for i, c in enumerate(fast))
        base = [statistics.median(x[k] for x in times["np.loadtxt"]) for k in (0, 1)]
        print(f"trace.csv of {a.rows:,} rows, {size / 1e6:.0f} MB; median of {a.repeats}")
        for name, ts in times.items():
            wall, cpu = (statistics.median(x[k] for x in ts) for k in (0, 1))
            print(f"  {name:<12} wall {wall:6.2f} s (ratio {wall / base[0]:.2f})   "
                  f"CPU {cpu:6.2f} s (ratio {cpu / base[1]:.2f})")
        print(f"  same doubles: {same}")


if __name__ == "__main__":
    main()
