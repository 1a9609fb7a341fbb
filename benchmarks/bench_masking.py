"""What masking costs per update: loss_and_grad_flat with lengths=None, all T, and random, in one run.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_masking.py [--hidden 50] [--length 100]
                                                             [--batch 20] [--repeats 200]

At the Pascanu size (vanilla tanh, H=50, T=100, B=20; I=6 inputs, O=4 classes as in the temporal
order task), float64 and float32, many_to_one and many_to_many: the median time of one
``Model.loss_and_grad_flat`` (forward + full BPTT + readout and loss) with
  none    lengths=None: the unmasked kernels (today's path),
  all_T   lengths all equal to T: the masked kernels with nothing to mask (the test's cost alone),
  random  lengths drawn uniformly from [T/2, T] per batch (the masked kernels holding padded rows),
and the ratio of each median to that of ``none``. The three variants are interleaved call by call,
in an order rotated each repeat, so machine noise hits them alike; wall and process CPU time are
both reported (on a shared machine, wall medians of a descheduled process snap to the scheduler
tick; CPU time does not count it). Padded steps are still computed and then overwritten (a step is
one (B, H) x (H, H) product for the whole batch), so random lengths cost what all_T costs.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from rnnctl.model import Model

I, O = 6, 4


def bench(dtype, arch, H, T, B, repeats):
    rng = np.random.default_rng(0)
    m = Model(I, O, H, loss="softmax_ce", arch=arch, dtype=dtype)
    m.init_params(np.random.default_rng(1), "orthogonal")
    lead = (B,) if arch == "many_to_one" else (T, B)
    data = [(rng.normal(size=(T, B, I)).astype(dtype), rng.integers(0, O, size=lead),
             rng.integers(T // 2, T + 1, size=B).astype(np.int64)) for _ in range(8)]
    full = np.full(B, T, np.int64)
    variants = {"none": lambda d: None, "all_T": lambda d: full, "random": lambda d: d[2]}
    grad = np.zeros_like(m.theta)
    for pick in variants.values():   # compile or load every specialization before timing
        m.loss_and_grad_flat(data[0][0], data[0][1], grad, lengths=pick(data[0]))
    wall = {k: [] for k in variants}
    cpu = {k: [] for k in variants}
    names = list(variants)
    for r in range(repeats):
        d = data[r % len(data)]
        for k in names[r % 3:] + names[:r % 3]:
            lengths = variants[k](d)
            t0, c0 = time.perf_counter(), time.process_time()
            m.loss_and_grad_flat(d[0], d[1], grad, lengths=lengths)
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    return {k: (np.median(wall[k]), np.median(cpu[k])) for k in names}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=50)
    ap.add_argument("--length", type=int, default=100)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=200)
    args = ap.parse_args()
    H, T, B = args.hidden, args.length, args.batch
    print("OPENBLAS_NUM_THREADS =", os.environ.get("OPENBLAS_NUM_THREADS", "unset"))
    print(f"vanilla tanh, H={H} T={T} B={B}, random lengths in [{T // 2}, {T}]; "
          f"medians of {args.repeats} interleaved calls of loss_and_grad_flat")
    for dtype in ("float64", "float32"):
        for arch in ("many_to_one", "many_to_many"):
            res = bench(dtype, arch, H, T, B, args.repeats)
            w0, c0 = res["none"]
            print(f"{dtype} {arch}")
            for k, (w, c) in res.items():
                print(f"  {k:7s} {1e3 * w:7.3f} ms wall ({w / w0:5.3f}x)   {1e3 * c:7.3f} ms CPU ({c / c0:5.3f}x)")


if __name__ == "__main__":
    main()
