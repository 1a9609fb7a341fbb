"""Time per update of the LSTM and GRU cells relative to the vanilla RNN, measured in one run.

    python benchmarks/bench_cells.py [--hidden 50] [--length 100] [--batch 20] [--repeats 30]

For each cell: the median time of one ``loss_and_grad_flat`` (forward + full BPTT, the part that
depends on the cell) on temporal-order batches, and of a whole update (plus norm scaling and an
SGD-momentum step on the flat vector), float64 and float32. Cells are interleaved call by call so
machine noise hits them alike; quote the medians and the ratios to the vanilla cell. Both wall time
and process CPU time are reported: on a shared machine a descheduled process loses whole time slices
of wall time (medians then snap to multiples of the scheduler tick), which CPU time does not count.

Run it with OPENBLAS_NUM_THREADS=1: these products are small, and on a busy machine a BLAS that
splits them across threads waits for a second core (measured on the 2-core project machine under
load: the vanilla cell 60 ms instead of 2.6 ms per loss_and_grad at H=50, T=100, B=20).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rnnctl.model import Model
from rnnctl.tasks import TASKS


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=50)
    ap.add_argument("--length", type=int, default=100)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    import os
    print("OPENBLAS_NUM_THREADS =", os.environ.get("OPENBLAS_NUM_THREADS", "unset"))
    task = TASKS["temporal_order"]()
    rng = np.random.default_rng(0)
    batches = [task.sample(rng, args.batch, args.length) for _ in range(8)]
    for dtype in ("float64", "float32"):
        models = {c: Model(6, 4, args.hidden, cell=c, dtype=dtype) for c in ("rnn", "lstm", "gru")}
        state = {}
        for c, m in models.items():
            m.init_params(np.random.default_rng(1), "orthogonal")
            state[c] = (np.zeros_like(m.theta), np.zeros_like(m.theta))
            m.loss_and_grad_flat(batches[0].u, batches[0].target, state[c][0])   # compile / load
        grad_t = {c: [] for c in models}
        upd_t = {c: [] for c in models}
        cpu_t = {c: [] for c in models}
        for r in range(args.repeats):
            b = batches[r % len(batches)]
            for c, m in models.items():
                grad, vel = state[c]
                t0, c0 = time.perf_counter(), time.process_time()
                m.loss_and_grad_flat(b.u, b.target, grad)
                t1, c1 = time.perf_counter(), time.process_time()
                n = float(np.sqrt(np.dot(grad, grad)))
                if n >= 1.0:
                    grad *= 1.0 / n
                vel *= 0.9
                vel -= 0.01 * grad
                m.theta += vel
                t2 = time.perf_counter()
                grad_t[c].append(t1 - t0)
                upd_t[c].append(t2 - t0)
                cpu_t[c].append(c1 - c0)
        base_g, base_u, base_c = (np.median(x["rnn"]) for x in (grad_t, upd_t, cpu_t))
        print(f"{dtype}: H={args.hidden} T={args.length} B={args.batch}, medians of {args.repeats}")
        for c in models:
            g, u, k = np.median(grad_t[c]), np.median(upd_t[c]), np.median(cpu_t[c])
            print(f"  {c:5s} loss_and_grad {1e3 * g:8.2f} ms wall ({g / base_g:4.2f}x), "
                  f"{1e3 * k:8.2f} ms CPU ({k / base_c:4.2f}x)   "
                  f"update {1e3 * u:8.2f} ms wall ({u / base_u:4.2f}x)")


if __name__ == "__main__":
    main()
