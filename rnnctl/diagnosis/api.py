"""``diagnose``: every rule over one run's evidence, in the order their facts depend on each other."""

from __future__ import annotations

from .baseline import below_baseline
from .evidence import Evidence, from_folder
from .finding import KINDS, Finding
from .gradient import clipping, exploding, read_norms
from .limits import Limits
from .outcome import diverged, no_learning, overfitting, read_outcome
from .saturation import saturated
from .signal import vanishing


def diagnose(run_dir, saturation: bool = True, **limits) -> dict:
    """The diagnosis of the run folder ``run_dir``:
    ``{"run": path, "healthy": bool, "findings": [{"kind", "severity", "evidence", "remedies",
    "updates", "values"}, ...]}``. ``healthy`` is true exactly when no finding is a problem.

    ``limits``: any of ``Limits``' thresholds (docs/diagnosis.md), e.g. ``spike_factor=20``.
    ``saturation``: False skips the one rule that runs the model (on a few sequences).
    Reads only the folder; UnusableRun when it is not a run folder."""
    ev = from_folder(run_dir, Limits(**limits), params=saturation)
    return diagnose_evidence(ev)


def diagnose_evidence(ev: Evidence) -> dict:
    out = read_outcome(ev)
    nm = read_norms(ev, out)
    found: list[Finding] = []

    def add(f: Finding | None) -> Finding | None:
        if f is not None:
            found.append(f)
        return f

    add(diverged(ev, out))
    boom = add(exploding(ev, out, nm))
    add(no_learning(ev, out))
    add(clipping(ev, out, nm, boom, out.learned))
    add(vanishing(ev, out))
    spoiled = (not out.learned and out.n >= ev.limits.min_updates) or out.ran_away or ev.status == "diverged"
    add(saturated(ev, out, spoiled))
    add(overfitting(ev, out))
    add(below_baseline(ev, found))
    found.sort(key=lambda f: (f.severity != "problem", KINDS.index(f.kind)))
    return {"run": ev.run, "healthy": not any(f.severity == "problem" for f in found),
            "findings": [f.to_dict() for f in found]}


def diagnose_paths(paths, saturation: bool = True, **limits) -> list[dict]:
    """The diagnosis of every run under ``paths``: run folders, sweep folders (their jobs' runs) or
    folders of run folders. A run that cannot be read (a sweep job never started, a damaged
    folder) is listed with ``healthy`` None and its ``error``. UnusableRun when a path holds no
    run folder."""
    from pathlib import Path

    from ..errors import ConfigError, RnnctlError, UnusableRun
    from ..store import find_runs
    out = []
    for path in paths:
        try:
            _, runs = find_runs(path)
        except ConfigError as e:
            raise UnusableRun(f"{path}: not a run folder, a sweep folder or a folder of runs ({e.message})") from e
        for rec in runs:
            try:
                out.append(diagnose(Path(rec.path), saturation, **limits))
            except RnnctlError as e:
                out.append({"run": str(rec.path), "healthy": None, "findings": [], "error": str(e)})
    return out


def summary_line(diagnoses: list[dict]) -> str:
    """'12 runs: 9 healthy, 2 with problems (exploding 2, diverged 1), 1 not diagnosed'."""
    from collections import Counter
    healthy = sum(1 for d in diagnoses if d.get("healthy") is True)
    sick = [d for d in diagnoses if d.get("healthy") is False]
    kinds = Counter(f["kind"] for d in sick for f in d["findings"] if f["severity"] == "problem")
    text = f"{len(diagnoses)} run{'s' if len(diagnoses) != 1 else ''}: {healthy} healthy, {len(sick)} with problems"
    if kinds:
        text += " (" + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items(), key=lambda kv: KINDS.index(kv[0]))) + ")"
    unread = len(diagnoses) - healthy - len(sick)
    return text + (f", {unread} not diagnosed" if unread else "")
