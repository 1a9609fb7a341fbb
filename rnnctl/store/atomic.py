"""Atomic file writes: a temp file in the same folder, fsync, rename. A reader sees the old file or
the new one, never half of one. NumPy is imported only by the writers that need it."""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path


def atomic_write(path, write) -> None:
    """Call ``write(f)`` on a binary temp file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def strict(value):
    """JSON has no NaN or Infinity: write them as null (NumPy scalars become Python numbers)."""
    if hasattr(value, "item") and not isinstance(value, (dict, list, tuple, str)) \
            and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def json_line(record) -> str:
    return json.dumps(strict(record), allow_nan=False) + "\n"


def atomic_write_json(path, data) -> None:
    atomic_write_text(path, json.dumps(strict(data), indent=2, sort_keys=False, allow_nan=False) + "\n")


def atomic_save_npz(path, arrays: dict) -> None:
    import numpy as np
    atomic_write(path, lambda f: np.savez(f, **arrays))


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
