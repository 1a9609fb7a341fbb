"""How a run is named wherever it goes: metric names of trace columns and evaluations, parameter
values as text, a run's place under a TensorBoard folder, and the error a missing package gives.
The live sink (``live``), the event writer (``events``) and the exports (``collect``, ``board``,
``mlflowrun``) all name through here. Kept apart from ``collect``, which draws a run's figures,
so that a training run that writes live loads no report or plotting code.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import store
from ..errors import MissingPackage


def missing_package(package: str, what: str) -> MissingPackage:
    return MissingPackage(f"{what} needs the package {package!r}, which is not installed; "
                          'install it with: pip install "rnnctl[tracking]"')


def trace_tag(column: str) -> str:
    """The metric name of a trace column: ``train/loss``, ``train/norm_before``, ``train/fired``, ..."""
    return f"train/{column}"


def metric_tags(record: dict) -> dict[str, float]:
    """The numbers of one metrics.jsonl record under ``eval/`` names, nested keys joined by ``/``
    (``eval/error``, ``eval/spectral/W_rec/sv_max`` = λ₁). Booleans count as 0/1; text, lists and
    None are left out; ``update`` is the step, not a metric."""
    out: dict[str, float] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}/{k}", v)
        elif isinstance(value, (bool, int, float)) and not isinstance(value, str):
            out[prefix] = float(value)

    for k, v in record.items():
        if k != "update":
            walk(f"eval/{k}", v)
    return out


def param_value(value) -> str:
    """A config value as a parameter's text: strings as they are, anything else as JSON
    (``true``, ``null``, ``[1, 2]``), so that a value reads as it does in config.yaml."""
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value)


def sweep_of(run_dir) -> str | None:
    """The name of the sweep folder a run folder belongs to (None for a run trained on its own)."""
    parent = Path(run_dir).resolve().parent
    return parent.name if store.is_sweep_folder(parent) else None


def relative_name(run_dir) -> str:
    """Where a run goes under a TensorBoard folder: ``<sweep>/<run id>`` for a sweep's job,
    ``<run id>`` otherwise (the run id is the run folder's name). One folder per run id: the
    live writer and the export use the same one, and exporting again finds it."""
    run_dir = Path(run_dir)
    sweep = sweep_of(run_dir)
    return f"{sweep}/{run_dir.name}" if sweep else run_dir.name
