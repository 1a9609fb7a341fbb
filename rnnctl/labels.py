"""Labels for swept config keys and their values, shared by the sweep's views and the report.

``short_names`` turns dotted config keys into column headings (train.gradient.method -> method);
``fmt_value`` prints a swept value the way a table shows it; ``findings``, ``problem_kinds`` and
``diagnosis_text`` read the diagnosis a run records in its run.json (issue 21). Standard library
only: the report and the sweep views use these without importing each other.
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


#: The severities of a finding, the worse last: a run is healthy exactly when it has no problem.
SEVERITIES = ("warning", "problem")


def findings(info: dict | None) -> list[dict] | None:
    """The findings of the diagnosis in a run's run.json (``info``): a list of dicts with kind,
    severity, evidence and remedies, each a string (remedies a list of them); None when the run
    holds no diagnosis. Entries of another shape are left out."""
    d = (info or {}).get("diagnosis")
    if not isinstance(d, dict) or not isinstance(d.get("findings"), list):
        return None
    out = []
    for f in d["findings"]:
        if isinstance(f, dict) and isinstance(f.get("kind"), str):
            rem = f.get("remedies")
            out.append({"kind": f["kind"], "severity": str(f.get("severity") or ""),
                        "evidence": str(f.get("evidence") or ""),
                        "remedies": [str(r) for r in rem] if isinstance(rem, list) else []})
    return out


def problem_kinds(info: dict | None) -> list[str]:
    """The kinds of the problems a run's diagnosis found ([] when healthy or undiagnosed); a
    diagnosis that says healthy: false with no problem listed gives ['unhealthy']."""
    fs = findings(info)
    if fs is None:
        return []
    kinds = list(dict.fromkeys(f["kind"] for f in fs if f["severity"] == "problem"))
    return kinds or (["unhealthy"] if (info or {}).get("diagnosis", {}).get("healthy") is False else [])


def diagnosis_text(info: dict | None) -> str:
    """A run's diagnosis as a table cell: 'problem: diverged, exploding; warning: clipping',
    'healthy' when it found nothing, '-' when the run holds no diagnosis."""
    fs = findings(info)
    if fs is None:
        return "-"
    problems = problem_kinds(info)
    warnings = [k for k in dict.fromkeys(f["kind"] for f in fs if f["severity"] != "problem") if k not in problems]
    parts = ([f"problem: {', '.join(problems)}"] if problems else []) + \
        ([f"warning: {', '.join(warnings)}"] if warnings else [])
    return "; ".join(parts) or "healthy"
