"""``rnnctl lesson``: train the lesson's sweep (rnnctl.sweep: a second call skips the finished
runs) and write one self-contained HTML page and its PNGs that tell the exploding and vanishing
gradient story of Pascanu, Mikolov & Bengio (2013) from the runs' own data (docs/lesson.md)."""

from __future__ import annotations

import dataclasses
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import store
from ..errors import ConfigError, RnnctlError
from .runs import LessonRun, by_role, load_run, score_at_lengths

LENGTHS = (25, 50, 100, 200)
PAGE = "lesson.html"


@dataclass
class LessonOptions:
    """What the command line sets beside the sweep spec and its overrides."""

    workers: int | None = None
    executor: str = "local"
    lengths: tuple = LENGTHS
    eval_sequences: int = 1000       # per length, for figure 4
    grid: int = 31                   # points per axis of the slice (figure 5)
    sequences: int = 256             # the slice's batch
    seed: int = 0                    # of the length evaluation and the slice's batch
    one_unit: bool = True            # figure 6: the one-unit model of Pascanu et al.'s Figure 6


@dataclass
class LessonResult:
    folder: Path                     # the sweep folder (run folders)
    page: Path | None
    pngs: list = field(default_factory=list)
    ran: int = 0                     # runs trained (or resumed) by this call
    skipped: int = 0                 # runs already finished
    sweep_exit: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    runs: list = field(default_factory=list)   # one dict per run: label, status, updates, ...


def _cpu() -> float:
    """CPU seconds of this process and of the worker processes it waited for."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def check_options(opt: LessonOptions) -> None:
    if not opt.lengths or any(int(L) < 1 for L in opt.lengths):
        raise ConfigError(f"expected positive lengths, got {list(opt.lengths)}", key="--length")
    if not 3 <= opt.grid <= 401:
        raise ConfigError(f"expected 3 <= N <= 401, got {opt.grid}", key="--grid")
    for key, v in (("--sequences", opt.sequences), ("--eval-sequences", opt.eval_sequences)):
        if v < 1:
            raise ConfigError(f"expected a positive number, got {v}", key=key)


def run_lesson(spec, overrides, out, opt: LessonOptions | None = None, observer=None, say=print) -> LessonResult:
    """Train the sweep ``spec`` (a path; ``overrides`` as ``rnnctl sweep``'s) with its runs under
    ``out``/<sweep name>/, then write ``out``/lesson.html and the PNGs. ``say`` gets progress lines.
    Raises ConfigError for a bad spec or option before anything runs."""
    from ..sweep import expand, load_sweep, plan, run_sweep
    opt = opt or LessonOptions()
    check_options(opt)
    t0, c0 = time.perf_counter(), _cpu()
    out = Path(out)
    # the runs go under --out whatever the spec says (set on the Sweep, not as a runs_dir=... override,
    # which would parse the path as YAML: --out 2024 would be a number)
    sw = dataclasses.replace(load_sweep(spec, overrides), runs_dir=out)
    jobs = expand(sw)
    skipped = sum(p.action == "skip" for p in plan(jobs))
    say(f"lesson: {len(jobs)} runs in {sw.folder} ({skipped} already finished)")
    result = run_sweep(sw, executor=opt.executor, workers=opt.workers, observer=observer, jobs=jobs)
    res = LessonResult(sw.folder, None, ran=result.ran, skipped=skipped, sweep_exit=result.exit_code,
                       interrupted=result.interrupted)
    if result.interrupted:
        return res
    train_seconds = time.perf_counter() - t0
    runs = [load_run(j) for j in jobs if (store.read_run_or_none(j.run_dir) or {}).get("status") in store.FINISHED]
    if not runs:
        raise RnnctlError(f"no run of {sw.folder} finished; see rnnctl report {sw.folder}")
    for r in runs:
        say(f"lesson: scoring {r.label} at lengths {', '.join(map(str, opt.lengths))}")
        r.lengths = score_at_lengths(r, opt.lengths, opt.eval_sequences, opt.seed)
    from .page import write_page
    res.page, res.pngs, slice_seconds = write_page(runs, sw, out, opt, say, result.ran, t0)
    res.seconds, res.cpu_seconds = time.perf_counter() - t0, _cpu() - c0
    res.runs = [run_row(r) for r in runs]
    say(f"lesson: training {train_seconds:.0f} s (this call), slice {slice_seconds:.0f} s, "
        f"in all {res.seconds:.0f} s wall, {res.cpu_seconds:.0f} s CPU")
    return res


def run_row(r: LessonRun) -> dict:
    i = r.info
    return {"label": r.label, "role": r.role, "run": str(r.run_dir), "status": r.status,
            "updates": i.get("updates"), "final_error": i.get("final_error"),
            "success_update": i.get("success_update"), "diverged_at": i.get("diverged_at"),
            "norm_max": i.get("norm_max"), "wall_time": i.get("wall_time"),
            "lengths": {str(x["length"]): x["error"] for x in r.lengths if x.get("length") is not None}}


def center_runs(runs: list[LessonRun]) -> tuple[LessonRun | None, LessonRun | None]:
    """(the slice's center: the norm-scaling run, else the first vanilla run with snapshots; the
    run without clipping, the plane's third point) — None where the lesson has no such run."""
    roles = by_role([r for r in runs if r.vanilla and r.snapshots is not None and len(r.snapshots[0]) > 1])
    center = roles.get("norm") or next(iter(roles.values()), None)
    other = roles.get("none") if roles.get("none") is not center else None
    return center, other
