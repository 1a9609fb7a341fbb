"""The lesson's runs: which part of the story each one plays (its role, from its config), and what
the figures need from its folder, read through rnnctl.store and scored at new lengths through
rnnctl.use.evaluate (the evaluation ``rnnctl eval --length`` prints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import store
from ..errors import RnnctlError

#: Roles in the order the page tells them: the vanilla RNN without clipping, with norm scaling
#: (Pascanu et al. 2013, Alg. 1), with element-wise value clipping, with Ω and norm scaling (the
#: paper's SGD-CR), and an LSTM. A run whose config fits none is "other".
ROLES = ("none", "norm", "value", "omega", "lstm", "other")


def role_of(config) -> str:
    """The role of a run from its resolved Config: the cell first (any non-vanilla cell is the
    "lstm" role's comparison), then Ω, then the gradient method."""
    from ..registry import CELLS
    if not CELLS.meta(config.model.cell).get("vanilla", config.model.cell == "rnn"):
        return "lstm"
    if config.train.regularizer.omega > 0:
        return "omega"
    method = config.train.gradient.method
    return method if method in ("none", "norm", "value") else "other"


def label_of(config) -> str:
    """A short label a class reads: what the run did to its gradient, and its cell."""
    g, c = config.train.gradient, config.model.cell
    clip = {"none": "no clipping", "norm": f"norm scaling c={g.threshold:g}",
            "value": f"value clipping c={g.threshold:g}"}.get(g.method, f"{g.method} c={g.threshold}")
    if config.train.regularizer.omega > 0:
        clip = f"{clip} + Ω α={config.train.regularizer.omega:g} (SGD-CR)"
    return clip if role_of(config) != "lstm" else f"{c.upper()}, {clip}"


@dataclass
class LessonRun:
    """One run of the lesson, with what its figures read (None where the folder has nothing)."""

    role: str
    label: str
    run_dir: Path
    config: object                       # the resolved rnnctl Config
    info: dict                           # run.json
    method: str = "none"                 # train.gradient.method
    threshold: float | None = None       # c, for a method that reads it
    trace: dict | None = None            # trace.csv columns
    backprop: tuple | None = None        # (updates (n,), norms (n, T_max + 1)), first layer
    metrics: list = field(default_factory=list)
    snapshots: tuple | None = None       # (updates (n,), thetas (n, P))
    init_spectral: dict = field(default_factory=dict)   # W_rec name -> {sv_max, radius} at update 0
    lengths: list = field(default_factory=list)         # rows of score_lengths: length, error, ...

    @property
    def status(self) -> str:
        return str(self.info.get("status", "missing"))

    @property
    def vanilla(self) -> bool:
        return self.role != "lstm"


def load_run(job) -> LessonRun:
    """A finished sweep job's run folder as a LessonRun (small files and arrays only)."""
    from ..report import backprop_rows
    d = Path(job.run_dir)
    g = job.config.train.gradient
    run = LessonRun(role_of(job.config), label_of(job.config), d, job.config, store.read_run(d), g.method,
                    g.threshold if g.method in ("norm", "value") else None)
    run.trace = store.read_trace(d)
    run.backprop = backprop_rows(d, peaks=False)   # curves of typical updates, not the spikes
    run.metrics = store.read_metrics(d)
    run.snapshots = store.read_params_snapshots(d)
    run.init_spectral = _init_spectral(d)
    return run


def _init_spectral(run_dir: Path) -> dict:
    """λ₁ and spectral radius of the initial square W_rec matrices (params_init), as update 0."""
    if not store.has_params(run_dir, "init"):
        return {}
    out = {}
    for name, W in store.read_params(run_dir, "init").items():
        if name.startswith("W_rec") and W.ndim == 2 and W.shape[0] == W.shape[1]:
            W = np.asarray(W, float)
            out[name] = {"sv_max": float(np.linalg.norm(W, 2)),
                         "radius": float(np.max(np.abs(np.linalg.eigvals(W))))}
    return out


def score_at_lengths(run: LessonRun, lengths, sequences: int, seed: int = 0) -> list[dict]:
    """Error rate of the run's final parameters on ``sequences`` fresh sequences at each length
    (rnnctl.use.evaluate.score_lengths); [] when the run cannot be scored (say why in a row)."""
    from ..use import load_trained
    from ..use.evaluate import score_lengths
    try:
        trained = load_trained(run.run_dir, "final")
        return score_lengths(trained, list(lengths), sequences, seed)
    except RnnctlError as e:
        return [{"length": None, "problem": str(e)}]


def by_role(runs: list[LessonRun]) -> dict[str, LessonRun]:
    """The first run of each role (a lesson has one of each)."""
    out: dict[str, LessonRun] = {}
    for r in runs:
        out.setdefault(r.role, r)
    return out
