"""One training step of rnnctl against PyTorch on the CPU, on the same weights and data, in one run.

    pip install -e '.[bench]'          # torch==2.13.0 (CPU) and threadpoolctl
    python benchmarks/bench_vs_torch.py [--quick] [--threads 1,2] [--dtype float32] [--blocks 7]
                                        [--cells rnn,lstm,gru] [--sizes H:T:B,...]

A step is forward + full BPTT + global-norm clip + SGD on a single-layer many_to_one model with a
linear readout at the last step and softmax cross-entropy (I=6 inputs, O=4 classes, as in the
temporal-order task): rnnctl through ``Model.loss_and_grad_flat`` and the clip/update in NumPy;
torch through nn.RNN (tanh) / nn.LSTM / nn.GRU + nn.Linear + cross_entropy + clip_grad_norm_ +
SGD. Weights are copied across with the README's gate mapping and the gradients are asserted to
agree before anything is timed. For cells rnn/lstm/gru x H {32, 128, 512} x T {50, 200} x B {1, 32}
plus the Pascanu size (rnn, H=50, T=100, B=20), at each thread count (torch.set_num_threads and the
BLAS pools of NumPy and SciPy, which Numba's np.dot calls, through threadpoolctl): the two are
timed in alternating blocks so machine noise hits them alike; the table gives the median ms per
step of each, the median over blocks of the ratio torch/rnnctl, and each one's GFLOP/s as a
fraction of the machine's GEMM peak measured in the same run (a large NumPy matmul, float64 and
float32), and the ceiling: the ratio rnnctl would reach if its GEMM work ran at 100% of that peak
with everything else free (torch's time over the GEMM work's time at peak), so a target above the
ceiling cannot be met at that thread count. --quick runs a subset in under a minute. The machine may be shared: quote medians and
ratios, not single numbers.

Some systems set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in the environment (a cluster's module
files, a container image), and on some CPUs they slow a current OpenBLAS; the header prints them
and the BLAS kernel threadpoolctl reports. To measure without them, unset both in that command
alone: `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python ...`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from rnnctl.model import Model

I, O = 6, 4
CLIP, LR = 1.0, 1e-3
FULL = [(cell, H, T, B) for cell in ("rnn", "lstm", "gru") for H in (32, 128, 512)
        for T in (50, 200) for B in (1, 32)] + [("rnn", 50, 100, 20)]
QUICK = [(cell, H, 50, B) for cell in ("rnn", "lstm", "gru") for H, B in ((32, 1), (512, 32))] + \
        [("rnn", 50, 100, 20)]
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def flops_per_step(cell, H, T, B):
    """Multiply-adds x 2 of the GEMMs of one step: forward (input + recurrent products), backward
    (the carry product and the two weight gradients); elementwise work and the readout not counted."""
    GH = GATES[cell] * H
    return 2.0 * T * B * GH * (3 * H + 3 * I)


def gemm_peak(dtype, n=2048, reps=5):
    """GFLOP/s of an n x n x n NumPy matmul: the best of reps (the machine's capability; a shared
    machine only ever slows it, so the caller also takes the max of a measurement before and after)."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    b = a.T.copy()
    c = np.empty_like(a)
    np.matmul(a, b, out=c)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        ts.append(time.perf_counter() - t0)
    return 2.0 * n ** 3 / min(ts) / 1e9


class Rnnctl:
    def __init__(self, cell, H, T, B, dtype, seed=0):
        self.model = m = Model(I, O, H, cell=cell, arch="many_to_one", loss="softmax_ce", dtype=dtype)
        rng = np.random.default_rng(seed)
        m.theta[...] = rng.uniform(-1, 1, m.theta.size) / np.sqrt(H)
        self.u = rng.standard_normal((T, B, I)).astype(dtype)
        self.target = rng.integers(0, O, size=B)
        self.grad = np.zeros_like(m.theta)

    def step(self):
        m, g = self.model, self.grad
        E = m.loss_and_grad_flat(self.u, self.target, g)
        norm = float(np.sqrt(np.dot(g, g)))
        if norm > CLIP:
            g *= CLIP / norm
        m.theta -= LR * g  # in place: params are views of theta
        return E


class Torch:
    def __init__(self, torch, r: Rnnctl, cell, H, dtype):
        self.torch = torch
        tdt = getattr(torch, dtype)
        net = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        kw = {"nonlinearity": "tanh"} if cell == "rnn" else {}
        self.net = net(I, H, dtype=tdt, **kw)
        self.lin = torch.nn.Linear(H, O, dtype=tdt)
        p = r.model.params
        with torch.no_grad():  # the README's mapping: bias_ih = b, bias_hh = 0 (GRU: [0, 0, b_rec_n])
            self.net.weight_ih_l0.copy_(torch.from_numpy(p["W_in"]))
            self.net.weight_hh_l0.copy_(torch.from_numpy(p["W_rec"]))
            self.net.bias_ih_l0.copy_(torch.from_numpy(p["b"]))
            b_hh = np.zeros_like(p["b"])
            if cell == "gru":
                b_hh[2 * H:] = p["b_rec_n"]
            self.net.bias_hh_l0.copy_(torch.from_numpy(b_hh))
            self.lin.weight.copy_(torch.from_numpy(p["W_out"]))
            self.lin.bias.copy_(torch.from_numpy(p["b_out"]))
        self.params = list(self.net.parameters()) + list(self.lin.parameters())
        self.opt = torch.optim.SGD(self.params, lr=LR)
        self.u = torch.from_numpy(r.u.copy())
        self.target = torch.from_numpy(r.target.copy())
        self.B = r.u.shape[1]

    def loss_backward(self):
        torch = self.torch
        out, _ = self.net(self.u)
        y = self.lin(out[-1])
        loss = torch.nn.functional.cross_entropy(y, self.target, reduction="sum") / self.B
        loss.backward()
        return loss

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_backward()
        self.torch.nn.utils.clip_grad_norm_(self.params, CLIP)
        self.opt.step()
        return loss


def check_same(r: Rnnctl, t: Torch, cell, H, dtype):
    """Loss and every gradient agree (rnnctl's b gradient is torch's bias_ih gradient)."""
    E = r.model.loss_and_grad_flat(r.u, r.target, r.grad)
    g = r.model.layout.views(r.grad)
    t.opt.zero_grad(set_to_none=True)
    loss = t.loss_backward().item()
    tol = 1e-3 if dtype == "float32" else 1e-9
    pairs = [("W_in", t.net.weight_ih_l0), ("W_rec", t.net.weight_hh_l0), ("b", t.net.bias_ih_l0),
             ("W_out", t.lin.weight), ("b_out", t.lin.bias)]
    assert abs(E - loss) <= tol * max(1.0, abs(loss)), (cell, H, "loss", E, loss)
    for name, tp in pairs:
        a, b = g[name], tp.grad.numpy()
        err = np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30)
        assert err <= tol, (cell, H, name, err)
    if cell == "gru":
        b = t.net.bias_hh_l0.grad.numpy()[2 * H:]
        assert np.max(np.abs(g["b_rec_n"] - b)) <= tol * max(np.max(np.abs(b)), 1e-30), (cell, H, "b_rec_n")
    r.grad[...] = 0.0


def block(fn, n):
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def bench_one(torch, cell, H, T, B, dtype, blocks, target_s):
    r = Rnnctl(cell, H, T, B, dtype)
    t = Torch(torch, r, cell, H, dtype)
    check_same(r, t, cell, H, dtype)
    r.step(), t.step()  # warm both (compiled kernels come from Numba's cache)
    once = max(block(r.step, 1), block(t.step, 1))
    n = max(1, int(target_s / once))
    ours, theirs, ratio = [], [], []
    for k in range(blocks):
        if k % 2:  # alternate who goes first
            b_t = block(t.step, n)
            b_r = block(r.step, n)
        else:
            b_r = block(r.step, n)
            b_t = block(t.step, n)
        ours.append(b_r)
        theirs.append(b_t)
        ratio.append(b_t / b_r)
    return statistics.median(ours), statistics.median(theirs), statistics.median(ratio)


def set_threads(torch, limiter, n):
    torch.set_num_threads(n)
    if limiter is not None:
        limiter.restore_original_limits()
        limiter = None
    try:
        from threadpoolctl import threadpool_limits
        import scipy.linalg.cython_blas  # noqa: F401  load SciPy's own OpenBLAS (Numba's np.dot) first,
        return threadpool_limits(limits=n, user_api="blas")  # or its pool escapes the limit
    except ImportError:
        return None


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed: BLAS threads not controlled"
    return "; ".join(f"{d.get('internal_api')} {d.get('version')} {d.get('architecture')} "
                     f"({os.path.basename(d.get('filepath', ''))}, {d.get('num_threads')} threads)"
                     for d in threadpool_info() if d.get("user_api") == "blas")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a subset, under a minute")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--blocks", type=int, default=None, help="timed blocks per config (default 7; quick 3)")
    ap.add_argument("--cells", default="rnn,lstm,gru")
    ap.add_argument("--sizes", default=None,
                    help="only these H:T:B sizes of the grid, comma-separated (e.g. 32:50:32,50:100:20)")
    args = ap.parse_args()
    import scipy.linalg.cython_blas  # noqa: F401  (Numba's np.dot calls SciPy's BLAS: list and limit it too)
    import torch

    cases = [c for c in (QUICK if args.quick else FULL) if c[0] in args.cells.split(",")]
    if args.sizes:
        want = {tuple(int(x) for x in s.split(":")) for s in args.sizes.split(",")}
        cases = [c for c in cases if c[1:] in want]
    blocks = args.blocks or (3 if args.quick else 7)
    target_s = 0.03 if args.quick else 0.1
    threads = [int(x) for x in args.threads.split(",")]
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
    print(f"torch {torch.__version__}, numpy {np.__version__}, dtype {args.dtype}, {os.cpu_count()} CPUs, "
          f"OPENBLAS env {env or 'unset'}")
    print(f"BLAS: {blas_info()}")
    print(f"one step = forward + BPTT + clip + SGD, many_to_one, I={I}, O={O}; "
          f"medians of {blocks} interleaved blocks")
    limiter = None
    for nt in threads:
        limiter = set_threads(torch, limiter, nt)
        peak64, peak32 = gemm_peak(np.float64), gemm_peak(np.float32)
        rows = []
        for cell, H, T, B in cases:
            rows.append((cell, H, T, B, *bench_one(torch, cell, H, T, B, args.dtype, blocks, target_s)))
        peak64 = max(peak64, gemm_peak(np.float64))
        peak32 = max(peak32, gemm_peak(np.float32))
        peak = peak32 if args.dtype == "float32" else peak64
        print(f"\nthreads={nt}: GEMM peak {peak64:.1f} GFLOP/s float64, {peak32:.1f} GFLOP/s float32 "
              f"(best of before and after the rows)")
        print(f"{'cell':5s} {'H':>4s} {'T':>4s} {'B':>3s} {'rnnctl ms':>10s} {'torch ms':>10s} "
              f"{'torch/rnnctl':>12s} {'rnnctl %pk':>10s} {'torch %pk':>9s} {'ceiling':>8s}")
        for cell, H, T, B, ms_r, ms_t, ratio in rows:
            f = flops_per_step(cell, H, T, B) / 1e9
            # ceiling: the ratio rnnctl would reach if its GEMM work ran at 100% of the measured peak
            # and everything else were free (= 1 / torch's fraction of peak): a target above it
            # cannot be met at this thread count
            print(f"{cell:5s} {H:4d} {T:4d} {B:3d} {ms_r * 1e3:10.3f} {ms_t * 1e3:10.3f} {ratio:12.2f} "
                  f"{100 * f / ms_r / peak:9.1f}% {100 * f / ms_t / peak:8.1f}% {ms_t * peak / f:8.2f}",
                  flush=True)
    if limiter is not None:
        limiter.restore_original_limits()


if __name__ == "__main__":
    main()
