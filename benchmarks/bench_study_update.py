"""The studies' own cost at the paper's size, before against after, measured in one run.

    python benchmarks/bench_study_update.py [--base DIR] [--rounds 3] [--updates 400] [--cpu 1]
                                            [--lengths 100,200] [--dtype float64] [--compile] [--study]

Times are the process's CPU time by default (``--clock wall`` for elapsed time): on a machine
shared with other work, elapsed time measures the neighbours as much as the code, while CPU time is
what the update costs on a core of its own (the sweep runs one process per core).

An *update* is what ``rnnctl train`` does per update in the studies' configuration
(configs/pascanu/temporal_order.yaml: vanilla tanh RNN, 50 units, batch 20, plain SGD, norm scaling
at 1, at a fixed ``task.length``; ``log.backprop_every=1000`` as the sweeps log it) with
``train.regularizer.omega`` 0 (SGD-C) and 4 (SGD-CR): batch generation, forward, BPTT, the
per-step norms when logged, Ω, the gradient pipeline, the optimizer and the trace row written to a
real run folder. It is timed as the interval between two consecutive updates seen by an
Observer, so everything the loop does counts; the figure is the median over the updates of a run
(evaluations excluded), then the median over rounds. An *evaluation* is one evaluation of 10,000
fresh sequences in chunks of 1,000 (``eval.sequences``, ``eval.batch_size``), forward only, at each
length and over the one-model study's range 50-200 (10 buckets).

``--base DIR`` names another checkout of rnnctl (e.g. ``git worktree add /tmp/base d8df06a``, the
commit before the speed-ups). Each measurement then runs in child processes, alternating between
the base and this checkout round by round so that machine noise hits both alike, with one BLAS
thread each (``OPENBLAS_NUM_THREADS=1``, the sweep's workers) and pinned to one core with
``--cpu`` (the sweep's one process per core). The table gives medians and the ratio base/this.
``--study`` also times the one-model study's own update (lengths 50-200 drawn per batch, SGD-CR:
the mean over the run's updates). ``--compile`` also times the first update of a fresh process with an empty Numba cache (cold
compile, cache=True) in both. Without ``--base`` only this checkout is measured.

The machine may be shared: quote medians and ratios, not single numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
CONFIG = "configs/pascanu/temporal_order.yaml"
CLOCK = time.process_time


# --- the child: measures one checkout (the one on sys.path) --------------------------------------

def _config(length, omega, steps, dtype, runs_dir, extra=()):
    from rnnctl import load_config
    over = [f"train.regularizer.omega={omega}", f"train.steps={steps}", "eval.every=1000000000",
            "eval.sequences=20", "eval.batch_size=20", "log.backprop_every=1000", f"model.dtype={dtype}",
            f"runs_dir={runs_dir}"]
    over += [f"task.length={length}"] if length else []
    return load_config(str(HERE / CONFIG), over + list(extra))


def time_updates(length, omega, updates, dtype) -> float:
    """Median ms between consecutive updates of a real training run (RunFolder sink)."""
    from rnnctl import Observer, train
    from rnnctl.store import RunFolder

    class Clock(Observer):
        def __init__(self):
            self.t = []

        def on_update(self, update, loss, stats):
            self.t.append(CLOCK())

    with tempfile.TemporaryDirectory() as tmp:
        cfg = _config(length, omega, updates, dtype, tmp)
        clock = Clock()
        train(cfg, RunFolder.create(tmp, "bench", "r0"), clock)
    dt = [b - a for a, b in zip(clock.t[10:], clock.t[11:])]   # the first ones warm caches up
    # a fixed length: the median update; the range 50-200 (one length drawn per batch): the mean,
    # what an update costs on average over the lengths drawn
    return 1e3 * (statistics.median(dt) if length else statistics.mean(dt))


def time_eval(length, reps, dtype) -> float:
    """Median ms of one evaluation of 10,000 sequences (chunks of 1000) at ``length`` (0: 50-200)."""
    from rnnctl.training.evaluation import evaluate
    from rnnctl.training.session import Session
    with tempfile.TemporaryDirectory() as tmp:
        s = Session(_config(length, 0, 10, dtype, tmp))
        ev = s.config.eval
        evaluate(s.model, s.sampler, s.rng_eval, 1000, 1000, buckets=10)   # warm up
        ts = []
        for _ in range(reps):
            t0 = CLOCK()
            evaluate(s.model, s.sampler, s.rng_eval, 10000, 1000, buckets=ev.length_buckets)
            ts.append(CLOCK() - t0)
    return 1e3 * statistics.median(ts)


def child(args) -> None:
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.what == "compile":
        t0 = CLOCK()
        import rnnctl  # noqa: F401  (the import counts: a cold start pays it too)
        with tempfile.TemporaryDirectory() as tmp:
            from rnnctl import train
            from rnnctl.store import RunFolder
            train(_config(100, 4, 1, args.dtype, tmp), RunFolder.create(tmp, "bench", "r0"))
        out = 1e3 * (CLOCK() - t0)
    elif args.what == "eval":
        out = time_eval(args.length, args.reps, args.dtype)
    else:
        out = time_updates(args.length, args.omega, args.updates, args.dtype)
    print(json.dumps(out))


# --- the parent: alternates checkouts, prints the table ------------------------------------------

def run_child(root, what, cpu, **kw) -> float:
    env = dict(os.environ, PYTHONPATH=str(root), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", what]
    for k, v in kw.items():
        cmd += [f"--{k}", str(v)]
    with tempfile.TemporaryDirectory() as cache:
        if what == "compile":
            env["NUMBA_CACHE_DIR"] = cache   # empty: every kernel compiles
        if cpu is not None:
            cmd = ["taskset", "-c", str(cpu)] + cmd
        out = subprocess.run(cmd, env=env, cwd=str(root), capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{root}: {what} failed:\n{out.stderr[-3000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", help="another rnnctl checkout to compare against (e.g. the commit before)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds per measurement")
    p.add_argument("--updates", type=int, default=400, help="updates per timed training run")
    p.add_argument("--reps", type=int, default=3, help="evaluations per timed evaluation")
    p.add_argument("--lengths", default="100,200", help="fixed lengths to time")
    p.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    p.add_argument("--clock", default="cpu", choices=("cpu", "wall"),
                   help="cpu: the process's CPU time (what a dedicated core would take, and steadier "
                        "on a shared machine); wall: elapsed time")
    p.add_argument("--cpu", type=int, default=None, help="pin each child to this core (taskset)")
    p.add_argument("--compile", action="store_true", help="also time a cold start (empty Numba cache)")
    p.add_argument("--no-eval", action="store_true", help="skip the evaluation timings")
    p.add_argument("--study", action="store_true",
                   help="also the one-model study's update: lengths 50-200 drawn per batch, SGD-CR (the mean)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--what", help=argparse.SUPPRESS)
    p.add_argument("--length", type=int, default=100, help=argparse.SUPPRESS)
    p.add_argument("--omega", type=float, default=0.0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        args.what = args.child
        return child(args)

    roots = {"this": HERE} | ({"base": Path(args.base).resolve()} if args.base else {})
    lengths = [int(x) for x in args.lengths.split(",")]
    jobs = [(f"update L={L} {'SGD-CR (omega=4)' if om else 'SGD-C'}", "update", dict(length=L, omega=om))
            for L in lengths for om in (0, 4)]
    if args.study:
        jobs += [("update L=50-200 SGD-CR (mean)", "update", dict(length=0, omega=4))]
    if not args.no_eval:
        jobs += [(f"eval 10000 seq L={L}", "eval", dict(length=L)) for L in lengths]
        jobs += [("eval 10000 seq L=50-200", "eval", dict(length=0))]
    if args.compile:
        jobs += [("cold start + 1st update", "compile", {})]
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S')}  {args.clock} time, dtype {args.dtype}, one BLAS thread, "
          f"cpu {args.cpu if args.cpu is not None else 'any'}, {args.rounds} rounds, "
          f"{args.updates} updates per run; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'measurement':34s} " + " ".join(f"{k + ' ms':>12s}" for k in roots)
          + ("   base/this" if args.base else ""))
    for label, what, kw in jobs:
        times = {k: [] for k in roots}
        for r in range(args.rounds if what != "compile" else 1):
            order = list(roots) if r % 2 == 0 else list(roots)[::-1]
            for k in order:
                times[k].append(run_child(roots[k], what, args.cpu, updates=args.updates, reps=args.reps,
                                          dtype=args.dtype, clock=args.clock, **kw))
        med = {k: statistics.median(v) for k, v in times.items()}
        line = f"{label:34s} " + " ".join(f"{med[k]:12.3f}" for k in roots)
        if args.base:
            # the median over rounds of the per-round ratio, and the ratio of the medians
            ratios = [b / t for b, t in zip(times["base"], times["this"])]
            line += f"   {statistics.median(ratios):6.2f}x  (of medians {med['base'] / med['this']:.2f}x)"
        print(line, flush=True)


if __name__ == "__main__":
    main()
