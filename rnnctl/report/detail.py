"""One run in depth: its config against its sweep's base (or the defaults), the replay of the
update that diverged, and its per-step backprop norms arranged by time lag for the figures."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import numpy as np

from .. import store
from ..errors import RunError
from ..store import RunRecord
from .query import NOT_COMPARED, sweep_info
from .values import same


def config_defaults() -> dict:
    """Default value of every config key that has one (flattened)."""
    from ..config import Config

    def walk(cls, prefix):
        out = {}
        types = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            key = f"{prefix}.{f.name}" if prefix else f.name
            t = types.get(f.name)
            if dataclasses.is_dataclass(t):
                out.update(walk(t, key))
            elif f.default is not dataclasses.MISSING:
                out[key] = tuple(f.default) if isinstance(f.default, list) else f.default
        return out
    return walk(Config, "")


def run_diff(run: RunRecord) -> tuple[list[tuple[str, Any, Any]], str]:
    """(diff, what it is against) of one run's config: its sweep's base when the run lives in a
    sweep folder, else the config defaults. A key without a default reads "(required)"."""
    base, against = None, "the defaults"
    if store.sweep_spec_path(run.path.parent).exists():
        base = sweep_info(run.path.parent, [])["base"]
        against = "the sweep's base"
    if base is None:
        base, against = config_defaults(), "the defaults"
    if run.config is None:
        return [], against
    keys = list(dict.fromkeys([*run.config, *base]))
    return [(k, base.get(k, "(required)"), run.config.get(k)) for k in keys
            if k not in NOT_COMPARED and not same(base.get(k), run.config.get(k))], against


def postmortem(run_dir) -> dict | None:
    """The replayed failing update of a diverged run (``rnnctl.training.postmortem``), with the
    last recorded updates of its trace under "recent"; None when the run saved no post-mortem.
    A replay that fails is reported under "error", not raised: the rest of the report stands."""
    if not store.has_postmortem(run_dir):
        return None
    try:
        from ..training.postmortem import replay_postmortem
        out = replay_postmortem(run_dir)
    except Exception as e:  # noqa: BLE001 - see the docstring
        out = {"error": f"{type(e).__name__}: {store.short_error(e)}"}
    try:  # the last recorded updates: how the norm got there
        tr = store.read_trace(run_dir)
        out["recent"] = {"update": tr["update"][-5:].astype(int).tolist(), "loss": tr["loss"][-5:].tolist(),
                         "norm_before": tr["norm_before"][-5:].tolist()}
    except RunError:
        pass
    return out


def backprop_rows(run_dir, max_rows: int = 600, peaks: bool = True) -> tuple[np.ndarray, np.ndarray] | None:
    """(updates (n,), norms (n, T_max + 1)) of the first layer's ‖∂E/∂x_k‖, about ``max_rows``
    rows spread evenly over the updates, with the peak rows unless ``peaks`` is False
    (``store.read_backprop``); None when the run recorded none. Raises RunError for an unreadable
    file."""
    bp = store.read_backprop(run_dir, max_rows, peaks)
    if bp is None or len(bp[0]) == 0:
        return None
    updates, norms = bp                     # norms (n, layers, T_max + 1)
    return updates, norms[:, 0] if norms.ndim == 3 else norms


def to_lag(norms: np.ndarray) -> np.ndarray:
    """Rows of ‖∂E/∂x_k‖ over k (NaN past each batch's T) -> the same over the lag T - k
    (column 0 is the last step), so that batches of different lengths line up."""
    out = np.full_like(norms, np.nan)
    for i, row in enumerate(norms):
        ok = np.flatnonzero(~np.isnan(row))
        if len(ok):
            T = ok[-1]
            out[i, :T + 1] = row[T::-1]
    return out
