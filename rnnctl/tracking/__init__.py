"""Runs where researchers already look: TensorBoard and MLflow ([docs/tracking.md]).

``export_tensorboard(records, logdir)`` and ``export_mlflow(records, uri)`` write finished (or
interrupted) runs, read through ``rnnctl.store``; ``live_sink`` puts a TensorBoard writer in front
of a training run's sink (``log.tensorboard``). ``collect`` reads a run into the parameters, tags
and metric series both exports write, so a run has the same names in both.

Needs the optional extra ``rnnctl[tracking]`` (tensorboard, mlflow-skinny); without
it the functions raise ``MissingPackage``. Nothing here is imported until used.
"""

from __future__ import annotations

from ..lazy import lazy_getattr

_LAZY = {
    "board": ("export_tensorboard", "Exported"),
    "mlflowrun": ("export_mlflow", "tracking_uri"),
    "live": ("live_sink", "LiveTensorBoard"),
    "collect": ("read_run_data", "RunData"),
}
_WHERE = {name: f".{module}" for module, names in _LAZY.items() for name in names}
__all__ = list(_WHERE)


__getattr__ = lazy_getattr(__name__, _WHERE, globals())
