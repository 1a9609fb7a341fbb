"""Config and summary values as the report compares, sorts and prints them.

A value comes from YAML (a run's config), JSON (its summary, a sweep's jobs) or NumPy, so the same number
can arrive as 1, 1.0 or np.int64(1): these helpers decide when two values are the same, how they
sort, and how they go into a JSON document.
"""

from __future__ import annotations

import json
import math

import numpy as np


def is_num(v) -> bool:
    """A real number (Python or NumPy), booleans excluded."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def finite(v):
    """``v`` when it is a finite number, else None."""
    return v if is_num(v) and math.isfinite(v) else None


def hashable(v) -> str:
    """A text identity of any JSON-like value (lists and dicts included)."""
    return json.dumps(v, sort_keys=True, default=str)


def same(a, b) -> bool:
    """Equal as config values: numbers by value (1 == 1.0), anything else by its JSON text."""
    if is_num(a) and is_num(b):
        return float(a) == float(b)
    return hashable(a) == hashable(b)


def identity(v):
    """A cheap hashable identity of a config value: 1 and 1.0 alike, True apart from 1."""
    if isinstance(v, bool):
        return ("b", v)
    if is_num(v):
        return ("n", float(v))
    try:
        hash(v)
        return ("o", v)
    except TypeError:
        return ("j", hashable(v))


def canon(v):
    """1 and 1.0 are the same value (a sweep may spell a threshold either way)."""
    if is_num(v) and float(v).is_integer():
        return float(v)
    return v


def text(v) -> str:
    """The YAML spelling of a scalar: true/false, null, else str()."""
    if isinstance(v, bool):
        return str(v).lower()
    if v is None:
        return "null"
    return str(v)


def sort_key(v):
    """Numbers first (by value), then text, then missing values."""
    if v is None:
        return (2, 0, "")
    if is_num(v):
        return (0, float(v), "")
    return (1, 0, text(v))


def jsonable(v):
    """A scalar ready for JSON: tuples as lists, NumPy scalars as Python ones, NaN/inf as null."""
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        v = float(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def json_tree(v):
    """``jsonable`` applied through dicts, lists, tuples and arrays."""
    if isinstance(v, dict):
        return {str(k): json_tree(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_tree(x) for x in v]
    if isinstance(v, np.ndarray):
        return json_tree(v.tolist())
    return jsonable(v)
