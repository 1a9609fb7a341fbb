"""The error signal through time: the rule ``vanishing``, read from the per-step backprop norms
‖∂E/∂x_k‖ (Bengio et al. 1994; Hochreiter 1991; Pascanu et al. 2013, §2)."""

from __future__ import annotations

import numpy as np

from .evidence import Evidence
from .finding import Finding, nice, num
from .outcome import Outcome

#: Where float64 gives out: an error signal of exactly 0 counts as having fallen to this.
UNDERFLOW = 1e-300


def decay_orders(norms: np.ndarray) -> np.ndarray:
    """log10(‖∂E/∂x_T‖ / ‖∂E/∂x_1‖) per recorded row of the top layer, where T is the row's last
    finite step (a padded batch records NaN past its length): how many orders of magnitude the
    signal lost from the last step back to the first. x_0, the given initial state, is left out."""
    top = np.asarray(norms, dtype=float)[:, -1, 1:]          # (n, T): steps 1..T
    ok = np.isfinite(top)
    n, T = top.shape
    if not n or not T:
        return np.zeros(0)
    last_idx = T - 1 - np.argmax(ok[:, ::-1], axis=1)
    last = top[np.arange(n), last_idx]
    first = np.maximum(top[:, 0], UNDERFLOW)   # a signal that underflowed to 0 lost ~300 orders
    with np.errstate(divide="ignore", invalid="ignore"):
        orders = np.log10(last) - np.log10(first)
    usable = ok.any(axis=1) & (last_idx > 0) & np.isfinite(orders) & (last > 0)
    return orders[usable]


def vanishing(ev: Evidence, out: Outcome) -> Finding | None:
    lim = ev.limits
    if ev.backprop is None or out.n < lim.min_updates or out.learned:
        return None
    updates, norms = ev.backprop
    if not len(updates):
        return None
    half = updates >= updates[len(updates) // 2]       # the second half of the run: after any transient
    orders = decay_orders(norms[half])
    if not len(orders):
        return None
    med = float(np.median(orders))
    if med < lim.vanish_orders:
        return None
    fell = (f"fell by {med:.1f} orders of magnitude" if med < -np.log10(UNDERFLOW) - 1 else
            "fell to zero (float64 underflow, over 300 orders of magnitude)")
    text = (f"the error signal {fell} from the last step back to the first "
            f"(median of {len(orders)} recorded updates from {int(updates[half][0])} on: ‖∂E/∂x_1‖/‖∂E/∂x_T‖ = "
            f"{num(10 ** -med)}) while the loss stayed near its start ({num(out.start)} -> {num(out.best)} at best)")
    sv = None
    if ev.spectral:
        u, sv, bound = ev.spectral[-1]
        text += f"; λ₁ of W_rec {num(sv)} {'<' if sv < bound else '>='} 1/γ = {num(bound)} at update {u}"
    remedies = cell_remedies(ev, sv)
    return Finding("vanishing", "problem", text, remedies, [int(updates[half][0]), int(updates[-1])],
                   {"decay_orders": med, "sv_max": sv})


def cell_remedies(ev: Evidence, sv: float | None = None) -> list[str]:
    """What helps a signal that does not travel back: Pascanu's Ω (single-layer vanilla RNN), an
    init radius nearer 1, a gated cell; for an LSTM a larger forget-gate bias."""
    out = []
    cell, layers = ev.section("model", "cell"), ev.section("model", "layers", default=1)
    omega = ev.section("train", "regularizer", "omega", default=0.0) or 0.0
    if cell == "rnn":
        if layers == 1:
            g = ev.norms[np.isfinite(ev.norms)]
            c = nice(float(np.median(g))) if len(g) else "1"   # Ω wants norm scaling beside it (SGD-CR)
            clip = "" if ev.section("train", "gradient", "method") == "norm" else \
                f" train.gradient.method=norm train.gradient.threshold={c}"
            out.append(f"train.regularizer.omega={nice(2 * omega if omega else 2.0)}{clip}")
        radius = ev.section("model", "spectral_radius")
        if sv is not None and sv < 1.0:
            out.append(f"model.spectral_radius={nice(max(1.0, (radius or 0) * 1.5))}")
        off = " train.regularizer.omega=0" if omega else ""
        out += [f"model.cell=lstm{off}", f"model.cell=gru{off}"]
    elif cell == "lstm":
        fb = ev.section("model", "forget_bias")
        if isinstance(fb, (int, float)):
            out.append(f"model.forget_bias={nice(max(1.0, fb + 1.0))}")
    return out
