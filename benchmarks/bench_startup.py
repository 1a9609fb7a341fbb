"""Start-up costs of rnnctl, measured from fresh processes.

    python benchmarks/bench_startup.py [--repeats 5]

Prints the median wall time of `rnnctl --help` (must not import Numba), of `rnnctl train` on a
one-update quick-start run with a warm and with a cold Numba cache (a fresh NUMBA_CACHE_DIR), and
the peak resident memory of a Pascanu-size run (H=50, B=20, T=100, 200 updates).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RNNCTL = [sys.executable, "-m", "rnnctl"]


def wall(cmd, env=None, cwd=None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        first = [*RNNCTL, "train", str(REPO / "configs/quickstart.yaml"), f"runs_dir={tmp}", "train.steps=1",
                 "eval.every=1", "eval.sequences=1", "-q"]
        helps = [wall([*RNNCTL, "--help"], env) for _ in range(args.repeats)]
        numba_in_help = subprocess.run(
            [sys.executable, "-c", "import sys, runpy; sys.argv=['rnnctl','--help'];\n"
             "try: runpy.run_module('rnnctl', run_name='__main__')\n"
             "except SystemExit: pass\n"
             "print('numba' in sys.modules, file=sys.stderr)"],
            capture_output=True, text=True).stderr.strip().splitlines()[-1]
        wall(first, env)  # make sure the default cache is warm
        warm = [wall(first, env) for _ in range(args.repeats)]
        cold = []
        for i in range(max(1, args.repeats // 2)):
            cold.append(wall(first, {**env, "NUMBA_CACHE_DIR": str(Path(tmp) / f"cache{i}")}))
        pascanu = [*RNNCTL, "train", str(REPO / "configs/pascanu/temporal_order.yaml"), f"runs_dir={tmp}",
                   "task.length=100", "train.steps=200", "eval.every=200", "eval.sequences=1000", "-q"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        subprocess.run(pascanu, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"{'measure':45s} {'median':>9s}")
    print(f"{'rnnctl --help':45s} {statistics.median(helps):8.3f}s   (imports numba: {numba_in_help})")
    print(f"{'rnnctl train, 1 update, warm cache':45s} {statistics.median(warm):8.3f}s")
    print(f"{'rnnctl train, 1 update, cold cache':45s} {statistics.median(cold):8.3f}s")
    print(f"{'peak RSS, Pascanu-size run (200 updates)':45s} {peak_kb / 1024:7.0f} MB"
          + ("" if peak_kb > before else "  (a larger earlier child set the maximum)"))


if __name__ == "__main__":
    main()
