"""How a run folder grows: the bounded schedule of the per-step backprop norms, and the size a
config implies at its full ``train.steps`` (``projected_size``), so that ``rnnctl train`` can warn
before it starts a run whose folder would not fit. Standard library only.

The schedule (``log.backprop_every: auto``) keeps every update up to ``2 * dense``, then ``dense``
rows per doubling of the update count: updates (2^j·dense, 2^(j+1)·dense] are kept every 2^j-th.
After ``steps`` updates that is ``dense * (1 + log2(steps / dense))`` rows (exactly at powers of
two), whatever the run's length: log-spaced in time, yet as dense near the end of the run as a
plot of a few hundred evenly spaced rows needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import layout as L

#: Above this projected size ``rnnctl train`` and ``--dry-run`` warn (bytes).
WARN_BYTES = 1 << 30

# Measured on trace.csv (``RunFolder._fmt``: 9 significant digits): a float column takes 10 to 15
# characters with its comma; 12 on average over the Pascanu runs (tests/test_sizes.py checks it
# against a real folder). Integer columns (update, fired, length) take their digits.
TRACE_FLOAT_BYTES = 12
METRICS_BYTES = 400          # one metrics.jsonl record, without its length buckets
METRICS_BUCKET_BYTES = 90    # per length bucket of an evaluation


def backprop_on_schedule(update: int, dense: int) -> bool:
    """Whether the bounded schedule records ``update`` (1-based)."""
    q = (update - 1) // dense
    if q <= 1:
        return True
    return update % (1 << (q.bit_length() - 1)) == 0


def backprop_schedule_rows(steps: int, dense: int) -> int:
    """How many of updates 1..steps the bounded schedule records (closed form per octave)."""
    n, lo, stride = min(steps, 2 * dense), 2 * dense, 2
    while lo < steps:
        hi = min(2 * lo, steps)
        n += hi // stride - lo // stride
        lo, stride = 2 * lo, 2 * stride
    return n


def backprop_rows(steps: int, every: int | str, dense: int, peaks: int) -> int:
    """The most rows ``backprop_norms.npy`` and its peaks file hold together after ``steps``
    updates under ``log.backprop_every`` = ``every`` (``auto``: the schedule, the peaks, up to
    ``peaks`` non-finite rows and the last update)."""
    if every == "auto":
        return backprop_schedule_rows(steps, dense) + 2 * peaks + 1
    return steps // every if every else 0


@dataclass
class FolderSize:
    """Projected bytes of each growing file of a run folder; ``total`` is their sum."""

    parts: dict[str, int] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)   # file -> the config key that sets its growth

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def largest(self) -> tuple[str, int]:
        return max(self.parts.items(), key=lambda kv: kv[1])


def projected_size(steps: int, *, trace_columns: tuple, max_steps: int, layers: int, params: int,
                   itemsize: int, backprop_every: int | str, backprop_dense: int, backprop_peaks: int,
                   params_every: int, eval_every: int, length_buckets: int, probe_every: int,
                   checkpoint_bytes: int) -> FolderSize:
    """What a run folder holds after ``steps`` updates, file by file, in bytes (an estimate: the
    trace's text width varies by a few characters per value). ``max_steps`` is T_max, ``params``
    the parameter count P, ``itemsize`` the bytes of one parameter, ``checkpoint_bytes`` the
    arrays of the training state at update 0 (θ, the optimizer's and the pipeline's arrays)."""
    ints = {"update": len(str(steps)) + 1, "fired": 2, "length": len(str(max_steps)) + 1, "skipped": 2}
    row = sum(ints.get(c, TRACE_FLOAT_BYTES) for c in trace_columns)
    width = layers * (max_steps + 1) * 4 + 8              # float32 norms + the int64 update number
    evals = steps // eval_every + 1
    out = FolderSize()

    def part(name: str, size: float, key: str) -> None:
        out.parts[name], out.keys[name] = int(size), key

    part(L.TRACE, steps * row, "train.steps (one row per update)")
    if backprop_every:   # + two .npy headers, and the peaks' .npz around its two arrays
        heads = 2 * 256 + (600 if backprop_every == "auto" else 0)
        part(L.BACKPROP_NORMS, backprop_rows(steps, backprop_every, backprop_dense, backprop_peaks) * width
             + heads, "log.backprop_every (auto keeps it bounded)")
    if params_every:
        part(L.PARAMS_SNAPSHOTS, (steps // params_every + 2) * (params * itemsize + 8), "log.params_every")
    if probe_every:   # contributions (T, T+1), Jacobian norms (T+1, T+1), backprop norms, float64
        part(L.PROBES_DIR, (steps // probe_every + 1) * 3 * (max_steps + 1) ** 2 * 8, "log.probe_every")
    part(L.CHECKPOINT, checkpoint_bytes + 8 * steps,   # + the history of every update's norm
         "train.steps (the checkpoint keeps every update's gradient norm)")
    part(L.METRICS, evals * (METRICS_BYTES + METRICS_BUCKET_BYTES * length_buckets), "eval.every")
    part("params_*.npz", 3 * params * itemsize, "model size")
    return out


def human(n: float) -> str:
    """Bytes as 1.2 GB / 340 MB / 12 kB (decimal units, as ``du -h --si``)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


def size_warning(size: FolderSize, steps: int, threshold: int = WARN_BYTES) -> str | None:
    """One line for stderr when ``size`` exceeds ``threshold``, naming the largest file and the key
    that sets its growth; None otherwise."""
    if size.total <= threshold:
        return None
    name, biggest = size.largest()
    return (f"this run's folder would reach about {human(size.total)} at train.steps={steps:,} "
            f"({name} {human(biggest)}; its growth is set by {size.keys[name]})")

