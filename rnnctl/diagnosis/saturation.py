"""The rule ``saturated``: units stuck at the ends of their activation, where σ' ≈ 0 and no error
signal passes (Hochreiter 1991; Bengio et al. 1994), and gates stuck open or shut.

Nothing the loop records shows it, so it is measured: the run's final parameters are loaded into
its model, which reads ``sat_sequences`` sequences of its own task (fresh ones of a generated task,
drawn with a fixed seed; the first training batch of real data), and the states and gates of that
forward pass are read. A vanilla unit's entry is saturated when σ'(a) is below ``sat_derivative``
of σ's largest slope (tanh: 1 - h², |h| > 0.975; sigmoid: 4h(1 - h)); a gate's entry (sigmoid
gates: LSTM i, f, o; GRU r, z) when 4g(1 - g) is. A unit saturated on ``sat_steps`` of its
entries is stuck. ReLU and linear units have no saturating end and are not measured.
"""

from __future__ import annotations

import numpy as np

from .evidence import Evidence
from .finding import Finding, nice
from .outcome import Outcome

#: The sigmoid gate blocks of each gated cell, in the order they are stacked.
SIGMOID_GATES = {"lstm": ("i", "f", None, "o"), "gru": ("r", "z", None)}
GATE_NAMES = {"i": "input", "f": "forget", "o": "output", "r": "reset", "z": "update"}


def measure(ev: Evidence) -> dict | None:
    """{"units": fraction of vanilla units stuck, "gates": {gate: (fraction stuck, mean value)}} on
    sequences of the run's task; None when it cannot be measured (no parameters, non-finite ones,
    an activation without saturating ends)."""
    from ..config import config_from_dict
    from ..model import model_from_config
    from ..tasks import make_task
    if not ev.params or not ev.config or not all(np.isfinite(v).all() for v in ev.params.values()):
        return None
    cfg = config_from_dict(ev.config)
    cell, act = cfg.model.cell, cfg.model.activation
    if cell == "rnn" and act not in ("tanh", "sigmoid"):
        return None
    sampler = make_task(cfg)
    model = model_from_config(cfg.model, sampler.task, np.random.default_rng(0))
    model.set_params(ev.params)
    u, target, lengths = _sequences(sampler, ev.limits.sat_sequences)
    with np.errstate(all="ignore"):
        model.loss(u.astype(model.dtype), target, lengths=lengths)
    d = ev.limits.sat_derivative
    steps = ev.limits.sat_steps
    units, gates = [], {}
    for stack in model.stacks:
        for s in stack.s:
            if cell == "rnn":
                h = s["h"][1:]
                slope = 1.0 - h * h if act == "tanh" else 4.0 * h * (1.0 - h)
                units.append((slope < d).mean(axis=(0, 1)) >= steps)
            else:
                T, Bb, GH = s["gates"].shape
                H = GH // len(SIGMOID_GATES[cell])
                for k, name in enumerate(SIGMOID_GATES[cell]):
                    if name is None:
                        continue
                    g = s["gates"][:, :, k * H:(k + 1) * H]
                    stuck = ((4.0 * g * (1.0 - g)) < d).mean(axis=(0, 1)) >= steps
                    prev = gates.get(name, ([], []))
                    gates[name] = (prev[0] + [stuck], prev[1] + [float(g.mean())])
    out = {"units": float(np.concatenate(units).mean()) if units else None,
           "gates": {n: (float(np.concatenate(v[0]).mean()), float(np.mean(v[1]))) for n, v in gates.items()}}
    return out


def _sequences(sampler, B: int):
    """(u, target, lengths) of B sequences: fresh ones of a generated task (seed 0), the first
    validation window of a stream, the first validation sequences of a dataset."""
    data = getattr(sampler, "dataset", None)
    if data is None:
        b = sampler.sample(np.random.default_rng(0), B)
        return b.u, b.target, None
    split = "valid" if data.sizes()["valid"] else "train"
    if data.kind == "stream":
        w = next(iter(data.windows(split, min(B, max(1, data.steps(split) // sampler.window)), sampler.window)))
        return w.u, w.target, None
    b = data.batch(data.indices(split)[:B])
    return b.u, b.target, (None if b.lengths.min() == b.u.shape[0] else b.lengths)


def saturated(ev: Evidence, out: Outcome, problems: bool) -> Finding | None:
    """``problems``: the run did not learn or its loss ran away: then saturation is a problem."""
    lim = ev.limits
    try:
        m = measure(ev)
    except Exception:   # a folder whose model cannot be rebuilt: nothing measured, nothing said
        return None
    if m is None:
        return None
    severity = "problem" if problems else "warning"
    act = ev.section("model", "activation")
    if m["units"] is not None and m["units"] >= lim.sat_units:
        remedies = []
        radius = ev.section("model", "spectral_radius")
        remedies.append(f"model.spectral_radius={nice(0.9 * min(1.0, radius or 1.0))}")
        lr = ev.section("train", "optimizer", "lr")
        if isinstance(lr, (int, float)):
            remedies.append(f"train.optimizer.lr={nice(lr / 3)}")
        return Finding("saturated", severity,
                       f"{100 * m['units']:.0f}% of the hidden units are stuck at the ends of {act} on "
                       f"{lim.sat_sequences} sequences of the task with the final parameters (σ' below "
                       f"{lim.sat_derivative:g} of its maximum on at least {100 * lim.sat_steps:.0f}% of their steps)",
                       remedies, [], {"stuck_units": m["units"]})
    stuck = {n: v for n, v in m["gates"].items() if v[0] >= lim.sat_units}
    if not stuck:
        return None
    parts, remedies = [], []
    for n, (frac, mean) in stuck.items():
        parts.append(f"the {GATE_NAMES[n]} gate is stuck {'open' if mean > 0.5 else 'shut'} in "
                     f"{100 * frac:.0f}% of the units (mean value {mean:.3f})")
        if n == "f" and mean < 0.5:
            fb = ev.section("model", "forget_bias", default=1.0) or 0.0
            remedies.append(f"model.forget_bias={nice(max(1.0, fb + 2.0))}")
    lr = ev.section("train", "optimizer", "lr")
    if isinstance(lr, (int, float)):
        remedies.append(f"train.optimizer.lr={nice(lr / 3)}")
    return Finding("saturated", severity, "; ".join(parts) + f" on {lim.sat_sequences} sequences of the task",
                   remedies, [], {f"stuck_{n}": v[0] for n, v in stuck.items()})
