"""A finding: one kind of trouble, how bad, the numbers that show it, and what to change."""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("exploding", "diverged", "vanishing", "saturated", "clipping", "no_learning", "overfitting",
         "below_baseline")
SEVERITIES = ("warning", "problem")   # a warning: handled, or may matter; a problem: it spoiled the run


@dataclass
class Finding:
    kind: str
    severity: str
    evidence: str                                   # the numbers, in one or a few sentences
    remedies: list[str] = field(default_factory=list)   # config overrides, each pasteable as is
    updates: list[int] = field(default_factory=list)    # where it was seen
    values: dict = field(default_factory=dict)          # the measured numbers, by name

    def __post_init__(self):
        if self.kind not in KINDS or self.severity not in SEVERITIES:
            raise ValueError(f"not a finding: {self.kind!r}, {self.severity!r}")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "severity": self.severity, "evidence": self.evidence,
                "remedies": list(dict.fromkeys(self.remedies)), "updates": [int(u) for u in self.updates],
                "values": {k: _plain(v) for k, v in self.values.items()}}


def _plain(v):
    """JSON-safe: NaN and infinities become None; NumPy scalars Python numbers."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return v
    if f != f or f in (float("inf"), float("-inf")):
        return None
    return int(f) if isinstance(v, (int,)) and not isinstance(v, bool) else f


def num(x: float) -> str:
    """A number as a reader wants it: 3 significant digits, scientific when large or tiny."""
    if x is None or x != x:
        return "nan"
    a = abs(x)
    if a != 0 and (a >= 1e5 or a < 1e-3):
        return f"{x:.2g}" if a < 1e-3 else f"{x:.3g}"
    return f"{x:.3g}"


def nice(x: float) -> str:
    """A config value from a measured number: 2 significant digits (a threshold of 26.1 -> 26)."""
    if not x or x != x:
        return "1"
    return f"{float(f'{x:.2g}'):g}"
