"""Labels for swept config keys and their values, shared by the sweep's views and the report.

``short_names`` turns dotted config keys into column headings (train.gradient.method -> method);
``fmt_value`` prints a swept value the way a table shows it. Standard library only: the report
and the sweep views use these without importing each other.
"""

from __future__ import annotations

from typing import Any


def short_names(keys: list[str]) -> dict[str, str]:
    """The shortest dotted suffix that tells each key apart: train.gradient.method -> method."""
    out = {}
    for k in keys:
        parts = k.split(".")
        for n in range(1, len(parts) + 1):
            tail = ".".join(parts[-n:])
            if sum(1 for o in keys if o == tail or o.endswith("." + tail)) == 1:
                out[k] = tail
                break
        else:
            out[k] = k
    return out


def fmt_value(v: Any) -> str:
    """A swept value as a table cell: 4 significant digits for floats, YAML's true/false/null."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, bool):
        return str(v).lower()
    if v is None:
        return "null"
    return str(v)


def label(values: dict, names: dict | None = None) -> str:
    """``key=value`` pairs of one job, keys shortened by ``names`` when given."""
    names = names or {}
    return " ".join(f"{names.get(k, k)}={fmt_value(v)}" for k, v in values.items())
