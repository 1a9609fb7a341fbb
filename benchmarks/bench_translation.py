"""One training update of rnnctl's encoder_decoder against a PyTorch GRU encoder-decoder of the same
size, on the same padded batches of sentence pairs, in one run.

    pip install -e '.[bench,translation]'     # torch==2.13.0 (CPU), threadpoolctl, num2words
    python benchmarks/bench_translation.py [--hidden 128] [--batch 32] [--blocks 7] [--threads 1]

The batches are those rnnctl trains the demo on (configs/real/translation.yaml: numbers 0-999,
French words -> English words, character level, length-bucketed, padded): 16 batches of the
train split, taken in turn. An update is forward + full BPTT through decoder and encoder +
global-norm clip + SGD, on a single-layer GRU encoder and GRU decoder with a linear readout and
softmax cross-entropy summed over each pair's real target steps and averaged over the batch:

- rnnctl: ``Model.loss_and_grad_flat(u, target, grad, lengths=..., target_lengths=...)`` (the
  encoder holds its state over padded source steps, the decoder's loss skips padded target steps),
  the clip and the update in NumPy;
- torch: nn.GRU over ``pack_padded_sequence`` of the sources (its final state is each source's
  last real step), its state starting an nn.GRU decoder fed the zero vector then the previous
  target symbols one-hot (teacher forcing), nn.Linear, cross_entropy masked by the target
  lengths, clip_grad_norm_, SGD.

Weights are copied across (bias_ih = b, bias_hh = [0, 0, b_rec_n], as bench_vs_torch.py) and the
loss and every gradient are asserted to agree before anything is timed. The two are timed in
alternating blocks at the same thread count (torch.set_num_threads and the BLAS pools through
threadpoolctl); the output is the median ms per update of each and the median over blocks of the
ratio torch / rnnctl (> 1: rnnctl is faster). The machine may be shared: quote the medians and
the ratio, not single numbers.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from rnnctl.model import Model

CLIP, LR = 1.0, 1e-3


def demo_batches(batch_size: int, n: int):
    from rnnctl.data.sources.numbers import numbers
    ds = numbers("fr-en", limit=1000)
    order = ds.order("train", batch_size, np.random.default_rng(0))
    return ds, [ds.batch(idx) for idx in order[:n]]


class Rnnctl:
    def __init__(self, ds, H, seed=0):
        self.model = m = Model(ds.n_in, ds.n_out, H, cell="gru", arch="encoder_decoder", loss="softmax_ce")
        rng = np.random.default_rng(seed)
        m.theta[...] = rng.uniform(-1, 1, m.theta.size) / np.sqrt(H)
        self.grad = np.zeros_like(m.theta)

    def loss_and_grad(self, b):
        return self.model.loss_and_grad_flat(b.u, b.target, self.grad, lengths=b.lengths,
                                             target_lengths=b.target_lengths)

    def step(self, b):
        g = self.grad
        E = self.loss_and_grad(b)
        norm = float(np.sqrt(np.dot(g, g)))
        if norm > CLIP:
            g *= CLIP / norm
        self.model.theta -= LR * g
        return E


class Torch:
    def __init__(self, torch, r: Rnnctl, ds, H):
        self.torch, nn = torch, torch.nn
        self.enc = nn.GRU(ds.n_in, H, dtype=torch.float64)
        self.dec = nn.GRU(ds.n_out, H, dtype=torch.float64)
        self.lin = nn.Linear(H, ds.n_out, dtype=torch.float64)
        p = r.model.params
        with torch.no_grad():
            for net, pre in ((self.enc, "encoder."), (self.dec, "decoder.")):
                net.weight_ih_l0.copy_(torch.from_numpy(p[pre + "W_in"]))
                net.weight_hh_l0.copy_(torch.from_numpy(p[pre + "W_rec"]))
                net.bias_ih_l0.copy_(torch.from_numpy(p[pre + "b"]))
                b_hh = np.zeros_like(p[pre + "b"])
                b_hh[2 * H:] = p[pre + "b_rec_n"]
                net.bias_hh_l0.copy_(torch.from_numpy(b_hh))
            self.lin.weight.copy_(torch.from_numpy(p["W_out"]))
            self.lin.bias.copy_(torch.from_numpy(p["b_out"]))
        self.params = [*self.enc.parameters(), *self.dec.parameters(), *self.lin.parameters()]
        self.opt = torch.optim.SGD(self.params, lr=LR)
        self.O = ds.n_out

    def tensors(self, b):
        """The batch as torch tensors: source, lengths, decoder inputs, targets, target mask."""
        torch = self.torch
        T_out, B = b.target.shape
        fb = np.zeros((T_out, B, self.O))
        fb[1:][np.arange(T_out - 1)[:, None], np.arange(B)[None, :], b.target[:-1]] = 1.0   # teacher forcing
        mask = np.arange(T_out)[:, None] < b.target_lengths[None, :]
        return (torch.from_numpy(b.u), torch.from_numpy(b.lengths), torch.from_numpy(fb),
                torch.from_numpy(b.target), torch.from_numpy(mask))

    def loss_backward(self, t):
        torch = self.torch
        u, lengths, fb, target, mask = t
        packed = torch.nn.utils.rnn.pack_padded_sequence(u, lengths, enforce_sorted=False)
        _, h = self.enc(packed)                                # (1, B, H) at each last real step
        out, _ = self.dec(fb, h)                               # (T_out, B, H)
        y = self.lin(out)                                      # (T_out, B, O)
        ce = torch.nn.functional.cross_entropy(y.reshape(-1, self.O), target.reshape(-1), reduction="none")
        loss = (ce * mask.reshape(-1)).sum() / u.shape[1]
        loss.backward()
        return loss

    def step(self, t):
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_backward(t)
        self.torch.nn.utils.clip_grad_norm_(self.params, CLIP)
        self.opt.step()
        return loss


def check_same(r: Rnnctl, t: Torch, b, H):
    """Loss and every gradient agree on one batch."""
    E = r.loss_and_grad(b)
    g = r.model.layout.views(r.grad)
    t.opt.zero_grad(set_to_none=True)
    loss = t.loss_backward(t.tensors(b)).item()
    assert abs(E - loss) <= 1e-9 * max(1.0, abs(loss)), ("loss", E, loss)
    for net, pre in ((t.enc, "encoder."), (t.dec, "decoder.")):
        for name, tp in (("W_in", net.weight_ih_l0), ("W_rec", net.weight_hh_l0), ("b", net.bias_ih_l0)):
            a, ref = g[pre + name], tp.grad.numpy()
            assert np.max(np.abs(a - ref)) <= 1e-9 * max(np.max(np.abs(ref)), 1e-30), (pre + name,)
        ref = net.bias_hh_l0.grad.numpy()[2 * H:]
        assert np.max(np.abs(g[pre + "b_rec_n"] - ref)) <= 1e-9 * max(np.max(np.abs(ref)), 1e-30), (pre, "b_rec_n")
    for name, tp in (("W_out", t.lin.weight), ("b_out", t.lin.bias)):
        assert np.max(np.abs(g[name] - tp.grad.numpy())) <= 1e-9 * max(np.max(np.abs(tp.grad.numpy())), 1e-30)
    r.grad[...] = 0.0


def run_block(step, items, n):
    t0 = time.perf_counter()
    for k in range(n):
        step(items[k % len(items)])
    return (time.perf_counter() - t0) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--blocks", type=int, default=7)
    ap.add_argument("--updates", type=int, default=48, help="updates per timed block")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    try:
        import scipy.linalg.cython_blas  # noqa: F401  (SciPy's BLAS, which Numba's np.dot calls, loaded first)
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=args.threads, user_api="blas")
    except ImportError:
        limiter = None
    ds, batches = demo_batches(args.batch, 16)
    H = args.hidden
    r = Rnnctl(ds, H)
    t = Torch(torch, r, ds, H)
    for b in batches[:3]:
        check_same(r, t, b, H)
    tensors = [t.tensors(b) for b in batches]          # converted once, outside the timing
    run_block(r.step, batches, 4), run_block(t.step, tensors, 4)   # warm both
    ours, theirs, ratio = [], [], []
    for k in range(args.blocks):
        if k % 2:
            b_t = run_block(t.step, tensors, args.updates)
            b_r = run_block(r.step, batches, args.updates)
        else:
            b_r = run_block(r.step, batches, args.updates)
            b_t = run_block(t.step, tensors, args.updates)
        ours.append(b_r)
        theirs.append(b_t)
        ratio.append(b_t / b_r)
    src = np.mean([b.u.shape[0] for b in batches])
    tgt = np.mean([b.target.shape[0] for b in batches])
    print(f"GRU encoder-decoder, H={H}, B={args.batch}, {ds.n_in} source / {ds.n_out} target symbols, "
          f"padded steps per batch: source {src:.1f}, target {tgt:.1f} (mean of 16 batches); "
          f"{args.threads} thread(s), torch {torch.__version__}")
    print(f"ms per update: rnnctl {1000 * statistics.median(ours):.2f}, torch {1000 * statistics.median(theirs):.2f}; "
          f"torch / rnnctl = {statistics.median(ratio):.2f} (median of {args.blocks} blocks of {args.updates} updates)")
    if limiter is not None:
        limiter.restore_original_limits()


if __name__ == "__main__":
    main()
